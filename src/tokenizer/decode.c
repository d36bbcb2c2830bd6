/*
 * decode.c — ids -> text, one-shot and streaming, plus the vocabulary queries.
 *
 * Hugging Face's ByteLevel decoder maps every character of every token back through the GPT-2 byte
 * alphabet (a token with a character outside the alphabet, e.g. `<｜User｜>`, contributes its own
 * UTF-8 bytes instead), concatenates the bytes and converts them with Rust's
 * String::from_utf8_lossy: each maximal ill-formed subpart becomes one U+FFFD. Since the bytes of
 * an id never change, they are computed once at load (hg_decode_build) into one arena.
 * Streaming: the same lossy conversion, except that a trailing sequence which is still a valid
 * prefix of a character waits for more bytes; flush turns what waits into U+FFFD, exactly what the
 * one-shot conversion does at the end of the input. So the streamed pieces concatenate to the
 * one-shot result and never split a character.
 * Without a decoder, Hugging Face joins the token strings with spaces; that is supported too.
 */
#include "tokenizer/tokenizer.h"

/* ---- per-id bytes ---------------------------------------------------------------------------------- */

hg_status hg_decode_build(hg_tokenizer *tok, hg_error *err) {
    int16_t inv[HG_BYTE_ALPHABET_END];
    hg_byte_alphabet_inverse(inv);
    tok->dec_off = hg_calloc((size_t)tok->n_vocab + 1, sizeof *tok->dec_off);
    if (!tok->dec_off) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        tok->dec_off[id] = tok->dec_arena.n;
        const char *s = tok->id_str[id];
        if (!s) continue;
        size_t n = strlen(s), start = tok->dec_arena.n, i = 0;
        if (!hg_bytes_reserve(&tok->dec_arena, n)) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
        bool mapped = tok->decoder == HG_DECODER_BYTE_LEVEL;
        while (mapped && i < n) {
            uint32_t cp;
            size_t w = hg_utf8_next((const uint8_t *)s + i, n - i, &cp);
            if (!w || cp >= HG_BYTE_ALPHABET_END || inv[cp] < 0) {
                mapped = false;
                break;
            }
            tok->dec_arena.p[tok->dec_arena.n++] = (char)inv[cp];
            i += w;
        }
        if (!mapped) { /* raw token text */
            tok->dec_arena.n = start;
            memcpy(tok->dec_arena.p + start, s, n);
            tok->dec_arena.n += n;
        }
    }
    tok->dec_off[tok->n_vocab] = tok->dec_arena.n;
    return HG_OK;
}

/* ---- lossy UTF-8 --------------------------------------------------------------------------------------- */

typedef enum { SCAN_VALID, SCAN_INVALID, SCAN_INCOMPLETE } scan_kind;

/* Classify the sequence at s[0..n) (n >= 1): a valid char of *len bytes, an ill-formed maximal
 * subpart of *len bytes, or a valid but unfinished prefix (*len = n). */
static scan_kind utf8_scan(const uint8_t *s, size_t n, size_t *len) {
    uint8_t b = s[0];
    size_t w;
    uint8_t lo = 0x80, hi = 0xbf;
    if (b < 0x80) {
        *len = 1;
        return SCAN_VALID;
    }
    if (b >= 0xc2 && b <= 0xdf) w = 2;
    else if (b >= 0xe0 && b <= 0xef) w = 3, lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
    else if (b >= 0xf0 && b <= 0xf4) w = 4, lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
    else {
        *len = 1;
        return SCAN_INVALID;
    }
    for (size_t i = 1; i < w; i++) {
        if (i >= n) {
            *len = n;
            return SCAN_INCOMPLETE;
        }
        uint8_t c = s[i];
        bool ok = i == 1 ? (c >= lo && c <= hi) : (c & 0xc0) == 0x80;
        if (!ok) {
            *len = i;
            return SCAN_INVALID;
        }
    }
    *len = w;
    return SCAN_VALID;
}

