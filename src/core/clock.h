/* Time: wall-clock milliseconds for record timestamps, monotonic nanoseconds for intervals. */
#ifndef EDDY_CORE_CLOCK_H
#define EDDY_CORE_CLOCK_H

#include <stdint.h>

int64_t eddy__now_ms(void);        /* CLOCK_REALTIME, milliseconds since the Unix epoch */
int64_t eddy__monotonic_ns(void);  /* CLOCK_MONOTONIC, nanoseconds */
/* CLOCK_MONOTONIC_COARSE, nanoseconds: a few ms of resolution for a fraction of the cost, for
 * checks made on every record (linger, group probes) where ms do not matter. */
int64_t eddy__monotonic_coarse_ns(void);
void eddy__sleep_ms(int64_t ms);   /* sleeps, resuming after signals */

#endif
