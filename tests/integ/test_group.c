/* Consumer groups of the embedded log, across real processes: range assignment, rebalances on
 * join, leave and SIGKILL (timed), no partition ever owned by two live members, at-least-once
 * delivery with commits across a SIGKILL, durable and merging commits, recovery of the group's
 * shared state from a dead mutex holder, a crashed machine and damage; faults. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eddy/eddy.h"
#include "core/alloc.h"
#include "core/crc32c.h"
#include "core/fault.h"
#include "log/group.h"
#include "test.h"

#define MEMBERS 16 /* member processes one test may start */
#define TOPICS 2   /* topics "a" and "b" */
#define PARTS 16   /* partitions per topic at most */

/* Memory shared by a test and the processes it forks (MAP_SHARED | MAP_ANONYMOUS). */
typedef struct shared {
    _Atomic int stop[MEMBERS];
    _Atomic int pid[MEMBERS];
    _Atomic int owned[MEMBERS][TOPICS][PARTS]; /* as the member's callbacks saw it */
    _Atomic int count[MEMBERS];
    _Atomic int joined[MEMBERS];
    _Atomic int64_t consumed[MEMBERS];
    _Atomic int64_t resume[PARTS]; /* test 5: committed offset seen by the restarted member */
    _Atomic int64_t first[PARTS];  /* test 5: its first offset read per partition */
    _Atomic int tracked[PARTS];
    char member_id[MEMBERS][64];
} shared;

static shared *shared_new(void)
{
    shared *sh =
        mmap(NULL, sizeof(shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    EXPECT_TRUE(sh != MAP_FAILED);
    for (int p = 0; p < PARTS; p++) {
        sh->resume[p] = -1;
        sh->first[p] = -1;
    }
    return sh;
}

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t mono_ms(void)
{
    return mono_ns() / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static eddy_log *log_open(void)
{
    eddy_log *log = NULL;
    EXPECT_OK(eddy_log_open(test_tmpdir(), EDDY_LOG_CREATE, &log));
    return log;
}

static int topic_index(const char *topic)
{
    return strcmp(topic, "a") == 0 ? 0 : strcmp(topic, "b") == 0 ? 1 : -1;
}

/* Forks a process running fn(id, arg); it exits 0 unless an EXPECT fails. */
static pid_t spawn(void (*fn)(int, void *), int id, void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    EXPECT_TRUE(pid >= 0);
    if (pid == 0) {
        fn(id, arg);
        _exit(0);
    }
    return pid;
}

static void wait_exit_ok(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        eddy_test_fail(__FILE__, __LINE__, "process %d: %s %d", (int)pid,
                       WIFEXITED(status) ? "exit" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void kill_wait(pid_t pid)
{
    EXPECT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* Polls cond(arg) every 2 ms for up to timeout_ms; returns the ms it took, or -1. */
static int64_t wait_until(int (*cond)(void *), void *arg, int timeout_ms)
{
    int64_t start = mono_ms();
    for (;;) {
        if (cond(arg))
            return mono_ms() - start;
        if (mono_ms() - start > timeout_ms)
            return -1;
        sleep_ms(2);
    }
}

static size_t write_text(int fd, const char *text)
{
    size_t len = strlen(text);
    EXPECT_EQ(write(fd, text, len), (ssize_t)len);
    return len;
}

/* ------------------------------------------------------------------------------------------ */
/* 1. Range assignment                                                                        */

static void expect_range(int32_t partitions, const char *const *ids, size_t count,
                         const int32_t *expected)
{
    int32_t owner[64];
    eddy__group_range_assign(partitions, ids, count, owner);
    for (int32_t p = 0; p < partitions; p++)
        if (owner[p] != expected[p])
            eddy_test_fail(__FILE__, __LINE__,
                           "%d partitions, %zu members: partition %d goes to "
                           "member %d, expected %d",
                           (int)partitions, count, (int)p, (int)owner[p], (int)expected[p]);
}

TEST(range_assignment_matches_kafka)
{
    /* Kafka's RangeAssignor javadoc: t0, t1 with 3 partitions each, members C0 and C1:
     * C0 gets t0p0, t0p1, t1p0, t1p1; C1 gets t0p2, t1p2. */
    const char *c01[] = {"C0", "C1"};
    expect_range(3, c01, 2, (const int32_t[]){0, 0, 1});

    /* Three topics, members with different subscriptions: c0 {t0, t1, t2}, c1 {t0, t1},
     * c2 {t1, t2}. Per topic only its subscribers share it. */
    const char *t0_members[] = {"c0", "c1"}; /* t0: 3 partitions */
    expect_range(3, t0_members, 2, (const int32_t[]){0, 0, 1});
    const char *t1_members[] = {"c0", "c1", "c2"}; /* t1: 7 partitions, 7/3 = 2 rem 1 */
    expect_range(7, t1_members, 3, (const int32_t[]){0, 0, 0, 1, 1, 2, 2});
    const char *t2_members[] = {"c0", "c2"}; /* t2: 2 partitions */
    expect_range(2, t2_members, 2, (const int32_t[]){0, 1});
    /* More members than partitions: the last members get nothing. */
    expect_range(2, t1_members, 3, (const int32_t[]){0, 1});
    /* Order is by member id (strcmp), not by the order given: m1 < m10 < m2. */
    const char *shuffled[] = {"m2", "m10", "m1"};
    expect_range(5, shuffled, 3, (const int32_t[]){2, 2, 1, 1, 0});
    /* 8 partitions over 3: 3, 3, 2 (members as eddy names them). */
    const char *eddy_ids[] = {"eddy-300-1", "eddy-1200-1", "eddy-75-2"};
    expect_range(8, eddy_ids, 3, (const int32_t[]){1, 1, 1, 0, 0, 0, 2, 2});
    /* No members: nobody owns anything. */
    expect_range(2, NULL, 0, (const int32_t[]){-1, -1});

    /* The general rule, for every small case: contiguous, sizes P/M or P/M + 1, the extra
     * partitions to the first P%M members in id order, and _of agrees with _assign. */
    char names[12][8];
    const char *ids[12];
    for (int m = 0; m < 12; m++) {
        snprintf(names[m], sizeof(names[m]), "m%02d", 11 - m); /* given in reverse order */
        ids[m] = names[m];
    }
    for (int32_t parts = 0; parts <= 40; parts++) {
        for (size_t members = 1; members <= 12; members++) {
            int32_t owner[64];
            eddy__group_range_assign(parts, ids + (12 - members), members, owner);
            int32_t next = 0;
            for (size_t rank = 0; rank < members; rank++) {
                size_t index = members - 1 - rank; /* reverse order given: rank 0 is last */
                int32_t first, n;
                eddy__group_range_of(parts, ids + (12 - members), members, index, &first, &n);
                EXPECT_EQ(first, next);
                EXPECT_EQ(n, parts / (int32_t)members + ((int32_t)rank < parts % (int32_t)members));
                for (int32_t p = first; p < first + n; p++)
                    EXPECT_EQ(owner[p], index);
                next += n;
            }
            EXPECT_EQ(next, parts);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Member processes                                                                            */

typedef struct member_args {
    shared *sh;
    const char *group;
    const char *topics[TOPICS];
    size_t topic_count;
    int events_fd; /* test 4: ownership events, or -1 */
    const char *dir;
} member_args;

typedef struct member_ctx {
    member_args *args;
    int id;
    int own_fd[TOPICS][PARTS]; /* test 4: flock'ed per-partition files */
} member_ctx;

static void event_write(member_ctx *m, int64_t ns, char kind, const eddy_topic_partition *tp,
                        int extra)
{
    char line[160];
    snprintf(line, sizeof(line), "%lld %d %c %s %d %d\n", (long long)ns, (int)getpid(), kind,
             tp->topic, (int)tp->partition, extra);
    write_text(m->args->events_fd, line);
}

/* Test 4's independent check: a member flocks a file per partition it owns. If the flock is
 * held, it records whose it was (the holder's pid is in the file) and waits: only a killed
 * member's flock may still be held, for the instant between its members.lock slot and this
 * file being closed by the exiting kernel. */
static void own_acquire(member_ctx *m, const eddy_topic_partition *tp, int64_t ns)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/own-%s-%d", m->args->dir, tp->topic, (int)tp->partition);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    EXPECT_TRUE(fd >= 0);
    int waited = 0;
    int64_t start = mono_ms();
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        EXPECT_EQ(errno, EWOULDBLOCK);
        if (!waited) {
            char holder[16] = {0};
            EXPECT_TRUE(pread(fd, holder, 11, 0) >= 0);
            event_write(m, ns, 'W', tp, atoi(holder));
            waited = 1;
        }
        if (mono_ms() - start > 2000)
            eddy_test_fail(__FILE__, __LINE__, "pid %d: %s-%d still flocked by another member",
                           (int)getpid(), tp->topic, (int)tp->partition);
        sleep_ms(1);
    }
    char mine[16];
    snprintf(mine, sizeof(mine), "%10d\n", (int)getpid());
    EXPECT_EQ(pwrite(fd, mine, 11, 0), 11);
    m->own_fd[topic_index(tp->topic)][tp->partition] = fd;
}

static void own_release(member_ctx *m, const eddy_topic_partition *tp)
{
    int *fd = &m->own_fd[topic_index(tp->topic)][tp->partition];
    EXPECT_TRUE(*fd >= 0);
    flock(*fd, LOCK_UN);
    close(*fd);
    *fd = -1;
}

static void member_rebalance(eddy_log_consumer *c, eddy_rebalance_event event,
                             const eddy_topic_partition *tps, size_t count, void *opaque)
{
    (void)c;
    member_ctx *m = opaque;
    shared *sh = m->args->sh;
    int64_t ns = mono_ns(); /* an ASSIGN starts owning now */
    for (size_t i = 0; i < count; i++) {
        int t = topic_index(tps[i].topic);
        EXPECT_TRUE(t >= 0 && tps[i].partition >= 0 && tps[i].partition < PARTS);
        int was =
            atomic_exchange(&sh->owned[m->id][t][tps[i].partition], event == EDDY_REBALANCE_ASSIGN);
        EXPECT_EQ(was, event == EDDY_REBALANCE_REVOKE); /* no double assign or revoke */
        atomic_fetch_add(&sh->count[m->id], event == EDDY_REBALANCE_ASSIGN ? 1 : -1);
        if (m->args->events_fd < 0)
            continue;
        if (event == EDDY_REBALANCE_ASSIGN) {
            own_acquire(m, &tps[i], ns);
            event_write(m, ns, 'A', &tps[i], 0);
        } else {
            own_release(m, &tps[i]);
        }
    }
    if (m->args->events_fd >= 0 && event == EDDY_REBALANCE_REVOKE) {
        ns = mono_ns(); /* a REVOKE owns until the callback returns */
        for (size_t i = 0; i < count; i++)
            event_write(m, ns, 'R', &tps[i], 0);
    }
}

static void member_main(int id, void *arg)
{
    member_args *args = arg;
    member_ctx m = {.args = args, .id = id};
    for (int t = 0; t < TOPICS; t++)
        for (int p = 0; p < PARTS; p++)
            m.own_fd[t][p] = -1;
    eddy_log *log = log_open();
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, args->group, NULL, &c));
    EXPECT_OK(
        eddy_log_consumer_subscribe(c, args->topics, args->topic_count, member_rebalance, &m));
    snprintf(args->sh->member_id[id], sizeof(args->sh->member_id[id]), "%s",
             eddy_log_consumer_member_id(c));
    args->sh->pid[id] = (int)getpid();
    args->sh->joined[id] = 1;
    while (!args->sh->stop[id]) {
        eddy_record record;
        eddy_err err = eddy_log_consumer_poll(c, 50, &record);
        if (err != EDDY_ERR_TIMED_OUT)
            EXPECT_OK(err);
    }
    eddy_log_consumer_destroy(c); /* leaves: REVOKE with everything */
    EXPECT_EQ(args->sh->count[id], 0);
    eddy_log_close(log);
}

/* A live member seen by eddy_log_group_describe(). */
typedef struct described {
    int count;
    char id[MEMBERS][64];
    int pid[MEMBERS];
    int owned_count[MEMBERS];
    int owned[MEMBERS][TOPICS * PARTS]; /* topic index * 100 + partition, sorted */
} described;

static void describe_member(const char *member_id, int pid, const eddy_topic_partition *owned,
                            size_t count, void *opaque)
{
    described *d = opaque;
    EXPECT_TRUE(d->count < MEMBERS && count <= TOPICS * PARTS);
    snprintf(d->id[d->count], sizeof(d->id[0]), "%s", member_id);
    d->pid[d->count] = pid;
    d->owned_count[d->count] = (int)count;
    for (size_t i = 0; i < count; i++)
        d->owned[d->count][i] = topic_index(owned[i].topic) * 100 + owned[i].partition;
    d->count++;
}

static void describe(eddy_log *log, const char *group, described *d, int64_t *generation)
{
    memset(d, 0, sizeof(*d));
    EXPECT_OK(eddy_log_group_describe(log, group, describe_member, d, generation));
}

/* ------------------------------------------------------------------------------------------ */
/* 2. Join and leave                                                                           */

typedef struct balance_check {
    shared *sh;
    eddy_log *log;
    const char *group;
    int members[MEMBERS]; /* member ids (shared indexes) that should be live */
    int member_count;
    int partitions;
} balance_check;

/* The group is balanced: describe shows exactly the expected members, in id order owning the
 * contiguous ranges of topic "a" the range assignor gives, and every member's callbacks agree. */
static int balanced(void *arg)
{
    balance_check *b = arg;
    described d;
    describe(b->log, b->group, &d, NULL);
    if (d.count != b->member_count)
        return 0;
    int next = 0;
    for (int r = 0; r < d.count; r++) {
        int each = b->partitions / d.count + (r < b->partitions % d.count);
        if (d.owned_count[r] != each)
            return 0;
        for (int i = 0; i < each; i++)
            if (d.owned[r][i] != next + i)
                return 0;
        int m = -1;
        for (int k = 0; k < b->member_count; k++)
            if (strcmp(b->sh->member_id[b->members[k]], d.id[r]) == 0)
                m = b->members[k];
        if (m < 0 || b->sh->count[m] != each)
            return 0;
        for (int i = 0; i < each; i++)
            if (!b->sh->owned[m][0][next + i])
                return 0;
        next += each;
    }
    return 1;
}

static int joined(void *arg)
{
    balance_check *b = arg;
    for (int k = 0; k < b->member_count; k++)
        if (!b->sh->joined[b->members[k]])
            return 0;
    return 1;
}

TEST(members_in_processes_share_and_rebalance_on_join_and_leave)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 4, NULL));
    shared *sh = shared_new();
    member_args args = {.sh = sh,
                        .group = "g2",
                        .topics = {"a"},
                        .topic_count = 1,
                        .events_fd = -1,
                        .dir = test_tmpdir()};
    balance_check b = {.sh = sh, .log = log, .group = "g2", .partitions = 4};

    pid_t pids[3];
    pids[0] = spawn(member_main, 0, &args);
    pids[1] = spawn(member_main, 1, &args);
    b.members[0] = 0, b.members[1] = 1, b.member_count = 2;
    EXPECT_TRUE(wait_until(joined, &b, 5000) >= 0);
    int64_t ms = wait_until(balanced, &b, 5000);
    EXPECT_TRUE(ms >= 0);
    printf("    2 members: 2/2 after %lld ms\n", (long long)ms);

    int64_t gen_before;
    described d;
    describe(log, "g2", &d, &gen_before);
    pids[2] = spawn(member_main, 2, &args);
    b.members[2] = 2, b.member_count = 3;
    int64_t start = mono_ms();
    EXPECT_TRUE(wait_until(joined, &b, 5000) >= 0);
    EXPECT_TRUE(wait_until(balanced, &b, 5000) >= 0);
    ms = mono_ms() - start;
    printf("    third member: 2/1/1 within %lld ms of its start\n", (long long)ms);
    EXPECT_LE(ms, 2000);
    int64_t gen_after;
    describe(log, "g2", &d, &gen_after);
    EXPECT_GE(gen_after, gen_before + 1);
    EXPECT_EQ(d.count, 3);
    EXPECT_EQ(d.pid[0] == pids[0] || d.pid[0] == pids[1] || d.pid[0] == pids[2], 1);

    /* The member owning partition 0 leaves cleanly: the other two take 2/2. */
    int leaver = strcmp(sh->member_id[0], d.id[0]) == 0   ? 0
                 : strcmp(sh->member_id[1], d.id[0]) == 0 ? 1
                                                          : 2;
    start = mono_ms();
    sh->stop[leaver] = 1;
    wait_exit_ok(pids[leaver]);
    b.member_count = 0;
    for (int k = 0; k < 3; k++)
        if (k != leaver)
            b.members[b.member_count++] = k;
    EXPECT_TRUE(wait_until(balanced, &b, 5000) >= 0);
    ms = mono_ms() - start;
    printf("    a member left: 2/2 within %lld ms\n", (long long)ms);
    EXPECT_LE(ms, 2000);

    for (int k = 0; k < 3; k++)
        if (k != leaver) {
            sh->stop[k] = 1;
            wait_exit_ok(pids[k]);
        }
    describe(log, "g2", &d, NULL);
    EXPECT_EQ(d.count, 0);
    eddy_log_close(log);
}

/* ------------------------------------------------------------------------------------------ */
/* 3. SIGKILL                                                                                  */

typedef struct owns_all {
    shared *sh;
    int id, partitions;
} owns_all;

static int member_owns_all(void *arg)
{
    owns_all *o = arg;
    return o->sh->count[o->id] == o->partitions;
}

TEST(sigkilled_member_partitions_move_within_2s)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 4, NULL));
    shared *sh = shared_new();
    member_args args = {.sh = sh,
                        .group = "g3",
                        .topics = {"a"},
                        .topic_count = 1,
                        .events_fd = -1,
                        .dir = test_tmpdir()};
    balance_check b = {.sh = sh, .log = log, .group = "g3", .partitions = 4};
    b.members[0] = 0, b.members[1] = 1, b.member_count = 2;
    pid_t survivor = spawn(member_main, 0, &args);
    pid_t victim = spawn(member_main, 1, &args);
    EXPECT_TRUE(wait_until(joined, &b, 5000) >= 0);
    EXPECT_TRUE(wait_until(balanced, &b, 5000) >= 0);
    int64_t generation_before;
    described d;
    describe(log, "g3", &d, &generation_before);

    int64_t killed_ns = mono_ns();
    kill_wait(victim);
    owns_all o = {sh, 0, 4};
    EXPECT_TRUE(wait_until(member_owns_all, &o, 5000) >= 0);
    int64_t takeover_ms = (mono_ns() - killed_ns) / 1000000;
    printf("    takeover after SIGKILL: %lld ms\n", (long long)takeover_ms);
    EXPECT_LE(takeover_ms, 2000);

    int64_t generation_after;
    describe(log, "g3", &d, &generation_after);
    EXPECT_EQ(d.count, 1);
    EXPECT_EQ(d.pid[0], survivor);
    EXPECT_EQ(d.owned_count[0], 4);
    EXPECT_GE(generation_after, generation_before + 1);
    sh->stop[0] = 1;
    wait_exit_ok(survivor);
    eddy_log_close(log);
}

