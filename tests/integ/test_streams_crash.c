/* Crash and restart tests of the runtime with a word count, in real processes:
 *
 *   - two instances share the work; one is SIGKILLed mid-stream; the other takes over its tasks,
 *     restores their stores from the changelogs, and every word's latest count is never below
 *     its true count (at-least-once: no loss; repeats may count some words twice);
 *   - two instances, one stopped gracefully (SIGTERM, final commit), the other takes over, then
 *     the survivor is restarted gracefully too: every count is exact;
 *   - a restart with a valid checkpoint restores only the changelog tail, and a memory store
 *     restores all of it. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "eddy/app.h"
#include "eddy/log.h"
#include "test.h"

#define WORDS 40
#define PARTITIONS 4

static char vocabulary[WORDS][16];

static void vocabulary_init(void)
{
    for (int i = 0; i < WORDS; i++)
        snprintf(vocabulary[i], sizeof vocabulary[i], "w%02d", i);
}

static void split_words(eddy_ctx *ctx, const eddy_record *line, void *opaque)
{
    (void)opaque;
    const char *text = line->value.data;
    size_t start = 0;
    for (size_t i = 0; i <= line->value.len; i++) {
        if (i < line->value.len && text[i] != ' ')
            continue;
        if (i > start) {
            eddy_slice w = {text + start, i - start};
            eddy_forward(ctx, w, w);
        }
        start = i + 1;
    }
}

static void count_text(eddy_ctx *ctx, const eddy_record *rec, void *opaque)
{
    (void)opaque;
    int64_t n;
    char text[24];
    if (eddy_int64_decode(rec->value, &n) != EDDY_OK)
        return;
    snprintf(text, sizeof text, "%" PRId64, n);
    eddy_forward_value_str(ctx, text);
}

static eddy_builder *wordcount_builder(eddy_store_kind kind)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *lines = eddy_stream_from(b, "lines", eddy_serde_string(), eddy_serde_string());
    eddy_table *counts = eddy_count(eddy_group_by_key(eddy_flat_map(lines, split_words, NULL)),
                                    "counts");
    eddy_to(eddy_map_values(eddy_to_stream(counts), count_text, NULL), "counts-out");
    eddy_builder_store_options(b, "counts", kind, true);
    return b;
}

static eddy_config *app_config(const char *dir, const char *state)
{
    char path[1024];
    eddy_config *c = eddy_config_new();
    snprintf(path, sizeof path, "%s/log", dir);
    EXPECT_OK(eddy_config_set(c, "log.dir", path));
    snprintf(path, sizeof path, "%s/%s", dir, state);
    EXPECT_OK(eddy_config_set(c, "state.dir", path));
    EXPECT_OK(eddy_config_set(c, "application.id", "wc"));
    EXPECT_OK(eddy_config_set(c, "commit.interval.ms", "100"));
    return c;
}

static volatile sig_atomic_t child_stop;
static void on_term(int sig)
{
    (void)sig;
    child_stop = 1;
}

/* A child process running the word count until SIGTERM; exits 0 after a clean close. */
static pid_t spawn_instance(const char *dir, const char *state)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    signal(SIGTERM, on_term);
    eddy_builder *b = wordcount_builder(EDDY_STORE_ROCKSDB);
    eddy_config *c = app_config(dir, state);
    eddy_app *app = NULL;
    if (eddy_app_new(b, c, &app) != EDDY_OK || eddy_app_start(app) != EDDY_OK) {
        fprintf(stderr, "instance %s: %s\n", state, eddy_last_error());
        _exit(3);
    }
    while (!child_stop && eddy_app_state_get(app) != EDDY_APP_ERROR)
        eddy__sleep_ms(10);
    int failed = eddy_app_state_get(app) == EDDY_APP_ERROR;
    if (failed)
        fprintf(stderr, "instance %s: %s\n", state, eddy_app_error(app));
    failed |= eddy_app_close(app) != EDDY_OK;
    eddy_app_destroy(app);
    eddy_config_destroy(c);
    eddy_builder_destroy(b);
    _exit(failed ? 1 : 0);
}

