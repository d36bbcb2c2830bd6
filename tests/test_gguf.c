/*
 * test_gguf.c — the GGUF reader and writer (src/io/gguf*.c) on their own:
 *   - round trip: every metadata value type (scalars, strings, arrays of each, empty arrays), tensors
 *     of F32/F16/BF16/Q8_0/Q4_0 given by pointer and by fill callback, 1-D to 4-D, default and custom
 *     alignment; every value, name, shape, type, offset (aligned) and byte read back;
 *   - malformed files built byte by byte here (independent of our writer): bad magic, other version,
 *     byte-swapped, every truncation of a valid file, counts larger than the file, string length past
 *     the end, tensor offset/size past the end, misaligned offset, unknown ggml type, n_dims > 4,
 *     overflowing ne products, ne[0] not a block multiple, overlapping tensors, duplicate keys and
 *     names, nested arrays, unknown value types, bad BOOL, bad alignment — each a clear status and
 *     message (run under ASan: no out-of-bounds read);
 *   - writer errors: key set twice, unknown type, unwritable path (and no temp file left);
 *   - allocation failure at every allocation of the reader (HG_TESTING builds).
 */
#include "harness.h"
#include "huginn.h"
#include "io/gguf.h"
#include "kernels/quant.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a byte builder for hand-made files ----------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void b_put(buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void b_u32(buf *b, uint32_t v) { b_put(b, &v, 4); }
static void b_u64(buf *b, uint64_t v) { b_put(b, &v, 8); }
static void b_str(buf *b, const char *s) {
    b_u64(b, strlen(s));
    b_put(b, s, strlen(s));
}
static void b_pad(buf *b, size_t align) {
    static const uint8_t z[64];
    b_put(b, z, (align - b->n % align) % align);
}

/* Fields of a hand-made file with one string key and up to two tensors; each test changes one. */
typedef struct spec {
    const char *magic;
    uint32_t version;
    uint64_t n_tensors_claim, n_kv_claim; /* 0 = the true counts */
    uint64_t key_len_claim;               /* 0 = true */
    int n_tensors;
    uint32_t n_dims[2], type[2];
    uint64_t ne[2][5], offset[2];
    const char *name[2];
    size_t data_bytes;
    uint32_t extra_kv_type; /* add a second pair "x.extra" of this type (with a small valid value), or 0 */
    uint32_t extra_sub_type;
    uint32_t extra_u32;
} spec;

static spec valid_spec(void) {
    spec s = {.magic = "GGUF", .version = 3, .n_tensors = 2};
    s.n_dims[0] = 2, s.type[0] = 0, s.ne[0][0] = 32, s.ne[0][1] = 2, s.offset[0] = 0, s.name[0] = "a";
    s.n_dims[1] = 1, s.type[1] = 8, s.ne[1][0] = 64, s.offset[1] = 256, s.name[1] = "b"; /* Q8_0: 2 blocks, 68 B */
    s.data_bytes = 256 + 68; /* no trailing padding: every truncation cuts a tensor */
    return s;
}

