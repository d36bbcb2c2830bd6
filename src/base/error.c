/*
 * error.c — status strings and message formatting for hg_error (docs/conventions.md rule 6): library code
 * returns a status and a message naming the input and the problem; only tools/ prints.
 */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

const char *hg_status_str(hg_status s) {
    switch (s) {
    case HG_OK: return "ok";
    case HG_STATUS_BAD_ARG: return "bad argument";
    case HG_STATUS_IO: return "i/o error";
    case HG_STATUS_BAD_FILE: return "malformed file";
    case HG_STATUS_UNSUPPORTED: return "unsupported";
    case HG_STATUS_NOMEM: return "out of memory";
    case HG_STATUS_BAD_INPUT: return "bad input";
    case HG_STATUS_LIMIT: return "limit exceeded";
    }
    return "unknown status";
}

hg_status hg_err(hg_error *err, hg_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void hg_err_prefix(hg_error *err, const char *fmt, ...) {
    if (!err) return;
    char pre[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t np = strlen(pre);
    if (np + 2 >= sizeof err->msg) return;
    memcpy(err->msg, pre, np);
    memcpy(err->msg + np, ": ", 2);
    memcpy(err->msg + np + 2, old, sizeof err->msg - np - 2);
    err->msg[sizeof err->msg - 1] = 0;
}

void hg_abort(const char *file, int line, const char *cond) {
    fprintf(stderr, "huginn: internal error at %s:%d: assertion `%s` failed\n", file, line, cond);
    abort();
}

double hg_time_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
