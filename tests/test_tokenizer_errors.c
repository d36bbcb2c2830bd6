/*
 * test_tokenizer_errors.c — bad input never crashes and always names the problem:
 * invalid UTF-8 text, malformed/truncated/mistyped tokenizer.json, unsupported components (the
 * message names them), out-of-range ids, NULL arguments, a pathological piece, and allocation
 * failure at every allocation of load + encode + decode (HG_TESTING fault injection), on a small
 * inline tokenizer that uses every component kind (NFC, Split, Digits, ByteLevel, added tokens with
 * flags, TemplateProcessing). Run under ASan/UBSan in the Sanitize build.
 */
#include "test_tokenizer_util.h"

#include "base/base.h"

/* A tiny byte-level BPE: the 256 byte tokens, merges for "he", "ll", "hell", "hello", one added
 * special token and one normalized non-special token. %s slots: normalizer, pre_tokenizer,
 * post_processor, decoder, model extras. */
static char *tiny_json(const char *normalizer, const char *pretok, const char *post, const char *decoder,
                       const char *model_extra) {
    static const char *const k_merges = "[\"h e\", \"l l\", \"he ll\", \"hell o\"]";
    size_t cap = 1 << 16;
    char *b = malloc(cap), vocab[16384];
    size_t v = 0;
    v += (size_t)snprintf(vocab + v, sizeof vocab - v, "{");
    for (int i = 0; i < 256; i++) {
        unsigned cp = (i >= 0x21 && i <= 0x7e) || (i >= 0xa1 && i <= 0xac) || i >= 0xae ? (unsigned)i : 0;
        if (!cp) { /* GPT-2 alphabet for the other bytes */
            int n = 0;
            for (int x = 0; x < i; x++)
                if (!((x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || x >= 0xae)) n++;
            cp = 256u + (unsigned)n;
        }
        char u[8];
        size_t k = tt_put_utf8(cp, u);
        u[k] = 0;
        const char *esc = cp == '"' ? "\\\"" : cp == '\\' ? "\\\\" : u;
        v += (size_t)snprintf(vocab + v, sizeof vocab - v, "\"%s\": %d, ", esc, i);
    }
    snprintf(vocab + v, sizeof vocab - v, "\"he\": 256, \"ll\": 257, \"hell\": 258, \"hello\": 259}");
    snprintf(b, cap,
             "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,"
             " \"added_tokens\": [{\"id\": 260, \"content\": \"<|s|>\", \"single_word\": false, \"lstrip\": true,"
             " \"rstrip\": true, \"normalized\": false, \"special\": true},"
             " {\"id\": 261, \"content\": \"caf\\u00e9\", \"single_word\": true, \"lstrip\": false, \"rstrip\": false,"
             " \"normalized\": true, \"special\": false}],"
             " \"normalizer\": %s, \"pre_tokenizer\": %s, \"post_processor\": %s, \"decoder\": %s,"
             " \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null %s, \"vocab\": %s, \"merges\": %s}}",
             normalizer, pretok, post, decoder, model_extra, vocab, k_merges);
    return b;
}

static const char k_norm[] = "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}]}";
static const char k_pretok[] =
    "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\", \"individual_digits\": true},"
    " {\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\p{L}+|\\\\s+|[^\\\\s\\\\p{L}]+\"}, \"behavior\": \"Isolated\","
    " \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]}";
static const char k_post[] =
    "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<|s|>\", \"type_id\": 0}},"
    " {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [], \"special_tokens\": {\"<|s|>\": {\"id\": \"<|s|>\","
    " \"ids\": [260], \"tokens\": [\"<|s|>\"]}}}";
static const char k_dec[] = "{\"type\": \"ByteLevel\"}";

static hg_status load(const char *json, hg_tokenizer **tok, hg_error *err) {
    return hg_tokenizer_load_json(json, strlen(json), NULL, 0, tok, err);
}

/* Load must fail with `status` and a message containing `needle`. */
static void expect_fail(const char *what, const char *json, hg_status status, const char *needle) {
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    hg_status st = load(json, &tok, &err);
    CHECK_MSG(st == status && tok == NULL && strstr(err.msg, needle), "%s: got status %d, message \"%s\"", what, (int)st,
              err.msg);
    hg_tokenizer_free(tok);
}

static void check_tiny(void) {
    char *j = tiny_json(k_norm, k_pretok, k_post, k_dec, "");
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    CHECK_MSG(load(j, &tok, &err) == HG_OK, "tiny: %s", err.msg);
    if (tok) {
        int32_t *ids = NULL;
        int64_t n = 0;
        /* lstrip/rstrip eat the spaces around <|s|>; "café" is a single word before " 12" */
        const char text[] = "hello  <|s|>  hi café 12";
        CHECK(hg_tokenizer_encode(tok, text, sizeof text - 1, true, &ids, &n, &err) == HG_OK);
        static const int32_t want[] = {260, 259, 260, 104, 105, 32, 261, 32, 49, 50};
        CHECK_MSG(n == 10 && !memcmp(ids, want, sizeof want), "tiny encode: n=%lld", (long long)n);
        hg_tokenizer_mem_free(ids);
        /* ...but not inside a word: "cafés" is plain text */
        CHECK(hg_tokenizer_encode(tok, "cafés", 6, false, &ids, &n, &err) == HG_OK && n == 6 && ids[0] == 99);
        hg_tokenizer_mem_free(ids);
        /* NUL inside text is text */
        CHECK(hg_tokenizer_encode(tok, "a\0b", 3, false, &ids, &n, &err) == HG_OK && n == 3 && ids[1] == 0);
        hg_tokenizer_mem_free(ids);
    }
    hg_tokenizer_free(tok);
    free(j);
}

/* A Split with a literal pattern ({"String": "."}) loads (it failed with "invalid option bits with
 * PCRE2_LITERAL") and splits at the literal only, as Hugging Face does (its String pattern is the
 * escaped regex): "hello.hello" -> hello . hello; a regex "." would cut every character apart. */
static void check_literal_split(void) {
    char *j = tiny_json("null",
                        "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"String\": \".\"},"
                        " \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false,"
                        " \"use_regex\": false}]}",
                        "null", k_dec, "");
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    CHECK_MSG(load(j, &tok, &err) == HG_OK, "literal split: %s", err.msg);
    if (tok) {
        int32_t *ids = NULL;
        int64_t n = 0;
        CHECK(hg_tokenizer_encode(tok, "hello.hello", 11, false, &ids, &n, &err) == HG_OK);
        static const int32_t want[] = {259, 46, 259};
        CHECK_MSG(n == 3 && !memcmp(ids, want, sizeof want), "literal split: n=%lld", (long long)n);
        hg_tokenizer_mem_free(ids);
    }
    hg_tokenizer_free(tok);
    free(j);
}

/* A one-token vocabulary without byte fallback or unk token: words of unknown characters give no ids,
 * twice (the second time from the word cache), and decoding nothing gives "". Both formed NULL + 0
 * (bpe.c's cache append, decode.c's lossy append), which UBSan reports in the Sanitize build. */
static void check_tiny_vocab(void) {
    static const char json[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}";
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    CHECK_MSG(load(json, &tok, &err) == HG_OK, "tiny vocab: %s", err.msg);
    if (!tok) return;
    for (int round = 0; round < 2; round++) {
        int32_t *ids = NULL;
        int64_t n = -1;
        CHECK(hg_tokenizer_encode(tok, "bcd", 3, false, &ids, &n, &err) == HG_OK && n == 0);
        hg_tokenizer_mem_free(ids);
    }
    char *text = NULL;
    size_t len = 1;
    CHECK(hg_tokenizer_decode(tok, NULL, 0, false, &text, &len, &err) == HG_OK && len == 0 && text && !*text);
    hg_tokenizer_mem_free(text);
    hg_tokenizer_free(tok);
}

static void check_bad_files(void) {
    char *good = tiny_json(k_norm, k_pretok, k_post, k_dec, "");
    size_t n = strlen(good);
    /* truncated at many points: always BAD_FILE, never a crash */
    for (size_t cut = 0; cut < n; cut += n / 97 + 1) {
        hg_tokenizer *tok = NULL;
        hg_error err = {0};
        hg_status st = hg_tokenizer_load_json(good, cut, NULL, 0, &tok, &err);
        CHECK_MSG(st == HG_STATUS_BAD_FILE && !tok && strstr(err.msg, "truncated"), "cut at %zu: %d %s", cut, (int)st, err.msg);
        hg_tokenizer_free(tok);
    }
    expect_fail("not an object", "[1,2,3]", HG_STATUS_BAD_FILE, "not a JSON object");
    expect_fail("no model", "{\"added_tokens\": []}", HG_STATUS_BAD_FILE, "model");
    char *j = tiny_json("null", "{\"type\": \"Metaspace\", \"replacement\": \"_\"}", "null", k_dec, "");
    expect_fail("Metaspace", j, HG_STATUS_UNSUPPORTED, "`Metaspace`");
    free(j);
    j = tiny_json("{\"type\": \"BertNormalizer\"}", "null", "null", k_dec, "");
    expect_fail("BertNormalizer", j, HG_STATUS_UNSUPPORTED, "`BertNormalizer`");
    free(j);
    j = tiny_json("null", "null", "{\"type\": \"Fancy\"}", k_dec, "");
    expect_fail("post", j, HG_STATUS_UNSUPPORTED, "`Fancy`");
    free(j);
    j = tiny_json("null", "null", "null", "{\"type\": \"WordPiece\"}", "");
    expect_fail("decoder", j, HG_STATUS_UNSUPPORTED, "`WordPiece`");
    free(j);
    j = tiny_json("null", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}", "null", k_dec, "");
    expect_fail("bad regex", j, HG_STATUS_UNSUPPORTED, "does not compile");
    free(j);
    j = tiny_json("null", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Sideways\"}", "null", k_dec, "");
    expect_fail("behavior", j, HG_STATUS_UNSUPPORTED, "Sideways");
    free(j);
    j = tiny_json("null", "null", "null", k_dec, "");
    memcpy(strstr(j, "\"dropout\": null"), "\"dropout\": 0.25", 15);
    expect_fail("dropout", j, HG_STATUS_UNSUPPORTED, "dropout");
    free(j);
    /* a merge whose result is not in the vocabulary; an id out of range; a non-integer id */
    char *m = tiny_json("null", "null", "null", k_dec, "");
    memcpy(strstr(m, "\"h e\""), "\"h Q\"", 5);
    expect_fail("merge oov", m, HG_STATUS_BAD_FILE, "not in the vocabulary");
    free(m);
    m = tiny_json("null", "null", "null", k_dec, "");
    memcpy(strstr(m, "\"hello\": 259"), "\"hello\": -59", 12);
    expect_fail("negative id", m, HG_STATUS_BAD_FILE, "id must be an integer");
    free(m);
    m = tiny_json("null", "null", "null", k_dec, "");
    memcpy(strstr(m, "\"hello\": 259"), "\"hello\": 2.5", 12);
    expect_fail("fractional id", m, HG_STATUS_BAD_FILE, "id must be an integer");
    free(m);
    expect_fail("model type", "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", HG_STATUS_UNSUPPORTED, "`Unigram`");
    expect_fail("truncation", "{\"truncation\": {\"max_length\": 5}, \"model\": {}}", HG_STATUS_UNSUPPORTED, "truncation");
    /* file loading */
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    CHECK(hg_tokenizer_load("/nonexistent/tokenizer.json", &tok, &err) == HG_STATUS_IO && !tok &&
          strstr(err.msg, "/nonexistent"));
    CHECK(hg_tokenizer_load(NULL, &tok, &err) == HG_STATUS_BAD_ARG);
    free(good);
}

static void check_bad_input(void) {
    char *j = tiny_json(k_norm, k_pretok, k_post, k_dec, "");
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    CHECK(load(j, &tok, &err) == HG_OK);
    free(j);
    if (!tok) return;
    static const char *const bad[] = {"\xff", "ab\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "x\x80y", "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t *ids = (int32_t *)(uintptr_t)1; /* poison: must stay untouched */
        int64_t n = -7;
        hg_status st = hg_tokenizer_encode(tok, bad[i], strlen(bad[i]), false, &ids, &n, &err);
        CHECK_MSG(st == HG_STATUS_BAD_INPUT && n == -7 && ids == (int32_t *)(uintptr_t)1 && strstr(err.msg, "UTF-8"),
                  "invalid UTF-8 case %zu: %d", i, (int)st);
    }
    int32_t *ids = NULL;
    int64_t n = 0;
    CHECK(hg_tokenizer_encode(tok, "", 0, false, &ids, &n, &err) == HG_OK && n == 0);
    hg_tokenizer_mem_free(ids);
    CHECK(hg_tokenizer_encode(tok, "", 0, true, &ids, &n, &err) == HG_OK && n == 1 && ids[0] == 260);
    hg_tokenizer_mem_free(ids);
    CHECK(hg_tokenizer_encode(NULL, "a", 1, false, &ids, &n, &err) == HG_STATUS_BAD_ARG);
    /* a long run: 1 MB of one letter and of spaces (regex stack, BPE heap) */
    size_t big = 1 << 20;
    char *t = malloc(big);
    memset(t, 'l', big);
    CHECK(hg_tokenizer_encode(tok, t, big, false, &ids, &n, &err) == HG_OK && n == (int64_t)big / 2);
    hg_tokenizer_mem_free(ids);
    memset(t, ' ', big);
    CHECK(hg_tokenizer_encode(tok, t, big, false, &ids, &n, &err) == HG_OK && n == (int64_t)big);
    hg_tokenizer_mem_free(ids);
    free(t);
    /* decode: ids out of range are errors; output untouched */
    int32_t badids[] = {104, 262};
    char *text = NULL;
    size_t len = 0;
    CHECK(hg_tokenizer_decode(tok, badids, 2, false, &text, &len, &err) == HG_STATUS_BAD_INPUT && !text &&
          strstr(err.msg, "262"));
    badids[1] = -1;
    CHECK(hg_tokenizer_decode(tok, badids, 2, false, &text, &len, &err) == HG_STATUS_BAD_INPUT && !text);
    hg_detok *d = NULL;
    CHECK(hg_detok_init(tok, false, &d, &err) == HG_OK);
    const char *s;
    CHECK(hg_detok_push(d, 999, &s, &len, &err) == HG_STATUS_BAD_INPUT);
    /* a 3-byte character split over three ids comes out whole, once */
    CHECK(hg_detok_push(d, 0xe2, &s, &len, &err) == HG_OK && len == 0);
    CHECK(hg_detok_push(d, 0x82, &s, &len, &err) == HG_OK && len == 0);
    CHECK(hg_detok_push(d, 0xac, &s, &len, &err) == HG_OK && len == 3 && !memcmp(s, "\xe2\x82\xac", 3));
    /* an unfinished character at the end becomes U+FFFD at flush */
    CHECK(hg_detok_push(d, 0xe2, &s, &len, &err) == HG_OK && len == 0);
    CHECK(hg_detok_flush(d, &s, &len, &err) == HG_OK && len == 3 && !memcmp(s, "\xef\xbf\xbd", 3));
    /* an invalid byte is replaced at once */
    CHECK(hg_detok_push(d, 0xff, &s, &len, &err) == HG_OK && len == 3 && !memcmp(s, "\xef\xbf\xbd", 3));
    hg_detok_free(d);
    hg_detok_free(NULL);
    hg_tokenizer_free(tok);
    hg_tokenizer_free(NULL);
}

/* Fail the k-th allocation for every k until the whole round trip succeeds: each failure must be a
 * clean NOMEM (ASan checks that nothing leaks). */
static void check_alloc_failures(void) {
    char *j = tiny_json(k_norm, k_pretok, k_post, k_dec, "");
    const char text[] = "hello <|s|> world café 123 \xf0\x9f\x98\x80";
    int k, failures = 0;
    for (k = 0; k < 100000; k++) {
        hg_alloc_fail_after(k);
        hg_tokenizer *tok = NULL;
        hg_error err = {0};
        int32_t *ids = NULL;
        int64_t n = 0;
        char *back = NULL;
        size_t bl = 0;
        hg_status st = load(j, &tok, &err);
        if (!st) st = hg_tokenizer_encode(tok, text, sizeof text - 1, true, &ids, &n, &err);
        if (!st) st = hg_tokenizer_decode(tok, ids, n, true, &back, &bl, &err);
        hg_alloc_fail_after(-1);
        hg_tokenizer_mem_free(ids);
        hg_tokenizer_mem_free(back);
        hg_tokenizer_free(tok);
        if (!st) break;
        if (st != HG_STATUS_NOMEM) {
            failures++;
            if (failures < 4) fprintf(stderr, "alloc failure %d gave status %d: %s\n", k, (int)st, err.msg);
        }
    }
    CHECK_MSG(failures == 0, "%d injected allocation failures were not reported as NOMEM", failures);
    CHECK_MSG(k > 10 && k < 100000, "round trip succeeded after %d injected failures", k);
    fprintf(stderr, "  allocation failure injected at each of %d allocation sites\n", k);
    free(j);
}

int main(void) {
    check_tiny();
    check_literal_split();
    check_tiny_vocab();
    check_bad_files();
    check_bad_input();
    check_alloc_failures();
    return hg_test_finish("test_tokenizer_errors");
}
