/*
 * cli.h — what the `huginn` subcommands share: the command table entry type, argument helpers
 * (parse numbers and id lists with clear errors) and error printing. Each subcommand lives in its
 * own tools/cmd_*.c and is registered in the table of tools/huginn.c.
 */
#ifndef HG_CLI_H
#define HG_CLI_H

#include "huginn.h"
#include "commands.h"

#include <stdbool.h>
#include <stdint.h>

typedef int (*hg_cmd_fn)(int argc, char **argv);

typedef struct hg_cmd {
    const char *name;
    hg_cmd_fn fn;
    const char *summary;
} hg_cmd;

/* Print "huginn: <msg>" to stderr; returns 1 (the exit code for errors). */
int cli_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Print the error's message and return 1. */
int cli_fail_err(const hg_error *err);
/* `huginn convert` / `huginn quantize` (cmd_convert.c): load `in`, write it as GGUF `out` with matrices
 * in `dtype` (-1: as stored) through hg_model_export_gguf; 0 on success, else 1 (printed). */
int cli_gguf_export(const char *in, const char *out, int dtype, const char *name, bool no_tokenizer);

/* Strict numeric parsing: the whole string must be a number in range; false otherwise. */
bool cli_parse_i64(const char *s, int64_t *out);
bool cli_parse_u64(const char *s, uint64_t *out);
bool cli_parse_f32(const char *s, float *out);
/* "1,2,3" -> malloc'ed array (free with free()); false on a malformed list. */
bool cli_parse_ids(const char *s, int32_t **ids, int64_t *n);

/* Returns argv[*i + 1] and advances *i, or NULL (after printing an error) when missing. */
const char *cli_next(int argc, char **argv, int *i);

/* The whole text of file `path` ("-": standard input) as a new NUL-terminated string (free()), less
 * one final newline; NULL after printing why. */
char *cli_read_text(const char *path);
/* An option the command does not have: "CMD: unknown option `OPT` (huginn CMD --help ...)"; returns 1. */
int cli_unknown(const char *cmd, const char *opt);
/* The value of option argv[*i] when it is one of `opts` (space-separated names of the options of
 * command `cmd` that take a value), advancing *i; NULL after printing "unknown option" (argv[*i] is
 * not in the list) or "needs a value" (it is last). Checking the name first is what tells a mistyped
 * flag from a missing value. */
const char *cli_value(int argc, char **argv, int *i, const char *cmd, const char *opts);

/* Write n floats to path as raw little-endian f32 (temp file + rename); false on failure. */
bool cli_write_f32(const char *path, const float *x, size_t n);
/* Read exactly n floats from path; false (with a message printed) otherwise. */
bool cli_read_f32(const char *path, float *x, size_t n);

static inline int64_t hg_min_i64_cli(int64_t a, int64_t b) { return a < b ? a : b; }

/* Monotonic wall-clock seconds. */
double cli_now(void);

/* The default model: $HUGINN_MODEL when set, else the first models/default found at
 * <exe>/../models/default, <exe>/models/default, <exe>/../share/huginn/models/default, the configured
 * install data directory, the source tree the binary was built from; NULL when none exists. */
const char *cli_default_model(void);

/* -t TOKENIZER: a tokenizer.json, a directory holding one, or a GGUF model (recognised by its magic),
 * whose tokenizer is the model's (hg_model_tokenizer: same BOS/EOS/chat template as its directory). */
hg_status cli_tokenizer_load(const char *path, hg_tokenizer **out, hg_error *err);
/* hg_model_load with the commands' --no-mmap (read the weights into memory instead of mapping) and
 * prepack (hg_model_params.prepack: lay the weights out for batched decode). */
hg_status cli_model_load(const char *path, bool no_mmap, bool prepack, hg_model **out, hg_error *err);

/* --chat-template NAME (`chat`, `serve`): whether NAME is one of the built-in chat formats
 * (hg_chat_format_names); else prints an error that lists them. */
bool cli_chat_template_known(const char *cmd, const char *name);
/* Give tok its chat format: NAME forced when not NULL, else the template the model ships. Returns 0,
 * or 1 with a message that says what to do (the --chat-template names) when there is none. */
int cli_chat_format(const char *cmd, hg_tokenizer *tok, const char *name);

#endif
