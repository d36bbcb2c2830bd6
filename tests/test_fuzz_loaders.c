/*
 * test_fuzz_loaders.c — bounded mutation fuzzing of every parser that reads files from outside
 * (docs/conventions.md rule 18): a safetensors checkpoint, config.json, a GGUF file (made by `huginn convert`)
 * and tokenizer.json. Each round flips, inserts or deletes a few bytes (mostly in the header, where
 * parsing happens) or truncates, then loads; the result must be a clean status — success or an error
 * with a message — never a crash, a hang or an out-of-bounds read (run the Sanitize build to see the
 * last). Seeded, so a failure reproduces: the round and seed are printed.
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"
#include "io/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t g_rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Mutate src [n] into a new buffer; bytes in [0, hot) are hit 9 times in 10. */
static unsigned char *mutate(const unsigned char *src, size_t n, size_t hot, size_t *out_n) {
    unsigned char *b = malloc(n + 64);
    memcpy(b, src, n);
    size_t m = n;
    int k = 1 + (int)(rnd() % 4);
    for (int i = 0; i < k; i++) {
        size_t range = (rnd() % 10 && hot && hot < m) ? hot : m;
        if (!range) break;
        size_t at = (size_t)(rnd() % range);
        switch (rnd() % 6) {
        case 0: b[at] ^= (unsigned char)(1u << (rnd() % 8)); break;                 /* bit flip */
        case 1: b[at] = (unsigned char)rnd(); break;                                /* random byte */
        case 2: b[at] = "0123456789{}[]\",:-e."[rnd() % 20]; break;                 /* JSON-ish byte */
        case 3: if (m > 1) { memmove(b + at, b + at + 1, m - at - 1); m--; } break;  /* delete */
        case 4: if (m < n + 60) { memmove(b + at + 1, b + at, m - at); b[at] = (unsigned char)rnd(); m++; } break;
        case 5: m = at + 1; break;                                                  /* truncate */
        }
    }
    *out_n = m;
    return b;
}

