/*
 * test_tokenizer_golden.c — every golden tokenizer against Hugging Face tokenizers' own output
 * (tests/data/tokenizers/; provenance in its README.golden.md):
 *   - the 16 corpus files encoded as one string each: ids identical, decode == text (or the
 *     recorded lossy decode);
 *   - 362 adversarial strings: ids with and without special tokens, decode with and without
 *     skip_special;
 *   - 1394 corpus lines encoded one by one: ids and decode;
 *   - the streaming detokenizer: pushing corpus ids one at a time gives only whole characters and
 *     concatenates to the one-shot decode; for huginn_style decode([id]) of every id matches
 *     single_id_decode.json.
 * Mismatches print the tokenizer, the text and the first differing position. Exact equality is the
 * only acceptable tolerance.
 */
#include "test_tokenizer_util.h"

static bool valid_utf8(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char b = u[i];
        size_t w = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
        if (!w || i + w > n) return false;
        for (size_t k = 1; k < w; k++)
            if ((u[i + k] & 0xc0) != 0x80) return false;
        i += w;
    }
    return true;
}

/* Stream ids through a detokenizer and compare with the one-shot decode. */
static void check_stream(hg_tokenizer *tok, const char *what, const int32_t *ids, int64_t n, bool skip) {
    hg_error err = {0};
    char *whole = NULL;
    size_t wl = 0;
    if (hg_tokenizer_decode(tok, ids, n, skip, &whole, &wl, &err)) {
        CHECK_MSG(0, "%s: decode failed: %s", what, err.msg);
        return;
    }
    hg_detok *d = NULL;
    CHECK(hg_detok_init(tok, skip, &d, &err) == HG_OK);
    if (!d) {
        hg_tokenizer_mem_free(whole);
        return;
    }
    size_t cap = wl + 16, got = 0;
    char *cat = malloc(cap);
    bool chunks_ok = true;
    for (int64_t i = 0; i <= n; i++) {
        const char *t = NULL;
        size_t tl = 0;
        hg_status st = i < n ? hg_detok_push(d, ids[i], &t, &tl, &err) : hg_detok_flush(d, &t, &tl, &err);
        if (st) {
            CHECK_MSG(0, "%s: stream failed at %lld: %s", what, (long long)i, err.msg);
            break;
        }
        if (!valid_utf8(t, tl)) chunks_ok = false;
        if (got + tl > cap) {
            cap = (got + tl) * 2;
            cat = realloc(cat, cap);
        }
        memcpy(cat + got, t, tl);
        got += tl;
    }
    CHECK_MSG(chunks_ok, "%s: a streamed chunk is not whole UTF-8", what);
    CHECK_MSG(got == wl && !memcmp(cat, whole, wl), "%s: streamed text (%zu bytes) != one-shot decode (%zu bytes)", what,
              got, wl);
    free(cat);
    hg_detok_free(d);
    hg_tokenizer_mem_free(whole);
}

