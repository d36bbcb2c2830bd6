/*
 * tokenizer.h — internal header of src/tokenizer/: the in-memory form of a Hugging Face
 * `tokenizer.json` (byte-level BPE family) and the functions the files of this module share.
 *
 * The pipeline mirrors Hugging Face tokenizers (the oracle, docs/tokenizer.md):
 *   text -> split on non-normalized added tokens -> normalize each other piece -> split on
 *   normalized added tokens -> pre-tokenizers (Split/Digits/... then ByteLevel) -> BPE per piece
 *   -> post-processor (template) ; decode: id -> bytes (ByteLevel alphabet) -> lossy UTF-8.
 * Files: tok_map.c (hash maps), tok_load.c (JSON -> this struct), pretok.c (normalizers and
 * pre-tokenizers), added_tokens.c (special-token matcher), bpe.c (the model and its cache),
 * encode.c (composition and post-processor), decode.c (one-shot and streaming), chat.c (chat formats:
 * recognition, forcing, rendering) with one renderer per format (chat_huginn.c, chat_llama3.c,
 * chat_chatml.c) and chat_trim.c (Jinja's `trim` filter).
 */
#ifndef HG_TOKENIZER_INTERNAL_H
#define HG_TOKENIZER_INTERNAL_H

#include "base/base.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- growable buffers ------------------------------------------------------------------------ */

typedef struct hg_bytes {
    char *p;
    size_t n, cap;
} hg_bytes;

typedef struct hg_i32vec {
    int32_t *p;
    size_t n, cap;
} hg_i32vec;

/* A piece of text: [off, off+len) into some byte buffer named by the user of the piece. */
typedef struct hg_span {
    size_t off, len;
} hg_span;

typedef struct hg_spanvec {
    hg_span *p;
    size_t n, cap;
} hg_spanvec;

bool hg_bytes_reserve(hg_bytes *b, size_t extra);
bool hg_bytes_append(hg_bytes *b, const void *s, size_t n);
bool hg_i32vec_push(hg_i32vec *v, int32_t x);
bool hg_i32vec_append(hg_i32vec *v, const int32_t *x, size_t n);
bool hg_spanvec_push(hg_spanvec *v, size_t off, size_t len);

/* ---- hash maps (tok_map.c) --------------------------------------------------------------------
 * strmap: byte string -> int32, open addressing, keys copied into the map's own arena.
 * pairmap: (id, id) -> (rank, new id) for BPE merges. */

typedef struct hg_strmap_slot {
    uint64_t hash;  /* 0 = empty */
    size_t off;     /* key bytes in arena */
    uint32_t len;
    int32_t val;
} hg_strmap_slot;

typedef struct hg_strmap {
    hg_strmap_slot *slots; /* [cap] */
    size_t cap, n;
    hg_bytes arena;
} hg_strmap;

uint64_t hg_hash_bytes(const void *s, size_t n);
bool hg_strmap_init(hg_strmap *m, size_t expected);
void hg_strmap_free(hg_strmap *m);
void hg_strmap_clear(hg_strmap *m);
/* Insert or overwrite; false on allocation failure. */
bool hg_strmap_put(hg_strmap *m, const void *key, size_t len, int32_t val);
/* Insert only when absent (keeps the first value); false on allocation failure. */
bool hg_strmap_put_new(hg_strmap *m, const void *key, size_t len, int32_t val);
/* The value, or -1 when absent. */
int32_t hg_strmap_get(const hg_strmap *m, const void *key, size_t len);
int32_t hg_strmap_get_h(const hg_strmap *m, const void *key, size_t len, uint64_t h);

typedef struct hg_pairmap_slot {
    uint64_t key; /* (a << 32 | b) + 1; 0 = empty */
    int32_t rank;
    int32_t new_id;
} hg_pairmap_slot;

typedef struct hg_pairmap {
    hg_pairmap_slot *slots; /* [cap] */
    size_t cap, n;
} hg_pairmap;

bool hg_pairmap_init(hg_pairmap *m, size_t expected);
void hg_pairmap_free(hg_pairmap *m);
bool hg_pairmap_put(hg_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t new_id);
/* The slot of (a, b), or NULL. */
const hg_pairmap_slot *hg_pairmap_get(const hg_pairmap *m, int32_t a, int32_t b);

/* ---- components --------------------------------------------------------------------------------- */

