/* Standby replicas (num.standby.replicas) across real processes on the embedded log: three
 * instances of a count with RocksDB stores, each in its own process and state directory; once
 * everything is processed and the standbys caught up, one instance is SIGKILLed and its tasks
 * move to the survivors. With standbys (num.standby.replicas=2: every survivor holds one of
 * every task it does not run) the survivors restore only the changelog's tail; without them
 * (the control) the whole changelog of each moved task. Either way no input record is lost: every
 * key's last count is at least its number of input records (at-least-once). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "eddy/app.h"
#include "test.h"
#include "test_log.inc"

#define SB_INSTANCES 3
#define SB_PARTITIONS 3
#define SB_KEYS 30
#define SB_FIRST 1500 /* records before the kill */
#define SB_SECOND 300 /* after it */
#define SB_DEADLINE_MS 60000

typedef struct sb_shared {
    _Atomic int stop;
    _Atomic int running[SB_INSTANCES];
    _Atomic uint64_t restored[SB_INSTANCES];
    _Atomic int failed[SB_INSTANCES];
} sb_shared;

static sb_shared *sh;

static eddy_builder *sb_builder(void)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *in = eddy_stream_from(b, "clicks", eddy_serde_string(), eddy_serde_string());
    eddy_table_to(eddy_count(eddy_group_by_key(in), "clicks-per-user"), "click-counts");
    return b;
}

/* An instance's process: runs until told to stop (or killed), reporting its restorations. */
static void sb_instance(test_log *log, const char *dir, int index, const char *standbys)
{
    char path[1200], server[32];
    eddy_config *c = eddy_config_new();
    test_log_configure(log, c);
    snprintf(path, sizeof path, "%s/state-%d", dir, index);
    snprintf(server, sizeof server, "127.0.0.1:%d", 7100 + index);
    eddy_config_set(c, "state.dir", path);
    eddy_config_set(c, "application.id", "standby");
    eddy_config_set(c, "application.server", server);
    eddy_config_set(c, "num.standby.replicas", standbys);
    eddy_config_set(c, "commit.interval.ms", "100");
    eddy_config_set(c, "statestore.cache.max.bytes", "0");
    eddy_builder *b = sb_builder();
    eddy_app *app = NULL;
    if (eddy_app_new(b, c, &app) != EDDY_OK || eddy_app_start(app) != EDDY_OK) {
        fprintf(stderr, "instance %d: %s\n", index, eddy_last_error());
        sh->failed[index] = 1;
        _exit(1);
    }
    while (!atomic_load(&sh->stop)) {
        uint64_t restored = 0;
        eddy_app_restoration(app, &restored, NULL);
        sh->restored[index] = restored;
        eddy_app_state state = eddy_app_state_get(app);
        sh->running[index] = state == EDDY_APP_RUNNING;
        if (state == EDDY_APP_ERROR) {
            fprintf(stderr, "instance %d: %s\n", index, eddy_app_error(app));
            sh->failed[index] = 1;
            _exit(1);
        }
        eddy__sleep_ms(20);
    }
    int rc = eddy_app_close(app) == EDDY_OK ? 0 : 1;
    eddy_app_destroy(app);
    eddy_builder_destroy(b);
    eddy_config_destroy(c);
    test_log_close(log);
    _exit(rc);
}

static void sb_produce(test_log *log, int from, int count, int64_t *truth)
{
    for (int i = from; i < from + count; i++) {
        char key[16];
        snprintf(key, sizeof key, "user-%02d", i % SB_KEYS);
        truth[i % SB_KEYS]++;
        eddy_record r = {.key = {key, strlen(key)}, .value = {"x", 1}, .timestamp_ms = -1};
        test_log_append(log, "clicks", -1, &r);
    }
}

/* Waits until the group committed every input partition to its end, with every live instance
 * running. */
static void sb_wait_processed(test_log *log, const bool *alive)
{
    int64_t deadline = eddy__now_ms() + SB_DEADLINE_MS;
    for (;;) {
        bool done = true;
        for (int p = 0; p < SB_PARTITIONS && done; p++)
            done =
                test_log_committed(log, "standby", "clicks", p) == test_log_end(log, "clicks", p);
        for (int i = 0; i < SB_INSTANCES && done; i++)
            done = !alive[i] || sh->running[i];
        for (int i = 0; i < SB_INSTANCES; i++)
            EXPECT_EQ(sh->failed[i], 0);
        if (done)
            return;
        EXPECT_TRUE(eddy__now_ms() < deadline);
        eddy__sleep_ms(50);
    }
}