/* ------------------------------------------------------------------------------------------ */
/* 4. No double ownership across many rebalances                                               */

typedef struct ownership_event {
    int64_t ns;
    int pid;
    char kind; /* A assign, R revoke, W waited for a flock, K killed (by the test) */
    int topic, partition, extra;
} ownership_event;

static int event_cmp(const void *a, const void *b)
{
    const ownership_event *x = a, *y = b;
    return x->ns < y->ns ? -1 : x->ns > y->ns ? 1 : 0;
}

static size_t events_read(const char *path, ownership_event *events, size_t max)
{
    FILE *f = fopen(path, "r");
    EXPECT_TRUE(f != NULL);
    size_t n = 0;
    long long ns;
    int pid, partition, extra;
    char kind, topic[16];
    while (n < max &&
           fscanf(f, "%lld %d %c %15s %d %d", &ns, &pid, &kind, topic, &partition, &extra) == 6) {
        events[n] = (ownership_event){ns, pid, kind, topic_index(topic), partition, extra};
        EXPECT_TRUE(kind == 'K' || (events[n].topic >= 0 && partition >= 0 && partition < PARTS));
        n++;
    }
    fclose(f);
    EXPECT_TRUE(n < max);
    return n;
}

static int64_t killed_at(const ownership_event *events, size_t n, int pid)
{
    for (size_t i = 0; i < n; i++)
        if (events[i].kind == 'K' && events[i].pid == pid)
            return events[i].ns;
    return -1;
}

/* Replays the events in time order: an ASSIGN must find the partition free, or held by a
 * member the test had killed before; a REVOKE must come from the owner; a member only waits
 * for the flock of a member killed before it. */
