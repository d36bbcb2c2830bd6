/*
 * trace_plot.c — `huginn plot DIR` and `huginn trace --plots`: four SVG files drawn from a trace
 * directory's .npy files and index.json (trace_plot.h). SVG is written by hand (fprintf of rect, path,
 * text elements with explicit coordinates): no plotting library, no Python, and the files open in any
 * browser. Token texts are XML-escaped, control characters shown as visible symbols. The logit lens
 * needs the text of predicted ids, which index.json does not hold: the model's tokenizer is loaded
 * (path from index.json) when it can be, else ids are shown.
 */
#include "cli.h"
#include "npy.h"
#include "pca.h"
#include "trace_plot.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tdata {
    int64_t T, R1, h, K, n_prompt;
    float *states, *delta, *tklp; /* [T,R1,h], [T,R1-1], [T,R1,K] */
    int32_t *tkid, *steps;        /* [T,R1,K], [T] */
    int64_t *pos;                 /* [T] absolute positions */
    char **text;                  /* [T] token texts (owned) */
    bool *gen;                    /* [T] generated */
    bool adaptive;
    char exit_name[64];
    hg_tokenizer *tok;            /* for lens texts, or NULL */
} tdata;

/* ---- SVG helpers --------------------------------------------------------------------------------- */

/* XML-escaped text, control characters as visible symbols, at most max_bytes of the source. */
static void xml_text(FILE *f, const char *s, size_t max_bytes) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n < max_bytes; p++, n++) {
        if (*p == '&') fputs("&amp;", f);
        else if (*p == '<') fputs("&lt;", f);
        else if (*p == '>') fputs("&gt;", f);
        else if (*p == '"') fputs("&quot;", f);
        else if (*p == '\n') fputs("\xe2\x86\xb5", f); /* ↵ */
        else if (*p == ' ') fputs("\xc2\xb7", f);      /* · makes spaces visible */
        else if (*p < 0x20 || *p == 0x7f) fputs("\xef\xbf\xbd", f);
        else {
            /* keep multi-byte characters whole when cutting */
            if (*p >= 0xc0 && n + 4 > max_bytes) break;
            fputc(*p, f);
        }
    }
}

/* viridis, linearly interpolated between 6 anchors; x in [0, 1]. */
static void viridis(double x, char out[8]) {
    static const int a[6][3] = {{68, 1, 84}, {65, 68, 135}, {42, 120, 142}, {34, 168, 132}, {122, 209, 81}, {253, 231, 37}};
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    const double y = x * 5;
    int i = (int)y;
    if (i > 4) i = 4;
    const double u = y - i;
    snprintf(out, 8, "#%02x%02x%02x", (int)(a[i][0] + u * (a[i + 1][0] - a[i][0])),
             (int)(a[i][1] + u * (a[i + 1][1] - a[i][1])), (int)(a[i][2] + u * (a[i + 1][2] - a[i][2])));
}

static FILE *svg_open(const char *dir, const char *name, double w, double h, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return cli_fail("cannot write %s", path), NULL;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "font-family=\"DejaVu Sans, Arial, sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            w, h, w, h);
    return f;
}

static int svg_close(FILE *f, const char *path) {
    fputs("</svg>\n", f);
    if (fclose(f)) return cli_fail("cannot write %s", path);
    return 0;
}

/* A horizontal colour bar from lo to hi at (x, y), w wide, with a label. */
static void colour_bar(FILE *f, double x, double y, double w, double lo, double hi, const char *label) {
    for (int i = 0; i < 50; i++) {
        char c[8];
        viridis(i / 49.0, c);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"10\" fill=\"%s\"/>\n", x + w * i / 50, y, w / 50 + 0.5, c);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%g</text>\n", x, y + 23, lo);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n", x + w, y + 23, hi);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n", x + w / 2, y + 23, label);
}

/* ---- loading ------------------------------------------------------------------------------------- */

