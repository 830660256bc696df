/* Helpers shared by the benchmark programs (bench.h). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

void bench_check(eddy_err err, const char *what)
{
    if (err != EDDY_OK)
        bench_die("%s: %s (%s)", what, eddy_err_name(err), eddy_last_error());
}

void *bench_shared_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        bench_die("cannot map %zu shared bytes: %s", bytes, strerror(errno));
    return p;
}

static void sleep_us(long us)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000};
    nanosleep(&ts, NULL);
}

void bench_barrier_arrive_and_wait(bench_barrier *b)
{
    atomic_fetch_add(&b->arrived, 1);
    /* Spinning would steal the CPU from workers still setting up; a 20 µs nap costs nothing
     * against runs of a second. */
    while (!atomic_load(&b->released))
        sleep_us(20);
}

void bench_barrier_release(bench_barrier *b, int count)
{
    while (atomic_load(&b->arrived) < count)
        sleep_us(100);
    atomic_store(&b->released, 1);
}

pid_t bench_fork(int (*fn)(void *arg, int index), void *arg, int index)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0)
        _exit(fn(arg, index));
    return pid;
}

void bench_wait(pid_t pid, const char *what)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            bench_die("waitpid: %s", strerror(errno));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        bench_die("%s (pid %d) failed (status %d)", what, (int)pid, status);
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t bench_percentile_sorted(const int64_t *sorted, size_t count, double q)
{
    if (count == 0)
        return 0;
    size_t rank = (size_t)(q * (double)count + 0.999999); /* nearest rank, 1-based */
    if (rank < 1)
        rank = 1;
    if (rank > count)
        rank = count;
    return sorted[rank - 1];
}

int64_t bench_percentile(int64_t *samples, size_t count, double q)
{
    qsort(samples, count, sizeof(*samples), compare_i64);
    return bench_percentile_sorted(samples, count, q);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void bench_remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* psadbw against zero adds 16 bytes per instruction: the byte sum runs near memory speed, so
 * the consumer's own work does not hide the cost of reading (a scalar loop at ~1.5 GB/s
 * would dominate both sides and push every ratio towards 1). */
uint64_t bench_sum_bytes(const uint8_t *data, size_t len)
{
    uint64_t sum = 0;
    size_t i = 0;
#if defined(__SSE2__)
    __m128i zero = _mm_setzero_si128(), acc = _mm_setzero_si128();
    for (; i + 16 <= len; i += 16)
        acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_loadu_si128((const __m128i *)(data + i)), zero));
    sum = (uint64_t)_mm_cvtsi128_si64(acc) +
          (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
#endif
    for (; i < len; i++)
        sum += data[i];
    return sum;
}

void bench_fill_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)('a' + x % 26);
    }
}

size_t bench_batch_records(size_t record_bytes)
{
    size_t n = BENCH_CHUNK_BYTES / record_bytes;
    return n ? n : 1;
}

/* ---- The naive append log ----------------------------------------------------------------- */

void bench_naive_sync_init(bench_naive_sync *s)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&s->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    atomic_store(&s->writes_done, 0);
    atomic_store(&s->durable, 0);
    atomic_store(&s->syncs, 0);
}

void bench_naive_open(bench_naive_writer *w, const char *path, size_t record_bytes,
                      bench_naive_sync *sync)
{
    memset(w, 0, sizeof(*w));
    w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (w->fd < 0)
        bench_die("cannot open %s: %s", path, strerror(errno));
    w->chunk = malloc(BENCH_CHUNK_BYTES);
    if (!w->chunk)
        bench_die("out of memory");
    w->record_bytes = record_bytes;
    w->chunk_records = bench_batch_records(record_bytes);
    w->sync = sync;
}

/* The group commit described in bench.h: the same algorithm as eddy's sync_to(). */
static void naive_sync(bench_naive_writer *w, int64_t ticket)
{
    bench_naive_sync *s = w->sync;
    if (atomic_load(&s->durable) >= ticket)
        return;
    pthread_mutex_lock(&s->lock);
    if (atomic_load(&s->durable) < ticket) {
        int64_t target = atomic_load(&s->writes_done);
        if (fdatasync(w->fd) != 0)
            bench_die("fdatasync: %s", strerror(errno));
        atomic_fetch_add(&s->syncs, 1);
        if (atomic_load(&s->durable) < target)
            atomic_store(&s->durable, target);
    }
    pthread_mutex_unlock(&s->lock);
}

static void naive_write_chunk(bench_naive_writer *w)
{
    size_t done = 0;
    while (done < w->fill) {
        ssize_t n = write(w->fd, w->chunk + done, w->fill - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            bench_die("write: %s", strerror(errno));
        done += (size_t)n;
    }
    w->fill = 0;
    if (w->sync)
        naive_sync(w, atomic_fetch_add(&w->sync->writes_done, 1) + 1);
}

int bench_naive_append(bench_naive_writer *w, const uint8_t *record)
{
    memcpy(w->chunk + w->fill, record, w->record_bytes);
    w->fill += w->record_bytes;
    if (w->fill + w->record_bytes <= BENCH_CHUNK_BYTES)
        return 0;
    naive_write_chunk(w);
    return 1;
}

void bench_naive_flush(bench_naive_writer *w)
{
    if (w->fill > 0)
        naive_write_chunk(w);
}

void bench_naive_close(bench_naive_writer *w)
{
    bench_naive_flush(w);
    close(w->fd);
    free(w->chunk);
    w->chunk = NULL;
    w->fd = -1;
}
