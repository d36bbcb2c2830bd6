/*
 * chat.c — the Huginn-0125 chat format, rendered natively.
 *
 * We do not implement Jinja. The one template we support is recognised by exact text (plus surrounding
 * whitespace) and rendered by the C below, which follows it statement by statement; the goldens in
 * tests/data/tokenizers/chat/ hold Python Jinja2's output for 17 conversations. What the template does:
 *   for each message i: "<|begin_header|>" (preceded by bos_token when i == 0), then
 *     "Huginn" for roles "Huginn" and "assistant", the role verbatim otherwise, then
 *     "<|end_header|>\n\n", then content | trim, then "<|end_turn|>";
 *   finally "<|begin_header|>Huginn<|end_header|>\n\n" with add_generation_prompt, else "<|end_text|>".
 * An empty conversation has no bos_token (the loop never runs). Jinja2's `trim` is Python's
 * str.strip(): it strips the characters for which str.isspace() is true, which differ from Rust's
 * and JavaScript's whitespace sets (U+001C..U+001F yes, U+FEFF and U+200B no).
 */
#include "tokenizer/tokenizer.h"

/* tokenizer_config.json "chat_template" of huginn-0125 (tests/data/tokenizers/chat/). */
static const char k_huginn_template[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set start_content = '<|begin_header|>' %}"
    "{% set end_content = message['content'] | trim  + '<|end_turn|>' %}{% if loop.index0 == 0 %}"
    "{% set start_content = bos_token + start_content %}{% endif %}"
    "{% if message['role'] == 'Huginn' or message['role'] == 'assistant' %}"
    "{% set start_content = start_content + 'Huginn<|end_header|>\n\n' %}{{ start_content }}{% generation %}"
    "{{ end_content }}{% endgeneration %}{% else %}"
    "{% set start_content = start_content + message['role'] + '<|end_header|>\n\n' %}{{ start_content }}"
    "{{ end_content }}{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|begin_header|>Huginn<|end_header|>\n\n' }}{% else %}{{ '<|end_text|>' }}{% endif %}";

static bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool hg_chat_template_supported(const char *t) {
    if (!t) return false;
    size_t n = strlen(t), k = sizeof k_huginn_template - 1;
    while (n && ascii_space(t[n - 1])) n--;
    while (n && ascii_space(*t)) t++, n--;
    return n == k && !memcmp(t, k_huginn_template, k);
}

bool hg_tokenizer_has_chat(const hg_tokenizer *tok) {
    return tok && tok->bos_token && hg_chat_template_supported(tok->chat_template);
}

/* Python str.isspace() for one code point. */
static bool py_isspace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Python str.strip(): [*b, *e) of s[0..n) without leading and trailing isspace() characters. */
static void py_strip(const char *s, size_t n, size_t *b, size_t *e) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t w = hg_utf8_next(u + i, n - i, &cp);
        if (!w || !py_isspace(cp)) break;
        i += w;
    }
    size_t j = n;
    while (j > i) {
        size_t st = j - 1;
        while (st > i && (u[st] & 0xc0) == 0x80) st--;
        uint32_t cp;
        size_t w = hg_utf8_next(u + st, j - st, &cp);
        if (!w || !py_isspace(cp)) break;
        j = st;
    }
    *b = i;
    *e = j;
}

static bool put(hg_bytes *o, const char *s) { return hg_bytes_append(o, s, strlen(s)); }

hg_status hg_chat_render(const hg_tokenizer *tok, const hg_chat_msg *msgs, size_t n_msgs, bool add_generation_prompt,
                         char **out, hg_error *err) {
    if (!tok || !out || (n_msgs && !msgs)) return hg_err(err, HG_STATUS_BAD_ARG, "hg_chat_render: bad argument");
    if (!tok->chat_template)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "chat: the tokenizer has no chat_template (tokenizer_config.json missing "
                      "or without one)");
    if (!hg_chat_template_supported(tok->chat_template))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "chat: this chat_template is not supported; only the Huginn-0125 "
                      "template is rendered (no general Jinja engine)");
    if (!tok->bos_token) return hg_err(err, HG_STATUS_UNSUPPORTED, "chat: tokenizer_config.json has no bos_token");
    for (size_t i = 0; i < n_msgs; i++) {
        if (!msgs[i].role || !msgs[i].content)
            return hg_err(err, HG_STATUS_BAD_ARG, "chat: message %zu has a NULL role or content", i);
        size_t rl = strlen(msgs[i].role), cl = strlen(msgs[i].content);
        if (hg_utf8_valid_prefix((const uint8_t *)msgs[i].role, rl) != rl ||
            hg_utf8_valid_prefix((const uint8_t *)msgs[i].content, cl) != cl)
            return hg_err(err, HG_STATUS_BAD_INPUT, "chat: message %zu is not valid UTF-8", i);
    }
    hg_bytes o = {0};
    bool ok = hg_bytes_reserve(&o, 256);
    for (size_t i = 0; ok && i < n_msgs; i++) {
        const char *role = msgs[i].role, *c = msgs[i].content;
        if (i == 0) ok = put(&o, tok->bos_token);
        ok = ok && put(&o, "<|begin_header|>");
        bool huginn = !strcmp(role, "Huginn") || !strcmp(role, "assistant");
        ok = ok && put(&o, huginn ? "Huginn" : role) && put(&o, "<|end_header|>\n\n");
        size_t b, e;
        py_strip(c, strlen(c), &b, &e);
        ok = ok && hg_bytes_append(&o, c + b, e - b) && put(&o, "<|end_turn|>");
    }
    ok = ok && put(&o, add_generation_prompt ? "<|begin_header|>Huginn<|end_header|>\n\n" : "<|end_text|>");
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
