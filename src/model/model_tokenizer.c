/*
 * model_tokenizer.c — the tokenizer that belongs to a model: tokenizer.json (+ tokenizer_config.json)
 * in a Hugging Face directory, or the tokenizer.json a GGUF file carries under
 * `tokenizer.huggingface.json` (written by `huginn convert`, io/gguf_vocab.c).
 */
#include "io/gguf.h"
#include "model/model.h"

#include <stdio.h>
#include <sys/stat.h>

hg_status hg_model_tokenizer(const hg_model *m, hg_tokenizer **out, hg_error *err) {
    if (!m || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_model_tokenizer: model and out are required");
    if (m->gguf) {
        hg_gguf_str s;
        if (hg_gguf_get_str(m->gguf, "tokenizer.huggingface.json", &s, NULL) != HG_OK)
            return hg_err(err, HG_STATUS_UNSUPPORTED,
                          "%s: this GGUF carries no tokenizer.huggingface.json (convert it from a directory with a tokenizer.json)",
                          m->path);
        return hg_tokenizer_load_json(s.s, (size_t)s.len, NULL, 0, out, err);
    }
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/tokenizer.json", m->path);
    if (stat(p, &st) != 0)
        return hg_err(err, HG_STATUS_IO, "%s: the model has no tokenizer.json; use --ids", m->path);
    return hg_tokenizer_load(m->path, out, err);
}
