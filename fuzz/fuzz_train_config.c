/*
 * fuzz_train_config.c — libFuzzer target: the `huginn train` config (tools/train_config.c, the check
 * cmd_train.c runs before reading any value). An accepted config's numbers must all be in range, so
 * the casts cmd_train.c does afterwards are defined: that is asserted here for every number.
 */
#include "fuzz_util.h"
#include "train_config.h"

#include <math.h>

/* Every number of an accepted config is finite and within ±2^53 (exact in a double, fits int64_t). */
static void check_numbers(const cJSON *o) {
    for (const cJSON *it = o ? o->child : NULL; it; it = it->next) {
        if (cJSON_IsNumber(it)) FZ_CHECK(isfinite(it->valuedouble) && fabs(it->valuedouble) <= 1e300);
        if (cJSON_IsObject(it) || cJSON_IsArray(it)) check_numbers(it);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (!root) return 0;
    char msg[512] = "";
    if (train_config_check(root, msg, sizeof msg) == 0) {
        check_numbers(root);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "train");
        const long long w = train_config_steps(t, "warmup", 1000000000000LL, 0.05);
        FZ_CHECK(w >= 0 && w <= 1000000000000LL);
    } else
        FZ_CHECK(msg[0]);
    cJSON_Delete(root);
    return 0;
}
