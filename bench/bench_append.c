/* Append throughput of the embedded log against a naive append log, in the same run, on the
 * same disk.
 *
 *   bench_append --dir D --size 100 --acks 1 --procs 2 --partitions 1 [--threads 1]
 *                [--records N] [--seconds S] [--batch R] [--only eddy|baseline]
 *                [--eddy-first]
 *
 * Workers are forked processes (--procs), each with --threads threads. With --partitions 1
 * every process appends to partition 0; with --partitions equal to --procs, process i appends
 * to partition i (the naive log: one file per partition). Each eddy_log_append carries --batch
 * records (default: 64 KiB of values, 655 x 100 B or 64 x 1 KiB), the count the naive log
 * gathers into one write().
 *
 *   acks=1    the workers share --records records and the time is until the last one is
 *             written (page cache only on both sides);
 *   acks=all  every thread appends for --seconds; each append returns once an fdatasync covers
 *             it (eddy's group commit; the naive log's group commit in bench.c). The ack
 *             latency of every append (eddy: the eddy_log_append call; naive: from the chunk's
 *             first record to its fdatasync) gives p50 and p99.
 *
 * Each run measures the naive log first and eddy second (--eddy-first: the other way round;
 * scripts/bench.sh alternates, so that neither side always inherits a warmer page cache).
 *
 * Output, one line:
 *   append size=100 acks=1 procs=2 partitions=1 threads=1 batch=655 eddy_rps=... base_rps=...
 *          ratio=... [eddy_p50_us=... eddy_p99_us=... base_p50_us=... base_p99_us=...]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define PROCS_MAX 8
#define THREADS_MAX 16
#define LATENCY_SAMPLES_MAX (1 << 20)
#define TOPIC "bench"

typedef struct options {
    const char *dir;
    size_t size;
    int acks_all;
    int procs;
    int partitions;
    int threads;
    int64_t records;
    double seconds;
    size_t batch;
    const char *only;
} options;

typedef struct worker_result {
    int64_t start_ns;
    int64_t end_ns;
    int64_t records;
} worker_result;

typedef struct shared {
    bench_barrier barrier;
    bench_naive_sync sync[PROCS_MAX];
    worker_result results[PROCS_MAX * THREADS_MAX];
    _Atomic int64_t latency_count;
    int64_t latency_ns[LATENCY_SAMPLES_MAX];
} shared;

static options opt = {
    .size = 100,
    .procs = 1,
    .partitions = 1,
    .threads = 1,
    .records = 2000000,
    .seconds = 1.0,
};
static shared *sh;
static int use_eddy; /* which side the forked workers run */
static int eddy_first;
/* The parent keeps the log open through a run: its handle keeps every partition open, so the
 * workers' handles and the final check never run recovery (which would fdatasync the data). */
static eddy_log *parent_log;
static uint8_t *value_pool; /* 64 KiB of record values, shared read-only by all threads */

typedef struct thread_arg {
    int proc;
    int thread;
    eddy_log *log;
    pthread_t tid;
} thread_arg;

static int worker_partition(int proc)
{
    return opt.partitions == 1 ? 0 : proc;
}

static int64_t worker_quota(void)
{
    return opt.records / (opt.procs * opt.threads);
}

static const uint8_t *pool_value(size_t i)
{
    return value_pool + (i % bench_batch_records(opt.size)) * opt.size;
}

static void latency_add(int64_t ns)
{
    int64_t slot = atomic_fetch_add(&sh->latency_count, 1);
    if (slot < LATENCY_SAMPLES_MAX)
        sh->latency_ns[slot] = ns;
}

static void *eddy_thread(void *argp)
{
    thread_arg *a = argp;
    eddy_record *records = calloc(opt.batch, sizeof(*records));
    if (!records)
        bench_die("out of memory");
    for (size_t i = 0; i < opt.batch; i++) {
        records[i].value = (eddy_slice){pool_value(i), opt.size};
        records[i].timestamp_ms = -1;
    }
    eddy_acks acks = opt.acks_all ? EDDY_ACKS_ALL : EDDY_ACKS_LEADER;
    int partition = worker_partition(a->proc);
    int64_t quota = worker_quota(), done = 0;
    bench_barrier_arrive_and_wait(&sh->barrier);
    int64_t start = bench_now_ns();
    int64_t deadline = start + (int64_t)(opt.seconds * 1e9);
    for (;;) {
        size_t n = opt.batch;
        if (!opt.acks_all) {
            if (done >= quota)
                break;
            if ((int64_t)n > quota - done)
                n = (size_t)(quota - done);
        }
        int64_t t0 = bench_now_ns();
        if (opt.acks_all && t0 >= deadline)
            break;
        bench_check(eddy_log_append(a->log, TOPIC, partition, records, n, acks, NULL, NULL),
                    "eddy_log_append");
        if (opt.acks_all)
            latency_add(bench_now_ns() - t0);
        done += (int64_t)n;
    }
    worker_result *r = &sh->results[a->proc * THREADS_MAX + a->thread];
    r->start_ns = start;
    r->end_ns = bench_now_ns();
    r->records = done;
    free(records);
    return NULL;
}