static buf build(const spec *s) {
    buf b = {0};
    b_put(&b, s->magic, 4);
    b_u32(&b, s->version);
    b_u64(&b, s->n_tensors_claim ? s->n_tensors_claim : (uint64_t)s->n_tensors);
    b_u64(&b, s->n_kv_claim ? s->n_kv_claim : (s->extra_kv_type ? 2 : 1));
    if (s->key_len_claim) {
        b_u64(&b, s->key_len_claim);
        b_put(&b, "general.architecture", 20);
    } else {
        b_str(&b, "general.architecture");
    }
    b_u32(&b, HG_GGUF_STRING);
    b_str(&b, "huginn");
    if (s->extra_kv_type) {
        b_str(&b, s->extra_kv_type == 100 ? "general.architecture" : "x.extra");
        b_u32(&b, s->extra_kv_type == 100 ? HG_GGUF_STRING : s->extra_kv_type);
        if (s->extra_kv_type == 100) b_str(&b, "dup");
        else if (s->extra_kv_type == HG_GGUF_ARRAY) {
            b_u32(&b, s->extra_sub_type);
            b_u64(&b, s->extra_u32);
            if (s->extra_sub_type == HG_GGUF_UINT32) b_u32(&b, 7);
        } else {
            b_u32(&b, s->extra_u32);
        }
    }
    for (int i = 0; i < s->n_tensors; i++) {
        b_str(&b, s->name[i]);
        b_u32(&b, s->n_dims[i]);
        for (uint32_t d = 0; d < s->n_dims[i] && d < 5; d++) b_u64(&b, s->ne[i][d]);
        b_u32(&b, s->type[i]);
        b_u64(&b, s->offset[i]);
    }
    b_pad(&b, 32);
    for (size_t i = 0; i < s->data_bytes; i++) {
        uint8_t v = (uint8_t)(i * 7);
        b_put(&b, &v, 1);
    }
    return b;
}

/* Parse a copy of exactly n bytes (so ASan sees any read past the end). */
static hg_status parse_bytes(const uint8_t *p, size_t n, hg_error *err) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    hg_gguf_file f;
    hg_status st = hg_gguf_parse(copy, n, "test.gguf", &f, err);
    if (!st) hg_gguf_close(&f);
    free(copy);
    return st;
}

static void expect_bad(const char *what, const spec *s, hg_status want, const char *msg_part) {
    buf b = build(s);
    hg_error err = {0};
    hg_status st = parse_bytes(b.p, b.n, &err);
    CHECK_MSG(st == want && strstr(err.msg, msg_part) != NULL, "%s: status %d (want %d), message \"%s\" (want \"%s\")", what,
              st, want, err.msg, msg_part);
    free(b.p);
}

