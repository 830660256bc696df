/* Crash safety and concurrency of appends, with real processes:
 *
 *  - crash loop: acks=all appenders are SIGKILLed at random moments (50 times in make test,
 *    1,000 in make soak); after each kill the log is reopened and every acknowledged record
 *    must be present exactly once, in order, and no part of an unacknowledged batch may be
 *    readable unless the whole batch is;
 *  - several processes append to one partition at once: offsets are dense and unique, every
 *    append's returned base offset holds that append's first record.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eddy/log.h"
#include "test.h"

#define BATCH_RECORDS 5
#define WRITERS 2

typedef struct shared_progress {
    _Atomic int64_t acked[WRITERS]; /* records acknowledged so far, per writer */
} shared_progress;

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A writer process: appends batches of BATCH_RECORDS records "round:writer:n" with acks=all
 * and publishes how many were acknowledged. Runs until killed. */
static _Noreturn void writer_main(const char *dir, const char *topic, int round, int writer,
                                  shared_progress *progress)
{
    eddy_log *log;
    if (eddy_log_open(dir, 0, &log) != EDDY_OK)
        _exit(3);
    char values[BATCH_RECORDS][48];
    eddy_record recs[BATCH_RECORDS];
    for (int64_t n = 0;; n += BATCH_RECORDS) {
        for (int i = 0; i < BATCH_RECORDS; i++) {
            int len = snprintf(values[i], sizeof(values[i]), "%d:%d:%lld", round, writer,
                               (long long)(n + i));
            recs[i] = (eddy_record){.key = {"k", 1}, .value = {values[i], (size_t)len},
                                    .timestamp_ms = -1};
        }
        if (eddy_log_append(log, topic, 0, recs, BATCH_RECORDS, EDDY_ACKS_ALL, NULL, NULL) !=
            EDDY_OK)
            _exit(4);
        atomic_store(&progress->acked[writer], n + BATCH_RECORDS);
    }
}

/* Reads the whole topic and checks each writer's records of this round: a dense prefix
 * 0..count-1, a whole number of batches, at least everything acknowledged. */
static void check_round(const char *dir, const char *topic, int round,
                        const shared_progress *progress)
{
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, 0, &log));
    eddy_log_reader *r;
    EXPECT_OK(eddy_log_reader_new(log, topic, 0, EDDY_OFFSET_BEGINNING, &r));
    int64_t next[WRITERS] = {0};
    int64_t expected_offset = 0;
    eddy_record rec;
    eddy_err err;
    while ((err = eddy_log_reader_next(r, 0, &rec)) == EDDY_OK) {
        EXPECT_EQ(rec.offset, expected_offset);
        expected_offset++;
        int rec_round, writer;
        long long n;
        char text[64];
        snprintf(text, sizeof(text), "%.*s", (int)rec.value.len, (const char *)rec.value.data);
        EXPECT_EQ(sscanf(text, "%d:%d:%lld", &rec_round, &writer, &n), 3);
        if (rec_round != round)
            continue;
        EXPECT_TRUE(writer >= 0 && writer < WRITERS);
        EXPECT_EQ(n, next[writer]); /* exactly once, in order */
        next[writer]++;
    }
    EXPECT_ERR(err, EDDY_ERR_TIMED_OUT);
    for (int w = 0; w < WRITERS; w++) {
        EXPECT_GE(next[w], atomic_load(&progress->acked[w]));
        EXPECT_EQ(next[w] % BATCH_RECORDS, 0); /* never part of a batch */
    }
    int64_t problems = -1;
    EXPECT_OK(eddy_log_verify(log, topic, NULL, NULL, &problems));
    EXPECT_EQ(problems, 0);
    eddy_log_reader_destroy(r);
    eddy_log_close(log);
}

