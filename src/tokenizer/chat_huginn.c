/*
 * chat_huginn.c — the Huginn-0125 chat format (the template text is in chat.c). What the template does:
 *   for each message i: "<|begin_header|>" (preceded by bos_token when i == 0), then
 *     "Huginn" for roles "Huginn" and "assistant", the role verbatim otherwise, then
 *     "<|end_header|>\n\n", then content | trim, then "<|end_turn|>";
 *   finally "<|begin_header|>Huginn<|end_header|>\n\n" with add_generation_prompt, else "<|end_text|>".
 * An empty conversation has no bos_token (the loop never runs). Its goldens are Python Jinja2's (what
 * the model card's transformers renders), so `trim` is Python's str.strip() (chat_trim.c).
 */
#include "tokenizer/tokenizer.h"

bool hg_chat_render_huginn(hg_bytes *o, const hg_chat_format *f, const char *bos, const hg_chat_msg *msgs, size_t n,
                           bool add_generation_prompt) {
    (void)f;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        const char *role = msgs[i].role, *c = msgs[i].content;
        if (i == 0) ok = hg_bytes_puts(o, bos);
        ok = ok && hg_bytes_puts(o, "<|begin_header|>");
        bool huginn = !strcmp(role, "Huginn") || !strcmp(role, "assistant");
        ok = ok && hg_bytes_puts(o, huginn ? "Huginn" : role) && hg_bytes_puts(o, "<|end_header|>\n\n");
        size_t b, e;
        hg_chat_trim(c, strlen(c), HG_TRIM_PYTHON, &b, &e);
        ok = ok && hg_bytes_append(o, c + b, e - b) && hg_bytes_puts(o, "<|end_turn|>");
    }
    return ok && hg_bytes_puts(o, add_generation_prompt ? "<|begin_header|>Huginn<|end_header|>\n\n" : "<|end_text|>");
}