static void ownership_verify(const ownership_event *events, size_t n)
{
    int owner[TOPICS][PARTS] = {{0}};
    size_t assigns = 0, takeovers = 0;
    for (size_t i = 0; i < n; i++) {
        const ownership_event *e = &events[i];
        if (e->kind == 'K')
            continue;
        int *o = &owner[e->topic][e->partition];
        if (e->kind == 'W') {
            int64_t k = killed_at(events, n, e->extra);
            if (k < 0 || k > e->ns)
                eddy_test_fail(__FILE__, __LINE__,
                               "pid %d waited for topic %d partition %d "
                               "held by live pid %d",
                               e->pid, e->topic, e->partition, e->extra);
        } else if (e->kind == 'A') {
            assigns++;
            if (*o != 0) {
                int64_t k = killed_at(events, n, *o);
                if (k < 0 || k > e->ns)
                    eddy_test_fail(__FILE__, __LINE__,
                                   "at %lld ns pid %d got topic %d "
                                   "partition %d, owned by live pid %d",
                                   (long long)e->ns, e->pid, e->topic, e->partition, *o);
                takeovers++;
            }
            *o = e->pid;
        } else if (e->kind == 'R') {
            if (*o != e->pid)
                eddy_test_fail(__FILE__, __LINE__,
                               "pid %d revoked topic %d partition %d "
                               "owned by %d",
                               e->pid, e->topic, e->partition, *o);
            *o = 0;
        }
    }
    printf("    %zu events, %zu assignments, %zu takeovers from killed members\n", n, assigns,
           takeovers);
    EXPECT_GE(assigns, 20);
}

typedef struct converged_check {
    eddy_log *log;
    shared *sh;
    int subs[MEMBERS]; /* live member index -> 1: {a}, 2: {a, b} */
    int live[MEMBERS];
} converged_check;

/* The live members own exactly what the range assignor gives them, per topic. */
static int converged(void *arg)
{
    converged_check *c = arg;
    described d;
    describe(c->log, "g4", &d, NULL);
    int partitions[TOPICS] = {6, 3};
    int live = 0;
    for (int k = 0; k < MEMBERS; k++)
        live += c->live[k];
    if (d.count != live)
        return 0;
    for (int t = 0; t < TOPICS; t++) {
        const char *ids[MEMBERS];
        int rows[MEMBERS], n = 0;
        for (int r = 0; r < d.count; r++) {
            int k = -1;
            for (int j = 0; j < MEMBERS; j++)
                if (c->live[j] && c->sh->pid[j] == d.pid[r])
                    k = j;
            if (k < 0)
                return 0;
            if (t == 0 || c->subs[k] == 2) {
                ids[n] = d.id[r];
                rows[n++] = r;
            }
        }
        int32_t owner[PARTS];
        eddy__group_range_assign(partitions[t], ids, (size_t)n, owner);
        for (int p = 0; p < partitions[t]; p++) {
            if (owner[p] < 0)
                continue; /* nobody subscribes to this topic now */
            int r = rows[owner[p]], found = 0;
            for (int i = 0; i < d.owned_count[r]; i++)
                found |= d.owned[r][i] == t * 100 + p;
            if (!found)
                return 0;
        }
    }
    return 1;
}

TEST(no_partition_owned_by_two_live_members)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 6, NULL));
    EXPECT_OK(eddy_log_topic_create(log, "b", 3, NULL));
    char events_path[4096];
    snprintf(events_path, sizeof(events_path), "%s/events", test_tmpdir());
    int events_fd = open(events_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    EXPECT_TRUE(events_fd >= 0);
    shared *sh = shared_new();
    member_args args[MEMBERS];
    converged_check cc = {.log = log, .sh = sh};
    pid_t pids[MEMBERS];
    int started = 0, alive = 0;
    uint64_t rng = test_seed() * 6364136223846793005ULL + 1442695040888963407ULL;
#define RAND(n) ((int)((rng = rng * 6364136223846793005ULL + 1442695040888963407ULL) >> 33) % (n))
    int kills = 0, leaves = 0;
    for (int op = 0; op < 28 || started < 2; op++) {
        int r = RAND(10);
        if (started < MEMBERS && (alive < 2 || (r < 4 && alive < 5))) {
            int k = started++;
            cc.subs[k] = 1 + RAND(2);
            args[k] = (member_args){.sh = sh,
                                    .group = "g4",
                                    .topics = {"a", "b"},
                                    .topic_count = (size_t)cc.subs[k],
                                    .events_fd = events_fd,
                                    .dir = test_tmpdir()};
            pids[k] = spawn(member_main, k, &args[k]);
            cc.live[k] = 1;
            alive++;
        } else if (alive > 0) {
            int pick = RAND(alive), k = -1;
            for (int j = 0; j < started && k < 0; j++)
                if (cc.live[j] && pick-- == 0)
                    k = j;
            while (!sh->joined[k])
                sleep_ms(1);
            if (r < 7) {
                sh->stop[k] = 1;
                wait_exit_ok(pids[k]);
                leaves++;
            } else {
                char line[64];
                snprintf(line, sizeof(line), "%lld %d K - 0 0\n", (long long)mono_ns(), pids[k]);
                write_text(events_fd, line);
                kill_wait(pids[k]);
                kills++;
            }
            cc.live[k] = 0;
            alive--;
        }
        sleep_ms(RAND(300));
    }
    for (int k = 0; k < started; k++)
        while (cc.live[k] && !sh->joined[k])
            sleep_ms(1);
    int64_t ms = wait_until(converged, &cc, 5000);
    printf("    %d members started, %d left, %d killed; converged %lld ms after the last change\n",
           started, leaves, kills, (long long)ms);
    EXPECT_TRUE(ms >= 0 && ms <= 2000);
    for (int k = 0; k < started; k++)
        if (cc.live[k]) {
            sh->stop[k] = 1;
            wait_exit_ok(pids[k]);
        }
    static ownership_event events[100000];
    size_t n = events_read(events_path, events, 100000);
    qsort(events, n, sizeof(events[0]), event_cmp);
    ownership_verify(events, n);
    EXPECT_GE(kills + leaves, 1);
    close(events_fd);
    eddy_log_close(log);
#undef RAND
}

/* ------------------------------------------------------------------------------------------ */
/* 5. At-least-once with commits across a SIGKILL                                               */

#define T5_PARTITIONS 4
#define T5_RECORDS_PER_PRODUCER 4000

static void producer_main(int id, void *arg)
{
    (void)arg;
    eddy_log *log = log_open();
    for (int i = 0; i < T5_RECORDS_PER_PRODUCER; i += 20) {
        eddy_record records[20];
        char values[20][32];
        for (int j = 0; j < 20; j++) {
            snprintf(values[j], sizeof(values[j]), "p%d-%d", id, i + j);
            records[j] = (eddy_record){.value = {values[j], strlen(values[j])}, .timestamp_ms = -1};
        }
        EXPECT_OK(eddy_log_append(log, "t5", (i / 20) % T5_PARTITIONS, records, 20,
                                  EDDY_ACKS_LEADER, NULL, NULL));
        sleep_ms(2);
    }
    eddy_log_close(log);
}

typedef struct consumer5 {
    shared *sh;
    int id;
    eddy_log *log;
} consumer5;

static void consumer5_rebalance(eddy_log_consumer *c, eddy_rebalance_event event,
                                const eddy_topic_partition *tps, size_t count, void *opaque)
{
    (void)c;
    consumer5 *k = opaque;
    for (size_t i = 0; i < count; i++) {
        int p = tps[i].partition;
        atomic_fetch_add(&k->sh->count[k->id], event == EDDY_REBALANCE_ASSIGN ? 1 : -1);
        /* The restarted consumer (id 2) notes the committed offset it should resume from. */
        if (k->id == 2 && event == EDDY_REBALANCE_ASSIGN && !k->sh->tracked[p]) {
            int64_t committed = -1;
            eddy_err err = eddy_log_group_committed(k->log, "g5", "t5", p, &committed);
            EXPECT_TRUE(err == EDDY_OK || err == EDDY_ERR_NOT_FOUND);
            k->sh->resume[p] = err == EDDY_OK ? committed : -1;
            k->sh->tracked[p] = 1;
        }
    }
}

/* Consumes t5, writing "partition offset" per record (write(2) before the next poll, so that
 * a committed position never covers a record not yet recorded), committing every 50 records
 * and whenever idle. */
static void consumer5_main(int id, void *arg)
{
    shared *sh = arg;
    consumer5 k = {.sh = sh, .id = id, .log = log_open()};
    char path[4096];
    snprintf(path, sizeof(path), "%s/consumed-%d", test_tmpdir(), id);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    EXPECT_TRUE(fd >= 0);
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "auto.offset.reset", "earliest"));
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(k.log, "g5", config, &c));
    const char *topics[] = {"t5"};
    EXPECT_OK(eddy_log_consumer_subscribe(c, topics, 1, consumer5_rebalance, &k));
    sh->joined[id] = 1;
    while (!sh->stop[id]) {
        eddy_record record;
        eddy_err err = eddy_log_consumer_poll(c, 100, &record);
        if (err == EDDY_ERR_TIMED_OUT) {
            EXPECT_OK(eddy_log_consumer_commit(c));
            continue;
        }
        EXPECT_OK(err);
        int p = record.partition;
        if (id == 2 && sh->tracked[p] && sh->first[p] < 0)
            sh->first[p] = record.offset;
        char line[64];
        snprintf(line, sizeof(line), "%d %lld\n", p, (long long)record.offset);
        write_text(fd, line);
        if (atomic_fetch_add(&sh->consumed[id], 1) % 50 == 49)
            EXPECT_OK(eddy_log_consumer_commit(c));
    }
    eddy_log_consumer_destroy(c);
    eddy_config_destroy(config);
    close(fd);
    eddy_log_close(k.log);
}

typedef struct count_at_least {
    _Atomic int64_t *value;
    int64_t min;
} count_at_least;

static int at_least(void *arg)
{
    count_at_least *c = arg;
    return *c->value >= c->min;
}

static int counts_are(void *arg)
{
    shared *sh = arg; /* member 0 is dead: 1 and 2 share 2/2 */
    return sh->count[1] == 2 && sh->count[2] == 2;
}

typedef struct all_committed {
    eddy_log *log;
    int64_t end[T5_PARTITIONS];
} all_committed;

static int committed_to_end(void *arg)
{
    all_committed *a = arg;
    for (int p = 0; p < T5_PARTITIONS; p++) {
        int64_t committed;
        if (eddy_log_group_committed(a->log, "g5", "t5", p, &committed) != EDDY_OK ||
            committed != a->end[p])
            return 0;
    }
    return 1;
}

/* Marks each consumed offset; returns how many records were delivered twice. */
static int64_t consumed_mark(const char *dir, int id, uint8_t seen[][2 * T5_RECORDS_PER_PRODUCER])
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/consumed-%d", dir, id);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int p;
    long long offset;
    int64_t again = 0;
    while (fscanf(f, "%d %lld", &p, &offset) == 2) {
        EXPECT_TRUE(p >= 0 && p < T5_PARTITIONS && offset >= 0 &&
                    offset < 2 * T5_RECORDS_PER_PRODUCER);
        again += seen[p][offset];
        seen[p][offset] = 1;
    }
    fclose(f);
    return again;
}