static void check_corpus(hg_tokenizer *tok, const char *name, const cJSON *manifest) {
    const cJSON *e;
    int files = 0;
    int64_t tokens = 0;
    double t_enc = 0;
    size_t bytes = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(manifest, "corpus")) {
        const char *tf = cJSON_GetObjectItem(e, "text_file")->valuestring;
        const char *idf = cJSON_GetObjectItem(e, "ids_file")->valuestring;
        const cJSON *dec = cJSON_GetObjectItem(e, "decoded_file");
        char rel[512];
        size_t tl = 0, il = 0, dl = 0;
        snprintf(rel, sizeof rel, "tokenizers/%s.gz", tf);
        char *text = tt_read(rel, &tl);
        snprintf(rel, sizeof rel, "tokenizers/%s/%s.gz", name, idf);
        char *raw = tt_read(rel, &il);
        char *want_text = NULL;
        if (cJSON_IsString(dec)) {
            snprintf(rel, sizeof rel, "tokenizers/%s/%s.gz", name, dec->valuestring);
            want_text = tt_read(rel, &dl);
        }
        CHECK_MSG(text && raw && (!cJSON_IsString(dec) || want_text), "%s: missing data for %s", name, tf);
        if (!text || !raw) continue;
        int64_t nw = (int64_t)(il / 4);
        int32_t *want = malloc(il + 4);
        for (int64_t i = 0; i < nw; i++) { /* uint32 little-endian */
            const unsigned char *b = (const unsigned char *)raw + 4 * i;
            want[i] = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
        }
        int32_t *ids = NULL;
        int64_t n = 0;
        hg_error err = {0};
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        hg_status st = hg_tokenizer_encode(tok, text, tl, false, &ids, &n, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        t_enc += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        bytes += tl;
        CHECK_MSG(st == HG_OK, "%s %s: %s", name, tf, err.msg);
        int64_t d = tt_first_diff(ids, n, want, nw);
        CHECK_MSG(d < 0, "%s %s: %lld ids vs %lld golden, first difference at %lld (got %d want %d)", name, tf,
                  (long long)n, (long long)nw, (long long)d, d >= 0 && d < n ? ids[d] : -1, d >= 0 && d < nw ? want[d] : -1);
        char *back = NULL;
        size_t bl = 0;
        st = hg_tokenizer_decode(tok, want, nw, false, &back, &bl, &err);
        const char *exp = want_text ? want_text : text;
        size_t el = want_text ? dl : tl;
        CHECK_MSG(st == HG_OK && bl == el && !memcmp(back, exp, el), "%s %s: decode differs (%zu vs %zu bytes)", name, tf,
                  bl, el);
        char what[256];
        snprintf(what, sizeof what, "%s %s stream", name, tf);
        check_stream(tok, what, want, nw, false);
        files++;
        tokens += nw;
        hg_tokenizer_mem_free(back);
        hg_tokenizer_mem_free(ids);
        free(want);
        free(raw);
        free(text);
        free(want_text);
    }
    CHECK_MSG(files == 16, "%s: %d corpus files checked, expected 16", name, files);
    fprintf(stderr, "  %s: %d corpus files, %lld tokens, encode %.1f MB/s\n", name, files, (long long)tokens,
            t_enc > 0 ? (double)bytes / t_enc / 1e6 : 0.0);
}

/* adversarial.jsonl (ids, ids_special, decoded, decoded_skip_special) or lines.jsonl (ids, decoded). */
static void check_jsonl(hg_tokenizer *tok, const char *name, const char *file, bool adversarial) {
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizers/%s/%s.gz", name, file);
    char *all = tt_read(rel, NULL);
    CHECK_MSG(all != NULL, "cannot read %s", rel);
    if (!all) return;
    int lines = 0, bad = 0;
    for (char *line = all, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *j = cJSON_Parse(line);
        if (!j) {
            CHECK_MSG(0, "%s %s: unparsable line %d", name, file, lines);
            continue;
        }
        size_t tl = 0;
        char *text = tt_unhex(cJSON_GetObjectItem(j, "hex")->valuestring, &tl);
        int64_t nw = 0, nws = 0, n = 0, ns = 0;
        int32_t *want = tt_ids(cJSON_GetObjectItem(j, "ids"), &nw);
        int32_t *want_s = adversarial ? tt_ids(cJSON_GetObjectItem(j, "ids_special"), &nws) : NULL;
        int32_t *ids = NULL, *ids_s = NULL;
        hg_error err = {0};
        hg_status st = hg_tokenizer_encode(tok, text, tl, false, &ids, &n, &err);
        bool ok = st == HG_OK && tt_first_diff(ids, n, want, nw) < 0;
        if (adversarial) {
            st = hg_tokenizer_encode(tok, text, tl, true, &ids_s, &ns, &err);
            ok = ok && st == HG_OK && tt_first_diff(ids_s, ns, want_s, nws) < 0;
        }
        size_t dl = 0, dsl = 0, gl = 0, gsl = 0;
        char *dec = tt_field_string(line, "decoded", &dl);
        char *got = NULL, *got_s = NULL;
        ok = ok && dec && hg_tokenizer_decode(tok, want, nw, false, &got, &gl, &err) == HG_OK && gl == dl &&
             !memcmp(got, dec, dl);
        if (adversarial) {
            char *dec_s = tt_field_string(line, "decoded_skip_special", &dsl);
            ok = ok && dec_s && hg_tokenizer_decode(tok, want_s, nws, true, &got_s, &gsl, &err) == HG_OK && gsl == dsl &&
                 !memcmp(got_s, dec_s, dsl);
            char what[128];
            snprintf(what, sizeof what, "%s %s line %d stream", name, file, lines);
            check_stream(tok, what, want_s, nws, true);
            free(dec_s);
        }
        if (!ok && bad++ < 5) fprintf(stderr, "FAIL %s %s line %d: text %.80s (err: %s)\n", name, file, lines, text, err.msg);
        CHECK(ok);
        lines++;
        free(dec);
        hg_tokenizer_mem_free(got);
        hg_tokenizer_mem_free(got_s);
        hg_tokenizer_mem_free(ids);
        hg_tokenizer_mem_free(ids_s);
        free(want);
        free(want_s);
        free(text);
        cJSON_Delete(j);
    }
    CHECK_MSG(lines == (adversarial ? 362 : 1394), "%s %s: %d lines", name, file, lines);
    fprintf(stderr, "  %s %s: %d lines, %d mismatches\n", name, file, lines, bad);
    free(all);
}

