/*
 * eval_report.h — the results of `huginn eval`: one row per depth, printed as a table, as JSON, written
 * as a CSV and as an SVG plot of every score against depth and against compute (mean core iterations
 * per token), drawn here in C (docs/eval.md "Output").
 */
#ifndef HG_EVAL_REPORT_H
#define HG_EVAL_REPORT_H

#include <stdbool.h>
#include <stdint.h>

/* The metrics of the report, in column order. */
enum { EVR_ACC, EVR_ACC_NORM, EVR_EM, EVR_EM_FLEX, EVR_WORD_PPL, EVR_BYTE_PPL, EVR_BPB, EVR_N_METRICS };

typedef struct evr_row {
    int64_t steps, n;                /* depth (max depth under --exit), requests scored */
    bool has[EVR_N_METRICS];         /* which metrics apply to the task */
    double value[EVR_N_METRICS], se[EVR_N_METRICS]; /* se: NAN where none is defined */
    double mean_iterations;          /* core iterations per token position processed */
    double tokens_per_s, seconds;
} evr_row;

/* Metric names as JSON / CSV keys (acc, acc_norm, exact_match, exact_match_flex, word_perplexity,
 * byte_perplexity, bits_per_byte). */
const char *evr_metric_name(int k);
void evr_print_table(const char *task, const evr_row *rows, int64_t n);
void evr_print_json(const evr_row *rows, int64_t n);
/* CSV: steps,n,metric,value,stderr,mean_iterations,tokens_per_s; false with a message printed. */
bool evr_write_csv(const char *path, const evr_row *rows, int64_t n);
/* SVG: two panels (score against depth, score against mean iterations per token), one polyline per
 * score metric in [0, 1] (accuracies and exact matches); false with a message printed. */
bool evr_write_svg(const char *path, const char *title, const evr_row *rows, int64_t n);

#endif
