/*
 * harness.h — the small test harness every tests/test_*.c links: checks that count failures,
 * tensor comparison that prints the name, max |diff| and where it is (docs/conventions.md rule 16), file and
 * path helpers. A test's exit code is 1 if any check failed.
 */
#ifndef HG_TEST_HARNESS_H
#define HG_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int hg_test_failures;
extern int hg_test_checks;

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        hg_test_checks++;                                                                   \
        if (!(cond)) {                                                                      \
            hg_test_failures++;                                                             \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                 \
        }                                                                                   \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                \
    do {                                                                                    \
        hg_test_checks++;                                                                   \
        if (!(cond)) {                                                                      \
            hg_test_failures++;                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                 \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fputc('\n', stderr);                                                            \
        }                                                                                   \
    } while (0)

/* Compare n floats; fails (and prints) when any |a-b| > tol or either is NaN where the other is not.
 * Returns the max abs difference. */
double hg_check_close(const char *name, const float *got, const float *want, size_t n, double tol);
/* Read a whole file; NULL on failure. *len gets its size. Free with free(). */
void *hg_read_file(const char *path, size_t *len);
/* Join the test-data root (env HG_TEST_DATA) and a relative path into a static-per-call buffer. */
const char *hg_data_path(const char *rel);
/* A per-test scratch directory (env HG_TEST_TMP/name), created. */
const char *hg_tmp_dir(const char *name);
/* The huginn command under test (env HUGINN, else `huginn` on PATH). */
const char *hg_huginn(void);
/* Run a shell command; its stdout goes to *out (malloc'ed, NUL-terminated) when out != NULL.
 * Returns the exit code, -1 if it did not exit normally. */
int hg_run_capture(const char *cmd, char **out);
/* Print a summary and return the process exit code. */
int hg_test_finish(const char *name);

#endif
