/* What eddy's benchmark programs share: clocks, failure reporting, a process-shared start
 * barrier, shared memory for results, percentiles, removing a data directory, and the naive
 * append log the benchmarks compare eddy against.
 *
 * Every benchmark prints one machine-readable line per figure, "<name> key=value ...", which
 * scripts/bench.sh collects over several runs to print medians (docs/BENCHMARKS.md). */
#ifndef EDDY_BENCH_H
#define EDDY_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eddy/log.h"

/* Monotonic nanoseconds (CLOCK_MONOTONIC, the clock the latency benchmark embeds). */
int64_t bench_now_ns(void);

/* Prints "bench: <message>" to stderr and exits with status 1. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Exits through bench_die when err is not EDDY_OK, naming what failed and eddy's message. */
void bench_check(eddy_err err, const char *what);

/* A zeroed mapping shared with children forked after this call (never freed: the benchmarks
 * are short programs). */
void *bench_shared_alloc(size_t bytes);

/* A start line for workers in several processes and threads: each worker calls
 * bench_barrier_arrive once ready and then waits for bench_barrier_release, so that setup
 * (opening the log, creating threads) is outside the timed region. */
typedef struct bench_barrier {
    _Atomic int arrived;
    _Atomic int released;
} bench_barrier;
void bench_barrier_arrive_and_wait(bench_barrier *b);
/* Waits until `count` workers have arrived, then releases them all. */
void bench_barrier_release(bench_barrier *b, int count);

/* Forks a child that runs fn(arg, index) and exits with its return value. */
pid_t bench_fork(int (*fn)(void *arg, int index), void *arg, int index);
/* Waits for a child; bench_die when it failed. */
void bench_wait(pid_t pid, const char *what);

/* Sorts the samples in place and returns the value at quantile q (0..1, nearest rank). */
int64_t bench_percentile(int64_t *samples, size_t count, double q);
/* For arrays already sorted. */
int64_t bench_percentile_sorted(const int64_t *sorted, size_t count, double q);

/* Removes a directory tree (or a file); a missing path is not an error. */
void bench_remove_tree(const char *path);

/* Sums bytes: the work a benchmark's consumer does with every record it reads, the same for
 * eddy and for the baselines. Not inlined, so both sides call the very same code. */
uint64_t bench_sum_bytes(const uint8_t *data, size_t len) __attribute__((noinline));

/* Fills buf with a deterministic pattern (record values: not all zero, not compressible to
 * nothing; eddy does not compress anyway). */
void bench_fill_pattern(uint8_t *buf, size_t len, uint64_t seed);

/* ---- The naive append log ---------------------------------------------------------------
 * The baseline: equally sized records gathered by memcpy into a chunk of at most 64 KiB, one
 * write() per full chunk to a file opened O_APPEND (so several processes can share it and each
 * chunk lands whole), no framing, no index, no checksum. With durability it uses the same
 * group commit contract as eddy's acks=all: a writer is acknowledged once an fdatasync that
 * started after its write() returned has completed, and concurrent writers (threads or
 * processes) share one fdatasync: the first one to take the sync lock syncs for everyone
 * whose write completed before its sync began; the others find themselves covered. */
typedef struct bench_naive_sync {
    pthread_mutex_t lock;        /* process-shared: serialises fdatasync */
    _Atomic int64_t writes_done; /* chunks written so far (ticket of the latest) */
    _Atomic int64_t durable;     /* every chunk ticket <= durable is covered by an fdatasync */
    _Atomic int64_t syncs;       /* fdatasync calls made (to report how many were shared) */
} bench_naive_sync;

/* Initialises a sync state that lives in bench_shared_alloc memory. */
void bench_naive_sync_init(bench_naive_sync *s);

typedef struct bench_naive_writer {
    int fd;
    uint8_t *chunk;
    size_t fill;
    size_t record_bytes;
    size_t chunk_records;   /* records per chunk: 64 KiB / record size */
    bench_naive_sync *sync; /* NULL: no durability (the acks=1 peer) */
} bench_naive_writer;

#define BENCH_CHUNK_BYTES 65536

void bench_naive_open(bench_naive_writer *w, const char *path, size_t record_bytes,
                      bench_naive_sync *sync);
/* Adds one record; writes the chunk when it is full (and, with a sync state, waits for an
 * fdatasync to cover it). Returns 1 when this call wrote a chunk, else 0. */
int bench_naive_append(bench_naive_writer *w, const uint8_t *record);
/* Writes any partial chunk (durably with a sync state). */
void bench_naive_flush(bench_naive_writer *w);
void bench_naive_close(bench_naive_writer *w);

/* Records per eddy append for a record size: as many as fill 64 KiB of values, the same count
 * the naive log gathers into one chunk (655 at 100 B, 64 at 1 KiB). */
size_t bench_batch_records(size_t record_bytes);

#endif
