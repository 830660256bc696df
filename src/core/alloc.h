/* The one allocation wrapper. Every allocation in eddy goes through these functions, which
 * count live bytes and let tests make the Nth allocation fail (once, or from then on). */
#ifndef EDDY_CORE_ALLOC_H
#define EDDY_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *eddy__malloc(size_t size);
void *eddy__calloc(size_t count, size_t size);
void *eddy__realloc(void *ptr, size_t size);
char *eddy__strdup(const char *s);
char *eddy__strndup(const char *s, size_t n);
void eddy__free(void *ptr);

/* Live bytes allocated through the wrapper (approximate under concurrency). */
int64_t eddy__alloc_live_bytes(void);

/* Fault injection for tests: the nth allocation from now (1 = the next) fails; when persistent,
 * every allocation after it fails too. n = 0 turns injection off. */
void eddy__alloc_fail_after(uint64_t n, int persistent);

/* Allocations failed by injection since the last eddy__alloc_fail_after. A fault test raises n
 * until a run completes with none injected: then every allocation point has been failed. */
uint64_t eddy__alloc_failures_injected(void);

#endif
