/*
 * test_cli.c — the `huginn` command end to end, as acceptance runs it: `forward` with --prefill
 * against the decode golden (prefill 10, then one id per call), `forward --state` against the
 * input-state golden, `run --json` against the greedy generation goldens (one with --no-mmap),
 * `init` determinism and a forward on what it wrote, and non-zero exits with a message on bad input.
 */
#include "golden.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static char *ids_arg(const cJSON *arr) {
    static char buf[8192];
    size_t n = 0;
    buf[0] = 0;
    for (const cJSON *e = arr->child; e; e = e->next)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d", n ? "," : "", (int)e->valuedouble);
    return buf;
}

static void check_file(const char *label, const char *path, const char *model, const cJSON *spec) {
    size_t n, m;
    float *got = hg_read_file(path, &n);
    float *want = golden_floats(model, spec, &m);
    CHECK_MSG(got && want && n / 4 == m, "%s: sizes %zu vs %zu", label, n / 4, m);
    if (got && want && n / 4 == m) hg_check_close(label, got, want, m, 1e-4);
    free(got), free(want);
}

int main(void) {
    const char *tmp = hg_tmp_dir("cli");
    char cmd[16384], p1[4096], p2[4096];
    for (int mi = 0; mi < HG_GOLDEN_MODELS; mi++) {
        const char *model = hg_golden_models[mi];
        cJSON *man = golden_manifest(model);
        const cJSON *dec = golden_case(man, "decode_full");
        const cJSON *in = cJSON_GetObjectItem(dec, "inputs");
        snprintf(p1, sizeof p1, "%s/%s.logits", tmp, model);
        snprintf(p2, sizeof p2, "%s/%s.latents", tmp, model);
        snprintf(cmd, sizeof cmd, "%s forward -m %s --ids %s --steps 8 --prefill 10 --logits %s --latents %s", hg_huginn(),
                 golden_model_dir(model), ids_arg(cJSON_GetObjectItem(in, "input_ids")), p1, p2);
        CHECK_MSG(hg_run_capture(cmd, NULL) == 0, "%s", cmd);
        char label[256];
        snprintf(label, sizeof label, "cli %s forward --prefill 10 logits", model);
        check_file(label, p1, model, cJSON_GetObjectItem(cJSON_GetObjectItem(dec, "outputs"), "logits"));
        snprintf(label, sizeof label, "cli %s forward --prefill 10 latents", model);
        check_file(label, p2, model, cJSON_GetObjectItem(cJSON_GetObjectItem(dec, "outputs"), "latent_states"));

        const cJSON *fs = golden_case(man, "forward_input_states_r4");
        const cJSON *fin = cJSON_GetObjectItem(fs, "inputs");
        char state[4096];
        snprintf(state, sizeof state, "%s/golden/%s", golden_model_dir(model),
                 cJSON_GetObjectItem(cJSON_GetObjectItem(fin, "input_states"), "file")->valuestring);
        snprintf(cmd, sizeof cmd, "%s forward -m %s --ids %s --steps 4 --state %s --logits %s", hg_huginn(),
                 golden_model_dir(model), ids_arg(cJSON_GetObjectItem(fin, "input_ids")), state, p1);
        CHECK_MSG(hg_run_capture(cmd, NULL) == 0, "%s", cmd);
        snprintf(label, sizeof label, "cli %s forward --state logits", model);
        check_file(label, p1, model, cJSON_GetObjectItem(cJSON_GetObjectItem(fs, "outputs"), "logits"));

        const char *gens[] = {"generate_r8", "generate_r8_eos", "generate_r8_continuous_zero"};
        for (int g = 0; g < 3; g++) {
            const cJSON *gc = golden_case(man, gens[g]);
            const cJSON *gi = cJSON_GetObjectItem(gc, "inputs");
            char extra[256] = "";
            if (cJSON_IsNumber(cJSON_GetObjectItem(gi, "eos_token_id")))
                snprintf(extra, sizeof extra, "--eos %d", (int)cJSON_GetObjectItem(gi, "eos_token_id")->valuedouble);
            if (cJSON_IsTrue(cJSON_GetObjectItem(gi, "continuous_compute"))) strcat(extra, " --warm-start");
            if (g == 1) strcat(extra, " --no-mmap"); /* the read path gives the same tokens */
            snprintf(cmd, sizeof cmd, "%s run -m %s --ids %s --steps 8 --init-scale 0 --temp 0 -n %d %s --json", hg_huginn(),
                     golden_model_dir(model), ids_arg(cJSON_GetObjectItem(gi, "input_ids")),
                     (int)cJSON_GetObjectItem(gi, "max_new_tokens")->valuedouble, extra);
            char *out = NULL;
            CHECK_MSG(hg_run_capture(cmd, &out) == 0, "%s", cmd);
            cJSON *j = cJSON_Parse(out);
            CHECK_MSG(j != NULL, "run --json printed invalid JSON: %s", out);
            const cJSON *want = cJSON_GetObjectItem(gc, "generated");
            const cJSON *got = cJSON_GetObjectItem(j, "generated");
            bool same = cJSON_GetArraySize(got) == cJSON_GetArraySize(want);
            for (int i = 0; same && i < cJSON_GetArraySize(want); i++) {
                const cJSON *t = cJSON_GetArrayItem(got, i);
                same = (int)cJSON_GetObjectItem(t, "id")->valuedouble == (int)cJSON_GetArrayItem(want, i)->valuedouble &&
                       (int)cJSON_GetObjectItem(t, "steps")->valuedouble == 8;
            }
            CHECK_MSG(same, "cli %s %s: generated ids differ: %s", model, gens[g], out);
            if (same) fprintf(stderr, "  ok cli %s run --json %s\n", model, gens[g]);
            cJSON_Delete(j);
            free(out);
        }
        cJSON_Delete(man);
    }
    /* init: deterministic from the seed, loadable, runnable */
    snprintf(cmd, sizeof cmd, "%s init --config %s -o %s/init_a --seed 7 --dtype bf16 2>/dev/null && %s init --config %s -o %s/init_b --seed 7 --dtype bf16 2>/dev/null && cmp %s/init_a/model.safetensors %s/init_b/model.safetensors",
             hg_huginn(), golden_model_dir("small-sharded"), tmp, hg_huginn(), golden_model_dir("small-sharded"), tmp, tmp, tmp);
    CHECK_MSG(hg_run_capture(cmd, NULL) == 0, "init twice with one seed gives identical files");
    snprintf(cmd, sizeof cmd, "%s init --config %s -o %s/init_c --seed 8 2>/dev/null && ! cmp -s %s/init_a/model.safetensors %s/init_c/model.safetensors",
             hg_huginn(), golden_model_dir("small-sharded"), tmp, tmp, tmp);
    CHECK_MSG(hg_run_capture(cmd, NULL) == 0, "another seed gives other weights");
    snprintf(cmd, sizeof cmd, "%s forward -m %s/init_a --ids 1,2,3 --steps 2 --logits %s/init.logits", hg_huginn(), tmp, tmp);
    CHECK_MSG(hg_run_capture(cmd, NULL) == 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "%s info -m %s/init_a --json", hg_huginn(), tmp);
    char *out = NULL;
    CHECK(hg_run_capture(cmd, &out) == 0);
    cJSON *j = cJSON_Parse(out);
    CHECK_MSG(j && (int64_t)cJSON_GetObjectItem(j, "n_params")->valuedouble == 1006176, "info --json: %s", out);
    cJSON_Delete(j);
    free(out);

    /* bad input: non-zero exit and a message on stderr, never a crash (exit code 1, not a signal) */
    const char *bad[] = {
        "forward -m /nonexistent --ids 1 --steps 1",
        "forward -m %s --ids 1,2,x --steps 1",
        "forward -m %s --ids 1,99999 --steps 1",
        "forward -m %s --ids 1 --steps -3",
        "forward -m %s --ids 1,2 --steps 1 --state /nonexistent.bin",
        "run -m %s --ids 1,2 --temp -1",
        "run -m %s --ids 1,2 --kv-cache nonsense",
        "run -m %s --ids 1,2 -n 100000",
        "init --preset nope -o /tmp/x",
        "nosuchcommand",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char c2[4096];
        snprintf(c2, sizeof c2, bad[i], golden_model_dir("tiny"));
        snprintf(cmd, sizeof cmd, "%s %s 2>&1 >/dev/null", hg_huginn(), c2);
        char *msg = NULL;
        int rc = hg_run_capture(cmd, &msg);
        CHECK_MSG(rc == 1 && strstr(msg, "huginn") != NULL, "`%s`: exit %d, stderr `%s`", c2, rc, msg);
        if (rc == 1) fprintf(stderr, "  ok bad input `%s` -> %s", c2, msg);
        free(msg);
    }
    return hg_test_finish("test_cli");
}