static void check_single_id_decode(hg_tokenizer *tok) {
    char *all = tt_read("tokenizers/huginn_style/single_id_decode.json.gz", NULL);
    CHECK(all != NULL);
    if (!all) return;
    const char *p = all;
    while (*p && *p != '"') p++;
    int32_t id = 0;
    int bad = 0;
    hg_detok *d = NULL;
    hg_error err = {0};
    CHECK(hg_detok_init(tok, false, &d, &err) == HG_OK);
    while (*p == '"' && d) {
        size_t wl = 0, gl = 0;
        char *want = tt_json_string(&p, &wl), *got = NULL;
        bool ok = want && hg_tokenizer_decode(tok, &id, 1, false, &got, &gl, &err) == HG_OK && gl == wl &&
                  !memcmp(got, want, wl);
        /* streaming: push + flush of one id gives the same text */
        const char *t1, *t2;
        size_t l1 = 0, l2 = 0;
        char buf[64];
        ok = ok && hg_detok_push(d, id, &t1, &l1, &err) == HG_OK && l1 < sizeof buf;
        if (ok) memcpy(buf, t1, l1);
        ok = ok && hg_detok_flush(d, &t2, &l2, &err) == HG_OK && l1 + l2 == wl && !memcmp(buf, want, l1) &&
             !memcmp(t2, want + l1, l2);
        if (!ok && bad++ < 5) fprintf(stderr, "FAIL single id %d\n", (int)id);
        free(want);
        hg_tokenizer_mem_free(got);
        id++;
        while (*p == ',' || *p == ' ' || *p == '\n') p++;
    }
    hg_detok_free(d);
    CHECK_MSG(id == 65536, "single_id_decode: %d entries", (int)id);
    CHECK_MSG(bad == 0, "single_id_decode: %d mismatches", bad);
    free(all);
}

int main(void) {
    for (size_t k = 0; k < N_TOK_NAMES; k++) {
        const char *name = k_tok_names[k];
        char rel[256];
        snprintf(rel, sizeof rel, "tokenizers/%s/manifest.json", name);
        char *mtext = tt_read(rel, NULL);
        cJSON *manifest = mtext ? cJSON_Parse(mtext) : NULL;
        CHECK_MSG(manifest != NULL, "cannot read %s", rel);
        hg_tokenizer *tok = tt_load(name);
        CHECK_MSG(tok != NULL, "cannot load %s", name);
        if (tok && manifest) {
            CHECK(hg_tokenizer_n_vocab(tok) ==
                  (int32_t)cJSON_GetObjectItem(manifest, "max_id")->valuedouble + 1);
            check_corpus(tok, name, manifest);
            check_jsonl(tok, name, "adversarial.jsonl", true);
            check_jsonl(tok, name, "lines.jsonl", false);
            if (!strcmp(name, "huginn_style")) check_single_id_decode(tok);
        }
        hg_tokenizer_free(tok);
        cJSON_Delete(manifest);
        free(mtext);
    }
    return hg_test_finish("test_tokenizer_golden");
}