/* Append lossy(s[0..n)) to out. With final = false, stop before an unfinished trailing character and
 * return how many bytes were consumed. */
static bool lossy_append(hg_bytes *out, const uint8_t *s, size_t n, bool final, size_t *consumed) {
    static const char k_fffd[3] = {(char)0xef, (char)0xbf, (char)0xbd};
    size_t i = 0, run = 0; /* run: start of the pending valid stretch */
    if (n == 0) { /* no bytes (`[]` decoded): s may be NULL, and NULL + 0 is undefined in C; the
                   * empty append still NUL-terminates out */
        *consumed = 0;
        return hg_bytes_append(out, "", 0);
    }
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t len;
        scan_kind k = utf8_scan(s + i, n - i, &len);
        if (k == SCAN_VALID) {
            i += len;
            continue;
        }
        if (!hg_bytes_append(out, s + run, i - run)) return false;
        if (k == SCAN_INCOMPLETE && !final) {
            *consumed = i;
            return true;
        }
        if (!hg_bytes_append(out, k_fffd, 3)) return false;
        i += len;
        run = i;
    }
    if (!hg_bytes_append(out, s + run, n - run)) return false;
    *consumed = n;
    return true;
}

/* ---- one-shot decode -------------------------------------------------------------------------------------- */

static bool keep_id(const hg_tokenizer *tok, int32_t id, bool skip_special) {
    return tok->id_str[id] && !(skip_special && tok->is_special[id]);
}

hg_status hg_tokenizer_decode(const hg_tokenizer *tok, const int32_t *ids, int64_t n_ids, bool skip_special,
                              char **text, size_t *len, hg_error *err) {
    if (!tok || !text || !len || n_ids < 0 || (n_ids && !ids))
        return hg_err(err, HG_STATUS_BAD_ARG, "hg_tokenizer_decode: bad argument");
    for (int64_t i = 0; i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= tok->n_vocab)
            return hg_err(err, HG_STATUS_BAD_INPUT, "decode: id %d at position %lld is outside [0, %d)", (int)ids[i],
                          (long long)i, (int)tok->n_vocab);
    hg_bytes raw = {0}, out = {0};
    hg_status st = HG_OK;
    bool first = true;
    for (int64_t i = 0; i < n_ids; i++) {
        int32_t id = ids[i];
        if (!keep_id(tok, id, skip_special)) continue;
        bool ok = true;
        if (tok->decoder == HG_DECODER_NONE && !first) ok = hg_bytes_append(&raw, " ", 1);
        ok = ok && hg_bytes_append(&raw, tok->dec_arena.p + tok->dec_off[id], tok->dec_off[id + 1] - tok->dec_off[id]);
        if (!ok) {
            st = hg_err(err, HG_STATUS_NOMEM, "decode: out of memory");
            goto out_free;
        }
        first = false;
    }
    size_t used;
    if (!hg_bytes_reserve(&out, raw.n + raw.n / 2 + 4) || !lossy_append(&out, (const uint8_t *)raw.p, raw.n, true, &used)) {
        st = hg_err(err, HG_STATUS_NOMEM, "decode: out of memory");
        goto out_free;
    }
    *text = out.p;
    *len = out.n;
    out.p = NULL;
out_free:
    hg_free(raw.p);
    hg_free(out.p);
    return st;
}

/* ---- streaming ------------------------------------------------------------------------------------------ */

struct hg_detok {
    const hg_tokenizer *tok;
    bool skip_special;
    bool first;      /* no token emitted yet (decoder NONE joins with spaces) */
    hg_bytes pending; /* bytes not yet converted: at most an unfinished character between calls */
    hg_bytes out;     /* text returned by the last call */
};

