/*
 * tok_load.c — tokenizer.json (+ tokenizer_config.json) -> hg_tokenizer: the BPE model (vocab,
 * merges in both JSON forms, flags), added tokens, the pipeline components (tok_components.c), the
 * tables encode and decode need, and the chat settings. Also the handle's lifetime functions.
 *
 * Every value from the file is checked before use: ids must be integers in [0, 2^24), merges must
 * name vocabulary tokens (tokenizers refuses such a file too: MergeTokenOutOfVocabulary), strings
 * must be strings. Ids are taken from the file as written (added tokens included), which is what
 * tokenizers 0.23 does (gpt4o's `<|endofprompt|>` = 200018 with holes below it).
 * In byte-level mode the BPE lookup table is keyed by raw bytes: each vocab string is mapped back
 * through the GPT-2 alphabet; strings with characters outside the alphabet can never be produced
 * from text by the ByteLevel pre-tokenizer, so they are left out of that table (and stay reachable
 * by id and by hg_tokenizer_token_to_id).
 * Load cost: one cJSON parse and the table builds, about 0.45 s for huginn_style and 1.1 s for the
 * 11 MB qwen3 file on this (shared, 2-core) machine.
 */
#include "tokenizer/tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define HG_TOK_MAX_ID (1 << 24) /* largest vocabulary we accept; real ones are < 300k */

/* ---- freeing ---------------------------------------------------------------------------------------- */

static void scratch_free(hg_tok_scratch *s) {
    hg_free(s->norm.p);
    hg_free(s->arena.p);
    hg_free(s->pieces.p);
    hg_free(s->next.p);
    hg_free(s->marks.p);
    hg_free(s->marks_is_match);
    hg_free(s->segs.p);
    hg_free(s->seg_tok.p);
    hg_free(s->segs2.p);
    hg_free(s->seg_tok2.p);
    hg_free(s->cps);
    hg_free(s->sym_id);
    hg_free(s->sym_prev);
    hg_free(s->sym_next);
    hg_free(s->sym_len);
    hg_free(s->heap);
    if (s->md) pcre2_match_data_free(s->md);
    if (s->mctx) pcre2_match_context_free(s->mctx);
    if (s->jit_stack) pcre2_jit_stack_free(s->jit_stack);
}

void hg_tokenizer_free(hg_tokenizer *tok) {
    if (!tok) return;
    if (tok->id_str)
        for (int32_t i = 0; i < tok->n_vocab; i++) hg_free(tok->id_str[i]);
    hg_free(tok->id_str);
    hg_strmap_free(&tok->str_to_id);
    hg_strmap_free(&tok->added_to_id);
    hg_strmap_free(&tok->piece_to_id);
    hg_pairmap_free(&tok->merges);
    hg_free(tok->subword_prefix);
    hg_free(tok->word_suffix);
    hg_free(tok->norms);
    for (size_t i = 0; i < tok->n_pretoks; i++)
        if (tok->pretoks[i].re) pcre2_code_free(tok->pretoks[i].re);
    hg_free(tok->pretoks);
    for (size_t i = 0; i < tok->n_added; i++) hg_free(tok->added[i].content);
    hg_free(tok->added);
    hg_matcher_free(&tok->match_raw);
    hg_matcher_free(&tok->match_norm);
    hg_free(tok->is_special);
    hg_free(tok->pre_ids);
    hg_free(tok->post_ids);
    hg_free(tok->dec_arena.p);
    hg_free(tok->dec_off);
    hg_free(tok->chat_template);
    hg_free(tok->bos_token);
    hg_free(tok->eos_token);
    hg_strmap_free(&tok->cache);
    hg_free(tok->cache_ids.p);
    scratch_free(&tok->s);
    hg_free(tok);
}

void hg_tokenizer_mem_free(void *p) { hg_free(p); }

/* ---- helpers ------------------------------------------------------------------------------------------- */

static bool json_int(const cJSON *v, int32_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d < (double)HG_TOK_MAX_ID) || d != (double)(int32_t)d) return false;
    *out = (int32_t)d;
    return true;
}