typedef enum hg_norm_kind { HG_NORM_NFC, HG_NORM_NFD, HG_NORM_NFKC, HG_NORM_NFKD } hg_norm_kind;

typedef enum hg_split_behavior {
    HG_SPLIT_REMOVED,
    HG_SPLIT_ISOLATED,
    HG_SPLIT_MERGED_WITH_PREVIOUS,
    HG_SPLIT_MERGED_WITH_NEXT,
    HG_SPLIT_CONTIGUOUS,
} hg_split_behavior;

typedef enum hg_pretok_kind {
    HG_PRETOK_SPLIT,       /* regex or literal, with behavior and invert */
    HG_PRETOK_DIGITS,      /* char class Nd/Nl/No, Isolated (individual) or Contiguous */
    HG_PRETOK_WS_SPLIT,    /* WhitespaceSplit: remove White_Space characters */
    HG_PRETOK_BYTE_LEVEL,  /* optional prefix space + optional GPT-2 regex; always the last step */
} hg_pretok_kind;

typedef struct hg_pretok {
    hg_pretok_kind kind;
    hg_split_behavior behavior;
    bool invert;
    bool add_prefix_space; /* ByteLevel */
    bool use_regex;        /* ByteLevel */
    bool individual;       /* Digits */
    pcre2_code *re;        /* Split, or ByteLevel with use_regex */
} hg_pretok;

typedef struct hg_added_token {
    char *content;
    size_t len;
    int32_t id;
    bool special, lstrip, rstrip, single_word, normalized;
} hg_added_token;

/* Leftmost-longest multi-pattern matcher over added tokens (a byte trie). */
typedef struct hg_trie_node {
    int32_t child;   /* first child node, -1 if none */
    int32_t sibling; /* next sibling, -1 if none */
    int32_t token;   /* index into tok->added ending here, -1 if none */
    uint8_t byte;
} hg_trie_node;

typedef struct hg_matcher {
    hg_trie_node *nodes; /* [n_nodes]; node 0 is the root */
    size_t n_nodes, cap;
    int first_byte;          /* the only first byte of all patterns, or -1 */
    bool any_first[256];     /* a pattern starts with this byte */
} hg_matcher;

typedef enum hg_decoder_kind { HG_DECODER_NONE, HG_DECODER_BYTE_LEVEL } hg_decoder_kind;

/* A candidate BPE merge: ordered by rank, then position (tokenizers' Merge ordering). */
typedef struct hg_merge_ent {
    uint32_t rank, pos;
    int32_t new_id;
} hg_merge_ent;

/* Scratch reused by every encode call (the reason encode is not thread-safe on one handle). */
typedef struct hg_tok_scratch {
    hg_bytes norm;          /* normalized segment */
    hg_bytes arena;         /* pre-token texts (the segment, plus copies with a prefix space) */
    hg_spanvec pieces, next, marks; /* pre-tokens of the current and next step; match list */
    uint8_t *marks_is_match; /* [marks.cap] */
    size_t marks_flag_cap;
    hg_spanvec segs;        /* added-token split of a text */
    hg_i32vec seg_tok;      /* token id per segment, -1 = text */
    hg_spanvec segs2;
    hg_i32vec seg_tok2;
    uint32_t *cps;          /* [n_cps] code points for normalization */
    size_t cps_cap;
    /* BPE work arrays, grown to the longest word seen */
    int32_t *sym_id, *sym_prev, *sym_next; /* [sym_cap] */
    uint32_t *sym_len;      /* [sym_cap] bytes of the symbol, 0 = merged away */
    struct hg_merge_ent *heap; /* [heap_cap] min-heap of candidate merges */
    size_t sym_cap, heap_cap;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
} hg_tok_scratch;

/* BPE word cache: piece bytes -> ids; cleared when full (it is only a cache). */
#define HG_BPE_CACHE_MAX_ENTRIES 65536
#define HG_BPE_CACHE_MAX_WORD 256