static void test_malformed(void) {
    spec s = valid_spec();
    buf b = build(&s);
    hg_error err = {0};
    CHECK_MSG(parse_bytes(b.p, b.n, &err) == HG_OK, "valid hand-made file: %s", err.msg);
    /* every truncation fails cleanly */
    int bad = 0;
    for (size_t n = 0; n < b.n; n++)
        if (parse_bytes(b.p, n, &err) == HG_OK) bad++;
    CHECK_MSG(bad == 0, "%d truncated prefixes parsed", bad);
    free(b.p);

    spec t = valid_spec();
    t.magic = "GGUX";
    expect_bad("bad magic", &t, HG_STATUS_BAD_FILE, "not a GGUF file");
    t = valid_spec(), t.version = 2;
    expect_bad("version 2", &t, HG_STATUS_UNSUPPORTED, "GGUF version 2");
    t = valid_spec(), t.version = 0x03000000;
    expect_bad("byte-swapped", &t, HG_STATUS_UNSUPPORTED, "byte-swapped");
    t = valid_spec(), t.n_kv_claim = UINT64_C(1) << 60;
    expect_bad("huge n_kv", &t, HG_STATUS_BAD_FILE, "more than the file");
    t = valid_spec(), t.n_tensors_claim = 1000000;
    expect_bad("huge n_tensors", &t, HG_STATUS_BAD_FILE, "more than the file");
    t = valid_spec(), t.key_len_claim = UINT64_C(1) << 40;
    expect_bad("key length past the end", &t, HG_STATUS_BAD_FILE, "string length runs past the end");
    t = valid_spec(), t.offset[1] = 512;
    expect_bad("offset past the end", &t, HG_STATUS_BAD_FILE, "runs past the end of the data region");
    t = valid_spec(), t.ne[1][0] = 64 * 4;
    expect_bad("size past the end", &t, HG_STATUS_BAD_FILE, "runs past the end of the data region");
    t = valid_spec(), t.offset[1] = UINT64_MAX - 31;
    expect_bad("offset near 2^64", &t, HG_STATUS_BAD_FILE, "runs past the end");
    t = valid_spec(), t.offset[1] = 260;
    expect_bad("misaligned offset", &t, HG_STATUS_BAD_FILE, "not a multiple of the alignment");
    t = valid_spec(), t.type[1] = 4;
    expect_bad("removed ggml type 4", &t, HG_STATUS_BAD_FILE, "unknown ggml type 4");
    t = valid_spec(), t.type[1] = 1000;
    expect_bad("unknown ggml type", &t, HG_STATUS_BAD_FILE, "unknown ggml type 1000");
    t = valid_spec(), t.n_dims[0] = 5, t.ne[0][2] = t.ne[0][3] = t.ne[0][4] = 1;
    expect_bad("n_dims 5", &t, HG_STATUS_BAD_FILE, "n_dims 5");
    t = valid_spec(), t.n_dims[0] = 0;
    expect_bad("n_dims 0", &t, HG_STATUS_BAD_FILE, "n_dims 0");
    t = valid_spec(), t.ne[0][0] = UINT64_C(1) << 32, t.ne[0][1] = UINT64_C(1) << 32;
    expect_bad("ne product overflow", &t, HG_STATUS_BAD_FILE, "element count overflows");
    t = valid_spec(), t.ne[0][0] = UINT64_C(1) << 31, t.ne[0][1] = UINT64_C(1) << 31;
    expect_bad("byte size overflow", &t, HG_STATUS_BAD_FILE, "byte size overflows");
    t = valid_spec(), t.ne[0][0] = UINT64_MAX;
    expect_bad("ne above INT64_MAX", &t, HG_STATUS_BAD_FILE, "element count overflows");
    t = valid_spec(), t.ne[1][0] = 48;
    expect_bad("ne[0] not a block multiple", &t, HG_STATUS_BAD_FILE, "not a multiple of the Q8_0 block");
    t = valid_spec(), t.offset[1] = 224, t.ne[1][0] = 32;
    expect_bad("overlap", &t, HG_STATUS_BAD_FILE, "overlap");
    t = valid_spec(), t.name[1] = "a";
    expect_bad("duplicate tensor", &t, HG_STATUS_BAD_FILE, "tensor a appears twice");
    t = valid_spec(), t.name[1] = "";
    expect_bad("empty tensor name", &t, HG_STATUS_BAD_FILE, "name of 0 bytes");
    t = valid_spec(), t.extra_kv_type = 100;
    expect_bad("duplicate key", &t, HG_STATUS_BAD_FILE, "general.architecture appears twice");
    t = valid_spec(), t.extra_kv_type = 13;
    expect_bad("unknown value type", &t, HG_STATUS_BAD_FILE, "unknown value type 13");
    t = valid_spec(), t.extra_kv_type = HG_GGUF_ARRAY, t.extra_sub_type = HG_GGUF_ARRAY;
    expect_bad("nested array", &t, HG_STATUS_UNSUPPORTED, "arrays of arrays");
    t = valid_spec(), t.extra_kv_type = HG_GGUF_ARRAY, t.extra_sub_type = 77;
    expect_bad("unknown element type", &t, HG_STATUS_BAD_FILE, "unknown array element type 77");
    t = valid_spec(), t.extra_kv_type = HG_GGUF_ARRAY, t.extra_sub_type = HG_GGUF_UINT32, t.extra_u32 = 1000000;
    expect_bad("array count past the end", &t, HG_STATUS_BAD_FILE, "larger than the rest of the file");
    t = valid_spec(), t.extra_kv_type = HG_GGUF_ARRAY, t.extra_sub_type = HG_GGUF_STRING, t.extra_u32 = 1000000;
    expect_bad("string array count past the end", &t, HG_STATUS_BAD_FILE, "larger than the rest of the file");
    t = valid_spec(), t.extra_kv_type = HG_GGUF_BOOL, t.extra_u32 = 2;
    expect_bad("bool 2", &t, HG_STATUS_BAD_FILE, "neither 0 nor 1");

    /* general.alignment: a UINT32 power of two */
    static const struct {
        uint32_t type, value;
    } aligns[] = {{HG_GGUF_UINT32, 3}, {HG_GGUF_UINT32, 0}, {HG_GGUF_INT32, 32}};
    for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
        buf a = {0};
        b_put(&a, "GGUF", 4), b_u32(&a, 3), b_u64(&a, 0), b_u64(&a, 1);
        b_str(&a, "general.alignment"), b_u32(&a, aligns[k].type), b_u32(&a, aligns[k].value);
        hg_status st = parse_bytes(a.p, a.n, &err);
        CHECK_MSG(st == HG_STATUS_BAD_FILE && strstr(err.msg, "power of two"), "alignment %u/%u: %s", aligns[k].type,
                  aligns[k].value, err.msg);
        free(a.p);
    }
    /* empty input, and a file that is only a header */
    CHECK(parse_bytes((const uint8_t *)"", 0, &err) == HG_STATUS_BAD_FILE);
    buf e = {0};
    b_put(&e, "GGUF", 4), b_u32(&e, 3), b_u64(&e, 0), b_u64(&e, 0);
    CHECK_MSG(parse_bytes(e.p, e.n, &err) == HG_OK, "header-only file: %s", err.msg);
    free(e.p);
}

