/*
 * load_gguf.c — loading GGUF models (design.md "Formats"). GGUF reading and writing belong to the
 * CPU-speed issue (#5) and are not built yet: a .gguf path gets a clear error instead of a guess.
 */
#include "model/model.h"

hg_status hg_model_load_gguf(const char *path, const hg_model_params *params, hg_model **out, hg_error *err);

hg_status hg_model_load_gguf(const char *path, const hg_model_params *params, hg_model **out, hg_error *err) {
    (void)params;
    (void)out;
    return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: GGUF models are not supported by this build yet; load the Hugging Face directory", path);
}
