/* Time: wall-clock milliseconds for record timestamps (as Kafka's), monotonic nanoseconds for
 * timeouts and intervals, which must not jump when the wall clock is set. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime, nanosleep */
#endif

#include "core/clock.h"

#include <errno.h>
#include <time.h>

#include "core/logging.h"

int64_t eddy__now_ms(void)
{
    struct timespec now;
    int rc = clock_gettime(CLOCK_REALTIME, &now);
    EDDY_ASSERT(rc == 0);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int64_t eddy__monotonic_ns(void)
{
    struct timespec now;
    int rc = clock_gettime(CLOCK_MONOTONIC, &now);
    EDDY_ASSERT(rc == 0);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

int64_t eddy__monotonic_coarse_ns(void)
{
    struct timespec now;
    int rc = clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    EDDY_ASSERT(rc == 0);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

void eddy__sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec remaining = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    /* A signal interrupts nanosleep and leaves the rest in `remaining`; sleep that too, so a
     * caller's pacing does not depend on signals it never asked for. */
    while (nanosleep(&remaining, &remaining) != 0 && errno == EINTR) {
    }
}