struct hg_tokenizer {
    /* model */
    int32_t n_vocab;            /* max id + 1 over model vocab and added tokens */
    char **id_str;              /* [n_vocab] vocab string as in the file (UTF-8), NULL = no token */
    hg_strmap str_to_id;        /* model vocab string -> id */
    hg_strmap added_to_id;      /* added token content -> id */
    hg_strmap piece_to_id;      /* BPE lookup key (raw bytes in byte-level mode) -> id */
    hg_pairmap merges;
    int32_t byte_id[256];       /* byte-level mode: id of each single byte, -1 if none */
    bool byte_level;            /* a ByteLevel pre-tokenizer maps text to its byte alphabet */
    bool ignore_merges, byte_fallback, fuse_unk;
    int32_t unk_id;             /* -1 = none */
    char *subword_prefix;       /* continuing_subword_prefix, NULL if none/empty */
    char *word_suffix;          /* end_of_word_suffix, NULL if none/empty */
    /* normalizer and pre-tokenizer, flattened Sequences */
    hg_norm_kind *norms;        /* [n_norms] */
    size_t n_norms;
    hg_pretok *pretoks;         /* [n_pretoks] */
    size_t n_pretoks;
    /* added tokens */
    hg_added_token *added;      /* [n_added] */
    size_t n_added;
    hg_matcher match_raw;       /* normalized = false: matched on the raw text */
    hg_matcher match_norm;      /* normalized = true: matched on normalized text */
    bool *is_special;           /* [n_vocab] special added token (skipped by skip_special) */
    /* post-processor: ids around the sequence when add_special */
    int32_t *pre_ids, *post_ids; /* [n_pre], [n_post] */
    size_t n_pre, n_post;
    /* decoder */
    hg_decoder_kind decoder;
    hg_bytes dec_arena;         /* decoded bytes of every id */
    size_t *dec_off;            /* [n_vocab + 1] */
    /* tokenizer_config.json */
    char *chat_template;        /* NULL if none */
    const struct hg_chat_format *chat_forced; /* hg_tokenizer_set_chat_format; NULL: chat_template decides */
    char *bos_token, *eos_token;
    int32_t bos_id, eos_id;
    bool no_add_bos;            /* add_bos_token is false: a prompt gets no bos_token in front */
    /* caches and scratch */
    hg_strmap cache;
    hg_i32vec cache_ids;
    hg_tok_scratch s;
};

/* ---- chat formats (chat.c) -------------------------------------------------------------------
 * A chat format is a native renderer plus the few facts about it that its template texts vary in.
 * Each recognised template text maps to one hg_chat_format; --chat-template NAME forces one by name. */

typedef struct hg_chat_format hg_chat_format;

/* Appends msgs [n] rendered in format f to o (bos: the tokenizer's bos_token, NULL when the format
 * needs none). Arguments are validated by the caller; false only when out of memory. */
typedef bool (*hg_chat_render_fn)(hg_bytes *o, const hg_chat_format *f, const char *bos, const hg_chat_msg *msgs,
                                  size_t n, bool add_generation_prompt);

struct hg_chat_format {
    const char *name;           /* "huginn", "llama3", "chatml": the names --chat-template takes */
    hg_chat_render_fn render;
    bool needs_bos;             /* the template writes bos_token before the first message */
    bool gen_prompt_always;     /* the assistant header comes whatever add_generation_prompt says */
    const char *default_system; /* rendered as a system message when messages[0] is not one; NULL: none */
    const char *end_token;      /* the token that ends a turn (a reply stops there) */
    const char *tokens[4];      /* the special tokens it writes (NULL-terminated): a forced format needs them */
};

bool hg_chat_render_huginn(hg_bytes *o, const hg_chat_format *f, const char *bos, const hg_chat_msg *msgs, size_t n,
                           bool add_generation_prompt);
bool hg_chat_render_llama3(hg_bytes *o, const hg_chat_format *f, const char *bos, const hg_chat_msg *msgs, size_t n,
                           bool add_generation_prompt);
bool hg_chat_render_chatml(hg_bytes *o, const hg_chat_format *f, const char *bos, const hg_chat_msg *msgs, size_t n,
                           bool add_generation_prompt);

/* Jinja's `trim` filter (chat_trim.c): [*b, *e) of s[0..n) without leading and trailing whitespace, as
 * Python's str.strip() (Jinja2, transformers) or JavaScript's String.prototype.trim() (@huggingface/jinja)
 * defines it; s is valid UTF-8. */
typedef enum hg_trim_rule { HG_TRIM_PYTHON, HG_TRIM_JS } hg_trim_rule;
void hg_chat_trim(const char *s, size_t n, hg_trim_rule rule, size_t *b, size_t *e);
/* Append NUL-terminated s. */
static inline bool hg_bytes_puts(hg_bytes *o, const char *s) { return hg_bytes_append(o, s, strlen(s)); }