static void tdata_free(tdata *d) {
    free(d->states), free(d->delta), free(d->tklp), free(d->tkid), free(d->steps), free(d->pos), free(d->gen);
    for (int64_t i = 0; d->text && i < d->T; i++) free(d->text[i]);
    free(d->text);
    hg_tokenizer_free(d->tok);
    memset(d, 0, sizeof *d);
}

static bool load_arr(const char *dir, const char *name, const char *descr, int ndim, int64_t *shape, void **data) {
    char path[4096], got[4];
    int nd;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!npy_load(path, got, &nd, shape, data)) return false;
    if (nd != ndim || strcmp(got, descr)) {
        free(*data), *data = NULL;
        return cli_fail("%s: unexpected type or rank", path), false;
    }
    return true;
}

static int tdata_load(const char *dir, tdata *d) {
    memset(d, 0, sizeof *d);
    int64_t s3[NPY_MAX_DIM], s2[NPY_MAX_DIM], sk[NPY_MAX_DIM], sk2[NPY_MAX_DIM], s1[NPY_MAX_DIM];
    if (!load_arr(dir, "states.npy", "<f4", 3, s3, (void **)&d->states) ||
        !load_arr(dir, "delta.npy", "<f4", 2, s2, (void **)&d->delta) ||
        !load_arr(dir, "topk_ids.npy", "<i4", 3, sk, (void **)&d->tkid) ||
        !load_arr(dir, "topk_logprobs.npy", "<f4", 3, sk2, (void **)&d->tklp) ||
        !load_arr(dir, "steps.npy", "<i4", 1, s1, (void **)&d->steps))
        return 1;
    d->T = s3[0], d->R1 = s3[1], d->h = s3[2], d->K = sk[2];
    if (s2[0] != d->T || s2[1] != d->R1 - 1 || sk[0] != d->T || sk[1] != d->R1 || s1[0] != d->T || d->T < 1)
        return cli_fail("%s: the arrays' shapes disagree", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/index.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *js = malloc((size_t)n + 1);
    if (!js || fread(js, 1, (size_t)n, f) != (size_t)n) n = -1;
    fclose(f);
    cJSON *o = n >= 0 ? cJSON_ParseWithLength(js, (size_t)n) : NULL;
    free(js);
    const cJSON *toks = cJSON_GetObjectItem(o, "tokens");
    if (!o || cJSON_GetArraySize(toks) != d->T) {
        cJSON_Delete(o);
        return cli_fail("%s: missing or inconsistent with the arrays", path);
    }
    d->n_prompt = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "n_prompt"));
    d->adaptive = cJSON_IsTrue(cJSON_GetObjectItem(o, "adaptive"));
    const char *ex = cJSON_GetStringValue(cJSON_GetObjectItem(o, "exit"));
    snprintf(d->exit_name, sizeof d->exit_name, "%s", ex ? ex : "none");
    d->pos = calloc((size_t)d->T, sizeof *d->pos);
    d->text = calloc((size_t)d->T, sizeof *d->text);
    d->gen = calloc((size_t)d->T, sizeof *d->gen);
    if (!d->pos || !d->text || !d->gen) return cJSON_Delete(o), cli_fail("out of memory");
    for (int64_t i = 0; i < d->T; i++) {
        const cJSON *t = cJSON_GetArrayItem(toks, (int)i);
        d->pos[i] = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "pos"));
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(t, "text"));
        char buf[32];
        if (!s) snprintf(buf, sizeof buf, "[%d]", (int)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "id"))), s = buf;
        d->text[i] = strdup(s);
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(t, "kind"));
        d->gen[i] = kind && !strcmp(kind, "generated");
    }
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItem(o, "model"));
    hg_model *m = NULL;
    hg_error err = {0};
    if (model && !hg_model_load(model, NULL, &m, &err) && hg_model_tokenizer(m, &d->tok, &err)) d->tok = NULL;
    hg_model_free(m); /* the tokenizer does not need the model */
    cJSON_Delete(o);
    return 0;
}