TEST(at_least_once_across_sigkill_and_restart_resumes_from_commit)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "t5", T5_PARTITIONS, NULL));
    shared *sh = shared_new();
    pid_t c1 = spawn(consumer5_main, 0, sh);
    pid_t c2 = spawn(consumer5_main, 1, sh);
    while (!sh->joined[0] || !sh->joined[1] || sh->count[0] != 2 || sh->count[1] != 2)
        sleep_ms(1);
    pid_t p1 = spawn(producer_main, 1, NULL);
    pid_t p2 = spawn(producer_main, 2, NULL);

    /* Kill consumer 1 in the middle of its share. */
    count_at_least half = {&sh->consumed[0], T5_RECORDS_PER_PRODUCER / 2 + 23};
    EXPECT_TRUE(wait_until(at_least, &half, 20000) >= 0);
    kill_wait(c1);
    int64_t consumed_by_victim = sh->consumed[0];
    owns_all o = {sh, 1, T5_PARTITIONS};
    int64_t ms = wait_until(member_owns_all, &o, 5000);
    printf("    consumer killed after %lld records; survivor owns all after %lld ms\n",
           (long long)consumed_by_victim, (long long)ms);
    EXPECT_TRUE(ms >= 0 && ms <= 2000);

    /* A restarted consumer joins while the producers still write: it resumes from commits. */
    pid_t c3 = spawn(consumer5_main, 2, sh);
    EXPECT_TRUE(wait_until(counts_are, sh, 5000) >= 0);
    wait_exit_ok(p1);
    wait_exit_ok(p2);
    all_committed a = {.log = log};
    for (int p = 0; p < T5_PARTITIONS; p++)
        EXPECT_OK(eddy_log_partition_info(log, "t5", p, NULL, &a.end[p], NULL, NULL));
    EXPECT_TRUE(wait_until(committed_to_end, &a, 30000) >= 0);
    sh->stop[1] = sh->stop[2] = 1;
    wait_exit_ok(c2);
    wait_exit_ok(c3);

    static uint8_t seen[T5_PARTITIONS][2 * T5_RECORDS_PER_PRODUCER];
    int64_t again = 0, total = 0;
    for (int id = 0; id < 3; id++)
        again += consumed_mark(test_tmpdir(), id, seen);
    for (int p = 0; p < T5_PARTITIONS; p++) {
        total += a.end[p];
        for (int64_t off = 0; off < a.end[p]; off++)
            if (!seen[p][off])
                eddy_test_fail(__FILE__, __LINE__, "partition %d offset %lld never consumed", p,
                               (long long)off);
    }
    EXPECT_EQ(total, 2 * T5_RECORDS_PER_PRODUCER);
    printf("    %lld records, all consumed; %lld delivered again after the kill\n",
           (long long)total, (long long)again);

    int resumed_mid_way = 0;
    for (int p = 0; p < T5_PARTITIONS; p++) {
        if (!sh->tracked[p])
            continue;
        printf("    restarted member: partition %d committed %lld, first read %lld\n", p,
               (long long)sh->resume[p], (long long)sh->first[p]);
        if (sh->resume[p] >= 0 && sh->first[p] >= 0)
            EXPECT_EQ(sh->first[p], sh->resume[p]);
        resumed_mid_way += sh->resume[p] > 0;
    }
    EXPECT_GE(resumed_mid_way, 1);
    eddy_log_close(log);
}

/* ------------------------------------------------------------------------------------------ */
/* 6. Committed offsets: durable, merged, checked                                              */

static void commit_and_die(int id, void *arg)
{
    (void)id;
    (void)arg;
    eddy_log *log = log_open();
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, "g6", NULL, &c));
    EXPECT_OK(eddy_log_consumer_assign(c, "t6", 0, EDDY_OFFSET_BEGINNING));
    EXPECT_OK(eddy_log_consumer_commit_offset(c, "t6", 0, 5));
    EXPECT_OK(eddy_log_consumer_commit_offset(c, "t6", 1, 7));
    raise(SIGKILL); /* no destroy, no close */
}

static void commit_many(int id, void *arg)
{
    (void)arg;
    eddy_log *log = log_open();
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "enable.auto.commit", "false"));
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, "g6m", config, &c));
    /* Process id owns partitions id*2 and id*2 + 1 of t6m, by hand. */
    for (int p = id * 2; p < id * 2 + 2; p++)
        EXPECT_OK(eddy_log_consumer_assign(c, "t6m", p, EDDY_OFFSET_BEGINNING));
    for (int i = 1; i <= 100; i++)
        for (int p = id * 2; p < id * 2 + 2; p++)
            EXPECT_OK(eddy_log_consumer_commit_offset(c, "t6m", p, i * 10 + p));
    eddy_log_consumer_destroy(c);
    eddy_config_destroy(config);
    eddy_log_close(log);
}

typedef struct offsets_seen {
    int count;
    char topic[8][16];
    int32_t partition[8];
    int64_t offset[8];
} offsets_seen;

static void offsets_collect(const char *topic, int32_t partition, int64_t offset, void *opaque)
{
    offsets_seen *s = opaque;
    EXPECT_TRUE(s->count < 8);
    snprintf(s->topic[s->count], sizeof(s->topic[0]), "%s", topic);
    s->partition[s->count] = partition;
    s->offset[s->count++] = offset;
}

TEST(committed_offsets_survive_death_and_reopen_and_merge)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "t6", 2, NULL));
    EXPECT_OK(eddy_log_topic_create(log, "t6m", 6, NULL));
    int64_t offset = -1;
    EXPECT_ERR(eddy_log_group_committed(log, "g6", "t6", 0, &offset), EDDY_ERR_NOT_FOUND);

    pid_t dier = spawn(commit_and_die, 0, NULL);
    int status = 0;
    while (waitpid(dier, &status, 0) < 0 && errno == EINTR) {
    }
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    eddy_log_close(log);
    log = log_open();
    EXPECT_OK(eddy_log_group_committed(log, "g6", "t6", 0, &offset));
    EXPECT_EQ(offset, 5);
    EXPECT_OK(eddy_log_group_committed(log, "g6", "t6", 1, &offset));
    EXPECT_EQ(offset, 7);
    EXPECT_ERR(eddy_log_group_committed(log, "g6", "t6m", 0, &offset), EDDY_ERR_NOT_FOUND);

    /* Three processes commit different partitions at once: every last commit survives. */
    pid_t pids[3];
    for (int id = 0; id < 3; id++)
        pids[id] = spawn(commit_many, id, NULL);
    for (int id = 0; id < 3; id++)
        wait_exit_ok(pids[id]);
    offsets_seen s = {0};
    EXPECT_OK(eddy_log_group_offsets(log, "g6m", offsets_collect, &s));
    EXPECT_EQ(s.count, 6);
    for (int p = 0; p < 6; p++) {
        EXPECT_STREQ(s.topic[p], "t6m");
        EXPECT_EQ(s.partition[p], p);
        EXPECT_EQ(s.offset[p], 1000 + p);
    }

    char **names = NULL;
    size_t count = 0;
    EXPECT_OK(eddy_log_group_list(log, &names, &count));
    EXPECT_EQ(count, 2);
    EXPECT_STREQ(names[0], "g6");
    EXPECT_STREQ(names[1], "g6m");
    eddy_log_names_free(names, count);
    eddy_log_close(log);
}

static char *file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    EXPECT_TRUE(f != NULL);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof(buf) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void file_write(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    EXPECT_TRUE(f != NULL);
    EXPECT_EQ(fwrite(data, 1, len, f), len);
    fclose(f);
}

TEST(offsets_file_is_documented_text_and_damage_is_reported)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "t6", 12, NULL));
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, "g6f", NULL, &c));
    EXPECT_OK(eddy_log_consumer_assign(c, "t6", 10, EDDY_OFFSET_BEGINNING));
    EXPECT_OK(eddy_log_consumer_commit_offset(c, "t6", 10, 42));
    EXPECT_OK(eddy_log_consumer_commit_offset(c, "t6", 2, 9000000000LL));
    eddy_log_consumer_destroy(c);

    char path[4096];
    snprintf(path, sizeof(path), "%s/groups/g6f/offsets", test_tmpdir());
    size_t len;
    char *text = file_read(path, &len);
    char expected[256];
    int n =
        snprintf(expected, sizeof(expected), "eddy-group-offsets 1\nt6 2 9000000000\nt6 10 42\n");
    EXPECT_EQ(memcmp(text, expected, (size_t)n), 0);
    EXPECT_EQ(len, (size_t)n + 16);
    EXPECT_EQ(memcmp(text + n, "crc32c ", 7), 0);

    /* The codec round-trips its own output. */
    char *copy = malloc(len + 1);
    memcpy(copy, text, len);
    eddy__group_offsets parsed;
    EXPECT_OK(eddy__group_offsets_parse(copy, len, "copy", &parsed));
    EXPECT_EQ(parsed.count, 2);
    EXPECT_STREQ(parsed.entries[0].topic, "t6");
    EXPECT_EQ(parsed.entries[0].partition, 2);
    EXPECT_EQ(parsed.entries[1].offset, 42);
    char *again;
    size_t again_len;
    EXPECT_OK(eddy__group_offsets_format(&parsed, &again, &again_len));
    EXPECT_MEMEQ(again, again_len, text, len);
    free(again);
    eddy__group_offsets_free(&parsed);

    /* A flipped digit fails the CRC, naming the file; a newer version is refused as such. */
    char damaged[512];
    memcpy(damaged, text, len);
    damaged[strlen("eddy-group-offsets 1\nt6 2 9")] = '8';
    file_write(path, damaged, len);
    int64_t offset;
    EXPECT_ERR(eddy_log_group_committed(log, "g6f", "t6", 10, &offset), EDDY_ERR_CORRUPT);
    EXPECT_CONTAINS(eddy_last_error(), "groups/g6f/offsets");
    const char *bad[] = {
        "",
        "eddy-group-offsets 1\n",
        "eddy-group-offsets 1\ncrc32c 00000000\n",
        "eddy-group-offsets x\ncrc32c 00000000\n",
        "eddy-group-offsets 1\nt6 2\ncrc32c 00000000\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *b = malloc(strlen(bad[i]) + 1);
        memcpy(b, bad[i], strlen(bad[i]));
        EXPECT_ERR(eddy__group_offsets_parse(b, strlen(bad[i]), "bad", &parsed), EDDY_ERR_CORRUPT);
    }
    char *newer = malloc(64);
    memcpy(newer, "eddy-group-offsets 2\nanything\n", 30);
    EXPECT_ERR(eddy__group_offsets_parse(newer, 30, "newer", &parsed), EDDY_ERR_FORMAT_VERSION);

    /* Lines that break the rules, in files with a correct CRC: a bad topic name, a repeated or
     * unsorted entry, a partition out of range, a sign, a leading zero, an overflow. */
    const char *rules[] = {
        "t6 1 2\n",     "t/6 1 2\n", "t6 1 2\nt6 1 3\n", "t6 2 2\nt6 1 3\n",
        "t6 10000 1\n", "t6 1 -2\n", "t6 01 2\n",        "t6 1 99999999999999999999\n",
        "t6  1 2\n",    "t6 1 2 \n"};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        char *b = malloc(256);
        int m = snprintf(b, 256, "eddy-group-offsets 1\n%s", rules[i]);
        m += snprintf(b + m, 256 - (size_t)m, "crc32c %08x\n", eddy__crc32c(0, b, (size_t)m));
        eddy_err err = eddy__group_offsets_parse(b, (size_t)m, "rules", &parsed);
        if (i == 0) { /* the control */
            EXPECT_OK(err);
            EXPECT_EQ(parsed.count, 1);
            eddy__group_offsets_free(&parsed);
        } else if (err != EDDY_ERR_CORRUPT) {
            eddy_test_fail(__FILE__, __LINE__, "'%s' parsed: %s", rules[i], eddy_err_name(err));
        }
    }
    eddy_log_close(log);
}

