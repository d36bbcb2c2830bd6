/*
 * chat_chatml.c — the ChatML chat format (Qwen2 and many ChatML fine-tunes; template texts in chat.c).
 * What the templates do:
 *   with a default system message (Qwen2's template): when the conversation is not empty and its first
 *     message is not a system one, "<|im_start|>system\n" + default + "<|im_end|>\n" first;
 *   for each message: "<|im_start|>" + role + "\n" + content + "<|im_end|>\n" (content as given: ChatML
 *     does not trim);
 *   then "<|im_start|>assistant\n" with add_generation_prompt.
 * No bos_token: ChatML writes none (Qwen's tokenizers have none).
 */
#include "tokenizer/tokenizer.h"

static bool turn(hg_bytes *o, const char *role, const char *content) {
    return hg_bytes_puts(o, "<|im_start|>") && hg_bytes_puts(o, role) && hg_bytes_puts(o, "\n") &&
           hg_bytes_puts(o, content) && hg_bytes_puts(o, "<|im_end|>\n");
}

bool hg_chat_render_chatml(hg_bytes *o, const hg_chat_format *f, const char *bos, const hg_chat_msg *msgs, size_t n,
                           bool add_generation_prompt) {
    (void)bos;
    bool ok = true;
    /* `loop.first and messages[0]['role'] != 'system'`: inside the loop, so never for an empty list */
    if (f->default_system && n && strcmp(msgs[0].role, "system")) ok = turn(o, "system", f->default_system);
    for (size_t i = 0; ok && i < n; i++) ok = turn(o, msgs[i].role, msgs[i].content);
    if (ok && add_generation_prompt) ok = hg_bytes_puts(o, "<|im_start|>assistant\n");
    return ok;
}
