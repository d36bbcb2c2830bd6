/*
 * eval_report.c — printing and writing `huginn eval` results (tools/eval_report.h). The plot is plain
 * SVG written with fprintf: two panels sharing a 0..1 score axis, x on a log2 scale (depths are
 * usually powers of two), one coloured polyline with dots per metric. No plotting library: the command
 * stays a single C binary (scripts/plot_chains.py is the Python alternative for the chain demo).
 */
#include "eval_report.h"
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const names[EVR_N_METRICS] = {"acc",           "acc_norm",        "exact_match",  "exact_match_flex",
                                                 "word_perplexity", "byte_perplexity", "bits_per_byte"};

const char *evr_metric_name(int k) { return k >= 0 && k < EVR_N_METRICS ? names[k] : "?"; }

void evr_print_table(const char *task, const evr_row *rows, int64_t n) {
    printf("eval: %s (%lld requests)\n  steps", task, n ? (long long)rows[0].n : 0LL);
    for (int k = 0; k < EVR_N_METRICS; k++)
        if (n && rows[0].has[k]) printf("  %22s", names[k]);
    printf("  iters/token   tokens/s\n");
    for (int64_t i = 0; i < n; i++) {
        printf("  %5lld", (long long)rows[i].steps);
        for (int k = 0; k < EVR_N_METRICS; k++) {
            if (!rows[i].has[k]) continue;
            if (isnan(rows[i].se[k])) printf("  %22.4f", rows[i].value[k]);
            else printf("  %13.4f ± %6.4f", rows[i].value[k], rows[i].se[k]);
        }
        printf("  %11.2f  %9.1f\n", rows[i].mean_iterations, rows[i].tokens_per_s);
    }
}

void evr_print_json(const evr_row *rows, int64_t n) {
    printf("{\"results\": [");
    for (int64_t i = 0; i < n; i++) {
        printf("%s{\"steps\": %lld, \"n\": %lld", i ? ", " : "", (long long)rows[i].steps, (long long)rows[i].n);
        for (int k = 0; k < EVR_N_METRICS; k++) {
            if (!rows[i].has[k]) continue;
            printf(", \"%s\": %.9g", names[k], rows[i].value[k]);
            if (!isnan(rows[i].se[k])) printf(", \"%s_stderr\": %.9g", names[k], rows[i].se[k]);
        }
        printf(", \"mean_iterations\": %.6g, \"tokens_per_s\": %.6g, \"seconds\": %.4f}", rows[i].mean_iterations,
               rows[i].tokens_per_s, rows[i].seconds);
    }
    printf("]}\n");
}

bool evr_write_csv(const char *path, const evr_row *rows, int64_t n) {
    FILE *f = fopen(path, "w");
    if (!f) return cli_fail("%s: cannot write", path), false;
    fprintf(f, "steps,n,metric,value,stderr,mean_iterations,tokens_per_s\n");
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < EVR_N_METRICS; k++)
            if (rows[i].has[k])
                fprintf(f, "%lld,%lld,%s,%.9g,%.9g,%.6g,%.6g\n", (long long)rows[i].steps, (long long)rows[i].n,
                        names[k], rows[i].value[k], rows[i].se[k], rows[i].mean_iterations, rows[i].tokens_per_s);
    if (fclose(f)) return cli_fail("%s: write failed", path), false;
    return true;
}

/* log2 x, with x <= 0 drawn one step left of 1 */
static double xpos(double x) { return x > 0 ? log2(x) : -1.0; }

static void panel(FILE *f, double ox, const char *xlabel, const evr_row *rows, int64_t n, bool compute) {
    static const char *const colours[4] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"};
    const double W = 380, H = 260, oy = 40;
    double lo = 1e300, hi = -1e300;
    for (int64_t i = 0; i < n; i++) {
        const double x = xpos(compute ? rows[i].mean_iterations : (double)rows[i].steps);
        lo = x < lo ? x : lo, hi = x > hi ? x : hi;
    }
    if (hi - lo < 1) hi = lo + 1;
    fprintf(f, "<rect x='%.0f' y='%.0f' width='%.0f' height='%.0f' fill='none' stroke='#888'/>\n", ox, oy, W, H);
    for (int t = 0; t <= 4; t++)
        fprintf(f, "<text x='%.0f' y='%.1f' font-size='11' text-anchor='end'>%.2f</text>\n", ox - 4,
                oy + H - H * t / 4.0 + 4, t / 4.0);
    for (int64_t i = 0; i < n; i++) {
        const double v = compute ? rows[i].mean_iterations : (double)rows[i].steps;
        const double x = ox + 10 + (W - 20) * (xpos(v) - lo) / (hi - lo);
        fprintf(f, "<text x='%.1f' y='%.0f' font-size='11' text-anchor='middle'>%.4g</text>\n", x, oy + H + 15, v);
    }
    fprintf(f, "<text x='%.0f' y='%.0f' font-size='13' text-anchor='middle'>%s</text>\n", ox + W / 2, oy + H + 35,
            xlabel);
    for (int k = 0, c = 0; k <= EVR_EM_FLEX; k++) {
        if (!n || !rows[0].has[k]) continue;
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2' points='", colours[c]);
        for (int64_t i = 0; i < n; i++) {
            const double v = compute ? rows[i].mean_iterations : (double)rows[i].steps;
            fprintf(f, "%.1f,%.1f ", ox + 10 + (W - 20) * (xpos(v) - lo) / (hi - lo), oy + H - H * rows[i].value[k]);
        }
        fprintf(f, "'/>\n<text x='%.0f' y='%.0f' font-size='12' fill='%s'>%s</text>\n", ox + 8, oy + 16 + 15.0 * c,
                colours[c], names[k]);
        c++;
    }
}

bool evr_write_svg(const char *path, const char *title, const evr_row *rows, int64_t n) {
    FILE *f = fopen(path, "w");
    if (!f) return cli_fail("%s: cannot write", path), false;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='880' height='350' font-family='sans-serif'>\n"
               "<rect width='880' height='350' fill='white'/>\n"
               "<text x='440' y='22' font-size='15' text-anchor='middle'>");
    for (const char *s = title; *s; s++) /* escape the title for XML */
        *s == '<' ? fputs("&lt;", f) : *s == '&' ? fputs("&amp;", f) : *s == '\'' ? fputs("&apos;", f) : fputc(*s, f);
    fprintf(f, "</text>\n");
    panel(f, 50, "test-time iterations r (log scale)", rows, n, false);
    panel(f, 480, "mean core iterations per token (log scale)", rows, n, true);
    fprintf(f, "</svg>\n");
    if (fclose(f)) return cli_fail("%s: write failed", path), false;
    return true;
}
