/*
 * pca.c — see pca.h. The covariance C = Xcᵀ Xc / n is never formed: power iteration only needs
 * C v = Xcᵀ (Xc v) / n, two passes over the n × d data (a trace of 100 positions × 33 iterations of a
 * 5280-wide model is 17 M floats; C would be 28 M doubles and its eigendecomposition O(d³)).
 * Component j iterates v ← C v with v re-orthogonalised against components 0 .. j-1 (Gram-Schmidt,
 * i.e. deflation), until v changes by less than 1e-10 or 3000 iterations (the convergence rate is
 * λ_{j+1}/λ_j; equal eigenvalues leave some unit vector of their space, which is still a valid
 * component). Start vectors come from a fixed LCG so results are reproducible.
 * Rejected: LAPACK (a new dependency for a d × d problem we do not need to form).
 */
#include "pca.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void cov_mul(const float *X, int64_t n, int64_t d, const double *mean, const double *v, double *out, double *tmp) {
    for (int64_t i = 0; i < n; i++) {
        double a = 0;
        for (int64_t j = 0; j < d; j++) a += ((double)X[i * d + j] - mean[j]) * v[j];
        tmp[i] = a;
    }
    memset(out, 0, (size_t)d * sizeof *out);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) out[j] += ((double)X[i * d + j] - mean[j]) * tmp[i];
    for (int64_t j = 0; j < d; j++) out[j] /= (double)n;
}

static double normalise(double *v, int64_t d) {
    double s = 0;
    for (int64_t j = 0; j < d; j++) s += v[j] * v[j];
    s = sqrt(s);
    if (s > 0)
        for (int64_t j = 0; j < d; j++) v[j] /= s;
    return s;
}

int pca_fit(const float *X, int64_t n, int64_t d, int k, double *mean, double *comp, double *var) {
    double *v = malloc((size_t)(2 * d + (n > 0 ? n : 1)) * sizeof *v);
    if (!v) return -1;
    double *w = v + d, *tmp = w + d;
    memset(mean, 0, (size_t)d * sizeof *mean);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) mean[j] += (double)X[i * d + j];
    for (int64_t j = 0; j < d; j++) mean[j] /= n > 0 ? (double)n : 1.0;
    uint64_t lcg = 0x853c49e6748fea9bull;
    for (int c = 0; c < k; c++) {
        double *u = comp + c * d;
        for (int64_t j = 0; j < d; j++) {
            lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
            v[j] = (double)(lcg >> 11) / 9007199254740992.0 - 0.5;
        }
        double lambda = 0;
        for (int it = 0; it < 3000; it++) {
            for (int p = 0; p < c; p++) { /* deflation: stay orthogonal to the components found */
                double dot = 0;
                for (int64_t j = 0; j < d; j++) dot += v[j] * comp[p * d + j];
                for (int64_t j = 0; j < d; j++) v[j] -= dot * comp[p * d + j];
            }
            if (normalise(v, d) == 0) break;
            cov_mul(X, n, d, mean, v, w, tmp);
            for (int p = 0; p < c; p++) {
                double dot = 0;
                for (int64_t j = 0; j < d; j++) dot += w[j] * comp[p * d + j];
                for (int64_t j = 0; j < d; j++) w[j] -= dot * comp[p * d + j];
            }
            lambda = normalise(w, d);
            double diff = 0;
            for (int64_t j = 0; j < d; j++) diff += fabs(w[j] - v[j]);
            memcpy(v, w, (size_t)d * sizeof *v);
            if (lambda == 0 || diff < 1e-10) break;
        }
        int64_t big = 0;
        for (int64_t j = 1; j < d; j++) big = fabs(v[j]) > fabs(v[big]) ? j : big;
        const double sign = v[big] < 0 ? -1.0 : 1.0;
        for (int64_t j = 0; j < d; j++) u[j] = sign * v[j];
        var[c] = lambda;
    }
    free(v);
    return 0;
}

void pca_project(const float *x, int64_t d, int k, const double *mean, const double *comp, double *out) {
    for (int c = 0; c < k; c++) {
        double a = 0;
        for (int64_t j = 0; j < d; j++) a += ((double)x[j] - mean[j]) * comp[c * d + j];
        out[c] = a;
    }
}
