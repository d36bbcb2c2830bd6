/*
 * gguf_vocab.c — embed a Hugging Face byte-level BPE tokenizer (tokenizer.json) into GGUF with the
 * standard tokenizer.ggml.* keys, so llama.cpp-style tools see a "gpt2" tokenizer:
 *   tokenizer.ggml.model       "gpt2"
 *   tokenizer.ggml.tokens      [n_vocab] strings: model.vocab, then added_tokens (same id: the added
 *                              token's content wins); ids with no token become "[PAD<id>]"
 *   tokenizer.ggml.token_type  [n_vocab] INT32: 1 normal, 3 control (special added token),
 *                              4 user-defined (other added token), 5 unused (no token)
 *   tokenizer.ggml.merges      "left right" strings, from either JSON form ("a b" or ["a","b"])
 *   tokenizer.ggml.bos_token_id / eos_token_id / padding_token_id   UINT32, from tokenizer_config.json
 *   tokenizer.chat_template    tokenizer_config.json's chat_template string, when present
 *   tokenizer.huggingface.json the whole tokenizer.json, so our own tokenizer (which needs the
 *                              pre-tokenizer and normalizer as well) can load from the GGUF alone
 * This reads the JSON with cJSON directly and does not depend on src/tokenizer/: the export must work
 * in builds without it, and it only copies strings (no tokenization semantics).
 */
#include "io/gguf.h"

#include <cjson/cJSON.h>
#include <stdio.h>

enum { TOK_NORMAL = 1, TOK_CONTROL = 3, TOK_USER = 4, TOK_UNUSED = 5 };

/* A JSON number that is an integer id in [0, n). */
static bool json_id(const cJSON *j, int64_t n, int64_t *out) {
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) || j->valuedouble >= (double)n ||
        (double)(int64_t)j->valuedouble != j->valuedouble)
        return false;
    *out = (int64_t)j->valuedouble;
    return true;
}

/* bos_token etc. of tokenizer_config.json: a string or {"content": string}. */
static const char *special_text(const cJSON *cfg, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsObject(j)) j = cJSON_GetObjectItemCaseSensitive(j, "content");
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static int64_t find_token(const char *const *tokens, const int32_t *types, int64_t n, const char *s) {
    for (int64_t i = 0; i < n; i++) /* added tokens first, as Hugging Face resolves them */
        if (types[i] == TOK_CONTROL || types[i] == TOK_USER)
            if (!strcmp(tokens[i], s)) return i;
    for (int64_t i = 0; i < n; i++)
        if (types[i] == TOK_NORMAL && !strcmp(tokens[i], s)) return i;
    return -1;
}