static hg_status opt_string(const cJSON *j, const char *key, const char **out, const char *where, hg_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return HG_OK;
    if (!cJSON_IsString(v)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: `%s` must be a string or null", where, key);
    *out = v->valuestring;
    return HG_OK;
}

static hg_status opt_bool(const cJSON *j, const char *key, bool def, bool *out, const char *where, hg_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    *out = def;
    if (!v || cJSON_IsNull(v)) return HG_OK;
    if (!cJSON_IsBool(v)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: `%s` must be true or false", where, key);
    *out = cJSON_IsTrue(v);
    return HG_OK;
}

/* Map a byte-level vocab string to raw bytes; false if a char is outside the alphabet. */
static bool to_raw_bytes(const char *s, const int16_t *inv, hg_bytes *out) {
    out->n = 0;
    size_t n = strlen(s), i = 0;
    if (!hg_bytes_reserve(out, n)) return false;
    while (i < n) {
        uint32_t cp;
        size_t w = hg_utf8_next((const uint8_t *)s + i, n - i, &cp);
        if (!w || cp >= HG_BYTE_ALPHABET_END || inv[cp] < 0) return false;
        out->p[out->n++] = (char)inv[cp];
        i += w;
    }
    return true;
}

/* ---- the model ------------------------------------------------------------------------------------------ */

static hg_status parse_added(hg_tokenizer *tok, const cJSON *arr, int32_t *max_id, hg_error *err) {
    if (!arr || cJSON_IsNull(arr)) return HG_OK;
    if (!cJSON_IsArray(arr)) return hg_err(err, HG_STATUS_BAD_FILE, "`added_tokens` must be an array");
    size_t n = (size_t)cJSON_GetArraySize(arr);
    tok->added = hg_calloc(n ? n : 1, sizeof *tok->added);
    if (!tok->added) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        hg_added_token *a = &tok->added[tok->n_added];
        const char *content = NULL;
        hg_status st;
        if ((st = opt_string(e, "content", &content, "added_tokens", err))) return st;
        if (!content || !json_int(cJSON_GetObjectItemCaseSensitive(e, "id"), &a->id))
            return hg_err(err, HG_STATUS_BAD_FILE, "added_tokens[%zu]: needs a string `content` and an id in [0, %d)",
                          tok->n_added, HG_TOK_MAX_ID);
        if ((st = opt_bool(e, "special", false, &a->special, "added_tokens", err))) return st;
        if ((st = opt_bool(e, "lstrip", false, &a->lstrip, "added_tokens", err))) return st;
        if ((st = opt_bool(e, "rstrip", false, &a->rstrip, "added_tokens", err))) return st;
        if ((st = opt_bool(e, "single_word", false, &a->single_word, "added_tokens", err))) return st;
        if ((st = opt_bool(e, "normalized", !a->special, &a->normalized, "added_tokens", err))) return st;
        a->len = strlen(content);
        a->content = hg_strdup(content);
        if (!a->content) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
        tok->n_added++;
        if (a->id > *max_id) *max_id = a->id;
    }
    return HG_OK;
}

static hg_status parse_merge(const cJSON *m, size_t rank, const char **a, size_t *alen, const char **b, hg_error *err) {
    if (cJSON_IsString(m)) {
        const char *sp = strchr(m->valuestring, ' ');
        if (!sp) return hg_err(err, HG_STATUS_BAD_FILE, "model.merges[%zu]: \"%.100s\" is not \"a b\"", rank, m->valuestring);
        *a = m->valuestring;
        *alen = (size_t)(sp - m->valuestring);
        *b = sp + 1;
        return HG_OK;
    }
    if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
        cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
        *a = cJSON_GetArrayItem(m, 0)->valuestring;
        *alen = strlen(*a);
        *b = cJSON_GetArrayItem(m, 1)->valuestring;
        return HG_OK;
    }
    return hg_err(err, HG_STATUS_BAD_FILE, "model.merges[%zu]: must be \"a b\" or [\"a\", \"b\"]", rank);
}

