/*
 * test_chains.c — the chain demo task (tools/chains.c) and its tokenizer:
 *   1. hg_chain_problem: every problem is well formed (statements `x=y` over distinct letters, joined
 *      by ';', then `;?x=`), resolving the query by following the statements gives the returned answer
 *      in exactly `hops` links, the statement count is hops + 1 + distractors; the same (seed, index) gives the same problem and different indices differ; answers
 *      are spread over the 10 digits; impossible sizes and small buffers are refused;
 *   2. the statement vocabulary of scripts/make_chain_tokenizer.py (tests/data/chain_statements,
 *      regenerated and compared by tests/test_chains_eval.sh) loads with hg_tokenizer_load:
 *      <bos>/<eos>/<pad> are 256/257/258 (bos/eos from tokenizer_config.json), every problem encodes
 *      as one token per statement `x=y;` plus one for the query `?x=`, each token decodes to exactly
 *      that text, and encode/decode round-trip the task's strings, every ASCII byte, broken
 *      fragments and specials;
 *   3. hg_chain_row: rows are <bos> + the tokenizer's encoding of the prompt + answer, further
 *      queries and <eos>, padded; masks sit exactly on answers (and <eos>); every masked answer is
 *      what its query resolves to; the curriculum cap bounds the first query's hops and every
 *      further query's; byte rows without a tokenizer; rows that do not fit are refused.
 */
#include "chains.h"
#include "harness.h"
#include "huginn.h"

#include <stdlib.h>
#include <string.h>

/* Follow the query through the statements; returns the digit or 0 on a malformed problem, and the
 * number of VAR=VAR links in *hops. */
static char resolve(const char *p, int *hops, int *n_stmt) {
    char rhs[26] = {0};
    const char *s = p;
    *n_stmt = 0;
    while (s[0] != '?') {
        if (s[0] < 'a' || s[0] > 'z' || s[1] != '=' || s[3] != ';') return 0;
        if (rhs[s[0] - 'a']) return 0; /* each variable is assigned once */
        if (!((s[2] >= 'a' && s[2] <= 'z') || (s[2] >= '0' && s[2] <= '9'))) return 0;
        rhs[s[0] - 'a'] = s[2];
        (*n_stmt)++;
        s += 4;
    }
    if (s[1] < 'a' || s[1] > 'z' || s[2] != '=' || s[3] != 0) return 0;
    char v = s[1];
    *hops = 0;
    while (rhs[v - 'a'] >= 'a') {
        v = rhs[v - 'a'];
        if (++*hops > 26) return 0; /* a cycle */
    }
    return rhs[v - 'a'];
}

