/*
 * fuzz_gguf.c — libFuzzer target: a GGUF file (src/io/gguf.c header, metadata and tensor table;
 * src/model/load_gguf.c binding; the tokenizer a GGUF carries, src/model/model_tokenizer.c). Parsed
 * from memory; when the reader accepts it, the file is also loaded as a model and its tokenizer
 * (vocabulary) loaded and used.
 */
#include "fuzz_util.h"
#include "io/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hg_gguf_file g;
    hg_error err = {0};
    if (hg_gguf_parse(data, size, "input.gguf", &g, &err) != HG_OK) {
        FZ_CHECK(err.msg[0]);
        return 0;
    }
    hg_gguf_close(&g);
    const char *path = fz_path(0, "model.gguf");
    if (!fz_write(path, data, size)) return 0;
    hg_model *m = NULL;
    if (hg_model_load(path, NULL, &m, &err) != HG_OK) {
        FZ_CHECK(err.msg[0] && !m);
        return 0;
    }
    hg_tokenizer *tok = NULL;
    if (hg_model_tokenizer(m, &tok, &err) == HG_OK) {
        int32_t *ids = NULL;
        int64_t n = 0;
        if (hg_tokenizer_encode(tok, "k=3;a=k;?a=", 11, true, &ids, &n, &err) == HG_OK) {
            char *text = NULL;
            size_t len;
            if (hg_tokenizer_decode(tok, ids, n, false, &text, &len, &err) == HG_OK) hg_tokenizer_mem_free(text);
            hg_tokenizer_mem_free(ids);
        }
        hg_tokenizer_free(tok);
    }
    hg_model_free(m);
    return 0;
}
