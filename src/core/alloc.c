/* The allocation wrapper: every byte eddy allocates passes through here, so that tests can
 * count live bytes (a leak shows as a non-zero balance) and make the Nth allocation fail, once
 * or from then on, to drive every out-of-memory path (SQLite's fault-injection style).
 *
 * Live bytes are counted with malloc_usable_size() rather than a size header in front of each
 * block: the pointers stay ordinary malloc pointers, which libraries and ASan understand, and
 * the count balances exactly because allocation and release measure the same block. The price
 * is that the count includes allocator rounding, and that a pointer freed here must have been
 * allocated here.
 *
 * Every function treats a size of 0 as 1, so that NULL always and only means "out of memory".
 * Counters are atomics with relaxed ordering: they are statistics and a fault trigger, not
 * synchronisation, and cost one uncontended load when injection is off. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* malloc_usable_size */
#endif

#include "core/alloc.h"
#include "eddy/common.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/logging.h"

static _Atomic int64_t alloc_live_bytes;

/* Fault injection: the allocation numbered alloc_fail_at (counting from 1 since the last
 * eddy__alloc_fail_after) fails, and with alloc_fail_persistent every later one too. */
static _Atomic uint64_t alloc_fail_at;
static _Atomic int alloc_fail_persistent;
static _Atomic uint64_t alloc_calls_since_armed;
static _Atomic uint64_t alloc_failures_injected;

static int alloc_should_fail(void)
{
    uint64_t fail_at = atomic_load_explicit(&alloc_fail_at, memory_order_relaxed);
    if (fail_at == 0)
        return 0;
    uint64_t call =
        atomic_fetch_add_explicit(&alloc_calls_since_armed, 1, memory_order_relaxed) + 1;
    if (call < fail_at)
        return 0;
    if (call > fail_at && !atomic_load_explicit(&alloc_fail_persistent, memory_order_relaxed))
        return 0;
    atomic_fetch_add_explicit(&alloc_failures_injected, 1, memory_order_relaxed);
    return 1;
}

static void alloc_count(int64_t delta)
{
    atomic_fetch_add_explicit(&alloc_live_bytes, delta, memory_order_relaxed);
}

void *eddy__malloc(size_t size)
{
    if (alloc_should_fail())
        return NULL;
    void *ptr = malloc(size ? size : 1);
    if (ptr)
        alloc_count((int64_t)malloc_usable_size(ptr));
    return ptr;
}

void *eddy__calloc(size_t count, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    void *ptr = (count && size) ? calloc(count, size) : calloc(1, 1);
    if (ptr)
        alloc_count((int64_t)malloc_usable_size(ptr));
    return ptr;
}

/* On failure the original block is untouched and still owned by the caller, as with realloc. */
void *eddy__realloc(void *ptr, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    size_t old_size = ptr ? malloc_usable_size(ptr) : 0;
    void *resized = realloc(ptr, size ? size : 1);
    if (resized)
        alloc_count((int64_t)malloc_usable_size(resized) - (int64_t)old_size);
    return resized;
}

char *eddy__strdup(const char *s)
{
    EDDY_ASSERT(s != NULL);
    return eddy__strndup(s, strlen(s));
}

char *eddy__strndup(const char *s, size_t n)
{
    EDDY_ASSERT(s != NULL);
    size_t len = strnlen(s, n);
    char *copy = eddy__malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void eddy__free(void *ptr)
{
    if (!ptr)
        return;
    alloc_count(-(int64_t)malloc_usable_size(ptr));
    free(ptr);
}

int64_t eddy__alloc_live_bytes(void)
{
    return atomic_load_explicit(&alloc_live_bytes, memory_order_relaxed);
}

void eddy__alloc_fail_after(uint64_t n, int persistent)
{
    /* Disarm first so that a concurrent allocation never sees the new trigger with the old
     * count; tests arm injection from one thread, between operations. */
    atomic_store_explicit(&alloc_fail_at, 0, memory_order_relaxed);
    atomic_store_explicit(&alloc_calls_since_armed, 0, memory_order_relaxed);
    atomic_store_explicit(&alloc_failures_injected, 0, memory_order_relaxed);
    atomic_store_explicit(&alloc_fail_persistent, persistent ? 1 : 0, memory_order_relaxed);
    atomic_store_explicit(&alloc_fail_at, n, memory_order_release);
}

uint64_t eddy__alloc_failures_injected(void)
{
    return atomic_load_explicit(&alloc_failures_injected, memory_order_relaxed);
}

void eddy_free(void *ptr)
{
    eddy__free(ptr);
}
