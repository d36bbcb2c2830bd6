/*
 * tok_components.c — reading the pipeline components of tokenizer.json: normalizer, pre_tokenizer,
 * post_processor and decoder. Each known type is parsed with Hugging Face's defaults for missing
 * fields; any other type (or an option that would change ids and is not implemented) is refused with
 * HG_STATUS_UNSUPPORTED and a message naming the component, so a user never gets silently wrong ids.
 * Sequences are flattened into arrays on the tokenizer (tokenizer.h).
 */
#include "tokenizer/tokenizer.h"

#include <cjson/cJSON.h>

/* ---- small JSON helpers -------------------------------------------------------------------------- */

static const char *type_of(const cJSON *j) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static hg_status get_bool(const cJSON *j, const char *key, bool def, bool *out, const char *where, hg_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return HG_OK;
    }
    if (!cJSON_IsBool(v)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: `%s` must be true or false", where, key);
    *out = cJSON_IsTrue(v);
    return HG_OK;
}

static bool json_id(const cJSON *v, int32_t n_vocab, int32_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d < (double)n_vocab) || d != (double)(int32_t)d) return false;
    *out = (int32_t)d;
    return true;
}

/* ---- normalizer ------------------------------------------------------------------------------------ */

static hg_status add_norm(hg_tokenizer *tok, hg_norm_kind k, hg_error *err) {
    hg_norm_kind *p = hg_realloc(tok->norms, (tok->n_norms + 1) * sizeof *p);
    if (!p) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    tok->norms = p;
    tok->norms[tok->n_norms++] = k;
    return HG_OK;
}

static hg_status parse_normalizer(hg_tokenizer *tok, const cJSON *j, int depth, hg_error *err) {
    if (!j || cJSON_IsNull(j)) return HG_OK;
    if (depth > 8) return hg_err(err, HG_STATUS_UNSUPPORTED, "normalizer: Sequences nested too deep");
    const char *t = type_of(j);
    if (!t) return hg_err(err, HG_STATUS_BAD_FILE, "normalizer: object without a string `type`");
    if (!strcmp(t, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
        if (!cJSON_IsArray(arr)) return hg_err(err, HG_STATUS_BAD_FILE, "normalizer: Sequence without a `normalizers` array");
        const cJSON *e;
        cJSON_ArrayForEach(e, arr) {
            hg_status st = parse_normalizer(tok, e, depth + 1, err);
            if (st) return st;
        }
        return HG_OK;
    }
    if (!strcmp(t, "NFC")) return add_norm(tok, HG_NORM_NFC, err);
    if (!strcmp(t, "NFD")) return add_norm(tok, HG_NORM_NFD, err);
    if (!strcmp(t, "NFKC")) return add_norm(tok, HG_NORM_NFKC, err);
    if (!strcmp(t, "NFKD")) return add_norm(tok, HG_NORM_NFKD, err);
    return hg_err(err, HG_STATUS_UNSUPPORTED,
                  "normalizer type `%.100s` is not supported (supported: NFC, NFD, NFKC, NFKD, Sequence)", t);
}

hg_status hg_tok_parse_normalizer(hg_tokenizer *tok, const void *json, hg_error *err) {
    return parse_normalizer(tok, (const cJSON *)json, 0, err);
}

/* ---- pre-tokenizer ----------------------------------------------------------------------------------- */

/* GPT-2's split regex, used by ByteLevel when use_regex is true (tokenizers' byte_level.rs). */
static const char k_gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static hg_status add_pretok(hg_tokenizer *tok, hg_pretok pt, hg_error *err) {
    hg_pretok *p = hg_realloc(tok->pretoks, (tok->n_pretoks + 1) * sizeof *p);
    if (!p) {
        if (pt.re) pcre2_code_free(pt.re);
        return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    }
    tok->pretoks = p;
    tok->pretoks[tok->n_pretoks++] = pt;
    return HG_OK;
}

static hg_status parse_behavior(const cJSON *j, hg_split_behavior *out, hg_error *err) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "behavior");
    if (!cJSON_IsString(b)) return hg_err(err, HG_STATUS_BAD_FILE, "pre_tokenizer Split: missing string `behavior`");
    static const struct {
        const char *name;
        hg_split_behavior b;
    } k[] = {{"Removed", HG_SPLIT_REMOVED},
             {"Isolated", HG_SPLIT_ISOLATED},
             {"MergedWithPrevious", HG_SPLIT_MERGED_WITH_PREVIOUS},
             {"MergedWithNext", HG_SPLIT_MERGED_WITH_NEXT},
             {"Contiguous", HG_SPLIT_CONTIGUOUS}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(b->valuestring, k[i].name)) {
            *out = k[i].b;
            return HG_OK;
        }
    return hg_err(err, HG_STATUS_UNSUPPORTED, "pre_tokenizer Split: behavior `%.100s` is not supported", b->valuestring);
}