/* ---- round trip ------------------------------------------------------------------------------------ */

static bool fill_iota(void *user, int64_t index, int64_t row0, int64_t n_rows, uint8_t *out) {
    (void)user;
    const int64_t ne0 = 64; /* the fill tensor below: F16 [64, 3, 2] */
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < ne0; i++) {
            uint16_t h = hg_f32_to_f16((float)((row0 + r) * ne0 + i) * 0.25f + (float)index);
            memcpy(out + (size_t)(r * ne0 + i) * 2, &h, 2);
        }
    return true;
}

static void test_round_trip(uint32_t alignment) {
    char path[1024];
    snprintf(path, sizeof path, "%s/rt%u.gguf", hg_tmp_dir("test_gguf"), alignment);
    const uint8_t u8 = 200;
    const int8_t i8 = -100;
    const uint16_t u16 = 60000;
    const int16_t i16 = -30000;
    const uint32_t u32 = 4000000000u;
    const int32_t i32 = -2000000000;
    const float f32 = 3.25f;
    const uint8_t bl = 1;
    const uint64_t u64 = UINT64_C(18000000000000000000);
    const int64_t i64 = INT64_C(-9000000000000000000);
    const double f64 = 1.0 / 3.0;
    const void *scalars[] = {&u8, &i8, &u16, &i16, &u32, &i32, &f32, &bl, NULL, NULL, &u64, &i64, &f64};
    const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
    uint8_t arr_bytes[8 * 5];
    for (size_t i = 0; i < sizeof arr_bytes; i++) arr_bytes[i] = (uint8_t)(i % 2); /* valid bools too */
    const char *strs[] = {"", "hello", "Ġworld", "a b"};

    float f32_data[3 * 32];  /* F32 ne [32, 3] */
    uint16_t bf16_data[2 * 2 * 2 * 4]; /* BF16 ne [4, 2, 2, 2] */
    hg_block_q8_0 q8[2 * 2]; /* Q8_0 ne [64, 2] */
    hg_block_q4_0 q4[2];     /* Q4_0 ne [64] */
    float src[128];
    for (int i = 0; i < 96; i++) f32_data[i] = (float)i - 47.5f;
    for (int i = 0; i < 32; i++) bf16_data[i] = hg_f32_to_bf16((float)i);
    for (int i = 0; i < 128; i++) src[i] = sinf((float)i);
    hg_quantize_row_q8_0(src, q8, 128);
    hg_quantize_row_q4_0(src, q4, 64);

    hg_gguf_writer *w = NULL;
    hg_error err = {0};
    CHECK(hg_gguf_writer_init(&w, &err) == HG_OK);
    if (!w) return;
    hg_gguf_set_str(w, "general.architecture", "test", 4);
    hg_gguf_set_alignment(w, alignment);
    for (int t = 0; t < HG_GGUF_VTYPE_COUNT; t++) {
        char key[64];
        snprintf(key, sizeof key, "s.%s", names[t]);
        if (t == HG_GGUF_STRING) hg_gguf_set_str(w, key, "ÅÄÖ string", strlen("ÅÄÖ string"));
        else if (t != HG_GGUF_ARRAY) hg_gguf_set_scalar(w, key, (hg_gguf_vtype)t, scalars[t]);
        snprintf(key, sizeof key, "a.%s", names[t]);
        if (t == HG_GGUF_STRING) hg_gguf_set_arr_str(w, key, strs, NULL, 4);
        else if (t != HG_GGUF_ARRAY) hg_gguf_set_arr(w, key, (hg_gguf_vtype)t, arr_bytes, 5);
    }
    hg_gguf_set_arr(w, "a.empty", HG_GGUF_FLOAT32, NULL, 0);
    hg_gguf_set_arr_str(w, "a.empty_str", NULL, NULL, 0);
    const int64_t ne_f32[2] = {32, 3}, ne_bf[4] = {4, 2, 2, 2}, ne_q8[2] = {64, 2}, ne_q4[1] = {64}, ne_fill[3] = {64, 3, 2};
    hg_gguf_add_tensor(w, "t.f32", HG_GGML_F32, 2, ne_f32, f32_data, NULL, NULL);
    hg_gguf_add_tensor(w, "t.bf16", HG_GGML_BF16, 4, ne_bf, bf16_data, NULL, NULL);
    hg_gguf_add_tensor(w, "t.q8_0", HG_GGML_Q8_0, 2, ne_q8, q8, NULL, NULL);
    hg_gguf_add_tensor(w, "t.q4_0", HG_GGML_Q4_0, 1, ne_q4, q4, NULL, NULL);
    hg_gguf_add_tensor(w, "t.fill", HG_GGML_F16, 3, ne_fill, NULL, fill_iota, NULL);
    hg_status st = hg_gguf_write(w, path, &err);
    CHECK_MSG(st == HG_OK, "write: %s", err.msg);
    hg_gguf_writer_free(w);

    hg_gguf_file f;
    st = hg_gguf_open(path, alignment != 64, &f, &err); /* 64: the read (non-mmap) path */
    CHECK_MSG(st == HG_OK, "read back: %s", err.msg);
    if (st) return;
    CHECK(f.alignment == alignment && f.data_offset % alignment == 0);
    CHECK(f.n_kv == 2 * (HG_GGUF_VTYPE_COUNT - 1) + 3 + (alignment != 32));
    hg_gguf_str s;
    CHECK(hg_gguf_get_str(&f, "general.architecture", &s, &err) == HG_OK && hg_gguf_str_eq(s, "test"));
    CHECK(hg_gguf_str_eq(f.kv[0].key, "general.architecture")); /* file order = call order */
    for (int t = 0; t < HG_GGUF_VTYPE_COUNT; t++) {
        char key[64];
        snprintf(key, sizeof key, "s.%s", names[t]);
        const hg_gguf_kv *kv = hg_gguf_find_kv(&f, key);
        if (t == HG_GGUF_STRING) {
            CHECK(hg_gguf_get_str(&f, key, &s, &err) == HG_OK && hg_gguf_str_eq(s, "ÅÄÖ string"));
        } else if (t != HG_GGUF_ARRAY) {
            CHECK_MSG(kv && kv->type == (hg_gguf_vtype)t && kv->n == 1 &&
                          !memcmp(kv->data, scalars[t], hg_gguf_vtype_size((hg_gguf_vtype)t)),
                      "scalar %s", key);
        }
        snprintf(key, sizeof key, "a.%s", names[t]);
        kv = hg_gguf_find_kv(&f, key);
        if (t == HG_GGUF_STRING) {
            CHECK_MSG(kv && kv->type == HG_GGUF_ARRAY && kv->arr_type == HG_GGUF_STRING && kv->n == 4, "%s", key);
            for (uint64_t i = 0; kv && i < 4; i++) CHECK_MSG(hg_gguf_str_eq(hg_gguf_arr_str(kv, i), strs[i]), "%s[%d]", key, (int)i);
        } else if (t != HG_GGUF_ARRAY) {
            CHECK_MSG(kv && kv->type == HG_GGUF_ARRAY && kv->arr_type == (hg_gguf_vtype)t && kv->n == 5 &&
                          !memcmp(kv->data, arr_bytes, 5 * hg_gguf_vtype_size((hg_gguf_vtype)t)),
                      "array %s", key);
        }
    }
    const hg_gguf_kv *kv = hg_gguf_find_kv(&f, "a.empty");
    CHECK(kv && kv->n == 0 && kv->arr_type == HG_GGUF_FLOAT32);
    kv = hg_gguf_find_kv(&f, "a.empty_str");
    CHECK(kv && kv->n == 0 && kv->arr_type == HG_GGUF_STRING);
    /* typed getters: ranges and type errors */
    int64_t v;
    double d;
    bool b;
    CHECK(hg_gguf_get_int(&f, "s.u16", 0, 70000, &v, &err) == HG_OK && v == 60000);
    CHECK(hg_gguf_get_int(&f, "s.i64", INT64_MIN, 0, &v, &err) == HG_OK && v == i64);
    CHECK(hg_gguf_get_int(&f, "s.u64", 0, INT64_MAX, &v, &err) == HG_STATUS_BAD_FILE); /* > INT64_MAX */
    CHECK(hg_gguf_get_int(&f, "s.i8", 0, 10, &v, &err) == HG_STATUS_BAD_FILE && strstr(err.msg, "s.i8"));
    CHECK(hg_gguf_get_int(&f, "s.f32", 0, 10, &v, &err) == HG_STATUS_BAD_FILE && strstr(err.msg, "integer"));
    CHECK(hg_gguf_get_float(&f, "s.f64", &d, &err) == HG_OK && d == f64);
    CHECK(hg_gguf_get_float(&f, "s.f32", &d, &err) == HG_OK && d == 3.25);
    CHECK(hg_gguf_get_bool(&f, "s.bool", &b, &err) == HG_OK && b);
    CHECK(hg_gguf_get_bool(&f, "missing", &b, &err) == HG_STATUS_BAD_FILE && strstr(err.msg, "`missing` missing"));

    static const struct {
        const char *name;
        uint32_t type;
        int n_dims;
        int64_t ne[4];
        size_t nbytes;
    } want[] = {{"t.f32", 0, 2, {32, 3, 1, 1}, 384},  {"t.bf16", 30, 4, {4, 2, 2, 2}, 64},
                {"t.q8_0", 8, 2, {64, 2, 1, 1}, 136}, {"t.q4_0", 2, 1, {64, 1, 1, 1}, 36},
                {"t.fill", 1, 3, {64, 3, 2, 1}, 768}};
    const void *datas[] = {f32_data, bf16_data, q8, q4, NULL};
    CHECK(f.n_tensors == 5);
    for (int i = 0; i < 5 && i < f.n_tensors; i++) {
        const hg_gguf_tensor *t = &f.tensors[i];
        CHECK_MSG(!strcmp(t->name, want[i].name) && t->type == want[i].type && t->n_dims == want[i].n_dims &&
                      !memcmp(t->ne, want[i].ne, sizeof t->ne) && t->nbytes == want[i].nbytes &&
                      t->offset % alignment == 0,
                  "tensor %d (%s)", i, t->name);
        if (datas[i]) CHECK_MSG(!memcmp(t->data, datas[i], want[i].nbytes), "tensor %s bytes", t->name);
    }
    const hg_gguf_tensor *t = hg_gguf_find_tensor(&f, "t.fill");
    bool ok = t != NULL;
    for (int64_t i = 0; ok && i < 384; i++) {
        uint16_t h;
        memcpy(&h, t->data + 2 * i, 2);
        ok = hg_f16_to_f32(h) == hg_f16_to_f32(hg_f32_to_f16((float)i * 0.25f + 4.0f));
    }
    CHECK_MSG(ok, "fill callback bytes");
    hg_gguf_close(&f);
    hg_gguf_close(&f); /* closing twice (zeroed) is a no-op */

    /* every allocation of the reader may fail: a clean NOMEM, never a crash or a leak (ASan) */
#ifdef HG_TESTING
    int n_ok = 0;
    for (int64_t k = 0; k < 64; k++) {
        hg_alloc_fail_after(k);
        st = hg_gguf_open(path, true, &f, &err);
        hg_alloc_fail_after(-1);
        if (st == HG_OK) {
            hg_gguf_close(&f);
            n_ok++;
            break;
        }
        CHECK_MSG(st == HG_STATUS_NOMEM, "allocation failure %lld: status %d (%s)", (long long)k, st, err.msg);
    }
    CHECK_MSG(n_ok == 1, "the reader never succeeded under fault injection");
#endif
}

