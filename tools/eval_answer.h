/*
 * eval_answer.h — answer extraction for `huginn eval`'s generation requests (tools/eval_answer.c;
 * docs/eval.md "Metrics").
 */
#ifndef HG_EVAL_ANSWER_H
#define HG_EVAL_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* s [n] trimmed, ',' and '$' removed, one trailing '.' dropped, into out [cap] (NUL-terminated). */
void eva_normalise(const char *s, size_t n, char *out, size_t cap);
/* The strict answer: the first match of pattern in text (group 1 if any), normalised, or "[invalid]".
 * false when the pattern does not compile (the reason in why). */
bool eva_regex(const char *pattern, const char *text, char *out, size_t cap, char *why, size_t why_cap);
/* The flexible answer: the last number in text, normalised, or "[invalid]". */
void eva_last_number(const char *text, char *out, size_t cap);

#endif
