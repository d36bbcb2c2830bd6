/*
 * exit_gate.c — exit by a learned gate (Ouro; docs/family.md "Ouro", include/huginn.h "Learned exit
 * gate"): the exit distribution of a position's gate logits, the rule that picks the loop whose logits
 * are used, the every-loop forward that reproduces the reference's model(...) call, and generation.
 *
 * The model computes (hg_ctx_core_step = one loop ending in the final norm, hg_ctx_exit_gate,
 * hg_ctx_coda = lm_head), this file decides. Everything is the reference's f32 arithmetic in its
 * order: λ_t = σ(g_t); p_t = λ_t·rest, rest = rest·(1 − λ_t) for t < L−1, p_{L−1} = rest; the
 * cumulative sum c_t is sequential in f32 and compared with the threshold rounded to f32. The decision
 * at loop t depends on g_0..g_t only, so a generated token can stop at its exit loop
 * (HG_GATE_COMPUTE_SKIP) and pick exactly the loop it would pick after running every loop.
 * Precedence, as the reference's: exit_at when 0 <= exit_at < L; else the threshold in force (the
 * rule's, or the config's for HG_GATE_DEFAULT; none when the config's is null); else weighted when asked
 * for; else the last loop.
 */
#include "generate/generate.h"

#include <math.h>

hg_gate_params hg_gate_default_params(void) {
    hg_gate_params p = {.n_loops = 0, .rule = HG_GATE_DEFAULT, .threshold = 1.0, .exit_at = -1,
                        .compute = HG_GATE_COMPUTE_SKIP};
    return p;
}

hg_status hg_gate_compute_parse(const char *name, hg_gate_compute *out, hg_error *err) {
    if (name && !strcmp(name, "skip")) return *out = HG_GATE_COMPUTE_SKIP, HG_OK;
    if (name && !strcmp(name, "all")) return *out = HG_GATE_COMPUTE_ALL, HG_OK;
    return hg_err(err, HG_STATUS_BAD_ARG, "unknown exit compute mode `%s` (expected skip or all)", name ? name : "");
}

/* ---- the exit distribution and rule --------------------------------------------------------------- */

static inline float sigmoid_f32(float x) { return 1.0f / (1.0f + expf(-x)); }

void hg_gate_exit_pdf(const float *g, int64_t n, float *p) {
    float rest = 1.0f;
    for (int64_t t = 0; t < n; t++) {
        if (t == n - 1) {
            p[t] = rest; /* the last loop takes what is left; its gate is not used */
            break;
        }
        const float lam = sigmoid_f32(g[t]);
        p[t] = lam * rest;
        rest = rest * (1.0f - lam);
    }
}

int64_t hg_gate_exit_step(const float *p, int64_t n, double threshold) {
    const float q = (float)threshold;
    float c = 0.0f;
    for (int64_t t = 0; t < n; t++) {
        c += p[t];
        if (c >= q) return t;
    }
    return n - 1;
}

/* The rule in force for L loops. */
typedef struct gate_rule {
    int64_t L;
    int64_t exit_at;  /* >= 0: fixed loop */
    bool threshold;   /* use thr */
    float thr;
    bool weighted;
} gate_rule;

static gate_rule resolve(const hg_config *c, const hg_gate_params *p, int64_t L) {
    gate_rule r = {.L = L, .exit_at = -1};
    if (p->exit_at >= 0 && p->exit_at < L) {
        r.exit_at = p->exit_at;
        return r;
    }
    double thr = (double)NAN;
    if (p->rule == HG_GATE_THRESHOLD) thr = p->threshold;
    if (p->rule == HG_GATE_DEFAULT) thr = c->early_exit_threshold;
    if (!isnan(thr)) {
        r.threshold = true;
        r.thr = (float)thr;
    } else {
        r.weighted = p->rule == HG_GATE_WEIGHTED;
    }
    return r;
}

/* Incremental form of pdf + exit step for one position: feed g_t in order; returns true when the
 * position exits at t (always at L−1 unless weighted, which never exits early). */
typedef struct gate_run {
    float rest, c, p_exit;
} gate_run;

static bool gate_step(const gate_rule *r, gate_run *s, int64_t t, float g) {
    float p;
    if (t == r->L - 1) {
        p = s->rest;
    } else {
        const float lam = sigmoid_f32(g);
        p = lam * s->rest;
        s->rest = s->rest * (1.0f - lam);
    }
    s->c += p;
    if (r->weighted) return false;
    if (r->exit_at >= 0) return t == r->exit_at;
    if (r->threshold && s->c >= r->thr) return true;
    return t == r->L - 1;
}