static void *naive_thread(void *argp)
{
    thread_arg *a = argp;
    char path[4096];
    int partition = worker_partition(a->proc);
    snprintf(path, sizeof(path), "%s/naive-%d.log", opt.dir, partition);
    bench_naive_writer w;
    bench_naive_open(&w, path, opt.size, opt.acks_all ? &sh->sync[partition] : NULL);
    int64_t quota = worker_quota(), done = 0;
    bench_barrier_arrive_and_wait(&sh->barrier);
    int64_t start = bench_now_ns();
    int64_t deadline = start + (int64_t)(opt.seconds * 1e9);
    if (!opt.acks_all) {
        for (int64_t i = 0; i < quota; i++)
            bench_naive_append(&w, pool_value((size_t)i));
        bench_naive_flush(&w);
        done = quota;
    } else {
        int64_t chunk_start = bench_now_ns();
        while (chunk_start < deadline) {
            done++;
            if (bench_naive_append(&w, pool_value((size_t)done))) {
                int64_t now = bench_now_ns();
                latency_add(now - chunk_start);
                chunk_start = now;
            }
        }
        done -= (int64_t)(w.fill / w.record_bytes); /* the partial chunk is not acknowledged */
        w.fill = 0;
    }
    worker_result *r = &sh->results[a->proc * THREADS_MAX + a->thread];
    r->start_ns = start;
    r->end_ns = bench_now_ns();
    r->records = done;
    bench_naive_close(&w);
    return NULL;
}

static int worker_process(void *unused, int proc)
{
    (void)unused;
    eddy_log *log = NULL;
    if (use_eddy) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/eddy", opt.dir);
        bench_check(eddy_log_open(dir, 0, &log), "eddy_log_open");
        /* Opens the partition handle now, outside the timed region. */
        bench_check(
            eddy_log_partition_info(log, TOPIC, worker_partition(proc), NULL, NULL, NULL, NULL),
            "eddy_log_partition_info");
    }
    thread_arg args[THREADS_MAX];
    for (int t = 0; t < opt.threads; t++) {
        args[t] = (thread_arg){.proc = proc, .thread = t, .log = log};
        if (pthread_create(&args[t].tid, NULL, use_eddy ? eddy_thread : naive_thread, &args[t]))
            bench_die("pthread_create failed");
    }
    for (int t = 0; t < opt.threads; t++)
        pthread_join(args[t].tid, NULL);
    eddy_log_close(log);
    return 0;
}

typedef struct side_result {
    double rps;
    int64_t records;
    int64_t p50_ns, p99_ns;
    int64_t syncs;
} side_result;

static void prepare(void)
{
    memset(sh, 0, sizeof(*sh));
    for (int p = 0; p < PROCS_MAX; p++)
        bench_naive_sync_init(&sh->sync[p]);
    char path[4096];
    if (use_eddy) {
        snprintf(path, sizeof(path), "%s/eddy", opt.dir);
        bench_remove_tree(path);
        eddy_log *log;
        bench_check(eddy_log_open(path, EDDY_LOG_CREATE, &log), "eddy_log_open");
        bench_check(eddy_log_topic_create(log, TOPIC, opt.partitions, NULL),
                    "eddy_log_topic_create");
        for (int p = 0; p < opt.partitions; p++)
            bench_check(eddy_log_partition_info(log, TOPIC, p, NULL, NULL, NULL, NULL),
                        "eddy_log_partition_info");
        parent_log = log;
    }
    for (int p = 0; p < opt.partitions; p++) {
        snprintf(path, sizeof(path), "%s/naive-%d.log", opt.dir, p);
        unlink(path);
    }
}

/* Checks that eddy holds exactly the records the workers counted. */
static void eddy_verify(int64_t records)
{
    int64_t total = 0;
    for (int p = 0; p < opt.partitions; p++) {
        int64_t end;
        bench_check(eddy_log_partition_info(parent_log, TOPIC, p, NULL, &end, NULL, NULL),
                    "eddy_log_partition_info");
        total += end;
    }
    if (total != records)
        bench_die("eddy holds %" PRId64 " records, the workers appended %" PRId64, total, records);
}

static void cleanup(void)
{
    char path[4096];
    eddy_log_close(parent_log);
    parent_log = NULL;
    snprintf(path, sizeof(path), "%s/eddy", opt.dir);
    bench_remove_tree(path);
    for (int p = 0; p < opt.partitions; p++) {
        snprintf(path, sizeof(path), "%s/naive-%d.log", opt.dir, p);
        unlink(path);
    }
}