static void test_generator(void) {
    int digits[10] = {0};
    char buf[160], buf2[160], ans, ans2;
    int n_total = 0;
    for (int hops = 0; hops <= 12; hops++)
        for (int d = 0; d <= 10; d += 2)
            for (uint64_t i = 0; i < 40; i++) {
                const int len = hg_chain_problem(7, i, hops, d, buf, sizeof buf, &ans);
                CHECK_MSG(len == (hops + 1 + d) * 4 + 3 && (size_t)len == strlen(buf), "hops %d d %d: len %d", hops, d,
                          len);
                int got_hops = -1, n_stmt = 0;
                const char r = resolve(buf, &got_hops, &n_stmt);
                CHECK_MSG(r == ans && r >= '0' && r <= '9', "`%s`: resolves to `%c`, answer `%c`", buf, r ? r : '?', ans);
                CHECK_MSG(got_hops == hops && n_stmt == hops + 1 + d, "`%s`: %d hops, %d statements", buf, got_hops,
                          n_stmt);
                /* deterministic */
                CHECK(hg_chain_problem(7, i, hops, d, buf2, sizeof buf2, &ans2) == len && !strcmp(buf, buf2) &&
                      ans == ans2);
            }
    /* answers over 2000 independent problems: each digit expected 200 times (sd ~13) */
    for (uint64_t i = 0; i < 2000; i++) {
        hg_chain_problem(11, i, (int)(i % 5), 3, buf, sizeof buf, &ans);
        digits[ans - '0']++, n_total++;
    }
    for (int k = 0; k < 10; k++)
        CHECK_MSG(digits[k] > 140 && digits[k] < 260, "answer digit %d appears %d times of %d", k, digits[k], n_total);
    /* different indices and seeds give different problems */
    int same = 0;
    for (uint64_t i = 0; i < 100; i++) {
        hg_chain_problem(7, i, 3, 4, buf, sizeof buf, &ans);
        hg_chain_problem(7, i + 1, 3, 4, buf2, sizeof buf2, &ans2);
        same += !strcmp(buf, buf2);
        hg_chain_problem(8, i, 3, 4, buf2, sizeof buf2, &ans2);
        same += !strcmp(buf, buf2);
    }
    CHECK_MSG(same == 0, "%d identical problems across indices/seeds", same);
    /* the example of tools/chains.h has this shape: 2 hops, 1 distractor -> 4 statements */
    CHECK(hg_chain_problem(1, 0, 2, 1, buf, sizeof buf, &ans) == 19);
    CHECK(hg_chain_problem(1, 0, 20, 6, buf, sizeof buf, &ans) == -1); /* 27 letters */
    CHECK(hg_chain_problem(1, 0, 25, 0, buf, sizeof buf, &ans) == 26 * 4 + 3);
    CHECK(hg_chain_problem(1, 0, 3, 3, buf, 20, &ans) == -1); /* buffer too small */
    CHECK(hg_chain_problem(1, 0, -1, 3, buf, sizeof buf, &ans) == -1);
}

/* The statement vocabulary of scripts/make_chain_tokenizer.py (tests/data/chain_statements). */
static hg_tokenizer *statement_tokenizer(void) {
    const char *src = getenv("HG_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/chain_statements/tokenizer.json", src ? src : ".");
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    CHECK_MSG(hg_tokenizer_load(path, &tok, &err) == HG_OK, "%s: %s", path, err.msg);
    return tok;
}