static hg_status build_merges(hg_tokenizer *tok, const cJSON *merges, hg_error *err) {
    if (!cJSON_IsArray(merges)) return hg_err(err, HG_STATUS_BAD_FILE, "model.merges must be an array");
    size_t n = (size_t)cJSON_GetArraySize(merges), rank = 0, plen = tok->subword_prefix ? strlen(tok->subword_prefix) : 0;
    if (!hg_pairmap_init(&tok->merges, n)) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    hg_bytes cat = {0};
    hg_status st = HG_OK;
    const cJSON *m;
    cJSON_ArrayForEach(m, merges) {
        const char *a = NULL, *b = NULL;
        size_t alen = 0;
        if ((st = parse_merge(m, rank, &a, &alen, &b, err))) break;
        int32_t ia = hg_strmap_get(&tok->str_to_id, a, alen), ib = hg_strmap_get(&tok->str_to_id, b, strlen(b));
        size_t blen = strlen(b), skip = plen <= blen ? plen : blen;
        cat.n = 0;
        if (!hg_bytes_append(&cat, a, alen) || !hg_bytes_append(&cat, b + skip, blen - skip)) {
            st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
            break;
        }
        int32_t inew = hg_strmap_get(&tok->str_to_id, cat.p, cat.n);
        if (ia < 0 || ib < 0 || inew < 0) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "model.merges[%zu]: token `%.100s` is not in the vocabulary", rank,
                        ia < 0 ? "first part" : ib < 0 ? b : cat.p);
            break;
        }
        if (rank >= INT32_MAX || !hg_pairmap_put(&tok->merges, ia, ib, (int32_t)rank, inew)) {
            st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
            break;
        }
        rank++;
    }
    hg_free(cat.p);
    return st;
}

static hg_status parse_model(hg_tokenizer *tok, const cJSON *model, const cJSON *added, hg_error *err) {
    if (!cJSON_IsObject(model)) return hg_err(err, HG_STATUS_BAD_FILE, "missing `model` object");
    const char *type = NULL;
    hg_status st;
    if ((st = opt_string(model, "type", &type, "model", err))) return st;
    if (type ? strcmp(type, "BPE") != 0 : !cJSON_GetObjectItemCaseSensitive(model, "merges"))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "model type `%.100s` is not supported (supported: BPE)", type ? type : "?");
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble > 0)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "model: BPE dropout (%g) is not supported (it makes encoding random)",
                      dropout->valuedouble);
    const char *unk, *prefix, *suffix;
    if ((st = opt_string(model, "unk_token", &unk, "model", err))) return st;
    if ((st = opt_string(model, "continuing_subword_prefix", &prefix, "model", err))) return st;
    if ((st = opt_string(model, "end_of_word_suffix", &suffix, "model", err))) return st;
    if ((st = opt_bool(model, "fuse_unk", false, &tok->fuse_unk, "model", err))) return st;
    if ((st = opt_bool(model, "byte_fallback", false, &tok->byte_fallback, "model", err))) return st;
    if ((st = opt_bool(model, "ignore_merges", false, &tok->ignore_merges, "model", err))) return st;
    if ((prefix && strlen(prefix) > 64) || (suffix && strlen(suffix) > 64))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "model: continuing_subword_prefix/end_of_word_suffix longer than 64 bytes");
    if (prefix && *prefix && !(tok->subword_prefix = hg_strdup(prefix))) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    if (suffix && *suffix && !(tok->word_suffix = hg_strdup(suffix))) return hg_err(err, HG_STATUS_NOMEM, "out of memory");

    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsObject(vocab)) return hg_err(err, HG_STATUS_BAD_FILE, "model.vocab must be an object");
    int32_t max_id = -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        int32_t id;
        if (!json_int(e, &id))
            return hg_err(err, HG_STATUS_BAD_FILE, "model.vocab[\"%.100s\"]: id must be an integer in [0, %d)",
                          e->string ? e->string : "", HG_TOK_MAX_ID);
        if (id > max_id) max_id = id;
    }
    if ((st = parse_added(tok, added, &max_id, err))) return st;
    if (max_id < 0) return hg_err(err, HG_STATUS_BAD_FILE, "model.vocab is empty");
    tok->n_vocab = max_id + 1;
    tok->id_str = hg_calloc((size_t)tok->n_vocab, sizeof *tok->id_str);
    tok->is_special = hg_calloc((size_t)tok->n_vocab, sizeof *tok->is_special);
    size_t nv = (size_t)cJSON_GetArraySize(vocab);
    if (!tok->id_str || !tok->is_special || !hg_strmap_init(&tok->str_to_id, nv) ||
        !hg_strmap_init(&tok->added_to_id, tok->n_added) || !hg_strmap_init(&tok->piece_to_id, nv))
        return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    cJSON_ArrayForEach(e, vocab) {
        int32_t id = (int32_t)e->valuedouble;
        if (!hg_strmap_put(&tok->str_to_id, e->string, strlen(e->string), id)) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
        if (!tok->id_str[id] && !(tok->id_str[id] = hg_strdup(e->string))) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < tok->n_added; i++) {
        hg_added_token *a = &tok->added[i];
        /* the added vocabulary wins over the model for id -> token (AddedVocabulary first) */
        hg_free(tok->id_str[a->id]);
        if (!(tok->id_str[a->id] = hg_strdup(a->content)) || !hg_strmap_put(&tok->added_to_id, a->content, a->len, a->id))
            return hg_err(err, HG_STATUS_NOMEM, "out of memory");
        tok->is_special[a->id] = tok->is_special[a->id] || a->special;
    }
    tok->unk_id = unk ? hg_strmap_get(&tok->str_to_id, unk, strlen(unk)) : -1;
    return build_merges(tok, cJSON_GetObjectItemCaseSensitive(model, "merges"), err);
}