/* ------------------------------------------------------------------------------------------ */
/* Shared state recovery                                                                        */

static void lock_and_die(int id, void *arg)
{
    (void)id;
    (void)arg;
    eddy_log *log = log_open();
    eddy__group *g = NULL;
    EXPECT_OK(eddy__group_open(log, "g7", 1, &g));
    EXPECT_OK(eddy__group_lock(g));
    raise(SIGKILL);
}

typedef struct hold_args {
    int ready_fd;
} hold_args;

static void lock_and_hold(int id, void *arg)
{
    (void)id;
    hold_args *h = arg;
    eddy_log *log = log_open();
    eddy__group *g = NULL;
    EXPECT_OK(eddy__group_open(log, "g8", 1, &g));
    EXPECT_OK(eddy__group_lock(g));
    EXPECT_EQ(write(h->ready_fd, "x", 1), 1);
    for (;;)
        pause();
}

static void subscribe_and_own(eddy_log *log, const char *group, int partitions)
{
    shared *sh = shared_new();
    member_args args = {.sh = sh,
                        .group = group,
                        .topics = {"a"},
                        .topic_count = 1,
                        .events_fd = -1,
                        .dir = test_tmpdir()};
    pid_t pid = spawn(member_main, 0, &args);
    owns_all o = {sh, 0, partitions};
    EXPECT_TRUE(wait_until(member_owns_all, &o, 5000) >= 0);
    described d;
    describe(log, group, &d, NULL);
    EXPECT_EQ(d.count, 1);
    EXPECT_EQ(d.owned_count[0], partitions);
    sh->stop[0] = 1;
    wait_exit_ok(pid);
}

TEST(group_survives_a_member_dying_inside_the_mutex)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 3, NULL));
    /* This handle keeps the state open, so that it is not rebuilt: the dead holder's mutex
     * must be recovered (EOWNERDEAD) and the state repaired. */
    eddy__group *g = NULL;
    EXPECT_OK(eddy__group_open(log, "g7", 1, &g));
    pid_t pid = spawn(lock_and_die, 0, NULL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    EXPECT_TRUE(WIFSIGNALED(status));
    int64_t generation = -1;
    EXPECT_OK(eddy_log_group_describe(log, "g7", NULL, NULL, &generation));
    EXPECT_EQ(generation, 1); /* the repair made every member re-check */
    int64_t start = mono_ms();
    subscribe_and_own(log, "g7", 3);
    EXPECT_LE(mono_ms() - start, 2000);
    EXPECT_OK(eddy__group_lock(g));
    eddy__group_unlock(g);
    eddy__group_close(g);
    eddy_log_close(log);
}

TEST(group_state_left_by_a_crashed_machine_is_rebuilt)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 2, NULL));
    /* A process holds the mutex; the state file is copied while it does, as a crash of the
     * whole machine would leave it: locked by a thread that no longer exists, with no
     * robust-list cleanup ever run. */
    int pipe_fds[2];
    EXPECT_EQ(pipe(pipe_fds), 0);
    hold_args h = {pipe_fds[1]};
    pid_t holder = spawn(lock_and_hold, 0, &h);
    char ready;
    EXPECT_EQ(read(pipe_fds[0], &ready, 1), 1);
    char path[4096];
    snprintf(path, sizeof(path), "%s/groups/g8/state", test_tmpdir());
    struct stat st;
    EXPECT_EQ(stat(path, &st), 0);
    char *image = malloc((size_t)st.st_size);
    int fd = open(path, O_RDONLY);
    EXPECT_EQ(pread(fd, image, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    /* While the holder lives (a stopped process, say), others wait, then say why. */
    if (test_soak()) {
        EXPECT_ERR(eddy_log_group_describe(log, "g8", NULL, NULL, NULL), EDDY_ERR_BUSY);
        EXPECT_CONTAINS(eddy_last_error(), "g8");
    }
    kill_wait(holder);
    fd = open(path, O_WRONLY);
    EXPECT_EQ(pwrite(fd, image, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    free(image);
    /* "After the reboot" nobody has the state open: the first opener rebuilds it. */
    int64_t start = mono_ms();
    int64_t generation = -1;
    EXPECT_OK(eddy_log_group_describe(log, "g8", NULL, NULL, &generation));
    EXPECT_EQ(generation, 0);
    subscribe_and_own(log, "g8", 2);
    EXPECT_LE(mono_ms() - start, 2000);
    eddy_log_close(log);
}

/* A process that initialises the state dies half-way, holding the initialiser's lock, while
 * another waits to open the group: the waiter must initialise it, not report damage. */
static void die_while_initialising(int id, void *arg)
{
    (void)id;
    hold_args *h = arg;
    char path[4096];
    snprintf(path, sizeof(path), "%s/groups", test_tmpdir());
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/groups/g18", test_tmpdir());
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/groups/g18/state", test_tmpdir());
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    EXPECT_EQ(fcntl(fd, F_OFD_SETLK, &fl), 0);
    EXPECT_EQ(ftruncate(fd, 100), 0); /* a header of zeros: half-way */
    EXPECT_EQ(write(h->ready_fd, "x", 1), 1);
    sleep_ms(200); /* the test's open is waiting now */
    raise(SIGKILL);
}

TEST(an_initialiser_dying_half_way_is_replaced)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 1, NULL));
    int pipe_fds[2];
    EXPECT_EQ(pipe(pipe_fds), 0);
    hold_args h = {pipe_fds[1]};
    pid_t pid = spawn(die_while_initialising, 0, &h);
    close(pipe_fds[1]); /* a child that fails ends the read below */
    char ready;
    EXPECT_EQ(read(pipe_fds[0], &ready, 1), 1);
    int64_t generation = -1;
    EXPECT_OK(eddy_log_group_describe(log, "g18", NULL, NULL, &generation));
    EXPECT_EQ(generation, 0);
    int status;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status));
    subscribe_and_own(log, "g18", 1);
    eddy_log_close(log);
}

/* A state file that is not one, while another process has it open, is reported and left
 * alone; once nobody has it open, it is rebuilt. */
TEST(damaged_group_state_is_reported_then_rebuilt)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 1, NULL));
    eddy__group *g = NULL;
    EXPECT_OK(eddy__group_open(log, "g17", 1, &g));
    char path[4096];
    snprintf(path, sizeof(path), "%s/groups/g17/state", test_tmpdir());
    int fd = open(path, O_WRONLY);
    EXPECT_EQ(pwrite(fd, "garbage!", 8, 0), 8);
    close(fd);
    EXPECT_ERR(eddy_log_group_describe(log, "g17", NULL, NULL, NULL), EDDY_ERR_CORRUPT);
    EXPECT_CONTAINS(eddy_last_error(), "groups/g17/state");
    eddy__group_close(g);
    subscribe_and_own(log, "g17", 1);
    eddy_log_close(log);
}

/* ------------------------------------------------------------------------------------------ */
/* API contracts                                                                               */

TEST(consumer_api_errors_name_their_input)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 2, NULL));
    eddy_log_consumer *c = NULL;
    EXPECT_ERR(eddy_log_consumer_new(log, "bad/name", NULL, &c), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "bad/name");
    EXPECT_ERR(eddy_log_consumer_new(log, "..", NULL, &c), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_log_consumer_new(log, "", NULL, &c), EDDY_ERR_INVALID_ARGUMENT);
    eddy_config *config = eddy_config_new();
    EXPECT_ERR(eddy_config_set(config, "auto.offset.reset", "sometimes"), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "sometimes");
    EXPECT_OK(eddy_config_set(config, "enable.auto.commit", "FALSE"));
    EXPECT_OK(eddy_log_consumer_new(log, "g9", config, &c));
    eddy_log_consumer_destroy(c);

    /* No group: manual assignment only. */
    EXPECT_OK(eddy_log_consumer_new(log, NULL, NULL, &c));
    const char *topics[] = {"a"};
    EXPECT_ERR(eddy_log_consumer_subscribe(c, topics, 1, NULL, NULL), EDDY_ERR_STATE);
    eddy_record record;
    EXPECT_ERR(eddy_log_consumer_poll(c, 0, &record), EDDY_ERR_STATE);
    EXPECT_ERR(eddy_log_consumer_commit(c), EDDY_ERR_STATE);
    EXPECT_ERR(eddy_log_consumer_assign(c, "nope", 0, 0), EDDY_ERR_UNKNOWN_TOPIC);
    EXPECT_ERR(eddy_log_consumer_assign(c, "a", 2, 0), EDDY_ERR_UNKNOWN_PARTITION);
    EXPECT_CONTAINS(eddy_last_error(), "'a'");
    EXPECT_TRUE(eddy_log_consumer_member_id(c) == NULL);
    eddy_log_consumer_destroy(c);

    /* A member commits only what it owns; subscribe needs existing topics. */
    EXPECT_OK(eddy_log_consumer_new(log, "g9", NULL, &c));
    const char *missing[] = {"a", "nope"};
    EXPECT_ERR(eddy_log_consumer_subscribe(c, missing, 2, NULL, NULL), EDDY_ERR_UNKNOWN_TOPIC);
    EXPECT_OK(eddy_log_consumer_subscribe(c, topics, 1, NULL, NULL));
    EXPECT_CONTAINS(eddy_log_consumer_member_id(c), "eddy-");
    EXPECT_ERR(eddy_log_consumer_assign(c, "a", 0, 0), EDDY_ERR_STATE);
    EXPECT_ERR(eddy_log_consumer_poll(c, 0, &record), EDDY_ERR_TIMED_OUT);
    const eddy_topic_partition *tps;
    size_t count;
    EXPECT_OK(eddy_log_consumer_assignment(c, &tps, &count));
    EXPECT_EQ(count, 2);
    EXPECT_ERR(eddy_log_consumer_commit_offset(c, "a", 5, 1), EDDY_ERR_STATE);
    eddy_log_consumer_destroy(c);

    int64_t generation;
    EXPECT_ERR(eddy_log_group_describe(log, "nobody", NULL, NULL, &generation), EDDY_ERR_NOT_FOUND);
    EXPECT_ERR(eddy_log_group_committed(log, "nobody", "a", 0, &generation), EDDY_ERR_NOT_FOUND);
    eddy_config_destroy(config);
    eddy_log_close(log);
}