static int wait_exit(pid_t pid)
{
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static eddy_log *open_log(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/log", dir);
    eddy_log *log = NULL;
    EXPECT_OK(eddy_log_open(path, EDDY_LOG_CREATE, &log));
    return log;
}

/* Appends `lines` lines of 1-5 words each, counting every word in `truth`. */
static void produce_lines(eddy_log *log, uint64_t *seed, int lines, int64_t *truth)
{
    for (int i = 0; i < lines; i++) {
        char text[128] = "";
        size_t len = 0;
        *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int words = 1 + (int)((*seed >> 33) % 5);
        for (int w = 0; w < words; w++) {
            *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
            int word = (int)((*seed >> 33) % WORDS);
            truth[word]++;
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", w ? " " : "",
                                    vocabulary[word]);
        }
        eddy_record rec = {.value = {text, len}, .timestamp_ms = 1000 + i};
        EXPECT_OK(eddy_log_append(log, "lines", i % PARTITIONS, &rec, 1, EDDY_ACKS_LEADER, NULL,
                                  NULL));
    }
}

/* The latest count written for each word (-1: none yet). */
static void latest_counts(eddy_log *log, int64_t *latest)
{
    for (int i = 0; i < WORDS; i++)
        latest[i] = -1;
    for (int32_t p = 0; p < PARTITIONS; p++) {
        eddy_log_reader *r = NULL;
        EXPECT_OK(eddy_log_reader_new(log, "counts-out", p, EDDY_OFFSET_BEGINNING, &r));
        eddy_record rec;
        while (eddy_log_reader_next(r, 0, &rec) == EDDY_OK) {
            int word = -1;
            if (rec.key.len == 3 && sscanf((const char *)rec.key.data, "w%2d", &word) == 1 &&
                word >= 0 && word < WORDS) {
                char text[24];
                snprintf(text, sizeof text, "%.*s", (int)rec.value.len,
                         (const char *)rec.value.data);
                latest[word] = strtoll(text, NULL, 10);
            }
        }
        eddy_log_reader_destroy(r);
    }
}

/* Waits until every word's latest count reaches its truth (or the deadline passes). */
static int wait_counts_reach(eddy_log *log, const int64_t *truth, int64_t *latest, int timeout_ms)
{
    int64_t deadline = eddy__now_ms() + timeout_ms;
    for (;;) {
        latest_counts(log, latest);
        int behind = 0;
        for (int i = 0; i < WORDS; i++)
            behind += truth[i] > 0 && latest[i] < truth[i];
        if (behind == 0 || eddy__now_ms() > deadline)
            return behind;
        eddy__sleep_ms(50);
    }
}

static void setup_topics(const char *dir)
{
    vocabulary_init();
    eddy_log *log = open_log(dir);
    EXPECT_OK(eddy_log_topic_create(log, "lines", PARTITIONS, NULL));
    EXPECT_OK(eddy_log_topic_create(log, "counts-out", PARTITIONS, NULL));
    eddy_log_close(log);
}

TEST(sigkill_one_of_two_instances_loses_nothing)
{
    const char *dir = test_tmpdir();
    setup_topics(dir);
    eddy_log *log = open_log(dir);
    int64_t truth[WORDS] = {0}, latest[WORDS];
    uint64_t seed = test_seed();
    pid_t a = spawn_instance(dir, "state-a");
    pid_t b = spawn_instance(dir, "state-b");
    produce_lines(log, &seed, 20000, truth);
    /* Mid-stream: once the first counts are out, kill a with no chance to commit. */
    EXPECT_EQ(wait_counts_reach(log, (int64_t[WORDS]){[0] = 1}, latest, 20000), 0);
    kill(a, SIGKILL);
    EXPECT_EQ(wait_exit(a), 128 + SIGKILL);
    produce_lines(log, &seed, 2000, truth);
    int behind = wait_counts_reach(log, truth, latest, 30000);
    for (int i = 0; i < WORDS; i++)
        if (latest[i] < truth[i])
            fprintf(stderr, "word %s: latest count %" PRId64 ", true count %" PRId64 "\n",
                    vocabulary[i], latest[i], truth[i]);
    EXPECT_EQ(behind, 0);
    kill(b, SIGTERM);
    EXPECT_EQ(wait_exit(b), 0);
    eddy_log_close(log);
}

TEST(graceful_handover_and_restart_keep_counts_exact)
{
    const char *dir = test_tmpdir();
    setup_topics(dir);
    eddy_log *log = open_log(dir);
    int64_t truth[WORDS] = {0}, latest[WORDS];
    uint64_t seed = test_seed();
    pid_t a = spawn_instance(dir, "state-a");
    pid_t b = spawn_instance(dir, "state-b");
    produce_lines(log, &seed, 1500, truth);
    EXPECT_EQ(wait_counts_reach(log, truth, latest, 30000), 0);
    kill(a, SIGTERM); /* graceful: final commit, the group hands a's tasks to b */
    EXPECT_EQ(wait_exit(a), 0);
    produce_lines(log, &seed, 1500, truth);
    EXPECT_EQ(wait_counts_reach(log, truth, latest, 30000), 0);
    kill(b, SIGTERM);
    EXPECT_EQ(wait_exit(b), 0);
    /* A restart of a (its old state and checkpoint) with more input. */
    a = spawn_instance(dir, "state-a");
    produce_lines(log, &seed, 1000, truth);
    EXPECT_EQ(wait_counts_reach(log, truth, latest, 30000), 0);
    kill(a, SIGTERM);
    EXPECT_EQ(wait_exit(a), 0);
    latest_counts(log, latest);
    for (int i = 0; i < WORDS; i++)
        EXPECT_EQ(latest[i], truth[i] ? truth[i] : -1);
    eddy_log_close(log);
}

