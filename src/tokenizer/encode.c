/*
 * encode.c — text -> ids: the composition of the stages, in Hugging Face's order
 * (TokenizerImpl::encode_single_sequence + AddedVocabulary::extract_and_normalize):
 *   1. validate UTF-8 (Rust strings are valid by construction; we reject bad bytes with the offset)
 *   2. split on added tokens with normalized = false, on the raw text
 *   3. normalize each remaining segment, then split it on added tokens with normalized = true
 *   4. pre-tokenize each remaining segment (pretok.c) and run BPE on every piece (bpe.c)
 *   5. with add_special, wrap the ids by the post-processor's template
 * Steps 2-3 produce at most a handful of segments for ordinary text; step 4 is where the time goes.
 * All scratch lives in tok->s (reused, grown on demand), so the only allocation per call is the
 * returned id array.
 */
#include "tokenizer/tokenizer.h"

static hg_status encode_plain(hg_tokenizer *tok, const char *s, size_t n, hg_i32vec *out, hg_error *err) {
    hg_tok_scratch *sc = &tok->s;
    sc->arena.n = 0;
    if (!hg_bytes_append(&sc->arena, s, n)) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    hg_status st = hg_pretokenize(tok, (hg_span){0, n}, err);
    if (st) return st;
    for (size_t i = 0; i < sc->pieces.n; i++) {
        st = hg_bpe_encode_word(tok, sc->arena.p + sc->pieces.p[i].off, sc->pieces.p[i].len, out, err);
        if (st) return st;
    }
    return HG_OK;
}

/* A segment between raw-matched added tokens: normalize, split on normalized added tokens, encode. */
static hg_status encode_segment(hg_tokenizer *tok, const char *s, size_t n, hg_i32vec *out, hg_error *err) {
    hg_tok_scratch *sc = &tok->s;
    hg_status st;
    if (tok->n_norms) {
        if ((st = hg_normalize(tok, s, n, &sc->norm, err))) return st;
        s = sc->norm.p;
        n = sc->norm.n;
    }
    if (tok->match_norm.n_nodes <= 1) return encode_plain(tok, s, n, out, err);
    if (!hg_added_split(tok, &tok->match_norm, s, n, &sc->segs2, &sc->seg_tok2))
        return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    for (size_t i = 0; i < sc->segs2.n; i++) {
        hg_span sp = sc->segs2.p[i];
        if (sc->seg_tok2.p[i] >= 0) {
            if (!hg_i32vec_push(out, sc->seg_tok2.p[i])) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
        } else if ((st = encode_plain(tok, s + sp.off, sp.len, out, err))) {
            return st;
        }
    }
    return HG_OK;
}

hg_status hg_tokenizer_encode(hg_tokenizer *tok, const char *text, size_t len, bool add_special, int32_t **ids,
                              int64_t *n_ids, hg_error *err) {
    if (!tok || !ids || !n_ids || (len && !text)) return hg_err(err, HG_STATUS_BAD_ARG, "hg_tokenizer_encode: bad argument");
    size_t ok = hg_utf8_valid_prefix((const uint8_t *)text, len);
    if (ok != len)
        return hg_err(err, HG_STATUS_BAD_INPUT, "tokenize: input is not valid UTF-8 (byte 0x%02x at offset %zu)",
                      (unsigned)(uint8_t)text[ok], ok);
    hg_tok_scratch *sc = &tok->s;
    hg_i32vec out = {0};
    hg_status st = HG_OK;
    if (add_special && tok->n_pre && !hg_i32vec_append(&out, tok->pre_ids, tok->n_pre)) goto out_nomem;
    if (tok->match_raw.n_nodes <= 1) {
        if (len && (st = encode_segment(tok, text, len, &out, err))) goto out_free;
    } else {
        if (!hg_added_split(tok, &tok->match_raw, text, len, &sc->segs, &sc->seg_tok)) goto out_nomem;
        for (size_t i = 0; i < sc->segs.n; i++) {
            hg_span sp = sc->segs.p[i];
            if (sc->seg_tok.p[i] >= 0) {
                if (!hg_i32vec_push(&out, sc->seg_tok.p[i])) goto out_nomem;
            } else if (sp.len && (st = encode_segment(tok, text + sp.off, sp.len, &out, err))) {
                goto out_free;
            }
        }
    }
    if (add_special && tok->n_post && !hg_i32vec_append(&out, tok->post_ids, tok->n_post)) goto out_nomem;
    if (out.n > (size_t)INT64_MAX) goto out_nomem;
    *ids = out.p;
    *n_ids = (int64_t)out.n;
    return HG_OK;
out_nomem:
    st = hg_err(err, HG_STATUS_NOMEM, "tokenize: out of memory");
out_free:
    hg_free(out.p);
    return st;
}