/* The text of a predicted id (malloc'ed). */
static char *id_text(const tdata *d, int32_t id) {
    char *s = NULL, *out = NULL;
    size_t n = 0;
    hg_error e = {0};
    if (d->tok && !hg_tokenizer_decode(d->tok, &id, 1, false, &s, &n, &e) && n > 0 && s[0] != 0) {
        out = malloc(n + 1);
        if (out) memcpy(out, s, n), out[n] = 0;
        hg_tokenizer_mem_free(s);
        return out;
    }
    hg_tokenizer_mem_free(s); /* NULL, or an empty / NUL text: show the id */
    out = malloc(16);
    if (out) snprintf(out, 16, "[%d]", id);
    return out;
}

/* Iterations a position needed: its adaptive exit, or the first t whose delta fell below thr. */
static int64_t needed(const tdata *d, int64_t i, double thr) {
    const int64_t R = d->R1 - 1;
    if (d->adaptive) return d->steps[i];
    for (int64_t t = 1; t <= R; t++)
        if ((double)d->delta[i * R + t - 1] < thr) return t;
    return R;
}

/* ---- the four plots ------------------------------------------------------------------------------ */

static int plot_pca(const char *out, const tdata *d, const trace_plot_opts *o) {
    const int64_t n = d->T * d->R1, h = d->h, R = d->R1 - 1;
    double *mean = malloc((size_t)h * sizeof *mean), *comp = malloc((size_t)(2 * h) * sizeof *comp), var[2] = {0, 0};
    if (!mean || !comp || pca_fit(d->states, n, h, 2, mean, comp, var)) return free(mean), free(comp), cli_fail("out of memory");
    double total = 0; /* total variance = trace of the covariance */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < h; j++) total += ((double)d->states[i * h + j] - mean[j]) * ((double)d->states[i * h + j] - mean[j]);
    total /= (double)n;
    int64_t sel[12], ns = 0;
    if (o && o->tokens)
        for (int64_t k = 0; k < o->n_tokens && ns < 12; k++)
            for (int64_t i = 0; i < d->T; i++)
                if (d->pos[i] == o->tokens[k]) sel[ns++] = i;
    if (ns == 0)
        for (int64_t i = d->T > 6 ? d->T - 6 : 0; i < d->T; i++) sel[ns++] = i;
    /* one shared scale over the selected trajectories */
    double lo[2] = {(double)INFINITY, (double)INFINITY}, hi[2] = {-(double)INFINITY, -(double)INFINITY}, p[2];
    for (int64_t k = 0; k < ns; k++)
        for (int64_t t = 0; t < d->R1; t++) {
            pca_project(d->states + (sel[k] * d->R1 + t) * h, h, 2, mean, comp, p);
            for (int c = 0; c < 2; c++) lo[c] = fmin(lo[c], p[c]), hi[c] = fmax(hi[c], p[c]);
        }
    for (int c = 0; c < 2; c++) {
        const double pad = (hi[c] - lo[c]) * 0.08 + 1e-9;
        lo[c] -= pad, hi[c] += pad;
    }
    const int cols = ns < 3 ? (int)ns : 3, rows = (int)((ns + cols - 1) / cols);
    const double pw = 300, ph = 260, W = cols * pw + 40, H = rows * ph + 110;
    char path[4096];
    FILE *f = svg_open(out, "pca.svg", W, H, path, sizeof path);
    if (!f) return free(mean), free(comp), 1;
    fprintf(f, "<text x=\"20\" y=\"24\" font-size=\"16\" font-weight=\"bold\">Latent trajectories (raw states s_t) on the "
               "run's top two principal components</text>\n<text x=\"20\" y=\"42\" font-size=\"12\">PC1 %.1f %%, PC2 %.1f %% "
               "of the variance of all positions' states at all iterations; one panel per token</text>\n",
            total > 0 ? 100 * var[0] / total : 0.0, total > 0 ? 100 * var[1] / total : 0.0);
    for (int64_t k = 0; k < ns; k++) {
        const int64_t i = sel[k];
        const double x0 = 20 + (double)(k % cols) * pw + 45, y0 = 60 + (double)(k / cols) * ph + 25, w = pw - 65, hh = ph - 75;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n", x0, y0, w, hh);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\">pos %lld %s \"", x0, y0 - 8, (long long)d->pos[i],
                d->gen[i] ? "(generated)" : "(prompt)");
        xml_text(f, d->text[i], 24);
        fprintf(f, "\"</text>\n");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">PC1</text>\n", x0 + w / 2, y0 + hh + 28);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">PC2</text>\n",
                x0 - 30, y0 + hh / 2, x0 - 30, y0 + hh / 2);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">%.3g</text>\n", x0, y0 + hh + 13, lo[0]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.3g</text>\n", x0 + w, y0 + hh + 13, hi[0]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.3g</text>\n", x0 - 3, y0 + hh, lo[1]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.3g</text>\n", x0 - 3, y0 + 9, hi[1]);
        double px = 0, py = 0;
        for (int64_t t = 0; t < d->R1; t++) {
            pca_project(d->states + (i * d->R1 + t) * h, h, 2, mean, comp, p);
            const double x = x0 + (p[0] - lo[0]) / (hi[0] - lo[0]) * w, y = y0 + hh - (p[1] - lo[1]) / (hi[1] - lo[1]) * hh;
            char c[8];
            viridis(R > 0 ? (double)t / (double)R : 0, c);
            if (t > 0)
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.6\"/>\n", px, py, x, y, c);
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"%s/>\n", x, y, t == 0 || t == R ? "4.5" : "2.2", c,
                    t == 0 || t == R ? " stroke=\"black\"" : "");
            px = x, py = y;
        }
    }
    colour_bar(f, 40, H - 40, 260, 0, (double)R, "iteration t (outlined: t = 0 and t = R)");
    free(mean), free(comp);
    return svg_close(f, path);
}