static void test_tokenizer(void) {
    hg_tokenizer *tok = statement_tokenizer();
    hg_error err = {0};
    if (!tok) return;
    CHECK(hg_tokenizer_bos_id(tok) == 256 && hg_tokenizer_eos_id(tok) == 257);
    CHECK(hg_tokenizer_token_to_id(tok, "<pad>") == 258);
    CHECK(hg_tokenizer_n_vocab(tok) == 2183);
    char buf[160], ans;
    for (uint64_t i = 0; i < 200; i++) {
        const int len = hg_chain_problem(3, i, (int)(i % 9), (int)(i % 5), buf, sizeof buf, &ans);
        const int n_stmt = (len - 3) / 4;
        int32_t *ids = NULL;
        int64_t n = 0;
        CHECK(hg_tokenizer_encode(tok, buf, (size_t)len, false, &ids, &n, &err) == HG_OK);
        CHECK_MSG(n == n_stmt + 1, "`%s`: %lld tokens, want %d statements + the query", buf, (long long)n, n_stmt);
        for (int64_t k = 0; k < n && n == n_stmt + 1; k++) { /* token k is statement k, then the query */
            char *one = NULL;
            size_t ol = 0;
            const char *want = buf + 4 * k;
            const size_t wl = k < n_stmt ? 4 : 3;
            CHECK(hg_tokenizer_decode(tok, ids + k, 1, false, &one, &ol, &err) == HG_OK && ol == wl &&
                  !memcmp(one, want, wl));
            hg_tokenizer_mem_free(one);
        }
        char *text = NULL;
        size_t tl = 0;
        CHECK(hg_tokenizer_decode(tok, ids, n, false, &text, &tl, &err) == HG_OK && tl == (size_t)len &&
              !memcmp(text, buf, tl));
        hg_tokenizer_mem_free(text), hg_tokenizer_mem_free(ids);
    }
    /* fragments the merges must leave alone or take apart the way BPE ranks say:
     * a statement without its ';' is one `x=y` token; `?` + statement keeps `?x=` and the value apart;
     * an answer digit after a query is its own token; `==` and upper case stay bytes */
    static const struct { const char *text; int n; } frag[] = {
        {"k=3", 1}, {"?k=3;", 3}, {"?d=3;?z=1", 5}, {"a==b;", 4}, {"K=3;", 4}, {"k=3;;", 2}, {"=3;?", 4}, {"", 0},
    };
    for (size_t f = 0; f < sizeof frag / sizeof frag[0]; f++) {
        int32_t *ids = NULL;
        int64_t n = -1;
        const size_t fl = strlen(frag[f].text);
        CHECK(hg_tokenizer_encode(tok, frag[f].text, fl, false, &ids, &n, &err) == HG_OK);
        CHECK_MSG(n == frag[f].n, "`%s`: %lld tokens, want %d", frag[f].text, (long long)n, frag[f].n);
        char *text = NULL;
        size_t tl = 0;
        CHECK(hg_tokenizer_decode(tok, ids, n, false, &text, &tl, &err) == HG_OK && tl == fl && !memcmp(text, frag[f].text, fl));
        hg_tokenizer_mem_free(text), hg_tokenizer_mem_free(ids);
    }
    /* every byte value (valid UTF-8 text containing all ASCII, and one multi-byte character) */
    char all[200];
    int k = 0;
    for (int b = 1; b < 128; b++) all[k++] = (char)b;
    all[k++] = (char)0xc3, all[k++] = (char)0xa9; /* é */
    int32_t *ids = NULL;
    int64_t n = 0;
    CHECK(hg_tokenizer_encode(tok, all, (size_t)k, false, &ids, &n, &err) == HG_OK && n == k);
    bool ok = true;
    for (int64_t i = 0; i < n && ids; i++) ok &= ids[i] == (unsigned char)all[i];
    CHECK(ok);
    hg_tokenizer_mem_free(ids);
    /* special tokens in text are recognised; decode with skip_special drops them */
    CHECK(hg_tokenizer_encode(tok, "<bos>k=3<eos>", 13, false, &ids, &n, &err) == HG_OK && n == 3 && ids[0] == 256 &&
          ids[2] == 257);
    char *text = NULL;
    size_t tl = 0;
    CHECK(hg_tokenizer_decode(tok, ids, n, true, &text, &tl, &err) == HG_OK && tl == 3 && !memcmp(text, "k=3", 3));
    hg_tokenizer_mem_free(text), hg_tokenizer_mem_free(ids);
    hg_tokenizer_free(tok);
}

/* Follows query `v` through the statements of the prompt text; digit or 0, links in *hops. */
static char resolve_text(const char *p, char v, int *hops) {
    char rhs[26] = {0};
    for (const char *s = p; s[0] != '?' && s[0]; s += 4) rhs[s[0] - 'a'] = s[2];
    *hops = 0;
    for (int n = 0; n < 27 && v >= 'a' && v <= 'z'; n++) v = rhs[v - 'a'], *hops = n;
    return v >= '0' && v <= '9' ? v : 0;
}

