/*
 * chains.c — the demo task of `huginn train`, "variable chains": statements VAR=DIGIT or VAR=VAR
 * over single lowercase letters, joined by ';', shuffled, then ';?VAR='; the answer is the digit the
 * queried variable resolves to. Example (hops = 2): k=3;a=k;z=1;d=a;?d=  ->  3.
 *
 * A problem is a function of (seed, index, hops, distractors) only, so a training stream needs no
 * stored data and a resumed run regenerates exactly the same problems from its cursor. Letters are
 * distinct within a problem; distractors are other variables, each assigned a digit or (half the
 * time, when one exists) another distractor, so a model cannot answer by "the only digit".
 */
#include "chains.h"

#include "base/base.h"

#include <stdio.h>
#include <string.h>

/* backward: after the shuffle, the chain's statements are put back, in the slots they drew, in
 * query-to-digit order (d=a before a=k before k=3), so no link can be resolved from statements
 * before it; the shuffle and the random stream are the same either way. decoy: every distractor
 * after the first points at the one before, so they form one chain of their own that ends in a
 * digit too ("the digit some statement refers to" no longer finds the answer). */
static int chain_problem(uint64_t seed, uint64_t index, int hops, int distractors, bool backward, bool decoy,
                         char *buf, size_t cap, char *answer) {
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
        if (i > 0 && decoy)
            snprintf(stmt[n++], 4, "%c=%c", letters[me], letters[me - 1]);
        else if (i > 0 && hg_rng_u64(&r) % 2) /* point at an earlier distractor */
            snprintf(stmt[n++], 4, "%c=%c", letters[me], letters[hops + 1 + (int)(hg_rng_u64(&r) % (uint64_t)i)]);
        else
            snprintf(stmt[n++], 4, "%c=%c", letters[me], (char)('0' + hg_rng_u64(&r) % 10));
    }
    for (int i = n - 1; i > 0; i--) {
        const int j = (int)(hg_rng_u64(&r) % (uint64_t)(i + 1));
        char t[4];
        memcpy(t, stmt[i], 4), memcpy(stmt[i], stmt[j], 4), memcpy(stmt[j], t, 4);
    }
    bool on_chain[26] = {false}; /* the chain's statements are those assigning letters[0..hops] */
    for (int i = 0; i <= hops; i++) on_chain[letters[i] - 'a'] = true;
    for (int i = 0, link = hops; backward && i < n; i++)
        if (on_chain[stmt[i][0] - 'a']) {
            snprintf(stmt[i], 4, "%c=%c", letters[link], link ? letters[link - 1] : digit);
            link--;
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

int hg_chain_problem(uint64_t seed, uint64_t index, int hops, int distractors, char *buf, size_t cap, char *answer) {
    return chain_problem(seed, index, hops, distractors, false, false, buf, cap, answer);
}

/* The digit variable v resolves to in the statements of prompt[len] (0 if none), and the number of
 * VAR=VAR links followed on the way in *hops. */
static char resolve_var(const char *prompt, int len, char v, int *hops) {
    char rhs[26] = {0};
    for (int i = 0; i + 3 < len && prompt[i] != '?'; i += 4) rhs[prompt[i] - 'a'] = prompt[i + 2];
    *hops = -1;
    for (int n = 0; n <= 26 && v >= 'a' && v <= 'z'; n++) v = rhs[v - 'a'], *hops = n;
    return v >= '0' && v <= '9' ? v : 0;
}

/* Appends the ids of text[0..n) at ids[*k] within cap; false if it does not fit or does not encode. */
static bool put_text(const hg_chain_rows *c, const char *text, int n, int32_t *ids, int64_t *k, int64_t cap) {
    if (!c->tok) {
        if (*k + n > cap) return false;
        for (int i = 0; i < n; i++) ids[(*k)++] = (unsigned char)text[i];
        return true;
    }
    int32_t *enc = NULL;
    int64_t n_enc = 0;
    hg_error err = {0};
    const bool ok = !hg_tokenizer_encode(c->tok, text, (size_t)n, false, &enc, &n_enc, &err) && *k + n_enc <= cap;
    for (int64_t i = 0; ok && i < n_enc; i++) ids[(*k)++] = enc[i];
    hg_tokenizer_mem_free(enc);
    return ok;
}

int hg_chain_hops_cap(const hg_chain_rows *c, int64_t step) {
    int64_t end = 0;
    for (int i = 0; i < c->max_hops - c->min_hops && i < 26; i++) /* explicit stage lengths */
        if (c->curriculum_stage[i] > 0 && step <= (end += c->curriculum_stage[i])) return c->min_hops + i;
    if (end > 0) return c->max_hops;
    if (c->curriculum_steps <= 0 || step >= c->curriculum_steps) return c->max_hops;
    const int64_t span = c->max_hops - c->min_hops + 1;
    return c->min_hops + (int)((step < 1 ? 0 : step - 1) * span / c->curriculum_steps);
}

int hg_chain_depth_hops(const hg_chain_rows *c, uint64_t index, int64_t r, int cap) {
    uint64_t h = index * 0x9e3779b97f4a7c15ull; /* a hash apart from the other per-row draws */
    h ^= h >> 29;
    if ((int)(h % 100) >= c->depth_hops_pct) return -1;
    int64_t hops = r - 1 - (int64_t)((h >> 8) & 1);
    if (hops > cap) hops = cap;
    if (hops < c->min_hops) hops = c->min_hops;
    return (int)hops;
}

bool hg_chain_row(const hg_chain_rows *c, uint64_t seed, uint64_t index, int hops, int cap, int64_t T, int32_t *tok,
                  uint8_t *mask, bool eos_target) {
    if (T < 4 || c->max_distractors < c->distractors || cap < c->min_hops) return false;
    if (hops < 0) hops = c->min_hops + (int)(index % (uint64_t)(cap - c->min_hops + 1));
    /* the distractor count comes from a hash of the index, so it does not move in step with hops */
    uint64_t z = (index + 0x632be59bd9b4e019ull) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
    int dist = c->distractors + (int)((z >> 33) % (uint64_t)(c->max_distractors - c->distractors + 1));
    if (dist > 25 - hops) dist = 25 - hops; /* 26 letters: a long chain leaves room for fewer distractors */
    if (dist < 0) return false;
    char buf[160], ans;
    const bool backward = (int)((z >> 17) % 100) < c->backward_pct, decoy = (int)((z >> 7) % 100) < c->decoy_pct;
    const int len = chain_problem(seed, index, hops, dist, backward, decoy, buf, sizeof buf, &ans);
    if (len < 0) return false;
    memset(mask, 0, (size_t)(T + 1));
    int64_t k = 0;
    const int64_t room = T; /* the last slot is for <eos> */
    tok[k++] = c->bos;
    if (!put_text(c, buf, len, tok, &k, room)) return false;
    int64_t at = k;
    if (!put_text(c, &ans, 1, tok, &k, room) || k != at + 1) return false;
    mask[at] = 1;
    const int n_stmt = (len - 3) / 4;
    char cand[26];
    int n_cand = 0;
    for (int i = 0; i < n_stmt; i++) { /* the variables a further query may ask about */
        int h;
        if (resolve_var(buf, len, buf[4 * i], &h) && h <= cap) cand[n_cand++] = buf[4 * i];
    }
    for (int q = 1; q < c->queries && n_cand > 0; q++) {
        z = (z ^ (z >> 29)) * 0x94d049bb133111ebull + (uint64_t)q;
        const char v = cand[(z >> 35) % (uint64_t)n_cand];
        int h;
        const char a = resolve_var(buf, len, v, &h);
        const char ask[4] = {';', '?', v, '='};
        if (!a || !put_text(c, ask, 4, tok, &k, room)) return false;
        at = k;
        if (!put_text(c, &a, 1, tok, &k, room) || k != at + 1) return false;
        mask[at] = 1;
    }
    mask[k] = eos_target;
    tok[k++] = c->eos;
    while (k < T + 1) tok[k++] = c->pad;
    return true;
}