/* The BPE lookup table and byte ids (after the pre-tokenizer said whether text is byte-level). */
static hg_status build_pieces(hg_tokenizer *tok, const cJSON *vocab, hg_error *err) {
    if (tok->byte_level && (tok->subword_prefix || tok->word_suffix))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "model: continuing_subword_prefix/end_of_word_suffix with a ByteLevel "
                      "pre-tokenizer is not supported");
    int16_t inv[HG_BYTE_ALPHABET_END];
    hg_byte_alphabet_inverse(inv);
    hg_bytes raw = {0};
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        int32_t id = (int32_t)e->valuedouble;
        bool ok = true;
        if (!tok->byte_level)
            ok = hg_strmap_put(&tok->piece_to_id, e->string, strlen(e->string), id);
        else if (to_raw_bytes(e->string, inv, &raw))
            ok = hg_strmap_put(&tok->piece_to_id, raw.p, raw.n, id);
        else if (!raw.p && strlen(e->string) > 0)
            ok = false; /* to_raw_bytes failed to allocate */
        if (!ok) {
            hg_free(raw.p);
            return hg_err(err, HG_STATUS_NOMEM, "out of memory");
        }
    }
    hg_free(raw.p);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        tok->byte_id[b] = tok->byte_level ? hg_strmap_get(&tok->piece_to_id, &c, 1) : -1;
    }
    return HG_OK;
}

static hg_status build_matchers(hg_tokenizer *tok, hg_error *err) {
    if (!hg_matcher_init(&tok->match_raw) || !hg_matcher_init(&tok->match_norm)) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    for (size_t i = 0; i < tok->n_added; i++) {
        const hg_added_token *a = &tok->added[i];
        bool ok;
        if (!a->normalized || tok->n_norms == 0) {
            ok = hg_matcher_add(a->normalized ? &tok->match_norm : &tok->match_raw, a->content, a->len, (int32_t)i);
        } else {
            hg_bytes nb = {0};
            if (hg_utf8_valid_prefix((const uint8_t *)a->content, a->len) != a->len) {
                return hg_err(err, HG_STATUS_BAD_FILE, "added_tokens: `%.100s` is not valid UTF-8", a->content);
            }
            hg_status st = hg_normalize(tok, a->content, a->len, &nb, err);
            if (st) {
                hg_free(nb.p);
                return st;
            }
            ok = hg_matcher_add(&tok->match_norm, nb.p, nb.n, (int32_t)i);
            /* tokenizers then knows the token by its normalized form: id_to_token and decode give
             * it (`ﬁ` with NFKC decodes as "fi"), token_to_id accepts both (differential test) */
            if (ok && (nb.n != a->len || memcmp(nb.p, a->content, nb.n))) {
                char *norm = hg_strdup(nb.p);
                ok = norm && hg_strmap_put_new(&tok->added_to_id, nb.p, nb.n, a->id);
                if (ok) {
                    hg_free(tok->id_str[a->id]);
                    tok->id_str[a->id] = norm;
                } else {
                    hg_free(norm);
                }
            }
            hg_free(nb.p);
        }
        if (!ok) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    }
    return HG_OK;
}