hg_status hg_detok_init(const hg_tokenizer *tok, bool skip_special, hg_detok **out, hg_error *err) {
    if (!tok || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_detok_init: NULL argument");
    hg_detok *d = hg_calloc(1, sizeof *d);
    if (!d || !hg_bytes_reserve(&d->pending, 64) || !hg_bytes_reserve(&d->out, 64)) {
        hg_detok_free(d);
        return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    }
    d->tok = tok;
    d->skip_special = skip_special;
    d->first = true;
    *out = d;
    return HG_OK;
}

void hg_detok_free(hg_detok *d) {
    if (!d) return;
    hg_free(d->pending.p);
    hg_free(d->out.p);
    hg_free(d);
}

static hg_status drain(hg_detok *d, bool final, const char **text, size_t *len, hg_error *err) {
    size_t used = 0;
    d->out.n = 0;
    if (!hg_bytes_reserve(&d->out, d->pending.n + 8) ||
        !lossy_append(&d->out, (const uint8_t *)d->pending.p, d->pending.n, final, &used))
        return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    memmove(d->pending.p, d->pending.p + used, d->pending.n - used);
    d->pending.n -= used;
    *text = d->out.p;
    *len = d->out.n;
    return HG_OK;
}

hg_status hg_detok_push(hg_detok *d, int32_t id, const char **text, size_t *len, hg_error *err) {
    if (!d || !text || !len) return hg_err(err, HG_STATUS_BAD_ARG, "hg_detok_push: NULL argument");
    const hg_tokenizer *tok = d->tok;
    if (id < 0 || id >= tok->n_vocab)
        return hg_err(err, HG_STATUS_BAD_INPUT, "detokenize: id %d is outside [0, %d)", (int)id, (int)tok->n_vocab);
    size_t keep = d->pending.n;
    if (keep_id(tok, id, d->skip_special)) {
        bool ok = true;
        if (tok->decoder == HG_DECODER_NONE && !d->first) ok = hg_bytes_append(&d->pending, " ", 1);
        ok = ok && hg_bytes_append(&d->pending, tok->dec_arena.p + tok->dec_off[id], tok->dec_off[id + 1] - tok->dec_off[id]);
        if (!ok) {
            d->pending.n = keep;
            return hg_err(err, HG_STATUS_NOMEM, "out of memory");
        }
        d->first = false;
    }
    return drain(d, false, text, len, err);
}

hg_status hg_detok_flush(hg_detok *d, const char **text, size_t *len, hg_error *err) {
    if (!d || !text || !len) return hg_err(err, HG_STATUS_BAD_ARG, "hg_detok_flush: NULL argument");
    hg_status st = drain(d, true, text, len, err);
    d->first = true;
    return st;
}

/* ---- vocabulary queries ------------------------------------------------------------------------------------ */

int32_t hg_tokenizer_n_vocab(const hg_tokenizer *tok) { return tok ? tok->n_vocab : 0; }

const char *hg_tokenizer_id_to_token(const hg_tokenizer *tok, int32_t id) {
    if (!tok || id < 0 || id >= tok->n_vocab) return NULL;
    return tok->id_str[id];
}

int32_t hg_tokenizer_token_to_id(const hg_tokenizer *tok, const char *token) {
    if (!tok || !token) return -1;
    size_t n = strlen(token);
    int32_t id = hg_strmap_get(&tok->added_to_id, token, n);
    return id >= 0 ? id : hg_strmap_get(&tok->str_to_id, token, n);
}

bool hg_tokenizer_is_special(const hg_tokenizer *tok, int32_t id) {
    return tok && id >= 0 && id < tok->n_vocab && tok->is_special[id];
}

int32_t hg_tokenizer_bos_id(const hg_tokenizer *tok) { return tok ? tok->bos_id : -1; }
bool hg_tokenizer_add_bos(const hg_tokenizer *tok) { return tok && tok->bos_id >= 0 && !tok->no_add_bos; }
int32_t hg_tokenizer_eos_id(const hg_tokenizer *tok) { return tok ? tok->eos_id : -1; }