/* ---- every loop on T positions --------------------------------------------------------------------- */

static int64_t loops_of(const hg_ctx *ctx, const hg_gate_params *p) {
    return p->n_loops > 0 ? p->n_loops : ctx->model->cfg.mean_recurrence;
}

static hg_status check_gated(hg_ctx *ctx, int64_t L, const char *fn, hg_error *err) {
    const hg_config *c = &ctx->model->cfg;
    if (!ctx->model->exit_gate)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: a %s model has no exit gate (use the Huginn loops)", fn,
                      hg_arch_name(c->arch));
    if (L < 1 || L > 100000) return hg_err(err, HG_STATUS_BAD_ARG, "%s: loops must be in 1..100000", fn);
    if (hg_kv_phys(&ctx->kv, c->n_layers_prelude + L * c->n_layers_core - 1) < 0)
        return hg_err(err, HG_STATUS_LIMIT, "%s: %lld loops, but the context's KV cache holds %lld (raise max_steps)", fn,
                      (long long)L, (long long)ctx->kv.max_steps);
    return HG_OK;
}

/* Every loop on positions [pos0, pos0+T); logits for all positions, or (last_only) only for the last
 * one into logits[V]; *last_exit / *last_c: the last position's exit loop and cumulative probability. */
static hg_status forward_all(hg_ctx *ctx, const int32_t *ids, int64_t T, int64_t pos0, const hg_gate_params *p,
                             hg_gate_outputs *out, bool last_only, int64_t *last_exit, float *last_c, hg_error *err) {
    const hg_config *c = &ctx->model->cfg;
    const int64_t h = c->n_embd, V = c->vocab_size, L = loops_of(ctx, p);
    hg_status st = check_gated(ctx, L, "forward_gate", err);
    if (st) return st;
    if (!ids || T <= 0 || pos0 < 0 || pos0 > ctx->n_past || pos0 + T > ctx->n_ctx)
        return hg_err(err, pos0 + T > ctx->n_ctx ? HG_STATUS_LIMIT : HG_STATUS_BAD_ARG,
                      "forward_gate: positions %lld..%lld do not fit (positions held %lld, context %lld)",
                      (long long)pos0, (long long)(pos0 + T - 1), (long long)ctx->n_past, (long long)ctx->n_ctx);
    const gate_rule rule = resolve(c, p, L);
    const int64_t chunk = ctx->chunk;
    /* per chunk: every loop's state [L, chunk, h], gates [L, chunk] (for weighted, overwritten by each
     * position's p_t), the picked states [chunk, h], one loop's logits [chunk, V] (weighted), and one
     * position's gates and pdf [L] each */
    size_t n = (size_t)L * (size_t)chunk * (size_t)h + (size_t)L * (size_t)chunk + (size_t)chunk * (size_t)h +
               (size_t)(rule.weighted ? chunk * V : 0) + 2 * (size_t)L;
    float *buf = hg_malloc(n * sizeof(float));
    if (!buf) return hg_err(err, HG_STATUS_NOMEM, "forward_gate: out of memory");
    float *states = buf, *gates = states + L * chunk * h, *pick = gates + L * chunk, *lt = pick + chunk * h;
    float *gpos = lt + (rule.weighted ? chunk * V : 0), *pdf = gpos + L;
    for (int64_t c0 = 0; c0 < T && !st; c0 += chunk) {
        const int64_t Tc = hg_min_i64(chunk, T - c0), p0 = pos0 + c0;
        if ((st = hg_ctx_prelude(ctx, ids + c0, Tc, p0, ctx->e, err))) break;
        for (int64_t t = 0; t < L && !st; t++) {
            if ((st = hg_ctx_core_step(ctx, ctx->s, ctx->e, Tc, p0, t, err))) break;
            memcpy(states + t * Tc * h, ctx->s, (size_t)(Tc * h) * sizeof(float));
            st = hg_ctx_exit_gate(ctx, ctx->s, Tc, gates + t * Tc, err);
        }
        if (st) break;
        for (int64_t i = 0; i < Tc; i++) {
            const int64_t row = c0 + i;
            gate_run run = {.rest = 1.0f};
            int64_t ex = -1;
            for (int64_t t = 0; t < L; t++) {
                gpos[t] = gates[t * Tc + i];
                if (out && out->gates) out->gates[t * T + row] = gpos[t];
                if (gate_step(&rule, &run, t, gpos[t]) && ex < 0) ex = t;
            }
            if (ex < 0 || rule.weighted) ex = L - 1;
            hg_gate_exit_pdf(gpos, L, pdf);
            if (out && out->exit_pdf) memcpy(out->exit_pdf + row * L, pdf, (size_t)L * sizeof(float));
            if (out && out->exit_step) out->exit_step[row] = ex;
            if (row == T - 1) {
                if (last_exit) *last_exit = ex;
                if (last_c) {
                    float cc = 0;
                    for (int64_t t = 0; t <= ex; t++) cc += pdf[t];
                    *last_c = cc;
                }
            }
            memcpy(pick + i * h, states + (ex * Tc + i) * h, (size_t)h * sizeof(float));
            if (out && out->step_hidden)
                for (int64_t t = 0; t < L; t++)
                    memcpy(out->step_hidden + (t * T + row) * h, states + (t * Tc + i) * h, (size_t)h * sizeof(float));
            if (rule.weighted) /* this position's p_t replace its gates for the weighted sum */
                for (int64_t t = 0; t < L; t++) gates[t * Tc + i] = pdf[t];
        }
        if (st || !out || !out->logits) continue;
        /* logits: the picked loop's state through lm_head, or Σ_t p_t · logits_t */
        const int64_t first = last_only ? Tc - 1 : 0, nrows = last_only ? (c0 + Tc == T ? 1 : 0) : Tc;
        if (nrows == 0) continue;
        float *dst = out->logits + (last_only ? 0 : c0 * V);
        if (!rule.weighted) {
            st = hg_ctx_coda(ctx, pick + first * h, nrows, p0 + first, NULL, dst, err);
            continue;
        }
        memset(dst, 0, (size_t)(nrows * V) * sizeof(float));
        for (int64_t t = 0; t < L && !st; t++) {
            if ((st = hg_ctx_coda(ctx, states + (t * Tc + first) * h, nrows, p0 + first, NULL, lt, err))) break;
            for (int64_t i = 0; i < nrows; i++) {
                const float pt = gates[t * Tc + first + i];
                for (int64_t v = 0; v < V; v++) dst[i * V + v] += pt * lt[i * V + v];
            }
        }
    }
    hg_free(buf);
    return st;
}

