/*
 * chat.c — chat formats: which template texts are recognised, forcing a format by name, and the one
 * rendering entry point (hg_chat_render / hg_chat_encode) that validates the messages and calls the
 * format's renderer (chat_huginn.c, chat_llama3.c, chat_chatml.c).
 *
 * We do not implement Jinja. A template is recognised by its exact text (surrounding whitespace
 * aside) among the texts below, each copied from a real checkpoint's tokenizer_config.json, and is
 * rendered by C that follows it statement by statement. The goldens in tests/data/tokenizers/chat/
 * hold what Jinja renders for 17 conversations with each of them (Python Jinja2 for Huginn's,
 * @huggingface/jinja for the others: docs/tokenizer.md). A model whose template is not recognised
 * can be given a built-in format by name (hg_tokenizer_set_chat_format; `--chat-template NAME`).
 */
#include "tokenizer/tokenizer.h"

static const hg_chat_format k_huginn = {
    "huginn", hg_chat_render_huginn, true, false, NULL, "<|end_turn|>",
    {"<|begin_header|>", "<|end_header|>", "<|end_turn|>", "<|end_text|>"}};
/* Forced llama3 is the Instruct template (the generation prompt only when asked for). */
static const hg_chat_format k_llama3 = {
    "llama3", hg_chat_render_llama3, true, false, NULL, "<|eot_id|>",
    {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", NULL}};
static const hg_chat_format k_llama3_base = {
    "llama3", hg_chat_render_llama3, true, true, NULL, "<|eot_id|>",
    {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", NULL}};
/* Forced chatml is the plain template (no default system message). */
static const hg_chat_format k_chatml = {
    "chatml", hg_chat_render_chatml, false, false, NULL, "<|im_end|>", {"<|im_start|>", "<|im_end|>", NULL, NULL}};
static const hg_chat_format k_chatml_qwen2 = {
    "chatml", hg_chat_render_chatml, false, false, "You are a helpful assistant.", "<|im_end|>",
    {"<|im_start|>", "<|im_end|>", NULL, NULL}};

/* The formats --chat-template can force, in the order error messages list them. */
static const hg_chat_format *const k_forcible[] = {&k_huginn, &k_llama3, &k_chatml};
#define HG_CHAT_NAMES "huginn, llama3, chatml"

typedef struct chat_text {
    const hg_chat_format *fmt;
    const char *text;
} chat_text;

/* The recognised template texts (each is a file in tests/data/tokenizers/chat/: huginn_chat_template.jinja,
 * templates/NAME.jinja). */
static const chat_text k_texts[] = {
    /* Huginn-0125 (tests/data/tokenizers/huginn_style/tokenizer_config.json) */
    {&k_huginn,
     "{% set loop_messages = messages %}{% for message in loop_messages %}{% set start_content = '<|begin_header|>' %}"
     "{% set end_content = message['content'] | trim  + '<|end_turn|>' %}{% if loop.index0 == 0 %}"
     "{% set start_content = bos_token + start_content %}{% endif %}"
     "{% if message['role'] == 'Huginn' or message['role'] == 'assistant' %}"
     "{% set start_content = start_content + 'Huginn<|end_header|>\n\n' %}{{ start_content }}{% generation %}"
     "{{ end_content }}{% endgeneration %}{% else %}"
     "{% set start_content = start_content + message['role'] + '<|end_header|>\n\n' %}{{ start_content }}"
     "{{ end_content }}{% endif %}{% endfor %}{% if add_generation_prompt %}"
     "{{ '<|begin_header|>Huginn<|end_header|>\n\n' }}{% else %}{{ '<|end_text|>' }}{% endif %}"},
    /* Meta-Llama-3-8B as first released (tests/data/tokenizers/llama3/tokenizer_config.json): the
     * assistant header is written unconditionally */
    {&k_llama3_base,
     "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
     "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
     "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
     "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"},
    /* Meta-Llama-3-8B-Instruct / 70B-Instruct: the same with {% if add_generation_prompt %} */
    {&k_llama3,
     "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
     "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
     "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
     "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"},
    /* plain ChatML: the canonical text, used as is by many ChatML fine-tunes */
    {&k_chatml,
     "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
     "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"},
    /* ChatML with a default system message (Qwen2-*-Instruct) */
    {&k_chatml_qwen2,
     "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
     "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + "
     "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
     "{{ '<|im_start|>assistant\n' }}{% endif %}"},
};

static bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The format of a template text, NULL when it is none of k_texts. */
static const hg_chat_format *recognise(const char *t) {
    if (!t) return NULL;
    size_t n = strlen(t);
    while (n && ascii_space(t[n - 1])) n--;
    while (n && ascii_space(*t)) t++, n--;
    for (size_t i = 0; i < sizeof k_texts / sizeof *k_texts; i++)
        if (strlen(k_texts[i].text) == n && !memcmp(t, k_texts[i].text, n)) return k_texts[i].fmt;
    return NULL;
}

/* The format hg_chat_render uses: the forced one, else the recognised one. */
static const hg_chat_format *active(const hg_tokenizer *tok) {
    return tok->chat_forced ? tok->chat_forced : recognise(tok->chat_template);
}

bool hg_chat_template_supported(const char *t) { return recognise(t) != NULL; }

const char *hg_chat_template_format(const char *t) {
    const hg_chat_format *f = recognise(t);
    return f ? f->name : NULL;
}

const char *hg_chat_format_names(void) { return HG_CHAT_NAMES; }

bool hg_tokenizer_has_chat(const hg_tokenizer *tok) {
    const hg_chat_format *f = tok ? active(tok) : NULL;
    return f && (!f->needs_bos || tok->bos_token);
}

const char *hg_tokenizer_chat_format(const hg_tokenizer *tok) {
    return hg_tokenizer_has_chat(tok) ? active(tok)->name : NULL;
}

int32_t hg_tokenizer_chat_end_id(const hg_tokenizer *tok) {
    return hg_tokenizer_has_chat(tok) ? hg_tokenizer_token_to_id(tok, active(tok)->end_token) : -1;
}

int hg_tokenizer_stop_ids(const hg_tokenizer *tok, bool chat, int32_t out[2]) {
    int n = 0;
    const int32_t eos = tok ? hg_tokenizer_eos_id(tok) : -1, end = tok && chat ? hg_tokenizer_chat_end_id(tok) : -1;
    if (eos >= 0) out[n++] = eos;
    if (end >= 0 && end != eos) out[n++] = end; /* Qwen's EOS is <|im_end|> itself */
    return n;
}

hg_status hg_tokenizer_set_chat_format(hg_tokenizer *tok, const char *name, hg_error *err) {
    if (!tok) return hg_err(err, HG_STATUS_BAD_ARG, "hg_tokenizer_set_chat_format: bad argument");
    if (!name) {
        tok->chat_forced = NULL;
        return HG_OK;
    }
    const hg_chat_format *f = NULL;
    for (size_t i = 0; i < sizeof k_forcible / sizeof *k_forcible; i++)
        if (!strcmp(name, k_forcible[i]->name)) f = k_forcible[i];
    if (!f) return hg_err(err, HG_STATUS_BAD_ARG, "unknown chat template \"%s\" (built-in: " HG_CHAT_NAMES ")", name);
    /* the format's markers must be single tokens: spelled out in pieces the model would not see a turn,
     * and a reply could never stop on the end-of-turn token */
    for (size_t i = 0; i < 4 && f->tokens[i]; i++)
        if (hg_tokenizer_token_to_id(tok, f->tokens[i]) < 0)
            return hg_err(err, HG_STATUS_UNSUPPORTED, "chat template %s: the vocabulary has no %s token (not a %s model?)",
                          name, f->tokens[i], name);
    if (f->needs_bos && !tok->bos_token)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "chat template %s: tokenizer_config.json has no bos_token", name);
    tok->chat_forced = f;
    return HG_OK;
}

hg_status hg_chat_render(const hg_tokenizer *tok, const hg_chat_msg *msgs, size_t n_msgs, bool add_generation_prompt,
                         char **out, hg_error *err) {
    if (!tok || !out || (n_msgs && !msgs)) return hg_err(err, HG_STATUS_BAD_ARG, "hg_chat_render: bad argument");
    const hg_chat_format *f = active(tok);
    if (!f && !tok->chat_template)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "chat: the tokenizer has no chat_template (tokenizer_config.json missing "
                      "or without one); a built-in format can be forced (" HG_CHAT_NAMES ")");
    if (!f)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "chat: this chat_template is not supported (no general Jinja engine; "
                      "recognised: the Huginn-0125, Llama 3 and ChatML templates); a built-in format can be forced ("
                      HG_CHAT_NAMES ")");
    if (f->needs_bos && !tok->bos_token)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "chat: tokenizer_config.json has no bos_token");
    for (size_t i = 0; i < n_msgs; i++) {
        if (!msgs[i].role || !msgs[i].content)
            return hg_err(err, HG_STATUS_BAD_ARG, "chat: message %zu has a NULL role or content", i);
        size_t rl = strlen(msgs[i].role), cl = strlen(msgs[i].content);
        if (hg_utf8_valid_prefix((const uint8_t *)msgs[i].role, rl) != rl ||
            hg_utf8_valid_prefix((const uint8_t *)msgs[i].content, cl) != cl)
            return hg_err(err, HG_STATUS_BAD_INPUT, "chat: message %zu is not valid UTF-8", i);
    }
    hg_bytes o = {0};
    /* an empty rendering (ChatML, no messages, no prompt) is still a NUL-terminated string */
    bool ok = hg_bytes_reserve(&o, 256);
    if (ok) o.p[0] = 0;
    ok = ok && f->render(&o, f, tok->bos_token, msgs, n_msgs, add_generation_prompt);
    if (!ok) {
        hg_free(o.p);
        return hg_err(err, HG_STATUS_NOMEM, "chat: out of memory");
    }
    *out = o.p;
    return HG_OK;
}

hg_status hg_chat_encode(hg_tokenizer *tok, const hg_chat_msg *msgs, size_t n_msgs, bool add_generation_prompt,
                         int32_t **ids, int64_t *n_ids, hg_error *err) {
    char *text = NULL;
    hg_status st = hg_chat_render(tok, msgs, n_msgs, add_generation_prompt, &text, err);
    if (st) return st;
    st = hg_tokenizer_encode(tok, text, strlen(text), false, ids, n_ids, err);
    hg_free(text);
    return st;
}
