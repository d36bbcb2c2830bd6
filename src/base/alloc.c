/*
 * alloc.c — the one allocator (docs/conventions.md rule 11). Every allocation of the library goes through here
 * so that sizes are overflow-checked in one place and a test build can make the N-th call fail
 * (Lua's allocfailnext, SQLite's OOM tests) to prove every error path frees what it took.
 * The fault counter is the one piece of process state outside handles; it exists only with
 * HG_TESTING and is atomic so threaded tests stay well-defined.
 */
#include "base/base.h"

#include <stdlib.h>
#include <sys/mman.h>

#ifdef HG_TESTING
#include <stdatomic.h>
static _Atomic int64_t g_fail_after = -1;
void hg_alloc_fail_after(int64_t n) { atomic_store(&g_fail_after, n); }
static bool should_fail(void) {
    int64_t v = atomic_load(&g_fail_after);
    while (v >= 0) {
        if (atomic_compare_exchange_weak(&g_fail_after, &v, v - 1)) return v == 0;
    }
    return false;
}
#else
void hg_alloc_fail_after(int64_t n) { (void)n; }
static bool should_fail(void) { return false; }
#endif

void *hg_malloc(size_t n) {
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *hg_malloc_huge(size_t n) {
    if (should_fail()) return NULL;
    const size_t a = HG_HUGE_PAGE, r = n + (a - n % a) % a; /* aligned_alloc wants a multiple */
    if (r < n) return NULL;
    void *p = aligned_alloc(a, r ? r : a);
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, r ? r : a, MADV_HUGEPAGE); /* advice: failure changes nothing */
#endif
    return p;
}

void *hg_calloc(size_t count, size_t size) {
    size_t n;
    if (!hg_mul_ok(count, size, &n)) return NULL;
    if (should_fail()) return NULL;
    return calloc(n ? count : 1, n ? size : 1);
}

void *hg_realloc(void *p, size_t n) {
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void hg_free(void *p) { free(p); }

char *hg_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = hg_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
