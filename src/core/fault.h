/* I/O fault injection for tests (SQLite-style): make the nth write or fsync of the log fail
 * with a chosen errno, once or from then on. Costs one relaxed atomic load when off. */
#ifndef EDDY_CORE_FAULT_H
#define EDDY_CORE_FAULT_H

#include <stdint.h>

typedef enum eddy__fault_kind {
    EDDY_FAULT_WRITE = 0, /* segment writes: the failing call writes half, then fails */
    EDDY_FAULT_FSYNC = 1, /* fdatasync of segments and of group offset files */
    EDDY_FAULT_KINDS
} eddy__fault_kind;

/* The nth call of `kind` from now (1 = the next) fails with errnum; when persistent, every
 * later call too. nth = 0 turns injection of that kind off. */
void eddy__fault_set(eddy__fault_kind kind, uint64_t nth, int errnum, int persistent);

/* Returns the errno to inject for this call, or 0 to proceed. */
int eddy__fault_check(eddy__fault_kind kind);

#endif