static int plot_convergence(const char *out, const tdata *d) {
    const int64_t R = d->R1 - 1;
    const double W = 760, H = 480, x0 = 80, y0 = 50, w = 520, hh = 360;
    double lo = (double)INFINITY, hi = -(double)INFINITY;
    for (int64_t k = 0; k < d->T * R; k++)
        if (d->delta[k] > 0 && isfinite(d->delta[k])) {
            const double lg = log10((double)d->delta[k]);
            lo = fmin(lo, lg), hi = fmax(hi, lg);
        }
    if (!(lo <= hi)) lo = -6, hi = 0;
    lo = floor(lo), hi = ceil(hi);
    if (hi <= lo) hi = lo + 1;
    char path[4096];
    FILE *f = svg_open(out, "convergence.svg", W, H, path, sizeof path);
    if (!f) return 1;
    fprintf(f, "<text x=\"20\" y=\"28\" font-size=\"16\" font-weight=\"bold\">Convergence: relative state change per "
               "iteration, every position</text>\n");
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", x0, y0, w, hh);
    for (double e = lo; e <= hi; e++) {
        const double y = y0 + hh - (e - lo) / (hi - lo) * hh;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x0, y, x0 + w, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">1e%+d</text>\n", x0 - 4, y + 4, (int)e);
    }
    for (int64_t t = 1; t <= R; t += R > 16 ? 4 : 1) {
        const double x = x0 + (R > 1 ? (double)(t - 1) / (double)(R - 1) : 0.5) * w;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%lld</text>\n", x, y0 + hh + 15, (long long)t);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">iteration t</text>\n", x0 + w / 2, y0 + hh + 34);
    fprintf(f, "<text x=\"22\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 22 %.1f)\">"
               "\xe2\x80\x96s\xe2\x82\x9c \xe2\x88\x92 s\xe2\x82\x9c\xe2\x82\x8b\xe2\x82\x81\xe2\x80\x96 / \xe2\x80\x96s\xe2\x82\x9c\xe2\x80\x96 (log)</text>\n",
            y0 + hh / 2, y0 + hh / 2);
    for (int64_t i = 0; i < d->T; i++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-opacity=\"0.75\" stroke-width=\"1.3\" points=\"",
                d->gen[i] ? "#e66100" : "#3b6fb6");
        for (int64_t t = 1; t <= R; t++) {
            const float v = d->delta[i * R + t - 1];
            if (!(v > 0) || !isfinite(v)) break; /* 0: carried forward after an exit */
            const double x = x0 + (R > 1 ? (double)(t - 1) / (double)(R - 1) : 0.5) * w;
            fprintf(f, "%.1f,%.1f ", x, y0 + hh - (log10((double)v) - lo) / (hi - lo) * hh);
        }
        fprintf(f, "\"/>\n");
    }
    fprintf(f, "<line x1=\"620\" y1=\"70\" x2=\"650\" y2=\"70\" stroke=\"#3b6fb6\" stroke-width=\"2\"/>"
               "<text x=\"656\" y=\"74\" font-size=\"12\">prompt</text>\n"
               "<line x1=\"620\" y1=\"92\" x2=\"650\" y2=\"92\" stroke=\"#e66100\" stroke-width=\"2\"/>"
               "<text x=\"656\" y=\"96\" font-size=\"12\">generated</text>\n");
    return svg_close(f, path);
}