static hg_status parse_pretok(hg_tokenizer *tok, const cJSON *j, int depth, hg_error *err) {
    if (!j || cJSON_IsNull(j)) return HG_OK;
    if (depth > 8) return hg_err(err, HG_STATUS_UNSUPPORTED, "pre_tokenizer: Sequences nested too deep");
    const char *t = type_of(j);
    if (!t) return hg_err(err, HG_STATUS_BAD_FILE, "pre_tokenizer: object without a string `type`");
    if (tok->byte_level)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "pre_tokenizer `%.100s` after ByteLevel is not supported "
                      "(ByteLevel must be the last pre-tokenizer)", t);
    hg_pretok pt = {0};
    hg_status st;
    if (!strcmp(t, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
        if (!cJSON_IsArray(arr)) return hg_err(err, HG_STATUS_BAD_FILE, "pre_tokenizer: Sequence without a `pretokenizers` array");
        const cJSON *e;
        cJSON_ArrayForEach(e, arr) {
            st = parse_pretok(tok, e, depth + 1, err);
            if (st) return st;
        }
        return HG_OK;
    }
    if (!strcmp(t, "Split")) {
        pt.kind = HG_PRETOK_SPLIT;
        if ((st = parse_behavior(j, &pt.behavior, err))) return st;
        if ((st = get_bool(j, "invert", false, &pt.invert, "pre_tokenizer Split", err))) return st;
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        const cJSON *lit = cJSON_GetObjectItemCaseSensitive(pat, "String");
        const cJSON *src = cJSON_IsString(re) ? re : cJSON_IsString(lit) ? lit : NULL;
        if (!src) return hg_err(err, HG_STATUS_BAD_FILE, "pre_tokenizer Split: `pattern` must be {\"Regex\": ...} or {\"String\": ...}");
        if ((st = hg_pretok_compile(src->valuestring, strlen(src->valuestring), src == lit, &pt.re, err))) return st;
        return add_pretok(tok, pt, err);
    }
    if (!strcmp(t, "ByteLevel")) {
        pt.kind = HG_PRETOK_BYTE_LEVEL;
        if ((st = get_bool(j, "add_prefix_space", true, &pt.add_prefix_space, "pre_tokenizer ByteLevel", err))) return st;
        if ((st = get_bool(j, "use_regex", true, &pt.use_regex, "pre_tokenizer ByteLevel", err))) return st;
        if (pt.use_regex && (st = hg_pretok_compile(k_gpt2_regex, sizeof k_gpt2_regex - 1, false, &pt.re, err)))
            return st;
        if ((st = add_pretok(tok, pt, err))) return st;
        tok->byte_level = true;
        return HG_OK;
    }
    if (!strcmp(t, "Digits")) {
        pt.kind = HG_PRETOK_DIGITS;
        if ((st = get_bool(j, "individual_digits", false, &pt.individual, "pre_tokenizer Digits", err))) return st;
        return add_pretok(tok, pt, err);
    }
    if (!strcmp(t, "WhitespaceSplit")) {
        pt.kind = HG_PRETOK_WS_SPLIT;
        return add_pretok(tok, pt, err);
    }
    return hg_err(err, HG_STATUS_UNSUPPORTED, "pre_tokenizer type `%.100s` is not supported (supported: "
                  "Sequence, Split, ByteLevel, Digits, WhitespaceSplit)", t);
}

hg_status hg_tok_parse_pretokenizer(hg_tokenizer *tok, const void *json, hg_error *err) {
    return parse_pretok(tok, (const cJSON *)json, 0, err);
}

/* ---- post-processor ---------------------------------------------------------------------------------- */

static hg_status push_ids(int32_t **arr, size_t *n, const int32_t *ids, size_t k, hg_error *err) {
    int32_t *p = hg_realloc(*arr, (*n + k + 1) * sizeof *p);
    if (!p) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    memcpy(p + *n, ids, k * sizeof *p);
    *arr = p;
    *n += k;
    return HG_OK;
}

/* {"sep": ["</s>", 2], "cls": ["<s>", 0]} of BertProcessing / RobertaProcessing */
static hg_status parse_pair_token(const hg_tokenizer *tok, const cJSON *j, const char *key, int32_t *id, hg_error *err) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 2 || !json_id(cJSON_GetArrayItem(p, 1), tok->n_vocab, id))
        return hg_err(err, HG_STATUS_BAD_FILE, "post_processor: `%s` must be [token, id] with an id below %d", key,
                      (int)tok->n_vocab);
    return HG_OK;
}

