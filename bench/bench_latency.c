/* Cross-process append-to-consume latency of the embedded log, and the platform's floor for it.
 *
 *   bench_latency --dir D [--rate 100000] [--seconds 2] [--size 100] [--max-batch 10]
 *                 [--pace sleep|spin] [--pin] [--only eddy|baseline]
 *
 * eddy: a producer process appends --size byte records at a paced --rate with acks=1; a
 * consumer process waits at the end of the partition in eddy_log_reader_next(timeout) and,
 * for every record, takes now - send time (CLOCK_MONOTONIC, both processes on one machine).
 *
 * Baseline, the floor under any cross-process log on this machine: the same two processes and
 * the same pacing, but the producer only stores the send times in shared memory and bumps a
 * shared counter with a futex wake-up when the consumer waits (eddy's own notification scheme,
 * notify.c, without the log: no write, no batch, no mmap read). Whatever latency this shows is
 * the scheduler's and the hypervisor's, not eddy's.
 *
 * Pacing: record i is due at t0 + i / rate. The producer sleeps until the next record is due
 * (clock_nanosleep to the due time, timer slack 1 ns; --pace spin busy-waits instead, which
 * burns a CPU that the consumer may need on a small machine); whenever records are due it
 * sends all of them that are (at most --max-batch) in one eddy_log_append, so an append
 * carries 1 to 10 records: how many depends on how late the sleep ends. Two times travel with
 * each record (in the first 16 bytes of eddy's values):
 *   due time   when the record was scheduled: the latency from it includes any time the
 *              producer was late, so a stall in eddy_log_append is charged to every record
 *              that waited behind it (no coordinated omission). This is the headline figure.
 *   call time  when eddy_log_append was called for it: append + wake-up + read only.
 * The producer also times every eddy_log_append call (append_*: the producer's share of the
 * latency; the rest is the consumer's wake-up and read). --pin puts the consumer on CPU 0 and
 * the producer on CPU 1. The first 0.1 s of records is a warm-up and is left out.
 *
 * Output, one line:
 *   latency rate=100000 size=100 pace=sleep pinned=0 records=N max_batch=10 achieved_rps=...
 *           avg_batch=... p50_us=... p99_us=... p999_us=... max_us=...
 *           call_p50_us=... (call_p99_us, call_p999_us, call_max_us)
 *           append_p50_us=... (append_p99_us, append_p999_us, append_max_us)
 *           base_p50_us=... base_p99_us=... base_p999_us=... base_max_us=...
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define TOPIC "latency"
#define MAX_BATCH_LIMIT 1000
#define READ_TIMEOUT_MS 100

static const char *dir;
static char log_dir[4096];
static int64_t rate = 100000;
static double seconds = 2.0;
static size_t size = 100;
static size_t max_batch = 10;
static int pace_spin; /* --pace spin: busy-wait for every record instead of sleeping */
static int pin;       /* --pin: consumer on CPU 0, producer on CPU 1 */
static int use_eddy;  /* which side the forked processes run */

typedef struct shared {
    bench_barrier barrier;
    _Atomic int producer_done;
    int64_t appends;
    int64_t first_send_ns, last_send_ns;
    /* The futex ping: records published so far, and whether the consumer waits. */
    _Atomic uint32_t published;
    _Atomic uint32_t waiters;
} shared;

static shared *sh;
static int64_t total;            /* records the producer sends */
static int64_t *due_latency_ns;  /* shared: one per record */
static int64_t *call_latency_ns; /* shared: one per record */
static int64_t *append_ns;       /* shared: how long each send (eddy_log_append) took */
static int64_t *ping_due_ns;     /* shared: the futex ping's send times, one per record */
static int64_t *ping_call_ns;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void pin_to_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pin && sched_setaffinity(0, sizeof(set), &set) != 0)
        bench_die("cannot pin to CPU %d: %s", cpu, strerror(errno));
}

static long futex(_Atomic uint32_t *word, int op, uint32_t value, const struct timespec *timeout)
{
    return syscall(SYS_futex, (uint32_t *)word, op, value, timeout, NULL, 0);
}

