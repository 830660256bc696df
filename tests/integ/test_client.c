/* The client seam's consumer groups on the embedded log, across real processes: two members
 * share a subscription through rebalance callbacks, a partition moves only after its REVOKE
 * callback returned (so commits made there hand over exactly), and a SIGKILLed member's
 * partitions move to the survivor, which resumes from the committed offsets. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "eddy/eddy.h"
#include "test.h"

#define PARTS 4
#define RECORDS 300 /* per partition */
#define MEMBERS 2

typedef struct shared {
    _Atomic int stop;
    _Atomic int dead[MEMBERS];        /* set before the test kills a member */
    _Atomic int owner[PARTS];         /* member + 1 as the callbacks saw it; 0 none */
    _Atomic int overlap;              /* an ASSIGN found the partition still owned */
    _Atomic int foreign;              /* a record from a partition the member did not own */
    _Atomic int seen[PARTS][RECORDS]; /* times each record was returned */
    _Atomic int consumed[MEMBERS];
    _Atomic int assigned[MEMBERS];
    _Atomic int revoked[MEMBERS];
    _Atomic int commit_errors;
    _Atomic int failed[MEMBERS];
} shared;

static shared *sh;

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static eddy__client *client_open(void)
{
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "log.dir", test_tmpdir()));
    eddy__client *client = NULL;
    EXPECT_OK(eddy__client_new(config, &client));
    eddy_config_destroy(config);
    return client;
}

static void fill(eddy__client *client)
{
    eddy__producer *p = NULL;
    EXPECT_OK(eddy__producer_new(client, NULL, NULL, NULL, &p));
    for (int32_t part = 0; part < PARTS; part++) {
        for (int i = 0; i < RECORDS; i++) {
            char value[32];
            snprintf(value, sizeof(value), "%d:%d", (int)part, i);
            eddy_record rec = {.value = {value, strlen(value)}, .timestamp_ms = -1};
            EXPECT_OK(eddy__producer_send(p, "in", part, &rec, NULL));
        }
    }
    EXPECT_OK(eddy__producer_flush(p, -1));
    eddy__producer_destroy(p);
}

typedef struct member {
    int id;
    eddy__consumer *consumer;
} member;

static void on_rebalance(eddy__consumer *c, eddy__rebalance_event event,
                         const eddy_topic_partition *tps, size_t count, void *opaque)
{
    member *m = opaque;
    for (size_t i = 0; i < count; i++) {
        int32_t part = tps[i].partition;
        if (event == EDDY__REBALANCE_ASSIGN) {
            /* Nobody else may own it, unless the owner was killed (its REVOKE never ran). */
            int owner = atomic_exchange(&sh->owner[part], m->id + 1);
            if (owner != 0 && !sh->dead[owner - 1])
                sh->overlap++;
            sh->assigned[m->id]++;
            continue;
        }
        /* REVOKE: commit the position, then let go. */
        int64_t position = 0;
        eddy_err err = eddy__consumer_position(c, tps[i].topic, part, &position);
        eddy__topic_partition_offset o = {tps[i].topic, part, position};
        if (err == EDDY_OK && position >= 0)
            err = eddy__consumer_commit(c, &o, 1);
        if (err != EDDY_OK)
            sh->commit_errors++;
        atomic_store(&sh->owner[part], 0);
        sh->revoked[m->id]++;
    }
}

/* A member process: consumes until told to stop, `delay_ms` per record, committing every
 * `commit_every` records (0: only on revoke). */
static void member_run(int id, int delay_ms, int commit_every)
{
    eddy__client *client = client_open();
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "auto.offset.reset", "earliest"));
    member m = {id, NULL};
    EXPECT_OK(eddy__consumer_new(client, "g", config, &m.consumer));
    eddy_config_destroy(config);
    const char *topics[] = {"in"};
    EXPECT_OK(eddy__consumer_subscribe(m.consumer, topics, 1, on_rebalance, &m));
    int since_commit = 0;
    while (!sh->stop) {
        eddy_record rec;
        eddy_err err = eddy__consumer_poll(m.consumer, 20, &rec);
        if (err == EDDY_ERR_TIMED_OUT)
            continue;
        if (err != EDDY_OK) {
            sh->failed[id] = err;
            break;
        }
        if (sh->owner[rec.partition] != id + 1)
            sh->foreign++;
        if (rec.offset >= 0 && rec.offset < RECORDS)
            sh->seen[rec.partition][rec.offset]++;
        sh->consumed[id]++;
        if (commit_every && ++since_commit >= commit_every) {
            if (eddy__consumer_commit(m.consumer, NULL, 0) != EDDY_OK)
                sh->commit_errors++;
            since_commit = 0;
        }
        if (delay_ms)
            sleep_ms(delay_ms);
    }
    eddy__consumer_destroy(m.consumer);
    eddy__client_destroy(client);
    _exit(0);
}