static int plot_heatmap(const char *out, const tdata *d, double thr) {
    const int64_t R = d->R1 - 1;
    const double W = 900, cw = 9.0, lh = 34;
    /* lay out first to know the height */
    double x = 20, y = 70;
    for (int64_t i = 0; i < d->T; i++) {
        const double w = 14 + cw * (double)(strlen(d->text[i]) < 16 ? strlen(d->text[i]) : 16);
        if (x + w > W - 20) x = 20, y += lh;
        x += w + 3;
    }
    const double H = y + lh + 70;
    char path[4096];
    FILE *f = svg_open(out, "heatmap.svg", W, H, path, sizeof path);
    if (!f) return 1;
    if (d->adaptive)
        fprintf(f, "<text x=\"20\" y=\"28\" font-size=\"16\" font-weight=\"bold\">Iterations each token ran under "
                   "adaptive exit (%s)</text>\n", d->exit_name);
    else
        fprintf(f, "<text x=\"20\" y=\"28\" font-size=\"16\" font-weight=\"bold\">Iterations each token needed to "
                   "converge (first t with \xe2\x80\x96s\xe2\x82\x9c \xe2\x88\x92 s\xe2\x82\x9c\xe2\x82\x8b\xe2\x82\x81\xe2\x80\x96/\xe2\x80\x96s\xe2\x82\x9c\xe2\x80\x96 &lt; %g)</text>\n", thr);
    fprintf(f, "<text x=\"20\" y=\"48\" font-size=\"12\">underlined: generated tokens; the number is the iteration count</text>\n");
    x = 20, y = 70;
    for (int64_t i = 0; i < d->T; i++) {
        const double w = 14 + cw * (double)(strlen(d->text[i]) < 16 ? strlen(d->text[i]) : 16);
        if (x + w > W - 20) x = 20, y += lh;
        const int64_t k = needed(d, i, thr);
        char c[8];
        viridis(R > 0 ? (double)k / (double)R : 0, c);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"24\" rx=\"3\" fill=\"%s\"/>\n", x, y, w, c);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-family=\"DejaVu Sans Mono, monospace\" fill=\"%s\"%s>",
                x + 4, y + 17, (double)k / (double)(R > 0 ? R : 1) > 0.6 ? "black" : "white",
                d->gen[i] ? " text-decoration=\"underline\"" : "");
        xml_text(f, d->text[i], 16);
        fprintf(f, "</text>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"8\" fill=\"#333\">%lld</text>\n", x + w - 9, y + 32, (long long)k);
        x += w + 3;
    }
    colour_bar(f, 20, H - 45, 300, 0, (double)R, "iterations");
    return svg_close(f, path);
}