TEST(crash_loop_acks_all_never_loses_acknowledged_records)
{
    const char *dir = test_tmpdir();
    rng_state = test_seed() | 1;
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, EDDY_LOG_CREATE, &log));
    eddy_config *c = eddy_config_new();
    /* Small segments so kills also land in rolls. */
    EXPECT_OK(eddy_config_set(c, "segment.bytes", "65536"));
    EXPECT_OK(eddy_config_set(c, "retention.ms", "-1"));
    EXPECT_OK(eddy_log_topic_create(log, "crash", 1, c));
    eddy_config_destroy(c);
    eddy_log_close(log);
    shared_progress *progress = mmap(NULL, sizeof(*progress), PROT_READ | PROT_WRITE,
                                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    EXPECT_TRUE(progress != MAP_FAILED);
    int rounds = test_soak() ? 1000 : 50;
    int64_t total_acked = 0;
    for (int round = 0; round < rounds; round++) {
        pid_t pids[WRITERS];
        for (int w = 0; w < WRITERS; w++) {
            atomic_store(&progress->acked[w], 0);
            pids[w] = fork();
            EXPECT_TRUE(pids[w] >= 0);
            if (pids[w] == 0)
                writer_main(dir, "crash", round, w, progress);
        }
        /* Kill the writers at different random moments: the survivor meets a lock whose
         * holder died (EOWNERDEAD repair), and the next open recovers alone. */
        for (int w = 0; w < WRITERS; w++) {
            struct timespec pause = {0, (long)(rng() % 20000000)};
            nanosleep(&pause, NULL);
            kill(pids[w], SIGKILL);
        }
        for (int w = 0; w < WRITERS; w++) {
            int status;
            waitpid(pids[w], &status, 0);
            EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
            total_acked += atomic_load(&progress->acked[w]);
        }
        check_round(dir, "crash", round, progress);
    }
    printf("    %d rounds, %lld records acknowledged and found\n", rounds, (long long)total_acked);
    EXPECT_TRUE(total_acked > 0);
}

TEST(concurrent_appenders_get_dense_unique_offsets)
{
    const char *dir = test_tmpdir();
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, EDDY_LOG_CREATE, &log));
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, NULL));
    enum { PROCS = 4, APPENDS = 300 };
    int64_t *bases = mmap(NULL, sizeof(int64_t) * PROCS * APPENDS, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            eddy_log *child;
            if (eddy_log_open(dir, 0, &child) != EDDY_OK)
                _exit(3);
            for (int a = 0; a < APPENDS; a++) {
                char v[2][32];
                eddy_record recs[2];
                for (int i = 0; i < 2; i++) {
                    int len = snprintf(v[i], sizeof(v[i]), "%d:%d:%d", p, a, i);
                    recs[i] = (eddy_record){.value = {v[i], (size_t)len}, .timestamp_ms = -1};
                }
                eddy_acks acks = (a % 2) ? EDDY_ACKS_ALL : EDDY_ACKS_LEADER;
                if (eddy_log_append(child, "t", 0, recs, 2, acks, &bases[p * APPENDS + a],
                                    NULL) != EDDY_OK)
                    _exit(4);
            }
            eddy_log_close(child);
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    int64_t end;
    EXPECT_OK(eddy_log_partition_info(log, "t", 0, NULL, &end, NULL, NULL));
    EXPECT_EQ(end, PROCS * APPENDS * 2);
    /* Every returned base offset holds that append's first record, the next its second. */
    eddy_log_reader *r;
    EXPECT_OK(eddy_log_reader_new(log, "t", 0, 0, &r));
    for (int p = 0; p < PROCS; p++) {
        for (int a = 0; a < APPENDS; a++) {
            for (int i = 0; i < 2; i++) {
                char want[32];
                snprintf(want, sizeof(want), "%d:%d:%d", p, a, i);
                EXPECT_OK(eddy_log_reader_seek(r, bases[p * APPENDS + a] + i));
                eddy_record rec;
                EXPECT_OK(eddy_log_reader_next(r, 0, &rec));
                EXPECT_MEMEQ(rec.value.data, rec.value.len, want, strlen(want));
            }
        }
    }
    eddy_log_reader_destroy(r);
    eddy_log_close(log);
}