TEST(start_offsets_follow_commits_and_auto_offset_reset)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 1, NULL));
    eddy_record records[10];
    char values[10][16];
    for (int i = 0; i < 10; i++) {
        snprintf(values[i], sizeof(values[i]), "v%d", i);
        records[i] = (eddy_record){.value = {values[i], strlen(values[i])}, .timestamp_ms = -1};
    }
    EXPECT_OK(eddy_log_append(log, "a", 0, records, 10, EDDY_ACKS_ALL, NULL, NULL));
    eddy_record record;

    /* latest (the default): nothing old is read; after a commit, the next member resumes. */
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, "g10", NULL, &c));
    const char *topics[] = {"a"};
    EXPECT_OK(eddy_log_consumer_subscribe(c, topics, 1, NULL, NULL));
    EXPECT_ERR(eddy_log_consumer_poll(c, 50, &record), EDDY_ERR_TIMED_OUT);
    eddy_log_consumer_destroy(c); /* auto-commit stores the resolved position: 10 */
    int64_t offset;
    EXPECT_OK(eddy_log_group_committed(log, "g10", "a", 0, &offset));
    EXPECT_EQ(offset, 10);

    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "auto.offset.reset", "earliest"));
    EXPECT_OK(eddy_log_consumer_new(log, "g11", config, &c));
    EXPECT_OK(eddy_log_consumer_subscribe(c, topics, 1, NULL, NULL));
    for (int i = 0; i < 4; i++) {
        EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
        EXPECT_EQ(record.offset, i);
    }
    EXPECT_OK(eddy_log_consumer_commit(c));
    eddy_log_consumer_destroy(c);
    EXPECT_OK(eddy_log_consumer_new(log, "g11", config, &c));
    EXPECT_OK(eddy_log_consumer_subscribe(c, topics, 1, NULL, NULL));
    EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
    EXPECT_EQ(record.offset, 4);
    EXPECT_MEMEQ(record.value.data, record.value.len, "v4", 2);
    eddy_log_consumer_destroy(c);

    /* A committed offset beyond the log (the topic was recreated) resets per policy; with
     * none, poll says which partition has no usable offset. */
    EXPECT_OK(eddy_log_consumer_new(log, "g12", config, &c));
    EXPECT_OK(eddy_log_consumer_assign(c, "a", 0, EDDY_OFFSET_BEGINNING));
    EXPECT_OK(eddy_log_consumer_commit_offset(c, "a", 0, 500));
    eddy_log_consumer_destroy(c);
    EXPECT_OK(eddy_log_consumer_new(log, "g12", config, &c));
    EXPECT_OK(eddy_log_consumer_assign(c, "a", 0, EDDY_OFFSET_STORED));
    EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
    EXPECT_EQ(record.offset, 0);
    eddy_log_consumer_destroy(c);
    EXPECT_OK(eddy_config_set(config, "auto.offset.reset", "none"));
    EXPECT_OK(eddy_log_consumer_new(log, "g13", config, &c));
    EXPECT_OK(eddy_log_consumer_assign(c, "a", 0, EDDY_OFFSET_STORED));
    EXPECT_ERR(eddy_log_consumer_poll(c, 0, &record), EDDY_ERR_OFFSET_OUT_OF_RANGE);
    EXPECT_CONTAINS(eddy_last_error(), "partition 0");
    eddy_log_consumer_destroy(c);
    eddy_config_destroy(config);
    eddy_log_close(log);
}

/* ------------------------------------------------------------------------------------------ */
/* Faults                                                                                       */

/* A member forks a helper that outlives it. The helper inherits the member's descriptors; the
 * member's slot lock must not stay held by it, or the member would never be seen dead. */
static void member_with_child(int id, void *arg)
{
    member_args *args = arg;
    member_ctx m = {.args = args, .id = id};
    eddy_log *log = log_open();
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, args->group, NULL, &c));
    EXPECT_OK(eddy_log_consumer_subscribe(c, args->topics, 1, member_rebalance, &m));
    eddy_record record;
    EXPECT_ERR(eddy_log_consumer_poll(c, 20, &record), EDDY_ERR_TIMED_OUT);
    pid_t helper = fork();
    EXPECT_TRUE(helper >= 0);
    if (helper == 0) {
        /* The child's copy of the consumer refuses to act, and it leaves the group alone.
         * (Reported, not asserted: the helper must live on whatever happens.) */
        args->sh->consumed[MEMBERS - 1] = eddy_log_consumer_poll(c, 0, &record) == EDDY_ERR_STATE;
        eddy_log_consumer_destroy(c);
        sleep_ms(30000);
        _exit(0);
    }
    args->sh->pid[MEMBERS - 1] = (int)helper;
    snprintf(args->sh->member_id[id], sizeof(args->sh->member_id[id]), "%s",
             eddy_log_consumer_member_id(c));
    args->sh->pid[id] = (int)getpid();
    args->sh->joined[id] = 1;
    while (!args->sh->stop[id])
        if (eddy_log_consumer_poll(c, 50, &record) != EDDY_ERR_TIMED_OUT)
            eddy_test_fail(__FILE__, __LINE__, "poll: %s", eddy_last_error());
}

TEST(a_forked_child_does_not_keep_a_dead_member_alive)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 2, NULL));
    shared *sh = shared_new();
    member_args args = {.sh = sh,
                        .group = "g14",
                        .topics = {"a"},
                        .topic_count = 1,
                        .events_fd = -1,
                        .dir = test_tmpdir()};
    pid_t parent = spawn(member_with_child, 1, &args);
    while (!sh->joined[1])
        sleep_ms(1);
    pid_t survivor = spawn(member_main, 0, &args);
    balance_check b = {.sh = sh, .log = log, .group = "g14", .partitions = 2};
    b.members[0] = 0, b.members[1] = 1, b.member_count = 2;
    EXPECT_TRUE(wait_until(joined, &b, 5000) >= 0);
    EXPECT_TRUE(wait_until(balanced, &b, 5000) >= 0);
    kill_wait(parent); /* its helper lives on */
    EXPECT_EQ(kill(sh->pid[MEMBERS - 1], 0), 0);
    owns_all o = {sh, 0, 2};
    int64_t ms = wait_until(member_owns_all, &o, 5000);
    EXPECT_TRUE(ms >= 0 && ms <= 2000);
    EXPECT_EQ(sh->consumed[MEMBERS - 1], 1);
    kill(sh->pid[MEMBERS - 1], SIGKILL);
    sh->stop[0] = 1;
    wait_exit_ok(survivor);
    eddy_log_close(log);
}

TEST(a_failed_commit_sync_keeps_the_previous_offsets)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 1, NULL));
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, "g15", NULL, &c));
    EXPECT_OK(eddy_log_consumer_assign(c, "a", 0, EDDY_OFFSET_BEGINNING));
    EXPECT_OK(eddy_log_consumer_commit_offset(c, "a", 0, 5));
    eddy__fault_set(EDDY_FAULT_FSYNC, 1, EIO, 0);
    EXPECT_ERR(eddy_log_consumer_commit_offset(c, "a", 0, 6), EDDY_ERR_IO);
    EXPECT_CONTAINS(eddy_last_error(), "fdatasync");
    EXPECT_CONTAINS(eddy_last_error(), "g15");
    int64_t offset;
    EXPECT_OK(eddy_log_group_committed(log, "g15", "a", 0, &offset));
    EXPECT_EQ(offset, 5);
    /* The next commit writes a new file from memory, and syncs it: no retry of lost pages. */
    EXPECT_OK(eddy_log_consumer_commit_offset(c, "a", 0, 7));
    EXPECT_OK(eddy_log_group_committed(log, "g15", "a", 0, &offset));
    EXPECT_EQ(offset, 7);
    eddy_log_consumer_destroy(c);
    eddy_log_close(log);
}

static void fault_cycle(eddy_log *log)
{
    eddy_config *config = eddy_config_new();
    if (config && eddy_config_set(config, "auto.offset.reset", "earliest") != EDDY_OK) {
        eddy_config_destroy(config);
        return;
    }
    eddy_log_consumer *c = NULL;
    eddy_err err = eddy_log_consumer_new(log, "g16", config, &c);
    eddy_config_destroy(config);
    if (err != EDDY_OK) {
        EXPECT_EQ(err, EDDY_ERR_NO_MEMORY);
        return;
    }
    const char *topics[] = {"a"};
    err = eddy_log_consumer_subscribe(c, topics, 1, NULL, NULL);
    for (int i = 0; err == EDDY_OK && i < 6; i++) {
        eddy_record record;
        err = eddy_log_consumer_poll(c, 20, &record);
        if (err == EDDY_ERR_TIMED_OUT)
            err = EDDY_OK;
    }
    if (err == EDDY_OK)
        err = eddy_log_consumer_commit(c);
    if (err == EDDY_OK)
        err = eddy_log_group_describe(log, "g16", NULL, NULL, NULL);
    if (err != EDDY_OK && err != EDDY_ERR_NO_MEMORY)
        eddy_test_fail(__FILE__, __LINE__, "%s: %s", eddy_err_name(err), eddy_last_error());
    eddy_log_consumer_destroy(c);
}

static int owns_both(void *arg)
{
    eddy_log_consumer *c = arg;
    eddy_record record;
    eddy_err err = eddy_log_consumer_poll(c, 10, &record);
    EXPECT_TRUE(err == EDDY_OK || err == EDDY_ERR_TIMED_OUT);
    const eddy_topic_partition *tps;
    size_t count;
    EXPECT_OK(eddy_log_consumer_assignment(c, &tps, &count));
    return count == 2;
}

TEST(every_allocation_failure_leaves_the_group_usable)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 2, NULL));
    eddy_record records[4];
    for (int i = 0; i < 4; i++)
        records[i] = (eddy_record){.value = {"v", 1}, .timestamp_ms = -1};
    EXPECT_OK(eddy_log_append(log, "a", 0, records, 4, EDDY_ACKS_LEADER, NULL, NULL));
    EXPECT_OK(eddy_log_append(log, "a", 1, records, 4, EDDY_ACKS_LEADER, NULL, NULL));
    eddy_logging_set_level(EDDY_LOG_ERROR); /* the failed auto-commits warn */
    uint64_t n;
    for (n = 1; n < 2000; n++) {
        eddy__alloc_fail_after(n, 0);
        fault_cycle(log);
        int injected = eddy__alloc_failures_injected() > 0;
        eddy__alloc_fail_after(0, 0);
        /* Whatever failed, a new member gets every partition at once, and leaves none behind. */
        eddy_log_consumer *c = NULL;
        EXPECT_OK(eddy_log_consumer_new(log, "g16", NULL, &c));
        const char *topics[] = {"a"};
        EXPECT_OK(eddy_log_consumer_subscribe(c, topics, 1, NULL, NULL));
        EXPECT_TRUE(wait_until(owns_both, c, 2000) >= 0);
        eddy_log_consumer_destroy(c);
        described d;
        describe(log, "g16", &d, NULL);
        EXPECT_EQ(d.count, 0);
        if (!injected)
            break;
    }
    printf("    %llu allocation failures injected\n", (unsigned long long)n - 1);
    EXPECT_GE(n, 10);
    EXPECT_TRUE(n < 2000);
    eddy_log_close(log);
}

