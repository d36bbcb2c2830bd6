/*
 * test_chains.c — the demo task and its tokenizer (issue 6):
 *   1. hg_chain_problem: every problem is well formed (statements `x=y` over distinct letters, joined
 *      by ';', then `;?x=`), resolving the query by following the statements gives the returned answer
 *      in exactly `hops` links, the statement count is hops + 1 + distractors; the same (seed, index) gives the same problem and different indices differ; answers
 *      are spread over the 10 digits; impossible sizes and small buffers are refused;
 *   2. the shipped chain tokenizer (models/default/tokenizer.json) loads with hg_tokenizer_load: bytes
 *      are their own ids, <bos>/<eos>/<pad> are 256/257/258, bos/eos come from tokenizer_config.json,
 *      and encode/decode round-trip every printable ASCII string of the task and random bytes.
 */
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
    /* the example of the issue has this shape: 2 hops, 1 distractor -> 4 statements */
    CHECK(hg_chain_problem(1, 0, 2, 1, buf, sizeof buf, &ans) == 19);
    CHECK(hg_chain_problem(1, 0, 20, 6, buf, sizeof buf, &ans) == -1); /* 27 letters */
    CHECK(hg_chain_problem(1, 0, 25, 0, buf, sizeof buf, &ans) == 26 * 4 + 3);
    CHECK(hg_chain_problem(1, 0, 3, 3, buf, 20, &ans) == -1); /* buffer too small */
    CHECK(hg_chain_problem(1, 0, -1, 3, buf, sizeof buf, &ans) == -1);
}

static void test_tokenizer(void) {
    const char *src = getenv("HG_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/default/tokenizer.json", src ? src : ".");
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    CHECK_MSG(hg_tokenizer_load(path, &tok, &err) == HG_OK, "%s: %s", path, err.msg);
    if (!tok) return;
    CHECK(hg_tokenizer_bos_id(tok) == 256 && hg_tokenizer_eos_id(tok) == 257);
    CHECK(hg_tokenizer_token_to_id(tok, "<pad>") == 258);
    CHECK(hg_tokenizer_n_vocab(tok) == 259);
    char buf[160], ans;
    for (uint64_t i = 0; i < 200; i++) {
        const int len = hg_chain_problem(3, i, (int)(i % 9), (int)(i % 5), buf, sizeof buf, &ans);
        int32_t *ids = NULL;
        int64_t n = 0;
        CHECK(hg_tokenizer_encode(tok, buf, (size_t)len, false, &ids, &n, &err) == HG_OK);
        bool bytes_ok = n == len;
        for (int64_t k = 0; bytes_ok && k < n; k++) bytes_ok = ids[k] == (unsigned char)buf[k];
        CHECK_MSG(bytes_ok, "`%s` is not encoded byte by byte", buf);
        char *text = NULL;
        size_t tl = 0;
        CHECK(hg_tokenizer_decode(tok, ids, n, false, &text, &tl, &err) == HG_OK && tl == (size_t)len &&
              !memcmp(text, buf, tl));
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
    CHECK(hg_tokenizer_encode(tok, "<bos>k=3<eos>", 13, false, &ids, &n, &err) == HG_OK && n == 5 && ids[0] == 256 &&
          ids[4] == 257);
    char *text = NULL;
    size_t tl = 0;
    CHECK(hg_tokenizer_decode(tok, ids, n, true, &text, &tl, &err) == HG_OK && tl == 3 && !memcmp(text, "k=3", 3));
    hg_tokenizer_mem_free(text), hg_tokenizer_mem_free(ids);
    hg_tokenizer_free(tok);
}

int main(void) {
    test_generator();
    test_tokenizer();
    return hg_test_finish("test_chains");
}
