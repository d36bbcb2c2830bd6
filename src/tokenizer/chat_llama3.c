/*
 * chat_llama3.c — the Llama 3 chat format (template texts in chat.c). What the templates do:
 *   for each message i: bos_token when i == 0, then "<|start_header_id|>" + role + "<|end_header_id|>\n\n"
 *     + content | trim + "<|eot_id|>" (the filter binds tighter than +, so only the content is trimmed;
 *     the role is written verbatim, "assistant" included);
 *   then "<|start_header_id|>assistant<|end_header_id|>\n\n": always in the base model's template
 *   (tests/data/tokenizers/llama3), with add_generation_prompt in the Instruct one.
 * Nothing ends the text (no eos_token); an empty conversation has no bos_token. `trim` is JavaScript's
 * String.prototype.trim(), as @huggingface/jinja (the oracle of these goldens) runs it; transformers'
 * Python Jinja2 differs on U+001C..U+001F, U+0085 and U+FEFF at either end of a message (chat_trim.c).
 */
#include "tokenizer/tokenizer.h"

bool hg_chat_render_llama3(hg_bytes *o, const hg_chat_format *f, const char *bos, const hg_chat_msg *msgs, size_t n,
                           bool add_generation_prompt) {
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        const char *c = msgs[i].content;
        if (i == 0) ok = hg_bytes_puts(o, bos);
        ok = ok && hg_bytes_puts(o, "<|start_header_id|>") && hg_bytes_puts(o, msgs[i].role) &&
             hg_bytes_puts(o, "<|end_header_id|>\n\n");
        size_t b, e;
        hg_chat_trim(c, strlen(c), HG_TRIM_JS, &b, &e);
        ok = ok && hg_bytes_append(o, c + b, e - b) && hg_bytes_puts(o, "<|eot_id|>");
    }
    if (ok && (add_generation_prompt || f->gen_prompt_always))
        ok = hg_bytes_puts(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return ok;
}
