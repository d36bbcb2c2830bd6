/* run_text.c — see run_text.h. */
#include "run_text.h"

#include <stdlib.h>
#include <string.h>

int run_text_open(run_text *t, const hg_model *m, bool need) {
    memset(t, 0, sizeof *t);
    hg_error err = {0};
    if (hg_model_tokenizer(m, &t->tok, &err)) {
        t->tok = NULL;
        if (!need && (err.status == HG_STATUS_IO || err.status == HG_STATUS_UNSUPPORTED)) return 0;
        if (err.status == HG_STATUS_IO || err.status == HG_STATUS_UNSUPPORTED)
            return cli_fail("%s; text needs the model's tokenizer (`huginn run --ids` takes token ids)", err.msg);
        return cli_fail_err(&err);
    }
    if (hg_detok_init(t->tok, false, &t->detok, &err)) {
        hg_tokenizer_free(t->tok);
        t->tok = NULL;
        return cli_fail_err(&err);
    }
    return 0;
}

void run_text_close(run_text *t) {
    hg_detok_free(t->detok);
    hg_tokenizer_free(t->tok);
    free(t->piece);
    memset(t, 0, sizeof *t);
}

int run_text_prompt(run_text *t, const char *text, bool no_bos, int32_t **ids, int64_t *n) {
    hg_error err = {0};
    int32_t *enc = NULL;
    int64_t ne = 0;
    if (hg_tokenizer_encode(t->tok, text, strlen(text), false, &enc, &ne, &err)) return cli_fail_err(&err);
    const int32_t bos = no_bos || !hg_tokenizer_add_bos(t->tok) ? -1 : hg_tokenizer_bos_id(t->tok);
    const int64_t total = ne + (bos >= 0);
    if (total == 0) {
        hg_tokenizer_mem_free(enc);
        return cli_fail("-p: the text encodes to no tokens");
    }
    int32_t *out = malloc((size_t)total * sizeof *out);
    if (!out) {
        hg_tokenizer_mem_free(enc);
        return cli_fail("out of memory");
    }
    if (bos >= 0) out[0] = bos;
    if (ne) memcpy(out + (bos >= 0), enc, (size_t)ne * sizeof *out);
    hg_tokenizer_mem_free(enc);
    *ids = out;
    *n = total;
    return 0;
}

int run_text_chat(run_text *t, const hg_chat_msg *msgs, size_t n, int32_t **ids, int64_t *n_ids) {
    hg_error err = {0};
    int32_t *enc = NULL;
    int64_t ne = 0;
    if (hg_chat_encode(t->tok, msgs, n, true, &enc, &ne, &err)) return cli_fail_err(&err);
    int32_t *out = malloc((size_t)(ne ? ne : 1) * sizeof *out);
    if (!out) {
        hg_tokenizer_mem_free(enc);
        return cli_fail("out of memory");
    }
    if (ne) memcpy(out, enc, (size_t)ne * sizeof *out);
    hg_tokenizer_mem_free(enc);
    *ids = out;
    *n_ids = ne;
    return 0;
}

static void keep_piece(run_text *t, const char *s, size_t n) {
    if (n + 1 > t->piece_cap) {
        size_t cap = (n + 1) * 2;
        char *p = realloc(t->piece, cap);
        if (!p) return;
        t->piece = p;
        t->piece_cap = cap;
    }
    if (n) memcpy(t->piece, s, n);
    t->piece[n] = 0;
    t->piece_len = n;
}

void run_text_push(run_text *t, int32_t id, FILE *out) {
    keep_piece(t, "", 0);
    if (!t->tok) return;
    const char *s = NULL;
    size_t n = 0;
    hg_error err = {0};
    if (hg_detok_push(t->detok, id, &s, &n, &err)) return; /* an id outside the tokenizer: no text */
    keep_piece(t, s, n);
    if (out && n && !hg_tokenizer_is_special(t->tok, id)) { /* stop and control tokens are not shown */
        fwrite(s, 1, n, out);
        fflush(out);
    }
}

void run_text_flush(run_text *t, FILE *out) {
    keep_piece(t, "", 0);
    if (!t->tok) return;
    const char *s = NULL;
    size_t n = 0;
    hg_error err = {0};
    if (hg_detok_flush(t->detok, &s, &n, &err)) return;
    keep_piece(t, s, n);
    if (out && n) fwrite(s, 1, n, out);
}

void run_text_json_string(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
    }
    fputc('"', f);
}