static int plot_lens(const char *out, const tdata *d) {
    const int64_t R1 = d->R1, first = d->T > 48 ? d->T - 48 : 0, rows = d->T - first;
    const double cw = R1 > 24 ? 34 : 46, rh = 20, x0 = 150, y0 = 70;
    const double W = x0 + cw * (double)R1 + 40, H = y0 + rh * (double)rows + 80;
    char path[4096];
    FILE *f = svg_open(out, "lens.svg", W, H, path, sizeof path);
    if (!f) return 1;
    fprintf(f, "<text x=\"20\" y=\"26\" font-size=\"16\" font-weight=\"bold\">Logit lens: the coda's top prediction after "
               "each iteration (colour: its probability)</text>\n");
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">position: input token</text>\n", x0 - 6, y0 - 8);
    for (int64_t t = 0; t < R1; t++)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%lld</text>\n", x0 + cw * ((double)t + 0.5),
                y0 - 8, (long long)t);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">iteration t</text>\n", x0 + cw * (double)R1 / 2, y0 - 24);
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = first + r;
        const double y = y0 + rh * (double)r;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\"%s>%lld: ", x0 - 6, y + 14,
                d->gen[i] ? " fill=\"#e66100\"" : "", (long long)d->pos[i]);
        xml_text(f, d->text[i], 14);
        fprintf(f, "</text>\n");
        for (int64_t t = 0; t < R1; t++) {
            const int64_t o = (i * R1 + t) * d->K;
            const double pr = exp((double)d->tklp[o]);
            char c[8];
            viridis(pr, c);
            const double x = x0 + cw * (double)t;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>p = %.3f</title></rect>\n", x, y,
                    cw - 1, rh - 1, c, pr);
            char *s = id_text(d, d->tkid[o]);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" fill=\"%s\">", x + cw / 2, y + 13,
                    pr > 0.6 ? "black" : "white");
            if (s) xml_text(f, s, 5);
            free(s);
            fprintf(f, "</text>\n");
        }
    }
    colour_bar(f, x0, H - 45, 240, 0, 1, "probability of the top token");
    return svg_close(f, path);
}

int trace_plot_dir(const char *dir, const trace_plot_opts *o) {
    tdata d;
    if (tdata_load(dir, &d)) return tdata_free(&d), 1;
    const char *out = o && o->out ? o->out : dir;
    const double thr = o && o->threshold > 0 ? o->threshold : 0.03;
    int rc = plot_pca(out, &d, o) || plot_convergence(out, &d) || plot_heatmap(out, &d, thr) || plot_lens(out, &d);
    if (!rc) printf("plot: %s/{pca,convergence,heatmap,lens}.svg\n", out);
    tdata_free(&d);
    return rc;
}

/* ---- huginn plot --------------------------------------------------------------------------------- */

int cmd_plot(int argc, char **argv) {
    trace_plot_opts o = {0};
    const char *dir = NULL;
    int32_t *ids = NULL;
    int64_t n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fprintf(stderr, "usage: huginn plot DIR [--tokens P1,P2,...] [--threshold X] [--out DIR2]\n"
                            "draws DIR/{pca,convergence,heatmap,lens}.svg from a `huginn trace` directory\n");
            return 0;
        }
        if (!strcmp(a, "--tokens")) {
            if (!(v = cli_next(argc, argv, &i)) || !cli_parse_ids(v, &ids, &n)) return free(ids), cli_fail("--tokens needs positions 1,2,3");
        } else if (!strcmp(a, "--threshold")) {
            float f;
            if (!(v = cli_next(argc, argv, &i)) || !cli_parse_f32(v, &f) || !(f > 0)) return free(ids), cli_fail("--threshold needs a number > 0");
            o.threshold = (double)f;
        } else if (!strcmp(a, "--out")) {
            if (!(o.out = cli_next(argc, argv, &i))) return free(ids), 1;
        } else if (a[0] != '-' && !dir) {
            dir = a;
        } else {
            free(ids);
            return cli_fail("plot: unknown option `%s`", a);
        }
    }
    if (!dir) return free(ids), cli_fail("usage: huginn plot DIR [--tokens P1,P2,...] [--threshold X] [--out DIR2]");
    int64_t *pos = NULL;
    if (n > 0 && (pos = malloc((size_t)n * sizeof *pos)))
        for (int64_t k = 0; k < n; k++) pos[k] = ids[k];
    o.tokens = pos, o.n_tokens = pos ? n : 0;
    const int rc = trace_plot_dir(dir, &o);
    free(ids), free(pos);
    return rc;
}
