/*
 * train_config.h — the `huginn train` config schema check (tools/train_config.c): every key of every
 * section known, of the right JSON type, and numbers in the range the trainer can use, before any
 * value is read. Kept apart from cmd_train.c so that the fuzz target (fuzz/fuzz_train_config.c) runs
 * exactly the check the command runs.
 */
#ifndef HG_TRAIN_CONFIG_H
#define HG_TRAIN_CONFIG_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* 0 when `root` is a valid config; else 1 with "KEY: problem" (KEY as `section.key`) in msg. */
int train_config_check(const cJSON *root, char *msg, size_t msg_len);

/* warmup / cooldown: a step count, or "P%" of max_steps; max_steps · def_frac when absent. Call after
 * train_config_check. */
long long train_config_steps(const cJSON *section, const char *key, long long max_steps, double def_frac);

#endif