/* ------------------------------------------------------------------------------------------ */
/* Pause, seek, position, unassign, commits of several offsets, the protocol without reads     */

/* Appends `count` records "v<i>" to one partition. */
static void append_values(eddy_log *log, const char *topic, int32_t partition, int count)
{
    for (int i = 0; i < count; i++) {
        char value[16];
        snprintf(value, sizeof(value), "v%d", i);
        eddy_record r = {.value = {value, strlen(value)}, .timestamp_ms = -1};
        EXPECT_OK(eddy_log_append(log, topic, partition, &r, 1, EDDY_ACKS_LEADER, NULL, NULL));
    }
}

static size_t assignment_count(eddy_log_consumer *c)
{
    const eddy_topic_partition *tps;
    size_t count;
    EXPECT_OK(eddy_log_consumer_assignment(c, &tps, &count));
    return count;
}

static int64_t position_of(eddy_log_consumer *c, const char *topic, int32_t partition)
{
    int64_t offset = -99;
    EXPECT_OK(eddy_log_consumer_position(c, topic, partition, &offset));
    return offset;
}

static int64_t committed_of(eddy_log *log, const char *group, const char *topic, int32_t partition)
{
    int64_t offset = -99;
    EXPECT_OK(eddy_log_group_committed(log, group, topic, partition, &offset));
    return offset;
}

TEST(paused_partitions_return_nothing_and_resume_at_their_position)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 2, NULL));
    append_values(log, "a", 0, 5);
    append_values(log, "a", 1, 5);
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, NULL, NULL, &c));
    EXPECT_OK(eddy_log_consumer_assign(c, "a", 0, EDDY_OFFSET_BEGINNING));
    EXPECT_OK(eddy_log_consumer_assign(c, "a", 1, EDDY_OFFSET_BEGINNING));
    eddy_record record;
    for (int i = 0; i < 3; i++) { /* a burst from partition 0 */
        EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
        EXPECT_EQ(record.partition, 0);
        EXPECT_EQ(record.offset, i);
    }
    eddy_topic_partition p0 = {"a", 0};
    EXPECT_OK(eddy_log_consumer_pause(c, &p0, 1));
    EXPECT_OK(eddy_log_consumer_pause(c, &p0, 1)); /* again: nothing changes */
    for (int i = 0; i < 5; i++) {
        EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
        EXPECT_EQ(record.partition, 1);
        EXPECT_EQ(record.offset, i);
    }
    EXPECT_ERR(eddy_log_consumer_poll(c, 50, &record), EDDY_ERR_TIMED_OUT);
    append_values(log, "a", 0, 1); /* appended to the paused partition: still nothing */
    EXPECT_ERR(eddy_log_consumer_poll(c, 20, &record), EDDY_ERR_TIMED_OUT);
    EXPECT_EQ(position_of(c, "a", 0), 3);
    EXPECT_EQ(position_of(c, "a", 1), 5);

    /* Unassigned partitions are refused, all or none. */
    eddy_topic_partition both[] = {{"a", 0}, {"a", 7}};
    EXPECT_ERR(eddy_log_consumer_resume(c, both, 2), EDDY_ERR_STATE);
    EXPECT_CONTAINS(eddy_last_error(), "partition 7");
    EXPECT_ERR(eddy_log_consumer_poll(c, 0, &record), EDDY_ERR_TIMED_OUT); /* still paused */
    EXPECT_ERR(eddy_log_consumer_pause(c, NULL, 1), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_OK(eddy_log_consumer_pause(c, NULL, 0));

    EXPECT_OK(eddy_log_consumer_resume(c, &p0, 1));
    for (int i = 3; i < 6; i++) {
        EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
        EXPECT_EQ(record.partition, 0);
        EXPECT_EQ(record.offset, i);
    }
    EXPECT_ERR(eddy_log_consumer_poll(c, 0, &record), EDDY_ERR_TIMED_OUT);
    eddy_log_consumer_destroy(c);

    /* A subscribed member keeps a paused partition in the group. */
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "auto.offset.reset", "earliest"));
    EXPECT_OK(eddy_log_consumer_new(log, "gp", config, &c));
    const char *topics[] = {"a"};
    EXPECT_OK(eddy_log_consumer_subscribe(c, topics, 1, NULL, NULL));
    EXPECT_OK(eddy_log_consumer_poll(c, 0, NULL));
    EXPECT_EQ(assignment_count(c), 2);
    eddy_topic_partition p1 = {"a", 1};
    EXPECT_OK(eddy_log_consumer_pause(c, &p1, 1));
    for (int i = 0; i < 6; i++) {
        EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
        EXPECT_EQ(record.partition, 0);
    }
    EXPECT_ERR(eddy_log_consumer_poll(c, 20, &record), EDDY_ERR_TIMED_OUT);
    described d;
    describe(log, "gp", &d, NULL);
    EXPECT_EQ(d.count, 1);
    EXPECT_EQ(d.owned_count[0], 2);
    EXPECT_EQ(position_of(c, "a", 1), 0);
    eddy_log_consumer_destroy(c);
    eddy_config_destroy(config);
    eddy_log_close(log);
}

TEST(seek_and_position_apply_to_subscribed_and_manual_partitions)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 2, NULL));
    append_values(log, "a", 0, 10);
    append_values(log, "a", 1, 10);
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "auto.offset.reset", "earliest"));
    EXPECT_OK(eddy_config_set(config, "enable.auto.commit", "false"));
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, "gs", config, &c));
    const char *topics[] = {"a"};
    EXPECT_OK(eddy_log_consumer_subscribe(c, topics, 1, NULL, NULL));
    EXPECT_OK(eddy_log_consumer_poll(c, 0, NULL));
    EXPECT_EQ(assignment_count(c), 2);
    EXPECT_EQ(position_of(c, "a", 0), 0); /* earliest: nothing was committed */
    eddy_topic_partition p1 = {"a", 1};
    EXPECT_OK(eddy_log_consumer_pause(c, &p1, 1)); /* only partition 0 is read below */

    EXPECT_OK(eddy_log_consumer_seek(c, "a", 0, 7));
    EXPECT_EQ(position_of(c, "a", 0), 7);
    eddy_record record;
    EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
    EXPECT_EQ(record.offset, 7);
    EXPECT_MEMEQ(record.value.data, record.value.len, "v7", 2);
    EXPECT_EQ(position_of(c, "a", 0), 8);
    EXPECT_OK(eddy_log_consumer_seek(c, "a", 0, EDDY_OFFSET_END));
    EXPECT_EQ(position_of(c, "a", 0), 10);
    EXPECT_ERR(eddy_log_consumer_poll(c, 0, &record), EDDY_ERR_TIMED_OUT);
    EXPECT_OK(eddy_log_consumer_seek(c, "a", 0, EDDY_OFFSET_BEGINNING));
    EXPECT_EQ(position_of(c, "a", 0), 0);
    EXPECT_OK(eddy_log_consumer_seek(c, "a", 0, 2));
    EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
    EXPECT_EQ(record.offset, 2);

    /* Outside the log: the next read resets per auto.offset.reset (earliest). */
    EXPECT_OK(eddy_log_consumer_seek(c, "a", 0, 500));
    EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
    EXPECT_EQ(record.partition, 0);
    EXPECT_EQ(record.offset, 0);

    /* A paused partition can be moved, and stays paused. */
    EXPECT_OK(eddy_log_consumer_seek(c, "a", 1, 9));
    EXPECT_EQ(position_of(c, "a", 1), 9);
    EXPECT_OK(eddy_log_consumer_seek(c, "a", 0, EDDY_OFFSET_END));
    EXPECT_ERR(eddy_log_consumer_poll(c, 0, &record), EDDY_ERR_TIMED_OUT);
    EXPECT_OK(eddy_log_consumer_resume(c, &p1, 1));
    EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
    EXPECT_EQ(record.partition, 1);
    EXPECT_EQ(record.offset, 9);

    int64_t offset;
    EXPECT_ERR(eddy_log_consumer_seek(c, "a", 5, 0), EDDY_ERR_STATE);
    EXPECT_CONTAINS(eddy_last_error(), "partition 5");
    EXPECT_ERR(eddy_log_consumer_seek(c, "b", 0, 0), EDDY_ERR_STATE);
    EXPECT_CONTAINS(eddy_last_error(), "'b'");
    EXPECT_ERR(eddy_log_consumer_seek(c, "a", 0, -5), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "-5");
    EXPECT_ERR(eddy_log_consumer_position(c, "a", 2, &offset), EDDY_ERR_STATE);
    eddy_log_consumer_destroy(c);

    /* Manual: the stored start resolves to the committed offset. */
    EXPECT_OK(eddy_log_consumer_new(log, "gs", config, &c));
    EXPECT_OK(eddy_log_consumer_commit_offset(c, "a", 1, 4));
    EXPECT_OK(eddy_log_consumer_assign(c, "a", 1, EDDY_OFFSET_STORED));
    EXPECT_EQ(position_of(c, "a", 1), 4);
    EXPECT_OK(eddy_log_consumer_seek(c, "a", 1, 6));
    EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
    EXPECT_EQ(record.offset, 6);
    EXPECT_EQ(position_of(c, "a", 1), 7);
    eddy_log_consumer_destroy(c);
    eddy_config_destroy(config);
    eddy_log_close(log);
}