static void write_file(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

static int64_t g_ok, g_err;

static void tally(hg_status st, const hg_error *err) {
    if (st == HG_OK) g_ok++;
    else {
        g_err++;
        CHECK_MSG(err->msg[0] != 0, "an error without a message (status %d)", st);
    }
}

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 300;
    if (getenv("HG_FUZZ_SEED")) g_rng = strtoull(getenv("HG_FUZZ_SEED"), NULL, 10);
    fprintf(stderr, "  fuzz seed %llu, %d rounds per format (HG_FUZZ_SEED, argv[1])\n", (unsigned long long)g_rng, rounds);
    const char *tmp = hg_tmp_dir("fuzz");
    char dir[4096], p[4200];
    snprintf(dir, sizeof dir, "%s/m", tmp);
    mkdir(dir, 0755);
    size_t n_st, n_cfg;
    unsigned char *st = hg_read_file(hg_data_path("golden_model/tiny/model.safetensors"), &n_st);
    unsigned char *cfg = hg_read_file(hg_data_path("golden_model/tiny/config.json"), &n_cfg);
    size_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | st[i];

    /* safetensors: header bytes and the length prefix */
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_file(p, cfg, n_cfg);
    for (int r = 0; r < rounds; r++) {
        size_t n;
        unsigned char *b = mutate(st, n_st, 8 + hlen, &n);
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        write_file(p, b, n);
        free(b);
        hg_model *m = NULL;
        hg_error err = {0};
        tally(hg_model_load(dir, NULL, &m, &err), &err);
        hg_model_free(m);
    }
    fprintf(stderr, "  ok safetensors: %d mutated files, no crash\n", rounds);

    /* config.json */
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    write_file(p, st, n_st);
    for (int r = 0; r < rounds; r++) {
        size_t n;
        unsigned char *b = mutate(cfg, n_cfg, n_cfg, &n);
        snprintf(p, sizeof p, "%s/config.json", dir);
        write_file(p, b, n);
        free(b);
        hg_model *m = NULL;
        hg_error err = {0};
        hg_status s = hg_model_load(dir, NULL, &m, &err);
        tally(s, &err);
        if (s == HG_OK) { /* a config that still loads must also run */
            hg_ctx_params cp = hg_ctx_default_params();
            cp.n_ctx = 4;
            cp.max_steps = 1;
            hg_ctx *ctx = NULL;
            if (hg_ctx_init(m, &cp, &ctx, &err) == HG_OK) {
                int32_t ids[2] = {1, 2};
                float *lg = malloc((size_t)(2 * hg_model_config(m)->vocab_size) * sizeof(float));
                hg_forward_params fp = hg_forward_default_params();
                fp.n_steps = 1;
                tally(hg_ctx_forward(ctx, ids, 2, 0, &fp, NULL, lg, &err), &err);
                free(lg);
            }
            hg_ctx_free(ctx);
        }
        hg_model_free(m);
    }
    fprintf(stderr, "  ok config.json: %d mutated files, no crash\n", rounds);

    /* GGUF: convert the golden model, then mutate the parsed bytes in memory */
    {
        char cmd[16384];
        const char *h = getenv("HUGINN");
        snprintf(cmd, sizeof cmd, "%s convert -m %s -o %s/tiny.gguf >/dev/null 2>&1", h ? h : "huginn",
                 golden_model_dir("tiny"), tmp);
        CHECK_MSG(system(cmd) == 0, "%s", cmd);
        snprintf(p, sizeof p, "%s/tiny.gguf", tmp);
        size_t n_g;
        unsigned char *g = hg_read_file(p, &n_g);
        CHECK(g != NULL);
        size_t hot = n_g < 8192 ? n_g : 8192; /* metadata and tensor infos come first */
        for (int r = 0; g && r < rounds; r++) {
            size_t n;
            unsigned char *b = mutate(g, n_g, hot, &n);
            hg_gguf_file f;
            hg_error err = {0};
            hg_status s = hg_gguf_parse(b, n, "fuzz.gguf", &f, &err);
            tally(s, &err);
            if (s == HG_OK) hg_gguf_close(&f);
            free(b);
        }
        /* and a whole model load from a mutated file (bindings, shapes) */
        for (int r = 0; g && r < rounds / 4; r++) {
            size_t n;
            unsigned char *b = mutate(g, n_g, hot, &n);
            snprintf(p, sizeof p, "%s/fuzz.gguf", tmp);
            write_file(p, b, n);
            free(b);
            hg_model *m = NULL;
            hg_error err = {0};
            tally(hg_model_load(p, NULL, &m, &err), &err);
            hg_model_free(m);
        }
        free(g);
        fprintf(stderr, "  ok gguf: %d mutated buffers + %d mutated files, no crash\n", rounds, rounds / 4);
    }

    /* tokenizer.json (a small real one: the golden tiny vocabulary is not a tokenizer, so build one) */
    {
        const char *tj =
            "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[{\"id\":8,\"content\":\"<s>\","
            "\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
            "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
            "\"use_regex\":true},\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,"
            "\"trim_offsets\":true,\"use_regex\":true},\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
            "\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,"
            "\"ignore_merges\":false,\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,\"abc\":4,\"\xc4\xa0\":5,\"\xc4\xa0" "a\":6,\"d\":7},"
            "\"merges\":[\"a b\",\"ab c\",\"\xc4\xa0 a\"]}}";
        hg_tokenizer *tok = NULL;
        hg_error err = {0};
        CHECK_MSG(hg_tokenizer_load_json(tj, strlen(tj), NULL, 0, &tok, &err) == HG_OK, "base tokenizer: %s", err.msg);
        hg_tokenizer_free(tok);
        for (int r = 0; r < rounds; r++) {
            size_t n;
            unsigned char *b = mutate((const unsigned char *)tj, strlen(tj), strlen(tj), &n);
            tok = NULL;
            hg_status s = hg_tokenizer_load_json((const char *)b, n, NULL, 0, &tok, &err);
            tally(s, &err);
            if (s == HG_OK) {
                int32_t *ids = NULL;
                int64_t ni = 0;
                if (hg_tokenizer_encode(tok, "abc ab<s> dab", 13, true, &ids, &ni, &err) == HG_OK) {
                    char *txt = NULL;
                    size_t tl = 0;
                    tally(hg_tokenizer_decode(tok, ids, ni, false, &txt, &tl, &err), &err);
                    hg_tokenizer_mem_free(txt);
                }
                hg_tokenizer_mem_free(ids);
            }
            hg_tokenizer_free(tok);
            free(b);
        }
        fprintf(stderr, "  ok tokenizer.json: %d mutated files, no crash\n", rounds);
    }
    fprintf(stderr, "  %lld loads succeeded, %lld failed cleanly\n", (long long)g_ok, (long long)g_err);
    CHECK(g_err > 0 && g_ok > 0); /* the mutations both broke and spared files: the fuzzer did something */
    free(st), free(cfg);
    return hg_test_finish("test_fuzz_loaders");
}