static void test_rows(void) {
    hg_tokenizer *tok = statement_tokenizer();
    hg_error err = {0};
    if (!tok) return;
    hg_chain_rows c = {.tok = tok, .bos = 256, .eos = 257, .pad = 258, .min_hops = 0, .max_hops = 5,
                       .distractors = 1, .max_distractors = 4, .queries = 4, .curriculum_steps = 2400};
    /* the curriculum: one hop count per 400 steps, then everything */
    CHECK(hg_chain_hops_cap(&c, 1) == 0 && hg_chain_hops_cap(&c, 400) == 0 && hg_chain_hops_cap(&c, 401) == 1);
    CHECK(hg_chain_hops_cap(&c, 2000) == 4 && hg_chain_hops_cap(&c, 2001) == 5 && hg_chain_hops_cap(&c, 99999) == 5);
    hg_chain_rows nc = c;
    nc.curriculum_steps = 0;
    CHECK(hg_chain_hops_cap(&nc, 1) == 5);
    /* explicit stage lengths: hop cap 0 for 100 steps, 1 for 300, 2..4 for 50 each, then 5 */
    hg_chain_rows sc = nc;
    const int64_t st[5] = {100, 300, 50, 50, 50};
    memcpy(sc.curriculum_stage, st, sizeof st);
    CHECK(hg_chain_hops_cap(&sc, 1) == 0 && hg_chain_hops_cap(&sc, 100) == 0 && hg_chain_hops_cap(&sc, 101) == 1);
    CHECK(hg_chain_hops_cap(&sc, 400) == 1 && hg_chain_hops_cap(&sc, 401) == 2 && hg_chain_hops_cap(&sc, 550) == 4);
    CHECK(hg_chain_hops_cap(&sc, 551) == 5 && hg_chain_hops_cap(&sc, 99999) == 5);
    /* depth_hops_pct: that share of rows takes r - 1 or r - 2 hops at depth r, within [min_hops, cap] */
    hg_chain_rows hc = nc;
    int n_depth = 0, n_r1 = 0, n_r2 = 0, bad = 0;
    for (uint64_t i = 0; i < 1000; i++) bad += hg_chain_depth_hops(&hc, i, 4, 5) != -1; /* 0 %: never */
    hc.depth_hops_pct = 100;
    for (uint64_t i = 0; i < 1000; i++) {
        const int h = hg_chain_depth_hops(&hc, i, 4, 5);
        n_r1 += h == 3, n_r2 += h == 2, bad += h != 3 && h != 2;
        bad += hg_chain_depth_hops(&hc, i, 12, 5) != 5;  /* clamped to the cap */
        bad += hg_chain_depth_hops(&hc, i, 1, 5) != 0;   /* and to min_hops */
    }
    hc.depth_hops_pct = 30;
    for (uint64_t i = 0; i < 1000; i++) n_depth += hg_chain_depth_hops(&hc, i, 6, 5) != -1;
    CHECK(bad == 0);
    CHECK(n_r1 > 400 && n_r2 > 400); /* both of the last two iterations */
    CHECK(n_depth > 250 && n_depth < 350);
    enum { T = 32 };
    int32_t row[T + 1];
    uint8_t mask[T + 1];
    int seen_hops[6] = {0}, n_further = 0;
    for (int cap = 0; cap <= 5; cap++)
        for (uint64_t i = 0; i < 60; i++) {
            CHECK_MSG(hg_chain_row(&c, 7, i, -1, cap, T, row, mask, true), "row %d/%llu does not fit", cap,
                      (unsigned long long)i);
            /* the text of the problem, rebuilt independently */
            CHECK(row[0] == 256);
            /* decode everything between <bos> and <eos>: prompt, answers and further queries */
            int64_t end = 1;
            while (end <= T && row[end] != 257) end++;
            CHECK(end <= T && mask[end] == 1);
            for (int64_t k = end + 1; k <= T; k++) CHECK(row[k] == 258 && mask[k] == 0);
            char *text = NULL;
            size_t tl = 0;
            CHECK(hg_tokenizer_decode(tok, row + 1, end - 1, false, &text, &tl, &err) == HG_OK);
            if (!text) continue;
            /* text = prompt answer (;?v= answer)* ; walk it: every masked id is one digit, the answer */
            const char *q = strchr(text, '?');
            CHECK(q != NULL);
            int hops0;
            const char a0 = q ? resolve_text(text, q[1], &hops0) : 0;
            CHECK_MSG(a0 && hops0 <= cap && hops0 >= c.min_hops, "`%s`: first query %d hops, cap %d", text, hops0, cap);
            if (a0 && hops0 <= 5) seen_hops[hops0]++;
            /* the prompt's own encoding is what eval-chains and `huginn run -p` feed */
            const size_t plen = q ? (size_t)(q - text) + 3 : 0;
            int32_t *ids = NULL;
            int64_t n = 0;
            CHECK(hg_tokenizer_encode(tok, text, plen, false, &ids, &n, &err) == HG_OK && n + 1 < end);
            for (int64_t k = 0; ids && k < n; k++) CHECK(row[1 + k] == ids[k] && mask[1 + k] == 0);
            hg_tokenizer_mem_free(ids);
            char qv[8];
            int n_q = 0; /* the queried variables, in order */
            for (const char *f = strchr(text, '?'); f && n_q < 8; f = strchr(f + 1, '?')) qv[n_q++] = f[1];
            int answers = 0;
            for (int64_t k = 1; k < end; k++) {
                if (!mask[k]) continue;
                char *one = NULL;
                size_t ol = 0;
                CHECK(hg_tokenizer_decode(tok, row + k, 1, false, &one, &ol, &err) == HG_OK && ol == 1);
                int h = -1;
                const char want = answers < n_q ? resolve_text(text, qv[answers], &h) : 0;
                CHECK_MSG(one && want && one[0] == want && h <= cap, "`%s`: answer %d is %c, want %c (%d hops, cap %d)",
                          text, answers, one ? one[0] : '?', want ? want : '?', h, cap);
                hg_tokenizer_mem_free(one);
                answers++;
            }
            CHECK(answers == n_q);
            CHECK(answers >= 1 && answers <= 4);
            n_further += answers - 1;
            hg_tokenizer_mem_free(text);
        }
    for (int h = 0; h <= 5; h++) CHECK_MSG(seen_hops[h] > 0, "no first query with %d hops", h);
    CHECK(n_further > 300);
    /* without a tokenizer the ids are the bytes */
    hg_chain_rows b = c;
    b.tok = NULL, b.queries = 1;
    int32_t brow[65];
    uint8_t bmask[65];
    CHECK(hg_chain_row(&b, 7, 3, 2, 5, 64, brow, bmask, false));
    int64_t e = 1;
    while (e < 64 && brow[e] != 257) e++;
    bool bytes_ok = brow[0] == 256 && bmask[e] == 0 && bmask[e - 1] == 1;
    for (int64_t k = 1; k < e; k++) bytes_ok &= brow[k] >= 0 && brow[k] < 128;
    CHECK(bytes_ok && (char)brow[e - 1] >= '0' && (char)brow[e - 1] <= '9');
    /* backward_pct: that share of rows puts every chain link before the definition of its right side
     * (so nothing resolves from the statements before it); the rest are the shuffled problems, and
     * the row's problem is otherwise the same (same statements, distractors in the same slots) */
    for (int pct = 0; pct <= 100; pct += 50) {
        hg_chain_rows bw = b;
        bw.backward_pct = pct;
        int n_back = 0, n_rows = 0;
        for (uint64_t i = 0; i < 400; i++) {
            int32_t r1[65], r0[65];
            uint8_t m1[65], m0[65];
            const int hops = 1 + (int)(i % 5);
            CHECK(hg_chain_row(&bw, 9, i, hops, 5, 64, r1, m1, false) &&
                  hg_chain_row(&b, 9, i, hops, 5, 64, r0, m0, false));
            char t1[65] = {0}, t0[65] = {0};
            for (int k = 1; k < 64 && r1[k] != 257; k++) t1[k - 1] = (char)r1[k];
            for (int k = 1; k < 64 && r0[k] != 257; k++) t0[k - 1] = (char)r0[k];
            int h1, h0;
            const char *q1 = strchr(t1, '?'), *q0 = strchr(t0, '?');
            CHECK(q1 && q0 && q1 - t1 == q0 - t0 && q1[1] == q0[1] &&
                  resolve_text(t1, q1[1], &h1) == resolve_text(t0, q0[1], &h0) &&
                  h1 == hops && h0 == hops);
            if (!q1 || !q0) continue;
            bool sorted = true, same = true, on_chain[26] = {false}; /* every chain link x=y: y defined after it */
            for (char v = q1[1]; v >= 'a' && v <= 'z' && !on_chain[v - 'a'];) {
                on_chain[v - 'a'] = true;
                const char *d = t1;
                while (d < q1 && d[0] != v) d += 4;
                v = d < q1 ? d[2] : 0;
            }
            for (const char *s = t1; s < q1; s += 4) {
                if (on_chain[s[0] - 'a'] && s[2] >= 'a' && s[2] <= 'z')
                    for (const char *u = t1; u < s; u += 4) sorted &= u[0] != s[2];
                bool found = false; /* the same set of statements, distractors in the same slots */
                for (const char *u = t0; u < q0; u += 4) found |= u[0] == s[0] && u[2] == s[2];
                same &= found;
            }
            CHECK_MSG(same, "`%s` vs `%s`", t1, t0);
            n_back += sorted, n_rows++;
        }
        /* a shuffled chain of 2-6 links is in that order by chance for ~1/(hops+1)! of rows */
        CHECK_MSG(pct == 100 ? n_back == n_rows : pct == 50 ? n_back > 200 && n_back < 300 : n_back < 100,
                  "backward_pct %d: %d of %d rows backward", pct, n_back, n_rows);
    }
    /* decoy_pct 100: the distractors form one chain of their own — exactly two statements assign a
     * digit (the answer's and the decoy's), and every variable resolves */
    {
        hg_chain_rows dc = b;
        dc.decoy_pct = 100;
        int n_two = 0;
        for (uint64_t i = 0; i < 300; i++) {
            int32_t r1[65];
            uint8_t m1[65];
            CHECK(hg_chain_row(&dc, 9, i, 1 + (int)(i % 4), 5, 64, r1, m1, false));
            char t1[65] = {0};
            for (int k = 1; k < 64 && r1[k] != 257; k++) t1[k - 1] = (char)r1[k];
            const char *q1 = strchr(t1, '?');
            if (!q1) continue;
            int digits = 0, all = 1, hh;
            for (const char *u = t1; u < q1; u += 4) {
                digits += u[2] >= '0' && u[2] <= '9';
                all &= resolve_text(t1, u[0], &hh) != 0;
            }
            n_two += digits == 2 && all;
        }
        CHECK_MSG(n_two == 300, "decoy_pct 100: %d of 300 rows have one decoy chain", n_two);
    }
    /* more distractors than the letters a long chain leaves: the row takes what is left (26 variables) */
    {
        hg_chain_rows wc = b;
        wc.distractors = 20, wc.max_distractors = 25, wc.min_hops = 0, wc.max_hops = 12, wc.queries = 1;
        for (uint64_t i = 0; i < 20; i++) {
            int32_t r1[129];
            uint8_t m1[129];
            CHECK_MSG(hg_chain_row(&wc, 9, i, 12, 12, 128, r1, m1, false), "row %llu refused", (unsigned long long)i);
            char t1[129] = {0};
            for (int k = 1; k < 128 && r1[k] != 257; k++) t1[k - 1] = (char)r1[k];
            const char *q1 = strchr(t1, '?');
            int hh = -1;
            CHECK_MSG(q1 && (q1 - t1) / 4 == 26 && resolve_text(t1, q1[1], &hh) && hh == 12, "`%s`", t1);
        }
    }
    /* a row that cannot fit is refused, not truncated */
    CHECK(!hg_chain_row(&c, 7, 5, 5, 5, 6, row, mask, true));
    CHECK(!hg_chain_row(&b, 7, 5, 5, 5, 12, brow, bmask, true));
    hg_tokenizer_free(tok);
}

int main(void) {
    test_generator();
    test_tokenizer();
    test_rows();
    return hg_test_finish("test_chains");
}