TEST(unassign_drops_manual_assignments_only)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 2, NULL));
    append_values(log, "a", 0, 5);
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, NULL, NULL, &c));
    EXPECT_OK(eddy_log_consumer_unassign(c)); /* nothing assigned: nothing to do */
    EXPECT_OK(eddy_log_consumer_assign(c, "a", 0, EDDY_OFFSET_BEGINNING));
    EXPECT_OK(eddy_log_consumer_assign(c, "a", 1, EDDY_OFFSET_BEGINNING));
    EXPECT_EQ(assignment_count(c), 2);
    EXPECT_OK(eddy_log_consumer_unassign(c));
    EXPECT_EQ(assignment_count(c), 0);
    eddy_record record;
    EXPECT_ERR(eddy_log_consumer_poll(c, 0, &record), EDDY_ERR_STATE);
    int64_t offset;
    EXPECT_ERR(eddy_log_consumer_position(c, "a", 0, &offset), EDDY_ERR_STATE);
    EXPECT_OK(eddy_log_consumer_assign(c, "a", 0, 3));
    EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
    EXPECT_EQ(record.offset, 3);
    eddy_log_consumer_destroy(c);

    /* With a group and enable.auto.commit, the positions are committed first; the consumer may
     * then subscribe. */
    EXPECT_OK(eddy_log_consumer_new(log, "gu", NULL, &c));
    EXPECT_OK(eddy_log_consumer_assign(c, "a", 0, EDDY_OFFSET_BEGINNING));
    for (int i = 0; i < 2; i++)
        EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
    EXPECT_OK(eddy_log_consumer_unassign(c));
    EXPECT_EQ(committed_of(log, "gu", "a", 0), 2);
    const char *topics[] = {"a"};
    EXPECT_OK(eddy_log_consumer_subscribe(c, topics, 1, NULL, NULL));
    EXPECT_ERR(eddy_log_consumer_unassign(c), EDDY_ERR_STATE);
    EXPECT_CONTAINS(eddy_last_error(), "gu");
    EXPECT_OK(eddy_log_consumer_poll(c, 0, NULL));
    EXPECT_EQ(assignment_count(c), 2);
    EXPECT_OK(eddy_log_consumer_poll(c, 1000, &record));
    EXPECT_EQ(record.partition, 0);
    EXPECT_EQ(record.offset, 2); /* resumes from the commit made by unassign */
    eddy_log_consumer_destroy(c);
    eddy_log_close(log);
}

/* Rebalance callback bookkeeping for the tests below. */
typedef struct callback_counts {
    int assigned, revoked, calls;
} callback_counts;

static void count_rebalance(eddy_log_consumer *c, eddy_rebalance_event event,
                            const eddy_topic_partition *partitions, size_t count, void *opaque)
{
    (void)c;
    (void)partitions;
    callback_counts *counts = opaque;
    counts->calls++;
    if (event == EDDY_REBALANCE_ASSIGN)
        counts->assigned += (int)count;
    else
        counts->revoked += (int)count;
}

/* poll(NULL) both members, without sleeping more than 2 ms a round, until each owns `each`
 * partitions; returns the ms it took, or -1 after 5 s. */
static int64_t split_by_protocol_only(eddy_log_consumer *c1, eddy_log_consumer *c2, size_t each)
{
    int64_t start = mono_ms();
    while (mono_ms() - start < 5000) {
        EXPECT_OK(eddy_log_consumer_poll(c1, 0, NULL));
        EXPECT_OK(eddy_log_consumer_poll(c2, 0, NULL));
        if (assignment_count(c1) == each && assignment_count(c2) == each)
            return mono_ms() - start;
        sleep_ms(2);
    }
    return -1;
}

TEST(commit_offsets_writes_several_partitions_in_one_commit)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 4, NULL));
    EXPECT_OK(eddy_log_topic_create(log, "b", 2, NULL));
    eddy_log_consumer *c = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, "gc", NULL, &c));
    eddy_topic_partition tps[] = {{"a", 0}, {"a", 3}, {"b", 1}};
    int64_t offsets[] = {5, 7, 9};
    EXPECT_OK(eddy_log_consumer_commit_offsets(c, tps, offsets, 3));
    EXPECT_EQ(committed_of(log, "gc", "a", 0), 5);
    EXPECT_EQ(committed_of(log, "gc", "a", 3), 7);
    EXPECT_EQ(committed_of(log, "gc", "b", 1), 9);
    int64_t offset;
    EXPECT_ERR(eddy_log_group_committed(log, "gc", "a", 1, &offset), EDDY_ERR_NOT_FOUND);

    /* Commits merge; a partition listed twice gets its last offset. */
    eddy_topic_partition again[] = {{"a", 0}, {"a", 0}};
    int64_t again_offsets[] = {6, 8};
    EXPECT_OK(eddy_log_consumer_commit_offsets(c, again, again_offsets, 2));
    EXPECT_EQ(committed_of(log, "gc", "a", 0), 8);
    EXPECT_EQ(committed_of(log, "gc", "a", 3), 7);
    EXPECT_OK(eddy_log_consumer_commit_offsets(c, NULL, NULL, 0));

    /* One bad entry and nothing is written. */
    eddy_topic_partition bad[] = {{"a", 0}, {"a", 1}};
    int64_t bad_offsets[] = {11, -3};
    EXPECT_ERR(eddy_log_consumer_commit_offsets(c, bad, bad_offsets, 2), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "-3");
    EXPECT_EQ(committed_of(log, "gc", "a", 0), 8);
    EXPECT_ERR(eddy_log_consumer_commit_offsets(c, NULL, bad_offsets, 1),
               EDDY_ERR_INVALID_ARGUMENT);
    eddy_log_consumer_destroy(c);
    EXPECT_OK(eddy_log_consumer_new(log, NULL, NULL, &c));
    EXPECT_ERR(eddy_log_consumer_commit_offsets(c, tps, offsets, 3), EDDY_ERR_STATE);
    eddy_log_consumer_destroy(c);

    /* Two members split "a"; each may commit only its own partitions. */
    eddy_log_consumer *c1 = NULL, *c2 = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, "gd", NULL, &c1));
    EXPECT_OK(eddy_log_consumer_new(log, "gd", NULL, &c2));
    const char *topics[] = {"a"};
    EXPECT_OK(eddy_log_consumer_subscribe(c1, topics, 1, NULL, NULL));
    EXPECT_OK(eddy_log_consumer_poll(c1, 0, NULL));
    EXPECT_EQ(assignment_count(c1), 4);
    EXPECT_OK(eddy_log_consumer_subscribe(c2, topics, 1, NULL, NULL));
    EXPECT_TRUE(split_by_protocol_only(c1, c2, 2) >= 0);
    const eddy_topic_partition *own1, *own2;
    size_t n1, n2;
    EXPECT_OK(eddy_log_consumer_assignment(c1, &own1, &n1));
    eddy_topic_partition mine[2] = {own1[0], own1[1]};
    EXPECT_OK(eddy_log_consumer_assignment(c2, &own2, &n2));
    eddy_topic_partition theirs = own2[0];
    int64_t two[] = {3, 4};
    EXPECT_OK(eddy_log_consumer_commit_offsets(c1, mine, two, 2));
    EXPECT_EQ(committed_of(log, "gd", "a", mine[0].partition), 3);
    EXPECT_EQ(committed_of(log, "gd", "a", mine[1].partition), 4);
    eddy_topic_partition mixed[] = {mine[0], theirs};
    int64_t mixed_offsets[] = {10, 10};
    EXPECT_ERR(eddy_log_consumer_commit_offsets(c1, mixed, mixed_offsets, 2), EDDY_ERR_STATE);
    char partition_text[32];
    snprintf(partition_text, sizeof(partition_text), "partition %d", (int)theirs.partition);
    EXPECT_CONTAINS(eddy_last_error(), partition_text);
    EXPECT_CONTAINS(eddy_last_error(), eddy_log_consumer_member_id(c1));
    EXPECT_EQ(committed_of(log, "gd", "a", mine[0].partition), 3); /* nothing was written */
    EXPECT_ERR(eddy_log_group_committed(log, "gd", "a", theirs.partition, &offset),
               EDDY_ERR_NOT_FOUND);
    eddy_topic_partition other_topic = {"b", 0};
    EXPECT_ERR(eddy_log_consumer_commit_offsets(c1, &other_topic, two, 1), EDDY_ERR_STATE);
    eddy_log_consumer_destroy(c2);
    eddy_log_consumer_destroy(c1);
    eddy_log_close(log);
}

TEST(poll_without_a_record_completes_rebalances_without_consuming)
{
    eddy_log *log = log_open();
    EXPECT_OK(eddy_log_topic_create(log, "a", 2, NULL));
    append_values(log, "a", 0, 10);
    append_values(log, "a", 1, 10);
    eddy_log_consumer *c1 = NULL, *c2 = NULL;
    EXPECT_OK(eddy_log_consumer_new(log, "gn", NULL, &c1));
    eddy_topic_partition tps[] = {{"a", 0}, {"a", 1}};
    int64_t offsets[] = {4, 6};
    EXPECT_OK(eddy_log_consumer_commit_offsets(c1, tps, offsets, 2));

    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "auto.offset.reset", "earliest"));
    callback_counts k1 = {0}, k2 = {0};
    const char *topics[] = {"a"};
    EXPECT_OK(eddy_log_consumer_subscribe(c1, topics, 1, count_rebalance, &k1));
    EXPECT_OK(eddy_log_consumer_poll(c1, 1000, NULL)); /* no waiting: timeout ignored */
    EXPECT_EQ(k1.assigned, 2);
    EXPECT_EQ(assignment_count(c1), 2);
    EXPECT_OK(eddy_log_consumer_poll(c1, -1, NULL)); /* nothing changed: no callback */
    EXPECT_EQ(k1.calls, 1);
    EXPECT_EQ(position_of(c1, "a", 0), 4);
    EXPECT_EQ(position_of(c1, "a", 1), 6);

    /* A second member joins; the protocol alone moves one partition to it. */
    EXPECT_OK(eddy_log_consumer_new(log, "gn", config, &c2));
    EXPECT_OK(eddy_log_consumer_subscribe(c2, topics, 1, count_rebalance, &k2));
    EXPECT_TRUE(split_by_protocol_only(c1, c2, 1) >= 0);
    EXPECT_EQ(k1.revoked, 1);
    EXPECT_EQ(k2.assigned, 1);
    const eddy_topic_partition *own;
    size_t n;
    EXPECT_OK(eddy_log_consumer_assignment(c2, &own, &n));
    int32_t moved = own[0].partition;
    EXPECT_EQ(position_of(c2, "a", moved), offsets[moved]);
    EXPECT_EQ(position_of(c1, "a", 1 - moved), offsets[1 - moved]);
    EXPECT_EQ(committed_of(log, "gn", "a", 0), 4); /* nothing consumed, nothing moved */
    EXPECT_EQ(committed_of(log, "gn", "a", 1), 6);

    /* Records are still there for the reading poll. */
    eddy_record record;
    EXPECT_OK(eddy_log_consumer_poll(c2, 1000, &record));
    EXPECT_EQ(record.partition, moved);
    EXPECT_EQ(record.offset, offsets[moved]);
    eddy_log_consumer_destroy(c2);
    eddy_log_consumer_destroy(c1);

    /* A manual consumer has no protocol; a consumer with neither is refused. */
    EXPECT_OK(eddy_log_consumer_new(log, NULL, NULL, &c1));
    EXPECT_ERR(eddy_log_consumer_poll(c1, 0, NULL), EDDY_ERR_STATE);
    EXPECT_OK(eddy_log_consumer_assign(c1, "a", 0, 0));
    EXPECT_OK(eddy_log_consumer_poll(c1, 0, NULL));
    EXPECT_EQ(position_of(c1, "a", 0), 0);
    eddy_log_consumer_destroy(c1);
    eddy_config_destroy(config);
    eddy_log_close(log);
}