static hg_status parse_template(hg_tokenizer *tok, const cJSON *j, hg_error *err) {
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(j, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
    if (!cJSON_IsArray(single)) return hg_err(err, HG_STATUS_BAD_FILE, "post_processor TemplateProcessing: `single` must be an array");
    bool seen_a = false;
    const cJSON *item;
    cJSON_ArrayForEach(item, single) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(item, "SpecialToken");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(item, "Sequence");
        if (sq) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(sq, "id");
            if (!cJSON_IsString(id) || strcmp(id->valuestring, "A") || seen_a)
                return hg_err(err, HG_STATUS_UNSUPPORTED, "post_processor TemplateProcessing: the `single` template "
                              "must hold sequence $A exactly once");
            seen_a = true;
            continue;
        }
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(sp, "id");
        if (!cJSON_IsString(name)) return hg_err(err, HG_STATUS_BAD_FILE, "post_processor TemplateProcessing: bad item in `single`");
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(specials, name->valuestring);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(def, "ids");
        if (!cJSON_IsArray(ids))
            return hg_err(err, HG_STATUS_BAD_FILE, "post_processor TemplateProcessing: special token `%.100s` has no `ids`",
                          name->valuestring);
        const cJSON *v;
        cJSON_ArrayForEach(v, ids) {
            int32_t id;
            if (!json_id(v, tok->n_vocab, &id))
                return hg_err(err, HG_STATUS_BAD_FILE, "post_processor TemplateProcessing: special token `%.100s` has an id "
                              "outside [0, %d)", name->valuestring, (int)tok->n_vocab);
            hg_status st = seen_a ? push_ids(&tok->post_ids, &tok->n_post, &id, 1, err)
                                  : push_ids(&tok->pre_ids, &tok->n_pre, &id, 1, err);
            if (st) return st;
        }
    }
    if (!seen_a) return hg_err(err, HG_STATUS_UNSUPPORTED, "post_processor TemplateProcessing: `single` has no $A");
    return HG_OK;
}

static hg_status parse_post(hg_tokenizer *tok, const cJSON *j, int depth, hg_error *err) {
    if (!j || cJSON_IsNull(j)) return HG_OK;
    if (depth > 8) return hg_err(err, HG_STATUS_UNSUPPORTED, "post_processor: Sequences nested too deep");
    const char *t = type_of(j);
    if (!t) return hg_err(err, HG_STATUS_BAD_FILE, "post_processor: object without a string `type`");
    if (!strcmp(t, "ByteLevel")) return HG_OK; /* changes offsets only */
    bool adds = tok->n_pre || tok->n_post;
    if (!strcmp(t, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "processors");
        if (!cJSON_IsArray(arr)) return hg_err(err, HG_STATUS_BAD_FILE, "post_processor: Sequence without a `processors` array");
        const cJSON *e;
        cJSON_ArrayForEach(e, arr) {
            hg_status st = parse_post(tok, e, depth + 1, err);
            if (st) return st;
        }
        return HG_OK;
    }
    if (adds && (!strcmp(t, "TemplateProcessing") || !strcmp(t, "BertProcessing") || !strcmp(t, "RobertaProcessing")))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "post_processor: more than one processor that adds tokens");
    if (!strcmp(t, "TemplateProcessing")) return parse_template(tok, j, err);
    if (!strcmp(t, "BertProcessing") || !strcmp(t, "RobertaProcessing")) {
        int32_t cls, sep;
        hg_status st;
        if ((st = parse_pair_token(tok, j, "cls", &cls, err))) return st;
        if ((st = parse_pair_token(tok, j, "sep", &sep, err))) return st;
        if ((st = push_ids(&tok->pre_ids, &tok->n_pre, &cls, 1, err))) return st;
        return push_ids(&tok->post_ids, &tok->n_post, &sep, 1, err);
    }
    return hg_err(err, HG_STATUS_UNSUPPORTED, "post_processor type `%.100s` is not supported (supported: "
                  "TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence)", t);
}

hg_status hg_tok_parse_post_processor(hg_tokenizer *tok, const void *json, hg_error *err) {
    return parse_post(tok, (const cJSON *)json, 0, err);
}

/* ---- decoder ------------------------------------------------------------------------------------------ */

hg_status hg_tok_parse_decoder(hg_tokenizer *tok, const void *json, hg_error *err) {
    const cJSON *j = (const cJSON *)json;
    tok->decoder = HG_DECODER_NONE;
    if (!j || cJSON_IsNull(j)) return HG_OK;
    const char *t = type_of(j);
    if (!t) return hg_err(err, HG_STATUS_BAD_FILE, "decoder: object without a string `type`");
    if (!strcmp(t, "Sequence")) {
        /* a Sequence holding only ByteLevel decoders is one ByteLevel decoder (the mapping is idempotent
         * only once, so more than one is refused) */
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "decoders");
        if (!cJSON_IsArray(arr)) return hg_err(err, HG_STATUS_BAD_FILE, "decoder: Sequence without a `decoders` array");
        if (cJSON_GetArraySize(arr) == 0) return hg_err(err, HG_STATUS_UNSUPPORTED, "decoder: an empty Sequence is not supported");
        if (cJSON_GetArraySize(arr) > 1)
            return hg_err(err, HG_STATUS_UNSUPPORTED, "decoder: a Sequence of several decoders is not supported");
        return hg_tok_parse_decoder(tok, cJSON_GetArrayItem(arr, 0), err);
    }
    if (!strcmp(t, "ByteLevel")) {
        tok->decoder = HG_DECODER_BYTE_LEVEL;
        return HG_OK;
    }
    return hg_err(err, HG_STATUS_UNSUPPORTED, "decoder type `%.100s` is not supported (supported: ByteLevel)", t);
}