/* ---- cross-file functions --------------------------------------------------------------------- */

/* The GPT-2 byte alphabet: byte -> code point (hg_byte_alphabet_inverse builds the inverse table). */
uint32_t hg_byte_to_cp(uint8_t b);
/* Decode one UTF-8 char at s[0..n); returns its length (1..4) or 0 if invalid. */
size_t hg_utf8_next(const uint8_t *s, size_t n, uint32_t *cp);
size_t hg_utf8_put(uint32_t cp, char *out);
/* Length of the longest valid UTF-8 prefix of s (== n when all of s is valid). */
size_t hg_utf8_valid_prefix(const uint8_t *s, size_t n);
/* Rust char::is_whitespace (White_Space) and Rust regex's Unicode \w (utf8.c says how close). */
bool hg_cp_is_whitespace(uint32_t cp);
bool hg_cp_is_word(uint32_t cp);
bool hg_cp_is_numeric(uint32_t cp);

/* unicode_delta.c (generated): per regex class, [lo, hi] pairs of code points to add to it */
typedef struct hg_unicode_delta {
    const char *name; /* "L", "Lu", ..., "w", "d", "s" */
    const uint32_t *ranges; /* [2 * n_ranges] */
    size_t n_ranges;
} hg_unicode_delta;
extern const hg_unicode_delta hg_unicode_deltas[]; /* terminated by name == NULL; read-only */

/* regex.c: compile a tokenizer regex (or literal) for PCRE2 with the Unicode delta applied */
hg_status hg_pretok_compile(const char *pattern, size_t len, bool literal, pcre2_code **out, hg_error *err);
hg_status hg_normalize(hg_tokenizer *tok, const char *s, size_t n, hg_bytes *out, hg_error *err);
/* Run every pre-tokenizer over s.arena[seg] and leave the final pieces in s.pieces (spans into
 * s.arena). The segment must already be in s.arena. */
hg_status hg_pretokenize(hg_tokenizer *tok, hg_span seg, hg_error *err);

/* added_tokens.c */
bool hg_matcher_init(hg_matcher *m);
/* Add pattern s[0..n) for added token index `token` (a duplicate pattern keeps the first token). */
bool hg_matcher_add(hg_matcher *m, const char *s, size_t n, int32_t token);
void hg_matcher_free(hg_matcher *m);
/* Split s[0..n) into segments (spans into s) with the token id of each (-1 = plain text),
 * following AddedVocabulary::find_matches (leftmost-longest, single_word, lstrip, rstrip). */
bool hg_added_split(const hg_tokenizer *tok, const hg_matcher *m, const char *s, size_t n,
                    hg_spanvec *segs, hg_i32vec *seg_tok);

/* bpe.c */
hg_status hg_bpe_encode_word(hg_tokenizer *tok, const char *w, size_t n, hg_i32vec *out, hg_error *err);

/* decode.c */
hg_status hg_decode_build(hg_tokenizer *tok, hg_error *err);

/* tok_load.c: tokenizer_config.json [len] (NULL: none) replaces tok's chat_template, bos_token,
 * eos_token, add_bos_token and the bos/eos ids resolved from them; tok is unchanged on failure
 * (invalid JSON, out of memory). hg_tokenizer_load_json uses it; fuzz_tokenizer_config applies each
 * input to one tokenizer loaded per process. */
hg_status hg_tok_set_config(hg_tokenizer *tok, const char *json, size_t len, hg_error *err);

/* tok_components.c: parse one JSON component into tok (Sequences are flattened). The cJSON
 * pointer is passed as const void * so that this header does not need cJSON. */
hg_status hg_tok_parse_normalizer(hg_tokenizer *tok, const void *json, hg_error *err);
hg_status hg_tok_parse_pretokenizer(hg_tokenizer *tok, const void *json, hg_error *err);
hg_status hg_tok_parse_post_processor(hg_tokenizer *tok, const void *json, hg_error *err);
hg_status hg_tok_parse_decoder(hg_tokenizer *tok, const void *json, hg_error *err);

/* The inverse byte alphabet: inv[cp] = byte for cp < HG_BYTE_ALPHABET_END, -1 elsewhere. */
#define HG_BYTE_ALPHABET_END 324
void hg_byte_alphabet_inverse(int16_t inv[HG_BYTE_ALPHABET_END]);

#endif /* HG_TOKENIZER_INTERNAL_H */
