/*
 * trace_plot.h — the SVG plots of a `huginn trace` directory (docs/trace.md "Plots"), written in C:
 * pca.svg (trajectories on the run's top principal components), convergence.svg (‖s_t − s_{t−1}‖/‖s_t‖
 * per token, log scale), heatmap.svg (the text coloured by iterations needed), lens.svg (the logit
 * lens: top prediction and its probability per token and iteration).
 */
#ifndef HG_TRACE_PLOT_H
#define HG_TRACE_PLOT_H

#include <stdint.h>

typedef struct trace_plot_opts {
    const int64_t *tokens; /* positions for the PCA panels (absolute), or NULL: the last 6 kept */
    int64_t n_tokens;
    double threshold;      /* convergence: first t with delta < threshold; <= 0: 0.03 */
    const char *out;       /* output directory; NULL = the trace directory */
} trace_plot_opts;

/* Write the four SVGs for the trace in dir. Returns 0, or 1 with a message printed. */
int trace_plot_dir(const char *dir, const trace_plot_opts *o);

#endif