/* ---- Sending ------------------------------------------------------------------------------ */

typedef struct sender {
    eddy_log *log;
    uint8_t *values;
    eddy_record *recs;
} sender;

static void sender_open(sender *s)
{
    memset(s, 0, sizeof(*s));
    if (!use_eddy)
        return;
    bench_check(eddy_log_open(log_dir, 0, &s->log), "eddy_log_open");
    bench_check(eddy_log_partition_info(s->log, TOPIC, 0, NULL, NULL, NULL, NULL),
                "eddy_log_partition_info");
    s->values = calloc(max_batch, size);
    s->recs = calloc(max_batch, sizeof(*s->recs));
    if (!s->values || !s->recs)
        bench_die("out of memory");
    bench_fill_pattern(s->values, max_batch * size, 3);
    for (size_t i = 0; i < max_batch; i++) {
        s->recs[i].value = (eddy_slice){s->values + i * size, size};
        s->recs[i].timestamp_ms = -1;
    }
}

/* Sends records first .. first + n - 1, due at due[0 .. n-1], at time now. */
static void sender_send(sender *s, int64_t first, size_t n, const int64_t *due, int64_t now)
{
    if (use_eddy) {
        for (size_t i = 0; i < n; i++) {
            memcpy(s->values + i * size, &due[i], 8);
            memcpy(s->values + i * size + 8, &now, 8);
        }
        bench_check(eddy_log_append(s->log, TOPIC, 0, s->recs, n, EDDY_ACKS_LEADER, NULL, NULL),
                    "eddy_log_append");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ping_due_ns[first + (int64_t)i] = due[i];
        ping_call_ns[first + (int64_t)i] = now;
    }
    /* As eddy__log_notify_bump: publish (seq_cst), then wake only when someone waits. */
    atomic_fetch_add(&sh->published, (uint32_t)n);
    if (atomic_load(&sh->waiters) > 0)
        futex(&sh->published, FUTEX_WAKE, INT_MAX, NULL);
}

static void sender_close(sender *s)
{
    eddy_log_close(s->log);
    free(s->values);
    free(s->recs);
}