/* Runs the word count in this process until the counts reach `truth`, then closes it. Returns
 * the records restored at start. */
static uint64_t run_until_counted(const char *dir, eddy_store_kind kind, eddy_log *log,
                                  const int64_t *truth)
{
    eddy_builder *b = wordcount_builder(kind);
    eddy_config *c = app_config(dir, "state");
    eddy_app *app = NULL;
    EXPECT_OK(eddy_app_new(b, c, &app));
    EXPECT_OK(eddy_app_start(app));
    EXPECT_OK(eddy_app_wait_running(app, 20000));
    uint64_t restored = 0, total = 0;
    eddy_app_restoration(app, &restored, &total);
    EXPECT_EQ(restored, total);
    int64_t latest[WORDS];
    EXPECT_EQ(wait_counts_reach(log, truth, latest, 30000), 0);
    EXPECT_OK(eddy_app_close(app));
    eddy_app_destroy(app);
    eddy_config_destroy(c);
    eddy_builder_destroy(b);
    return restored;
}

/* The number of records in the changelog of "counts". */
static int64_t changelog_records(eddy_log *log)
{
    int64_t total = 0;
    for (int32_t p = 0; p < PARTITIONS; p++) {
        int64_t start = 0, end = 0;
        EXPECT_OK(eddy_log_partition_info(log, "wc-counts-changelog", p, &start, &end, NULL,
                                          NULL));
        total += end - start;
    }
    return total;
}

TEST(restart_with_checkpoint_restores_only_the_tail)
{
    const char *dir = test_tmpdir();
    setup_topics(dir);
    eddy_log *log = open_log(dir);
    int64_t truth[WORDS] = {0};
    uint64_t seed = test_seed();
    produce_lines(log, &seed, 500, truth);
    EXPECT_EQ(run_until_counted(dir, EDDY_STORE_ROCKSDB, log, truth), 0);
    int64_t logged = changelog_records(log);
    EXPECT_TRUE(logged > 0);
    /* Changes the checkpoint does not cover: records appended to the changelog after the last
     * commit (as an instance that crashed after writing them would leave). */
    const int tail = 7;
    for (int i = 0; i < tail; i++) {
        uint8_t count[8];
        eddy_int64_encode(1000 + i, count);
        eddy_record rec = {.key = {vocabulary[i], 3}, .value = {count, 8}, .timestamp_ms = 1};
        int32_t p = eddy_log_partition_for_key(rec.key, PARTITIONS);
        EXPECT_OK(eddy_log_append(log, "wc-counts-changelog", p, &rec, 1, EDDY_ACKS_LEADER, NULL,
                                  NULL));
        truth[i] = 1000 + i + 1; /* the next occurrence counts on from the restored value */
    }
    /* One more occurrence of each tail word, so the restored values show in the output. */
    for (int i = 0; i < tail; i++) {
        eddy_record rec = {.value = {vocabulary[i], 3}, .timestamp_ms = 5000};
        EXPECT_OK(eddy_log_append(log, "lines", 0, &rec, 1, EDDY_ACKS_LEADER, NULL, NULL));
    }
    EXPECT_EQ(run_until_counted(dir, EDDY_STORE_ROCKSDB, log, truth), (uint64_t)tail);
    eddy_log_close(log);
}

TEST(memory_store_restores_the_whole_changelog)
{
    const char *dir = test_tmpdir();
    setup_topics(dir);
    eddy_log *log = open_log(dir);
    int64_t truth[WORDS] = {0};
    uint64_t seed = test_seed();
    produce_lines(log, &seed, 300, truth);
    EXPECT_EQ(run_until_counted(dir, EDDY_STORE_MEMORY, log, truth), 0);
    int64_t logged = changelog_records(log);
    produce_lines(log, &seed, 100, truth);
    EXPECT_EQ(run_until_counted(dir, EDDY_STORE_MEMORY, log, truth), (uint64_t)logged);
    eddy_log_close(log);
}
