/*
 * run_text.h — text for `huginn run` and `huginn chat`: the model's tokenizer (when it has one)
 * turns -p text or a chat into ids, and generated ids back into text, streamed through the
 * incremental detokenizer so a multi-byte character is never split; --json carries each token's
 * text piece (the pieces concatenate to the full decode).
 */
#ifndef HG_RUN_TEXT_H
#define HG_RUN_TEXT_H

#include "cli.h"

#include <stdio.h>

typedef struct run_text {
    hg_tokenizer *tok; /* NULL: the model has no tokenizer (ids only) */
    hg_detok *detok;
    char *piece;       /* the last token's text (owned, NUL-terminated), for --json */
    size_t piece_len, piece_cap;
} run_text;

/* Load the model's tokenizer. With need = false a missing tokenizer is not an error (t->tok = NULL).
 * Returns 0 or 1 (message printed). */
int run_text_open(run_text *t, const hg_model *m, bool need);
void run_text_close(run_text *t);
/* -p TEXT: the text without the post-processor, with the tokenizer's bos id in front when it has one
 * and add_bos_token is not false (as llama.cpp does), unless no_bos. Returns 0 or 1. */
int run_text_prompt(run_text *t, const char *text, bool no_bos, int32_t **ids, int64_t *n);
/* A chat of msgs [n] rendered with the model's chat template plus the generation prompt. */
int run_text_chat(run_text *t, const hg_chat_msg *msgs, size_t n, int32_t **ids, int64_t *n_ids);
/* Push a generated id: its text piece is in t->piece (empty without a tokenizer); when `out` is not
 * NULL the piece is written there. */
void run_text_push(run_text *t, int32_t id, FILE *out);
/* End of stream: pending bytes (an unfinished character) go to out. */
void run_text_flush(run_text *t, FILE *out);
/* Write s [n] as a JSON string literal (quoted, escaped). */
void run_text_json_string(FILE *f, const char *s, size_t n);

#endif
