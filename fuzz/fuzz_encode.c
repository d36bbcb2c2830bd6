/*
 * fuzz_encode.c — libFuzzer target: text through every normalizer and pre-tokenizer we support, with
 * real tokenizers (tests/data/tokenizers: Huginn-style, Llama 3, Qwen 3, GPT-4o, DeepSeek V3; the chain
 * model's; fuzz/data/components.json, which switches on NFKC, NFD, Digits, literal and regex Split,
 * ByteLevel with its regex and prefix space, flagged added tokens). Input byte 0 picks the tokenizer,
 * byte 1 the flags, the rest is the text: encode, then decode one-shot and streaming (whose
 * concatenation must equal the one-shot text), then the same bytes read as ids (the `detokenize` path).
 */
#include "fuzz_util.h"

static const char *const k_files[] = {
    "tests/data/tokenizers/huginn_style/tokenizer.json.gz", "tests/data/tokenizers/llama3/tokenizer.json.gz",
    "tests/data/tokenizers/qwen3/tokenizer.json.gz",        "tests/data/tokenizers/gpt4o/tokenizer.json.gz",
    "tests/data/tokenizers/deepseek_v3/tokenizer.json.gz",  "models/default/tokenizer.json",
    "fuzz/data/components.json"};
enum { N_TOK = sizeof k_files / sizeof k_files[0] };
static hg_tokenizer *g_tok[N_TOK];

/* Only the files named by $HG_FUZZ_TOKENIZERS (a list of indices, "0,5,6") when set: the short CI run
 * skips the large ones, whose loading alone takes seconds under ASan. */
static void load_all(void) {
    const char *only = getenv("HG_FUZZ_TOKENIZERS");
    for (int i = 0; i < N_TOK; i++) {
        char key[8];
        snprintf(key, sizeof key, "%d", i);
        if (only && !strstr(only, key)) continue;
        size_t len;
        char *json = fz_read(fz_src(k_files[i]), &len);
        if (!json) continue;
        hg_error err = {0};
        if (hg_tokenizer_load_json(json, len, NULL, 0, &g_tok[i], &err) != HG_OK)
            fprintf(stderr, "fuzz_encode: %s: %s\n", k_files[i], err.msg), abort();
        free(json);
    }
}

/* Decodes ids one-shot and streaming; the two must agree. */
static void decode_both(hg_tokenizer *tok, const int32_t *ids, int64_t n, bool skip) {
    hg_error err = {0};
    char *text = NULL;
    size_t len = 0;
    if (hg_tokenizer_decode(tok, ids, n, skip, &text, &len, &err) != HG_OK) return;
    hg_detok *d = NULL;
    FZ_CHECK(hg_detok_init(tok, skip, &d, &err) == HG_OK);
    size_t at = 0;
    for (int64_t i = 0; i <= n; i++) {
        const char *piece;
        size_t pl;
        FZ_CHECK((i < n ? hg_detok_push(d, ids[i], &piece, &pl, &err) : hg_detok_flush(d, &piece, &pl, &err)) == HG_OK);
        FZ_CHECK(at + pl <= len && (pl == 0 || !memcmp(text + at, piece, pl)));
        at += pl;
    }
    FZ_CHECK(at == len);
    hg_detok_free(d);
    hg_tokenizer_mem_free(text);
}

/* Loading happens once, before the first input, so it never counts against an input's time limit. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    load_all();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    hg_tokenizer *tok = g_tok[data[0] % N_TOK];
    if (!tok) return 0;
    const bool add_special = data[1] & 1, skip = data[1] & 2;
    const char *text = (const char *)data + 2;
    const size_t n_text = size - 2;
    hg_error err = {0};
    int32_t *ids = NULL;
    int64_t n = 0;
    if (hg_tokenizer_encode(tok, text, n_text, add_special, &ids, &n, &err) == HG_OK) {
        for (int64_t i = 0; i < n; i++) FZ_CHECK(ids[i] >= 0 && ids[i] < hg_tokenizer_n_vocab(tok));
        decode_both(tok, ids, n, skip);
        hg_tokenizer_mem_free(ids);
    }
    /* the same bytes as little-endian 24-bit ids: any id list `detokenize` could be given */
    const int64_t n_ids = (int64_t)(n_text / 3);
    int32_t *raw = malloc((size_t)(n_ids ? n_ids : 1) * sizeof *raw);
    if (!raw) return 0;
    for (int64_t i = 0; i < n_ids; i++) {
        const uint8_t *b = (const uint8_t *)text + 3 * i;
        raw[i] = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16) % (hg_tokenizer_n_vocab(tok) + 1);
    }
    decode_both(tok, n_ids ? raw : NULL, n_ids, skip);
    free(raw);
    return 0;
}
