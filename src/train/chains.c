/*
 * chains.c — the demo task of issue 6, "variable chains": statements VAR=DIGIT or VAR=VAR over single
 * lowercase letters, joined by ';', shuffled, then ';?VAR='; the answer is the digit the queried
 * variable resolves to. Example (hops = 2): k=3;a=k;z=1;d=a;?d=  ->  3.
 *
 * A problem is a function of (seed, index, hops, distractors) only, so a training stream needs no
 * stored data and a resumed run regenerates exactly the same problems from its cursor. Letters are
 * distinct within a problem; distractors are other variables, each assigned a digit or (half the
 * time, when one exists) another distractor, so a model cannot answer by "the only digit".
 */
#include "train/train.h"

#include <stdio.h>

int hg_chain_problem(uint64_t seed, uint64_t index, int hops, int distractors, char *buf, size_t cap, char *answer) {
    if (hops < 0 || distractors < 0 || hops + 1 + distractors > 26 || !buf || cap < 8) return -1;
    hg_rng r;
    hg_rng_seed(&r, seed ^ (0x9e3779b97f4a7c15ull * (index + 1)));
    char letters[26];
    for (int i = 0; i < 26; i++) letters[i] = (char)('a' + i);
    for (int i = 25; i > 0; i--) { /* Fisher-Yates */
        const int j = (int)(hg_rng_u64(&r) % (uint64_t)(i + 1));
        const char t = letters[i];
        letters[i] = letters[j], letters[j] = t;
    }
    char stmt[26][4]; /* "x=y" */
    int n = 0;
    const char digit = (char)('0' + hg_rng_u64(&r) % 10);
    /* the chain: letters[0] = digit, letters[i] = letters[i-1] */
    snprintf(stmt[n++], 4, "%c=%c", letters[0], digit);
    for (int i = 1; i <= hops; i++) snprintf(stmt[n++], 4, "%c=%c", letters[i], letters[i - 1]);
    for (int i = 0; i < distractors; i++) {
        const int me = hops + 1 + i;
        if (i > 0 && hg_rng_u64(&r) % 2) /* point at an earlier distractor */
            snprintf(stmt[n++], 4, "%c=%c", letters[me], letters[hops + 1 + (int)(hg_rng_u64(&r) % (uint64_t)i)]);
        else
            snprintf(stmt[n++], 4, "%c=%c", letters[me], (char)('0' + hg_rng_u64(&r) % 10));
    }
    for (int i = n - 1; i > 0; i--) {
        const int j = (int)(hg_rng_u64(&r) % (uint64_t)(i + 1));
        char t[4];
        memcpy(t, stmt[i], 4), memcpy(stmt[i], stmt[j], 4), memcpy(stmt[j], t, 4);
    }
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (len + 5 >= cap) return -1;
        memcpy(buf + len, stmt[i], 3);
        len += 3;
        buf[len++] = ';';
    }
    if (len + 5 >= cap) return -1;
    buf[len++] = '?', buf[len++] = letters[hops], buf[len++] = '=';
    buf[len] = 0;
    if (answer) *answer = digit;
    return (int)len;
}