static side_result run_side(int eddy)
{
    use_eddy = eddy;
    prepare();
    pid_t pids[PROCS_MAX];
    for (int p = 0; p < opt.procs; p++)
        pids[p] = bench_fork(worker_process, NULL, p);
    bench_barrier_release(&sh->barrier, opt.procs * opt.threads);
    for (int p = 0; p < opt.procs; p++)
        bench_wait(pids[p], eddy ? "eddy worker" : "naive worker");
    int64_t start = INT64_MAX, end = 0, records = 0;
    for (int p = 0; p < opt.procs; p++) {
        for (int t = 0; t < opt.threads; t++) {
            worker_result *r = &sh->results[p * THREADS_MAX + t];
            start = r->start_ns < start ? r->start_ns : start;
            end = r->end_ns > end ? r->end_ns : end;
            records += r->records;
        }
    }
    side_result out = {.records = records};
    out.rps = (double)records * 1e9 / (double)(end - start);
    size_t n = (size_t)atomic_load(&sh->latency_count);
    if (n > LATENCY_SAMPLES_MAX)
        n = LATENCY_SAMPLES_MAX;
    if (n > 0) {
        out.p50_ns = bench_percentile(sh->latency_ns, n, 0.50);
        out.p99_ns = bench_percentile_sorted(sh->latency_ns, n, 0.99);
    }
    for (int p = 0; p < opt.partitions; p++)
        out.syncs += atomic_load(&sh->sync[p].syncs);
    if (eddy)
        eddy_verify(records);
    cleanup();
    return out;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_append --dir D [--size B] [--acks 1|all] [--procs P]\n"
                    "       [--partitions 1|P] [--threads T] [--records N] [--seconds S]\n"
                    "       [--batch R] [--only eddy|baseline] [--eddy-first]\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    static const struct option longs[] = {
        {"dir", 1, 0, 'd'},     {"size", 1, 0, 's'},       {"acks", 1, 0, 'a'},
        {"procs", 1, 0, 'p'},   {"partitions", 1, 0, 'P'}, {"threads", 1, 0, 't'},
        {"records", 1, 0, 'n'}, {"seconds", 1, 0, 'S'},    {"batch", 1, 0, 'b'},
        {"only", 1, 0, 'o'},    {"eddy-first", 0, 0, 'e'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            opt.dir = optarg;
            break;
        case 's':
            opt.size = (size_t)atol(optarg);
            break;
        case 'a':
            opt.acks_all = strcmp(optarg, "all") == 0 || strcmp(optarg, "-1") == 0;
            break;
        case 'p':
            opt.procs = atoi(optarg);
            break;
        case 'P':
            opt.partitions = atoi(optarg);
            break;
        case 't':
            opt.threads = atoi(optarg);
            break;
        case 'n':
            opt.records = atoll(optarg);
            break;
        case 'S':
            opt.seconds = atof(optarg);
            break;
        case 'b':
            opt.batch = (size_t)atol(optarg);
            break;
        case 'o':
            opt.only = optarg;
            break;
        case 'e':
            eddy_first = 1;
            break;
        default:
            usage();
        }
    }
    if (!opt.dir || opt.size < 16 || opt.size > BENCH_CHUNK_BYTES || opt.procs < 1 ||
        opt.procs > PROCS_MAX || opt.threads < 1 || opt.threads > THREADS_MAX ||
        (opt.partitions != 1 && opt.partitions != opt.procs) || opt.records < 1 || opt.seconds <= 0)
        usage();
    if (opt.batch == 0)
        opt.batch = bench_batch_records(opt.size);
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    if (mkdir(opt.dir, 0755) != 0 && errno != EEXIST)
        bench_die("cannot create %s: %s", opt.dir, strerror(errno));
    sh = bench_shared_alloc(sizeof(*sh));
    value_pool = malloc(BENCH_CHUNK_BYTES);
    if (!value_pool)
        bench_die("out of memory");
    bench_fill_pattern(value_pool, BENCH_CHUNK_BYTES, 1);

    int run_base = !opt.only || strcmp(opt.only, "baseline") == 0;
    int run_eddy = !opt.only || strcmp(opt.only, "eddy") == 0;
    side_result base = {0}, eddy = {0};
    if (run_eddy && eddy_first)
        eddy = run_side(1);
    if (run_base)
        base = run_side(0);
    if (run_eddy && !eddy_first)
        eddy = run_side(1);

    printf("append size=%zu acks=%s procs=%d partitions=%d threads=%d batch=%zu "
           "eddy_rps=%.0f base_rps=%.0f ratio=%.3f",
           opt.size, opt.acks_all ? "all" : "1", opt.procs, opt.partitions, opt.threads, opt.batch,
           eddy.rps, base.rps, base.rps > 0 ? eddy.rps / base.rps : 0.0);
    if (opt.acks_all)
        printf(" eddy_p50_us=%.1f eddy_p99_us=%.1f base_p50_us=%.1f base_p99_us=%.1f "
               "base_records_per_sync=%.0f",
               (double)eddy.p50_ns / 1e3, (double)eddy.p99_ns / 1e3, (double)base.p50_ns / 1e3,
               (double)base.p99_ns / 1e3,
               base.syncs ? (double)base.records / (double)base.syncs : 0.0);
    printf("\n");
    return 0;
}
