/*
 * model_tokenizer.c — the tokenizer that belongs to a model: tokenizer.json (+ tokenizer_config.json)
 * in a Hugging Face directory, or the tokenizer.json a GGUF file carries under
 * `tokenizer.huggingface.json` (written by `huginn convert`, io/gguf_vocab.c).
 * A model must behave the same in every format, so for a GGUF the part of tokenizer_config.json that
 * matters (bos_token, eos_token, add_bos_token, chat_template) is rebuilt from the standard keys
 * tokenizer.ggml.bos_token_id / eos_token_id / add_bos_token and tokenizer.chat_template, the ids
 * turned back into token strings through tokenizer.ggml.tokens, and handed to the tokenizer loader as
 * the config text. (Rejected: embedding tokenizer_config.json verbatim under a private key; GGUF files
 * written by other tools carry only the standard keys.)
 */
#include "io/gguf.h"
#include "model/model.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

/* Add key = the token string of the id stored under id_key (when the id and its token exist). */
static bool add_token(cJSON *cfg, const hg_gguf_file *g, const char *id_key, const char *key) {
    int64_t id;
    if (hg_gguf_get_int(g, id_key, 0, INT32_MAX, &id, NULL) != HG_OK) return true;
    const hg_gguf_kv *toks = hg_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (!toks || toks->type != HG_GGUF_ARRAY || toks->arr_type != HG_GGUF_STRING || (uint64_t)id >= toks->n) return true;
    hg_gguf_str s = hg_gguf_arr_str(toks, (uint64_t)id);
    char *z = hg_malloc((size_t)s.len + 1);
    if (!z) return false;
    memcpy(z, s.s, (size_t)s.len);
    z[s.len] = 0;
    bool ok = cJSON_AddStringToObject(cfg, key, z) != NULL;
    hg_free(z);
    return ok;
}

/* The tokenizer_config.json equivalent of a GGUF's tokenizer keys, as a new string (cJSON_free), or
 * NULL when out of memory. */
static char *gguf_config_json(const hg_gguf_file *g) {
    cJSON *cfg = cJSON_CreateObject();
    char *out = NULL, *tpl = NULL;
    if (!cfg) return NULL;
    if (!add_token(cfg, g, "tokenizer.ggml.bos_token_id", "bos_token")) goto out;
    if (!add_token(cfg, g, "tokenizer.ggml.eos_token_id", "eos_token")) goto out;
    if (!add_token(cfg, g, "tokenizer.ggml.padding_token_id", "pad_token")) goto out;
    bool add_bos;
    if (hg_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, NULL) == HG_OK &&
        !cJSON_AddBoolToObject(cfg, "add_bos_token", add_bos))
        goto out;
    hg_gguf_str s;
    if (hg_gguf_get_str(g, "tokenizer.chat_template", &s, NULL) == HG_OK) {
        if (!(tpl = hg_malloc((size_t)s.len + 1))) goto out;
        memcpy(tpl, s.s, (size_t)s.len);
        tpl[s.len] = 0;
        if (!cJSON_AddStringToObject(cfg, "chat_template", tpl)) goto out;
    }
    out = cJSON_PrintUnformatted(cfg);
out:
    hg_free(tpl);
    cJSON_Delete(cfg);
    return out;
}

hg_status hg_model_tokenizer(const hg_model *m, hg_tokenizer **out, hg_error *err) {
    if (!m || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_model_tokenizer: model and out are required");
    if (m->gguf) {
        hg_gguf_str s;
        if (hg_gguf_get_str(m->gguf, "tokenizer.huggingface.json", &s, NULL) != HG_OK)
            return hg_err(err, HG_STATUS_UNSUPPORTED,
                          "%s: this GGUF carries no tokenizer.huggingface.json (convert it from a directory with a tokenizer.json)",
                          m->path);
        char *cfg = gguf_config_json(m->gguf);
        if (!cfg) return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", m->path);
        hg_status st = hg_tokenizer_load_json(s.s, (size_t)s.len, cfg, strlen(cfg), out, err);
        cJSON_free(cfg);
        if (st) hg_err_prefix(err, "%s", m->path);
        return st;
    }
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/tokenizer.json", m->path);
    if (stat(p, &st) != 0)
        return hg_err(err, HG_STATUS_IO, "%s: the model has no tokenizer.json", m->path);
    return hg_tokenizer_load(m->path, out, err);
}
