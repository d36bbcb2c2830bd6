/*
 * eval_task.h — the task files of `huginn eval` (docs/eval.md "Task files"): JSON Lines, one request per
 * line, of three types — multiple_choice {context, choices, gold}, generate_until {context, target,
 * until, max_gen_toks, regex} and loglikelihood_rolling {text} — and few-shot examples marked
 * "fewshot": true. Loading checks every field; the commands only see validated items.
 */
#ifndef HG_EVAL_TASK_H
#define HG_EVAL_TASK_H

#include <stdbool.h>
#include <stdint.h>

typedef enum evt_type { EVT_MC, EVT_GEN, EVT_ROLL } evt_type;

typedef struct evt_item {
    evt_type type;
    bool fewshot;          /* an example for --fewshot, never scored */
    char *context;         /* MC, GEN */
    char **choices;        /* MC: [n_choices] continuations, appended to the context as written */
    int64_t n_choices, gold;
    char *target;          /* GEN: the reference answer */
    char **until;          /* GEN: [n_until] stop strings (default "\n\n") */
    int64_t n_until, max_gen_toks; /* GEN: default 256 */
    char *regex;           /* GEN: answer extraction (PCRE2; group 1 if any, else the match), or NULL */
    char *text;            /* ROLL */
    int64_t line;          /* 1-based line in the file, for messages */
} evt_item;

typedef struct evt_task {
    evt_item *items;
    int64_t n;
} evt_task;

/* Parse a task file; false with a message naming the line printed. */
bool evt_load(const char *path, evt_task *t);
void evt_free(evt_task *t);
/* The answer an example shows in a few-shot prompt: choices[gold] or target. */
const char *evt_answer(const evt_item *it);

#endif
