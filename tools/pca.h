/*
 * pca.h — principal components of a small data set for `huginn plot` (tools/trace_plot.c): the top k
 * eigenvectors of the covariance of rows X [n, d], found by power iteration with deflation.
 */
#ifndef HG_PCA_H
#define HG_PCA_H

#include <stdint.h>

/* mean [d]; comp [k, d] unit vectors, each signed so its largest-|.| entry is positive; var [k] the
 * covariance eigenvalues (divided by n), descending. Returns 0, or -1 when out of memory. */
int pca_fit(const float *X /* [n, d] */, int64_t n, int64_t d, int k, double *mean, double *comp, double *var);
/* (x - mean) · comp[j] for j < k. */
void pca_project(const float *x /* [d] */, int64_t d, int k, const double *mean, const double *comp, double *out);

#endif