/* ---- tokenizer_config.json ------------------------------------------------------------------------------ */

/* bos_token and friends are a string or {"content": ...} (AddedToken). */
static hg_status config_token(const cJSON *cfg, const char *key, char **out, hg_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v)) return HG_OK;
    *out = hg_strdup(v->valuestring);
    return *out ? HG_OK : hg_err(err, HG_STATUS_NOMEM, "out of memory");
}

/* What tokenizer_config.json sets, parsed apart from the tokenizer so that it is committed whole. */
typedef struct {
    char *chat_template, *bos_token, *eos_token; /* NULL where absent */
    bool no_add_bos;
} tok_config;

static void tok_config_free(tok_config *c) {
    hg_free(c->chat_template);
    hg_free(c->bos_token);
    hg_free(c->eos_token);
}

static hg_status parse_config(tok_config *c, const char *json, size_t len, hg_error *err) {
    cJSON *cfg = cJSON_ParseWithLength(json, len);
    if (!cfg || !cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return hg_err(err, HG_STATUS_BAD_FILE, "invalid JSON or not an object");
    }
    hg_status st = HG_OK;
    const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
    if (cJSON_IsArray(tmpl)) { /* [{"name": "default", "template": ...}, ...] */
        const cJSON *e, *found = NULL;
        cJSON_ArrayForEach(e, tmpl) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
            if (cJSON_IsString(nm) && !strcmp(nm->valuestring, "default")) found = cJSON_GetObjectItemCaseSensitive(e, "template");
        }
        tmpl = found;
    }
    if (cJSON_IsString(tmpl) && !(c->chat_template = hg_strdup(tmpl->valuestring)))
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
    /* add_bos_token (Llama-style configs and GGUF's tokenizer.ggml.add_bos_token): absent means yes,
     * as llama.cpp prepends the bos of a gpt2 vocabulary unless told not to */
    c->no_add_bos = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token"));
    if (!st) st = config_token(cfg, "bos_token", &c->bos_token, err);
    if (!st) st = config_token(cfg, "eos_token", &c->eos_token, err);
    cJSON_Delete(cfg);
    return st;
}

hg_status hg_tok_set_config(hg_tokenizer *tok, const char *json, size_t len, hg_error *err) {
    tok_config c = {0};
    hg_status st = json ? parse_config(&c, json, len, err) : HG_OK;
    if (st) {
        tok_config_free(&c);
        return st;
    }
    tok_config old = {tok->chat_template, tok->bos_token, tok->eos_token, tok->no_add_bos};
    tok_config_free(&old);
    tok->chat_template = c.chat_template;
    tok->bos_token = c.bos_token;
    tok->eos_token = c.eos_token;
    tok->no_add_bos = c.no_add_bos;
    tok->bos_id = c.bos_token ? hg_tokenizer_token_to_id(tok, c.bos_token) : -1;
    tok->eos_id = c.eos_token ? hg_tokenizer_token_to_id(tok, c.eos_token) : -1;
    return HG_OK;
}

/* ---- scratch ------------------------------------------------------------------------------------------- */

static hg_status scratch_init(hg_tokenizer *tok, hg_error *err) {
    hg_tok_scratch *s = &tok->s;
    s->md = pcre2_match_data_create(1, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    /* JIT stack: the default 32 KiB is too small for \s+ style loops on long pieces */
    s->jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    if (!s->md || !s->mctx || !s->jit_stack) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
    if (!hg_strmap_init(&tok->cache, HG_BPE_CACHE_MAX_ENTRIES)) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    return HG_OK;
}

/* ---- public ---------------------------------------------------------------------------------------------- */

static hg_status load_json(hg_tokenizer *tok, const cJSON *root, hg_error *err) {
    if (!cJSON_IsObject(root)) return hg_err(err, HG_STATUS_BAD_FILE, "not a JSON object");
    const cJSON *trunc = cJSON_GetObjectItemCaseSensitive(root, "truncation");
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(root, "padding");
    if (trunc && !cJSON_IsNull(trunc))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "`truncation` is set; truncating encodings is not supported (set it to null)");
    if (pad && !cJSON_IsNull(pad))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "`padding` is set; padding encodings is not supported (set it to null)");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    hg_status st;
    if ((st = parse_model(tok, model, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), err))) return st;
    if ((st = hg_tok_parse_normalizer(tok, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), err))) return st;
    if ((st = hg_tok_parse_pretokenizer(tok, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), err))) return st;
    if ((st = build_pieces(tok, cJSON_GetObjectItemCaseSensitive(model, "vocab"), err))) return st;
    if ((st = scratch_init(tok, err))) return st;
    if ((st = build_matchers(tok, err))) return st;
    if ((st = hg_tok_parse_post_processor(tok, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), err))) return st;
    if ((st = hg_tok_parse_decoder(tok, cJSON_GetObjectItemCaseSensitive(root, "decoder"), err))) return st;
    return hg_decode_build(tok, err);
}