hg_status hg_ctx_forward_gate(hg_ctx *ctx, const int32_t *ids, int64_t T, int64_t pos0, const hg_gate_params *p,
                              hg_gate_outputs *out, hg_error *err) {
    if (!ctx) return hg_err(err, HG_STATUS_BAD_ARG, "forward_gate: NULL context");
    const hg_gate_params gp = p ? *p : hg_gate_default_params();
    return forward_all(ctx, ids, T, pos0, &gp, out, false, NULL, NULL, err);
}

/* ---- generation --------------------------------------------------------------------------------------- */

hg_status hg_generate_gate(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                           const hg_gate_params *xp, hg_token_callback cb, void *user, int32_t *out_ids,
                           int64_t *n_out, hg_ttc_report *rep, hg_error *err) {
    if (!ctx || !prompt || !gp || !out_ids || !n_out) return hg_err(err, HG_STATUS_BAD_ARG, "generate_gate: NULL argument");
    const hg_gate_params p = xp ? *xp : hg_gate_default_params();
    const hg_config *c = &ctx->model->cfg;
    const int64_t h = c->n_embd, V = c->vocab_size, L = loops_of(ctx, &p);
    hg_status st = check_gated(ctx, L, "generate_gate", err);
    if (st) return st;
    if (n_prompt <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "generate_gate: the prompt is empty");
    if (gp->max_new_tokens < 0) return hg_err(err, HG_STATUS_BAD_ARG, "generate_gate: max_new_tokens must be >= 0");
    if (n_prompt + gp->max_new_tokens > ctx->n_ctx)
        return hg_err(err, HG_STATUS_LIMIT, "generate_gate: prompt (%lld) + new tokens (%lld) exceed the context (%lld)",
                      (long long)n_prompt, (long long)gp->max_new_tokens, (long long)ctx->n_ctx);
    for (int64_t i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= V)
            return hg_err(err, HG_STATUS_BAD_INPUT, "token id %d at position %lld is outside the vocabulary (0..%lld)",
                          prompt[i], (long long)i, (long long)(V - 1));
    if (p.compute != HG_GATE_COMPUTE_SKIP && p.compute != HG_GATE_COMPUTE_ALL)
        return hg_err(err, HG_STATUS_BAD_ARG, "generate_gate: unknown compute mode %d", (int)p.compute);
    *n_out = 0;
    if (rep) rep->n_tokens = rep->n_trace = 0;
    if ((st = hg_ctx_truncate(ctx, 0, err))) return st;
    if (gp->max_new_tokens == 0) return HG_OK;
    const gate_rule rule = resolve(c, &p, L);
    hg_sampler *smp = NULL;
    if ((st = hg_sampler_init(&gp->sampler, V, &smp, err))) return st;
    const size_t n_hist = (size_t)(n_prompt + gp->max_new_tokens);
    int32_t *hist = hg_malloc(n_hist * sizeof *hist);
    float *logits = hg_malloc((size_t)(2 * V + L * h + 2 * L) * sizeof(float));
    if (!hist || !logits) {
        st = hg_err(err, HG_STATUS_NOMEM, "generate_gate: out of memory");
        goto out;
    }
    float *lt = logits + V, *states = lt + V, *gbuf = states + L * h, *pbuf = gbuf + L;
    memcpy(hist, prompt, (size_t)n_prompt * sizeof *hist);
    /* the prompt in one call at full depth, its last position's exit rule choosing the first token */
    int64_t ex = 0;
    float cex = 0;
    hg_gate_outputs o = {.logits = logits};
    if ((st = forward_all(ctx, prompt, n_prompt, 0, &p, &o, true, &ex, &cex, err))) goto out;
    if (rep) rep->core_passes += L, rep->core_iterations += L * n_prompt, rep->coda_calls += rule.weighted ? L : 1;
    for (int64_t i = 0;; i++) {
        const int32_t id = hg_sampler_sample(smp, logits, hist, n_prompt + i);
        const int64_t steps = rule.weighted ? L : ex + 1;
        out_ids[i] = id;
        hist[n_prompt + i] = id;
        *n_out = i + 1;
        hg_gen_report_token(rep, i, steps, cex);
        const bool go_on = cb ? cb(user, id, steps, logits) : true;
        if (!go_on || hg_gen_is_stop(ctx->model, gp, id) || id == c->eos_token_id || i + 1 >= gp->max_new_tokens) break;
        /* the next token: loop by loop, stopping at its exit loop under `skip` */
        const int64_t pos = n_prompt + i;
        if ((st = hg_ctx_prelude(ctx, &id, 1, pos, ctx->e, err))) goto out;
        gate_run run = {.rest = 1.0f};
        ex = -1;
        int64_t ran = 0;
        for (int64_t t = 0; t < L; t++) {
            if ((st = hg_ctx_core_step(ctx, ctx->s, ctx->e, 1, pos, t, err))) goto out;
            if ((st = hg_ctx_exit_gate(ctx, ctx->s, 1, &gbuf[t], err))) goto out;
            memcpy(states + t * h, ctx->s, (size_t)h * sizeof(float));
            ran = t + 1;
            if (gate_step(&rule, &run, t, gbuf[t]) && ex < 0) {
                ex = t;
                cex = run.c;
                if (p.compute == HG_GATE_COMPUTE_SKIP) break;
            }
        }
        if (ex < 0) ex = L - 1, cex = run.c;
        if (rep) rep->core_passes += ran, rep->core_iterations += ran;
        if (!rule.weighted) {
            if ((st = hg_ctx_coda(ctx, states + ex * h, 1, pos, NULL, logits, err))) goto out;
            if (rep) rep->coda_calls++;
            continue;
        }
        /* weighted: Σ_t p_t · logits_t (every loop ran: weighted never exits early) */
        hg_gate_exit_pdf(gbuf, L, pbuf);
        memset(logits, 0, (size_t)V * sizeof(float));
        for (int64_t t = 0; t < L; t++) {
            if ((st = hg_ctx_coda(ctx, states + t * h, 1, pos, NULL, lt, err))) goto out;
            for (int64_t v = 0; v < V; v++) logits[v] += pbuf[t] * lt[v];
        }
        if (rep) rep->coda_calls += L;
    }
out:
    hg_sampler_free(smp);
    hg_free(hist);
    hg_free(logits);
    return st;
}
