/* Cross-process wake-ups (notify.h): a counter in a shared page and a futex on it.
 *
 * DATA/.eddy/notify is one page; its first 8 bytes are two native-endian u32:
 *   seq      incremented by every append after its records are visible
 *   waiters  how many processes are (about to be) waiting; appenders skip the futex wake-up
 *            syscall when it is zero, so an append costs no syscall when nobody waits.
 * A futex on a shared file mapping works across processes (FUTEX_WAIT without the private
 * flag keys on the page, not the address).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "log/log_internal.h"
#include "log/notify.h"

static long futex(_Atomic uint32_t *word, int op, uint32_t value, const struct timespec *timeout)
{
    return syscall(SYS_futex, (uint32_t *)word, op, value, timeout, NULL, 0);
}

uint32_t eddy__log_notify_seq(eddy_log *log)
{
    return atomic_load_explicit(&log->notify->seq, memory_order_acquire);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Before sleeping, watch the counter for a short while: a stream of appends keeps a reader
 * busy without a sleep and a futex wake-up per batch, whose scheduling delay (hundreds of
 * microseconds to milliseconds on a loaded VM) would dominate append-to-read latency.
 * Bounded, so an idle reader costs at most this much CPU per wait. */
#define NOTIFY_SPIN_NS 50000

static int notify_spin(eddy__notify_page *page, uint32_t seen, int timeout_ms)
{
    int64_t spin_ns = NOTIFY_SPIN_NS;
    if (timeout_ms >= 0 && (int64_t)timeout_ms * 1000000 < spin_ns)
        spin_ns = (int64_t)timeout_ms * 1000000;
    int64_t deadline_ns = eddy__monotonic_ns() + spin_ns;
    for (int i = 0;; i++) {
        if (atomic_load_explicit(&page->seq, memory_order_acquire) != seen)
            return 1;
        if ((i & 63) == 63 && eddy__monotonic_ns() > deadline_ns)
            return 0;
        cpu_relax();
    }
}

int eddy__log_notify_wait(eddy_log *log, uint32_t seen, int timeout_ms)
{
    eddy__notify_page *page = log->notify;
    if (notify_spin(page, seen, timeout_ms))
        return 1;
    int64_t deadline_ns = timeout_ms < 0 ? 0 : eddy__monotonic_ns() + (int64_t)timeout_ms * 1000000;
    atomic_fetch_add(&page->waiters, 1);
    int moved = 0;
    for (;;) {
        if (atomic_load_explicit(&page->seq, memory_order_acquire) != seen) {
            moved = 1;
            break;
        }
        struct timespec ts, *timeout = NULL;
        if (timeout_ms >= 0) {
            int64_t left = deadline_ns - eddy__monotonic_ns();
            if (left <= 0)
                break;
            ts.tv_sec = (time_t)(left / 1000000000);
            ts.tv_nsec = (long)(left % 1000000000);
            timeout = &ts;
        }
        if (futex(&page->seq, FUTEX_WAIT, seen, timeout) != 0 && errno == ETIMEDOUT)
            break;
    }
    atomic_fetch_sub(&page->waiters, 1);
    return moved || atomic_load(&page->seq) != seen;
}

void eddy__log_notify_bump(eddy_log *log)
{
    eddy__notify_page *page = log->notify;
    atomic_fetch_add(&page->seq, 1); /* seq_cst: pairs with the waiter's increment of waiters */
    if (atomic_load(&page->waiters) > 0)
        futex(&page->seq, FUTEX_WAKE, INT_MAX, NULL);
}