static void wait_until(int64_t due)
{
    int64_t now = bench_now_ns();
    if (!pace_spin && now < due) {
        struct timespec ts = {.tv_sec = (time_t)(due / 1000000000),
                              .tv_nsec = (long)(due % 1000000000)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    while (bench_now_ns() < due)
        cpu_relax();
}

static int producer(void *unused, int index)
{
    (void)unused;
    (void)index;
    pin_to_cpu(1);
    sender s;
    sender_open(&s);
    int64_t due[MAX_BATCH_LIMIT];
    /* Sleeps end as close to the due time as the kernel can manage (default slack: 50 µs). */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    bench_barrier_arrive_and_wait(&sh->barrier);
    double period_ns = 1e9 / (double)rate;
    int64_t t0 = bench_now_ns() + 1000000;
    int64_t appends = 0, sent = 0;
    sh->first_send_ns = t0;
    while (sent < total) {
        wait_until(t0 + (int64_t)((double)sent * period_ns));
        int64_t now = bench_now_ns();
        int64_t due_count = (int64_t)((double)(now - t0) / period_ns) + 1 - sent;
        size_t n = due_count > (int64_t)max_batch ? max_batch : (size_t)due_count;
        if ((int64_t)n > total - sent)
            n = (size_t)(total - sent);
        for (size_t i = 0; i < n; i++)
            due[i] = t0 + (int64_t)((double)(sent + (int64_t)i) * period_ns);
        sender_send(&s, sent, n, due, now);
        append_ns[appends++] = bench_now_ns() - now;
        sent += (int64_t)n;
    }
    sh->last_send_ns = bench_now_ns();
    sh->appends = appends;
    atomic_store(&sh->producer_done, 1);
    sender_close(&s);
    return 0;
}

/* ---- Receiving ---------------------------------------------------------------------------- */

static void eddy_receive(void)
{
    eddy_log *log;
    eddy_log_reader *r;
    bench_check(eddy_log_open(log_dir, 0, &log), "eddy_log_open");
    bench_check(eddy_log_reader_new(log, TOPIC, 0, EDDY_OFFSET_BEGINNING, &r),
                "eddy_log_reader_new");
    bench_barrier_arrive_and_wait(&sh->barrier);
    int64_t received = 0;
    while (received < total) {
        eddy_record rec;
        eddy_err err = eddy_log_reader_next(r, READ_TIMEOUT_MS, &rec);
        int64_t now = bench_now_ns();
        if (err == EDDY_ERR_TIMED_OUT) {
            if (atomic_load(&sh->producer_done) &&
                eddy_log_reader_next(r, 0, &rec) == EDDY_ERR_TIMED_OUT)
                bench_die("consumer: %" PRId64 " of %" PRId64 " records arrived", received, total);
            continue;
        }
        bench_check(err, "eddy_log_reader_next");
        if (rec.offset != received || rec.value.len != size)
            bench_die("consumer: record at offset %" PRId64 " (expected %" PRId64 ")", rec.offset,
                      received);
        int64_t due_ns, call_ns;
        memcpy(&due_ns, rec.value.data, 8);
        memcpy(&call_ns, (const uint8_t *)rec.value.data + 8, 8);
        due_latency_ns[received] = now - due_ns;
        call_latency_ns[received] = now - call_ns;
        received++;
    }
    eddy_log_reader_destroy(r);
    eddy_log_close(log);
}

/* As eddy_log_reader_next's wait (notify.c): count as a waiter, re-check, sleep on the futex. */
static void ping_receive(void)
{
    bench_barrier_arrive_and_wait(&sh->barrier);
    int64_t received = 0;
    struct timespec timeout = {.tv_sec = 0, .tv_nsec = READ_TIMEOUT_MS * 1000000L};
    while (received < total) {
        uint32_t published = atomic_load(&sh->published);
        if (received < (int64_t)published) {
            for (; received < (int64_t)published; received++) {
                int64_t now = bench_now_ns();
                due_latency_ns[received] = now - ping_due_ns[received];
                call_latency_ns[received] = now - ping_call_ns[received];
            }
            continue;
        }
        atomic_fetch_add(&sh->waiters, 1);
        if (atomic_load(&sh->published) == published)
            futex(&sh->published, FUTEX_WAIT, published, &timeout);
        atomic_fetch_sub(&sh->waiters, 1);
    }
}

static int consumer(void *unused, int index)
{
    (void)unused;
    (void)index;
    pin_to_cpu(0);
    if (use_eddy)
        eddy_receive();
    else
        ping_receive();
    return 0;
}

/* ---- Running ------------------------------------------------------------------------------ */

/* The first 0.1 s of records, left out of the figures (all of them count when there are
 * fewer). */
static int64_t warmup_records(void)
{
    int64_t warmup = rate / 10;
    return warmup >= total ? 0 : warmup;
}

typedef struct figures {
    int64_t p50, p99, p999, max;
} figures;

static figures percentiles(int64_t *samples, size_t n)
{
    figures f = {0};
    if (n == 0)
        return f;
    f.p50 = bench_percentile(samples, n, 0.5); /* sorts */
    f.p99 = bench_percentile_sorted(samples, n, 0.99);
    f.p999 = bench_percentile_sorted(samples, n, 0.999);
    f.max = samples[n - 1];
    return f;
}

static void print_figures(const char *prefix, figures f)
{
    printf(" %sp50_us=%.1f %sp99_us=%.1f %sp999_us=%.1f %smax_us=%.1f", prefix, (double)f.p50 / 1e3,
           prefix, (double)f.p99 / 1e3, prefix, (double)f.p999 / 1e3, prefix, (double)f.max / 1e3);
}

typedef struct side_result {
    figures due, call, append;
    double achieved_rps;
    double avg_batch;
} side_result;

static side_result run_side(int eddy)
{
    use_eddy = eddy;
    memset(sh, 0, sizeof(*sh));
    if (eddy) {
        bench_remove_tree(log_dir);
        eddy_log *log;
        bench_check(eddy_log_open(log_dir, EDDY_LOG_CREATE, &log), "eddy_log_open");
        bench_check(eddy_log_topic_create(log, TOPIC, 1, NULL), "eddy_log_topic_create");
        eddy_log_close(log);
    }
    pid_t consumer_pid = bench_fork(consumer, NULL, 0);
    pid_t producer_pid = bench_fork(producer, NULL, 1);
    bench_barrier_release(&sh->barrier, 2);
    bench_wait(producer_pid, "producer");
    bench_wait(consumer_pid, "consumer");
    if (eddy)
        bench_remove_tree(log_dir);

    int64_t warmup = warmup_records();
    size_t n = (size_t)(total - warmup);
    side_result out;
    out.achieved_rps = (double)total * 1e9 / (double)(sh->last_send_ns - sh->first_send_ns);
    out.avg_batch = (double)total / (double)sh->appends;
    out.due = percentiles(due_latency_ns + warmup, n);
    out.call = percentiles(call_latency_ns + warmup, n);
    out.append = percentiles(append_ns, (size_t)sh->appends);
    return out;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"dir", 1, 0, 'd'},  {"rate", 1, 0, 'r'},      {"seconds", 1, 0, 'S'},
        {"size", 1, 0, 's'}, {"max-batch", 1, 0, 'b'}, {"pace", 1, 0, 'p'},
        {"pin", 0, 0, 'P'},  {"only", 1, 0, 'o'},      {0, 0, 0, 0}};
    const char *only = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'r':
            rate = atoll(optarg);
            break;
        case 'S':
            seconds = atof(optarg);
            break;
        case 's':
            size = (size_t)atol(optarg);
            break;
        case 'b':
            max_batch = (size_t)atol(optarg);
            break;
        case 'p':
            pace_spin = strcmp(optarg, "spin") == 0;
            break;
        case 'P':
            pin = 1;
            break;
        case 'o':
            only = optarg;
            break;
        default:
            dir = NULL;
            optind = argc;
            break;
        }
    }
    if (!dir || rate < 1 || seconds <= 0 || size < 16 || max_batch < 1 ||
        max_batch > MAX_BATCH_LIMIT) {
        fprintf(stderr, "usage: bench_latency --dir D [--rate R] [--seconds S] [--size B] "
                        "[--max-batch N] [--pace sleep|spin] [--pin] [--only eddy|baseline]\n");
        return 2;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        bench_die("cannot create %s: %s", dir, strerror(errno));
    snprintf(log_dir, sizeof(log_dir), "%s/eddy-latency", dir);

    total = (int64_t)((double)rate * seconds);
    if (total < 1 || total > UINT32_MAX)
        bench_die("--rate x --seconds must be 1 .. %u records", UINT32_MAX);
    size_t bytes = (size_t)total * sizeof(int64_t);
    sh = bench_shared_alloc(sizeof(*sh));
    due_latency_ns = bench_shared_alloc(bytes);
    call_latency_ns = bench_shared_alloc(bytes);
    append_ns = bench_shared_alloc(bytes);
    ping_due_ns = bench_shared_alloc(bytes);
    ping_call_ns = bench_shared_alloc(bytes);

    side_result eddy = {0}, base = {0};
    if (!only || strcmp(only, "eddy") == 0)
        eddy = run_side(1);
    if (!only || strcmp(only, "baseline") == 0)
        base = run_side(0);

    printf("latency rate=%" PRId64 " size=%zu pace=%s pinned=%d records=%" PRId64
           " max_batch=%zu achieved_rps=%.0f avg_batch=%.2f",
           rate, size, pace_spin ? "spin" : "sleep", pin, total - warmup_records(), max_batch,
           eddy.achieved_rps, eddy.avg_batch);
    print_figures("", eddy.due);
    print_figures("call_", eddy.call);
    print_figures("append_", eddy.append);
    print_figures("base_", base.due);
    printf("\n");
    return 0;
}
