/*
 * eval_util.h — what `huginn perplexity` and `huginn eval` share (tools/cmd_perplexity.c, cmd_eval*.c):
 * reading a whole file, the --steps depth list, text encoding as `huginn run -p` does it (the
 * tokenizer's BOS in front), and the progress bar with an ETA on stderr.
 */
#ifndef HG_EVAL_UTIL_H
#define HG_EVAL_UTIL_H

#include "huginn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { EVU_MAX_DEPTHS = 32 };

/* The whole file, NUL-terminated (malloc'ed; *len bytes without the NUL); NULL when unreadable. */
char *evu_read_file(const char *path, size_t *len);
/* "1,4,16" -> depths (1..EVU_MAX_DEPTHS distinct values in 0..4096, kept in the given order); false with
 * a message printed. */
bool evu_parse_depths(const char *arg, int64_t *depths, int64_t *n);
/* text [len] -> ids (malloc'ed), with the tokenizer's BOS in front when bos is true and it has one.
 * false with a message printed. */
bool evu_encode(hg_tokenizer *tok, const char *text, size_t len, bool bos, int32_t **ids, int64_t *n);

/* A progress bar on stderr: "label [#####     ] 45% 123/456  12.3 s left". Redrawn at most every 0.2 s
 * (and at the end), so it costs nothing against the work it reports; when stderr is not a terminal
 * only the final line is written. */
typedef struct evu_bar {
    const char *label;
    double t0, last;
    bool quiet, tty;
} evu_bar;
void evu_bar_start(evu_bar *b, const char *label, bool quiet);
void evu_bar_update(evu_bar *b, int64_t done, int64_t total);
/* hg_score_progress adapter: user is an evu_bar. */
void evu_bar_cb(void *user, int64_t done, int64_t total);

#endif