hg_status hg_gguf_put_tokenizer(hg_gguf_writer *w, const char *dir, int64_t n_vocab, hg_error *err) {
    char path[4096], cpath[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    snprintf(cpath, sizeof cpath, "%s/tokenizer_config.json", dir);
    char *text = NULL, *ctext = NULL, *pads = NULL;
    size_t len = 0, clen = 0;
    cJSON *root = NULL, *cfg = NULL;
    const char **tokens = NULL, **merges = NULL;
    int32_t *types = NULL;
    char *mbuf = NULL;
    hg_status st = hg_read_text_file(path, 512u << 20, &text, &len, err);
    if (st) return st;
    root = cJSON_ParseWithLength(text, len);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *jmerges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!root || !cJSON_IsObject(vocab) || !cJSON_IsArray(jmerges) || (added && !cJSON_IsArray(added))) {
        st = hg_err(err, HG_STATUS_BAD_FILE, "%s: not a tokenizer.json (needs model.vocab and model.merges)", path);
        goto out;
    }
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "BPE") != 0) {
        st = hg_err(err, HG_STATUS_UNSUPPORTED, "%s: model.type must be \"BPE\" to embed it as a gpt2 tokenizer", path);
        goto out;
    }
    tokens = hg_calloc((size_t)n_vocab, sizeof *tokens);
    types = hg_calloc((size_t)n_vocab, sizeof *types);
    pads = hg_malloc((size_t)n_vocab * 32);
    if (!tokens || !types || !pads) {
        st = hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
        goto out;
    }
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int64_t id;
        if (!json_id(e, n_vocab, &id)) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: vocab entry `%s`: id must be an integer in 0..%lld (the model's vocab_size)",
                        path, e->string, (long long)n_vocab - 1);
            goto out;
        }
        if (tokens[id]) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: id %lld appears twice in model.vocab", path, (long long)id);
            goto out;
        }
        tokens[id] = e->string;
        types[id] = TOK_NORMAL;
    }
    for (const cJSON *e = added ? added->child : NULL; e; e = e->next) {
        const cJSON *jc = cJSON_GetObjectItemCaseSensitive(e, "content");
        int64_t id;
        if (!json_id(cJSON_GetObjectItemCaseSensitive(e, "id"), n_vocab, &id) || !cJSON_IsString(jc)) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: added_tokens entries need a string content and an id in 0..%lld", path,
                        (long long)n_vocab - 1);
            goto out;
        }
        tokens[id] = jc->valuestring;
        types[id] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special")) ? TOK_CONTROL : TOK_USER;
    }
    for (int64_t i = 0; i < n_vocab; i++)
        if (!tokens[i]) {
            snprintf(pads + 32 * i, 32, "[PAD%lld]", (long long)i);
            tokens[i] = pads + 32 * i;
            types[i] = TOK_UNUSED;
        }

    /* merges: "a b" strings are used as they are; ["a", "b"] pairs are joined with one space */
    const int n_merges = cJSON_GetArraySize(jmerges);
    size_t mbytes = 0;
    for (const cJSON *e = jmerges->child; e; e = e->next) {
        if (cJSON_IsString(e)) continue;
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(e->child) || !cJSON_IsString(e->child->next)) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: each merge must be \"a b\" or [\"a\", \"b\"]", path);
            goto out;
        }
        mbytes += strlen(e->child->valuestring) + strlen(e->child->next->valuestring) + 2;
    }
    merges = hg_calloc((size_t)(n_merges ? n_merges : 1), sizeof *merges);
    mbuf = hg_malloc(mbytes ? mbytes : 1);
    if (!merges || !mbuf) {
        st = hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
        goto out;
    }
    {
        int k = 0;
        size_t at = 0;
        for (const cJSON *e = jmerges->child; e; e = e->next, k++) {
            if (cJSON_IsString(e)) {
                merges[k] = e->valuestring;
                continue;
            }
            merges[k] = mbuf + at;
            at += (size_t)sprintf(mbuf + at, "%s %s", e->child->valuestring, e->child->next->valuestring) + 1;
        }
    }

    hg_gguf_set_str(w, "tokenizer.ggml.model", "gpt2", 4);
    hg_gguf_set_arr_str(w, "tokenizer.ggml.tokens", tokens, NULL, (uint64_t)n_vocab);
    hg_gguf_set_arr(w, "tokenizer.ggml.token_type", HG_GGUF_INT32, types, (uint64_t)n_vocab);
    hg_gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, NULL, (uint64_t)n_merges);

    /* tokenizer_config.json is optional: without it there are no bos/eos ids or chat template */
    hg_error e2 = {0};
    if (hg_read_text_file(cpath, 64u << 20, &ctext, &clen, &e2) == HG_OK) {
        cfg = cJSON_ParseWithLength(ctext, clen);
        if (!cJSON_IsObject(cfg)) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: not a JSON object", cpath);
            goto out;
        }
        static const char *const keys[][2] = {{"bos_token", "tokenizer.ggml.bos_token_id"},
                                              {"eos_token", "tokenizer.ggml.eos_token_id"},
                                              {"pad_token", "tokenizer.ggml.padding_token_id"}};
        for (int k = 0; k < 3; k++) {
            const char *s = special_text(cfg, keys[k][0]);
            int64_t id = s ? find_token(tokens, types, n_vocab, s) : -1;
            if (id >= 0) hg_gguf_set_u32(w, keys[k][1], (uint32_t)id);
        }
        const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
        if (cJSON_IsBool(ab)) hg_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", cJSON_IsTrue(ab));
        const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
        if (cJSON_IsString(tpl)) hg_gguf_set_str(w, "tokenizer.chat_template", tpl->valuestring, strlen(tpl->valuestring));
    }
    hg_gguf_set_str(w, "tokenizer.huggingface.json", text, len);
out:
    cJSON_Delete(cfg);
    hg_free(ctext);
    hg_free(mbuf);
    hg_free(merges);
    hg_free(pads);
    hg_free(types);
    hg_free(tokens);
    cJSON_Delete(root);
    hg_free(text);
    return st;
}