typedef struct sb_counts {
    int64_t last[SB_KEYS];
} sb_counts;

static void sb_count_one(void *opaque, const eddy_record *r)
{
    sb_counts *c = opaque;
    int k = 0;
    int64_t v = 0;
    if (r->key.len == 7 && sscanf((const char *)r->key.data + 5, "%2d", &k) == 1 && k >= 0 &&
        k < SB_KEYS && eddy_int64_decode(r->value, &v) == EDDY_OK)
        c->last[k] = v;
}

/* Runs the scenario; returns how many changelog records the survivors restored because of the
 * kill. */
static uint64_t sb_run(const char *standbys)
{
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    EXPECT_TRUE(sh != MAP_FAILED);
    memset(sh, 0, sizeof *sh);
    test_log log;
    test_log_open(&log, test_tmpdir(), false);
    test_log_create(&log, "clicks", SB_PARTITIONS);
    test_log_create(&log, "click-counts", SB_PARTITIONS);
    int64_t truth[SB_KEYS] = {0};
    sb_produce(&log, 0, SB_FIRST, truth);
    pid_t pids[SB_INSTANCES];
    bool alive[SB_INSTANCES];
    for (int i = 0; i < SB_INSTANCES; i++) {
        pids[i] = fork();
        EXPECT_TRUE(pids[i] >= 0);
        if (pids[i] == 0)
            sb_instance(&log, test_tmpdir(), i, standbys);
        alive[i] = true;
    }
    sb_wait_processed(&log, alive);
    eddy__sleep_ms(1500); /* the standbys apply and checkpoint the changelogs' last records */
    uint64_t before = 0;
    for (int i = 1; i < SB_INSTANCES; i++)
        before += sh->restored[i];

    kill(pids[0], SIGKILL);
    EXPECT_EQ(waitpid(pids[0], NULL, 0), pids[0]);
    alive[0] = false;
    sb_produce(&log, SB_FIRST, SB_SECOND, truth);
    sb_wait_processed(&log, alive);
    uint64_t after = 0;
    for (int i = 1; i < SB_INSTANCES; i++)
        after += sh->restored[i];

    sh->stop = 1;
    for (int i = 1; i < SB_INSTANCES; i++) {
        int status = 0;
        EXPECT_EQ(waitpid(pids[i], &status, 0), pids[i]);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    sb_counts counts = {{0}};
    for (int p = 0; p < SB_PARTITIONS; p++)
        test_log_read_all(&log, "click-counts", p, sb_count_one, &counts);
    for (int k = 0; k < SB_KEYS; k++)
        EXPECT_GE(counts.last[k], truth[k]);
    test_log_close(&log);
    munmap(sh, sizeof *sh);
    return after - before;
}

/* The fewest changelog records a task holds before the kill (the cache is off: one per input
 * record of its partition). */
static int64_t sb_smallest_changelog(void)
{
    int64_t per[SB_PARTITIONS] = {0};
    for (int i = 0; i < SB_FIRST; i++) {
        char key[16];
        snprintf(key, sizeof key, "user-%02d", i % SB_KEYS);
        per[eddy_log_partition_for_key((eddy_slice){key, strlen(key)}, SB_PARTITIONS)]++;
    }
    int64_t min = per[0];
    for (int p = 1; p < SB_PARTITIONS; p++)
        min = per[p] < min ? per[p] : min;
    return min;
}

TEST(standbys_restore_only_the_tail_after_a_sigkill)
{
    uint64_t restored = sb_run("2");
    fprintf(stderr, "    with standbys: %llu changelog records restored after the kill\n",
            (unsigned long long)restored);
    /* The killed instance ran one task of three, whose changelog holds hundreds of records (the
     * control below restores them all); its standbys had applied all but what it wrote in its
     * last checkpoint interval. */
    EXPECT_LE(restored, 100);
    EXPECT_LE(restored, sb_smallest_changelog() / 2);
}

TEST(without_standbys_the_whole_changelog_is_restored)
{
    uint64_t restored = sb_run("0");
    fprintf(stderr, "    without standbys: %llu changelog records restored after the kill\n",
            (unsigned long long)restored);
    EXPECT_GE(restored, sb_smallest_changelog());
}