static pid_t member_start(int id, int delay_ms, int commit_every)
{
    pid_t pid = fork();
    EXPECT_TRUE(pid >= 0);
    if (pid == 0)
        member_run(id, delay_ms, commit_every);
    return pid;
}

static void member_wait(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

static int seen_all(int *duplicates)
{
    int all = 1;
    *duplicates = 0;
    for (int p = 0; p < PARTS; p++)
        for (int i = 0; i < RECORDS; i++) {
            all &= sh->seen[p][i] > 0;
            *duplicates += sh->seen[p][i] > 1 ? sh->seen[p][i] - 1 : 0;
        }
    return all;
}

static void wait_until(int (*cond)(void), int limit_ms)
{
    int64_t start = mono_ms();
    while (!cond()) {
        EXPECT_TRUE(mono_ms() - start < limit_ms);
        sleep_ms(5);
    }
}

static int second_member_has_partitions(void)
{
    return sh->assigned[1] > 0;
}

static int everything_seen(void)
{
    int duplicates;
    return seen_all(&duplicates);
}

static int survivor_owns_all(void)
{
    for (int p = 0; p < PARTS; p++)
        if (sh->owner[p] != 2)
            return 0;
    return 1;
}

static void setup(void)
{
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    EXPECT_TRUE(sh != MAP_FAILED);
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "in", PARTS, NULL, 0));
    fill(client);
    eddy__client_destroy(client);
}

TEST(two_processes_share_a_subscription_through_callbacks)
{
    setup();
    /* The first member takes all four partitions and reads slowly; the second joins part-way:
     * the first revokes two (committing), the second resumes them at the commits. */
    pid_t a = member_start(0, 1, 0);
    while (sh->consumed[0] < 50)
        sleep_ms(2);
    EXPECT_EQ(sh->assigned[0], PARTS);
    pid_t b = member_start(1, 0, 0);
    wait_until(second_member_has_partitions, 10000);
    wait_until(everything_seen, 30000);
    sh->stop = 1;
    member_wait(a);
    member_wait(b);

    int duplicates = 0;
    EXPECT_TRUE(seen_all(&duplicates));
    EXPECT_EQ(duplicates, 0); /* handed over at the commits made in REVOKE */
    EXPECT_EQ(sh->overlap, 0);
    EXPECT_EQ(sh->foreign, 0);
    EXPECT_EQ(sh->commit_errors, 0);
    EXPECT_EQ(sh->failed[0], 0);
    EXPECT_EQ(sh->failed[1], 0);
    /* The first gave two up on the join; whoever closed first handed its partitions to the
     * other; each revoked all it was assigned. */
    EXPECT_GE(sh->assigned[0], PARTS);
    EXPECT_GE(sh->assigned[1], PARTS / 2);
    EXPECT_EQ(sh->revoked[0], sh->assigned[0]);
    EXPECT_EQ(sh->revoked[1], sh->assigned[1]);
    EXPECT_EQ(sh->consumed[0] + sh->consumed[1], PARTS * RECORDS);

    /* Everything read was committed on close. */
    eddy__client *client = client_open();
    eddy__consumer *c = NULL;
    EXPECT_OK(eddy__consumer_new(client, "g", NULL, &c));
    for (int32_t p = 0; p < PARTS; p++) {
        int64_t offset = 0;
        EXPECT_OK(eddy__consumer_committed(c, "in", p, &offset));
        EXPECT_EQ(offset, RECORDS);
    }
    eddy__consumer_destroy(c);
    eddy__client_destroy(client);
}

TEST(a_killed_members_partitions_move_to_the_survivor)
{
    setup();
    /* The first member commits every 10 records and is killed mid-stream; the survivor gets
     * its partitions (no LOST on the embedded log: the dead member simply is gone) and
     * resumes at its last commits: every record is read, some twice. */
    pid_t a = member_start(0, 2, 10);
    while (sh->consumed[0] < 40)
        sleep_ms(2);
    pid_t b = member_start(1, 2, 10);
    wait_until(second_member_has_partitions, 10000);
    while (sh->consumed[0] < 80)
        sleep_ms(2);
    sh->dead[0] = 1;
    EXPECT_EQ(kill(a, SIGKILL), 0);
    int64_t killed = mono_ms();
    int status = 0;
    EXPECT_EQ(waitpid(a, &status, 0), a);
    EXPECT_TRUE(WIFSIGNALED(status));
    wait_until(survivor_owns_all, 5000);
    EXPECT_TRUE(mono_ms() - killed < 2000);
    wait_until(everything_seen, 30000);
    sh->stop = 1;
    member_wait(b);

    int duplicates = 0;
    EXPECT_TRUE(seen_all(&duplicates));
    EXPECT_TRUE(duplicates <= PARTS / 2 * 10); /* at most the records after each last commit */
    EXPECT_EQ(sh->overlap, 0);
    EXPECT_EQ(sh->foreign, 0);
    EXPECT_EQ(sh->commit_errors, 0);
    EXPECT_EQ(sh->failed[1], 0);
}