static bool fill_fail(void *user, int64_t index, int64_t row0, int64_t n_rows, uint8_t *out) {
    (void)user, (void)index, (void)row0, (void)n_rows, (void)out;
    return false;
}

/* ---- writer errors ----------------------------------------------------------------------------------- */

static void test_writer_errors(void) {
    hg_gguf_writer *w = NULL;
    hg_error err = {0};
    hg_gguf_writer_init(&w, &err);
    hg_gguf_set_u32(w, "k", 1);
    CHECK(hg_gguf_set_u32(w, "k", 2) == HG_STATUS_BAD_ARG);
    CHECK(hg_gguf_write(w, "/nonexistent-dir/x.gguf", &err) == HG_STATUS_BAD_ARG && strstr(err.msg, "set twice"));
    hg_gguf_writer_free(w);

    hg_gguf_writer_init(&w, &err);
    const int64_t ne[1] = {48};
    float x[48] = {0};
    CHECK(hg_gguf_add_tensor(w, "q", HG_GGML_Q8_0, 1, ne, x, NULL, NULL) == HG_STATUS_BAD_ARG); /* 48 % 32 */
    hg_gguf_writer_free(w);

    const char *dir = hg_tmp_dir("test_gguf_unwritable");
    char path[1024];
    snprintf(path, sizeof path, "%s/missing-subdir/x.gguf", dir);
    hg_gguf_writer_init(&w, &err);
    hg_gguf_add_tensor(w, "t", HG_GGML_F32, 1, ne, x, NULL, NULL);
    CHECK(hg_gguf_write(w, path, &err) == HG_STATUS_IO);
    hg_gguf_writer_free(w);

    /* a fill callback that fails: an error, no file, no temporary left behind */
    snprintf(path, sizeof path, "%s/fail.gguf", dir);
    hg_gguf_writer_init(&w, &err);
    const int64_t ne2[2] = {64, 3};
    CHECK(hg_gguf_add_tensor(w, "t", HG_GGML_F32, 2, ne2, NULL, NULL, NULL) == HG_STATUS_BAD_ARG); /* no source */
    hg_gguf_writer_free(w);
    hg_gguf_writer_init(&w, &err);
    hg_gguf_add_tensor(w, "t", HG_GGML_F32, 2, ne2, NULL, fill_fail, NULL);
    CHECK(hg_gguf_write(w, path, &err) == HG_STATUS_BAD_INPUT && strstr(err.msg, "producing tensor t failed"));
    hg_gguf_writer_free(w);
    DIR *dp = opendir(dir);
    int n_files = 0;
    for (struct dirent *e; dp && (e = readdir(dp));) n_files += e->d_name[0] != '.';
    if (dp) closedir(dp);
    CHECK_MSG(n_files == 0, "%d files left in %s after failed writes", n_files, dir);
}

int main(void) {
    test_malformed();
    test_round_trip(32);
    test_round_trip(64);
    test_round_trip(8);
    test_writer_errors();
    return hg_test_finish("test_gguf");
}
