/* Cross-process wake-ups for readers waiting at the end of partitions.
 *
 * Every data directory has one shared counter (in the mapped file DATA/.eddy/notify). Every
 * append increments it after its records become visible and, only when some process is waiting,
 * wakes the waiters with a futex on the shared mapping. A reader or consumer that found nothing
 * to read takes the counter's value *before* its last look at the partitions, then waits for the
 * counter to move past it: an append in between is never missed. */
#ifndef EDDY_LOG_NOTIFY_H
#define EDDY_LOG_NOTIFY_H

#include <stdint.h>

#include "eddy/log.h"

/* The counter's current value (acquire load). */
uint32_t eddy__log_notify_seq(eddy_log *log);

/* Waits until the counter differs from `seen`, at most timeout_ms (-1: forever). Returns 1 when
 * it moved, 0 on timeout. Spurious wake-ups are possible: callers re-check their partitions. */
int eddy__log_notify_wait(eddy_log *log, uint32_t seen, int timeout_ms);

/* Called by appenders after publishing: increments the counter and wakes waiters if any. */
void eddy__log_notify_bump(eddy_log *log);

#endif