/* Errors are prefixed with jname / cname (the file names or paths). */
static hg_status load_mem(const char *json, size_t json_len, const char *config_json, size_t config_len,
                          const char *jname, const char *cname, hg_tokenizer **out, hg_error *err) {
    hg_tokenizer *tok = hg_calloc(1, sizeof *tok);
    if (!tok) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    tok->unk_id = tok->bos_id = tok->eos_id = -1;
    hg_status st;
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= json && at <= json + json_len ? (size_t)(at - json) : json_len;
        st = hg_err(err, HG_STATUS_BAD_FILE, "%s: invalid or truncated JSON near byte %zu of %zu", jname, off, json_len);
        goto out_free_tok;
    }
    st = load_json(tok, root, err);
    cJSON_Delete(root);
    if (st) {
        hg_err_prefix(err, "%s", jname);
        goto out_free_tok;
    }
    if ((st = hg_tok_set_config(tok, config_json, config_len, err))) {
        hg_err_prefix(err, "%s", cname);
        goto out_free_tok;
    }
    *out = tok;
    return HG_OK;
out_free_tok:
    hg_tokenizer_free(tok);
    return st;
}

hg_status hg_tokenizer_load_json(const char *json, size_t json_len, const char *config_json, size_t config_len,
                                 hg_tokenizer **out, hg_error *err) {
    if (!json || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_tokenizer_load_json: NULL argument");
    return load_mem(json, json_len, config_json, config_len, "tokenizer.json", "tokenizer_config.json", out, err);
}

static hg_status read_file(const char *path, char **buf, size_t *len, hg_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return hg_err(err, HG_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    hg_bytes b = {0};
    char chunk[1 << 16];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (!hg_bytes_append(&b, chunk, k)) {
            fclose(f);
            hg_free(b.p);
            return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        hg_free(b.p);
        return hg_err(err, HG_STATUS_IO, "%s: read error", path);
    }
    *buf = b.p;
    *len = b.n;
    return HG_OK;
}

hg_status hg_tokenizer_load(const char *path, hg_tokenizer **out, hg_error *err) {
    if (!path || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_tokenizer_load: NULL argument");
    struct stat sb;
    if (stat(path, &sb) != 0) return hg_err(err, HG_STATUS_IO, "%s: %s", path, strerror(errno));
    size_t pl = strlen(path);
    char *jpath = hg_malloc(pl + 32), *cpath = hg_malloc(pl + 32);
    char *json = NULL, *cfg = NULL;
    size_t jlen = 0, clen = 0;
    hg_status st = HG_OK;
    if (!jpath || !cpath) {
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
        goto out_free;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(jpath, pl + 32, "%s/tokenizer.json", path);
        snprintf(cpath, pl + 32, "%s/tokenizer_config.json", path);
    } else {
        memcpy(jpath, path, pl + 1);
        const char *slash = strrchr(path, '/');
        size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
        memcpy(cpath, path, dl);
        memcpy(cpath + dl, "tokenizer_config.json", sizeof "tokenizer_config.json");
    }
    if ((st = read_file(jpath, &json, &jlen, err))) goto out_free;
    if (access(cpath, R_OK) == 0 && (st = read_file(cpath, &cfg, &clen, err))) goto out_free;
    st = load_mem(json, jlen, cfg, clen, jpath, cpath, out, err);
out_free:
    hg_free(json);
    hg_free(cfg);
    hg_free(jpath);
    hg_free(cpath);
    return st;
}
