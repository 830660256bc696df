/* Windows, suppression, joins and cogroup through the real runtime (include/eddy/app.h) on the
 * embedded log (local, no Kafka): every scenario of tests/windows_scenarios.inc, with the same
 * expectations as the test driver's runner (tests/unit/test_driver_windows_ops.c).
 *
 * Each scenario gets a fresh log directory, its input and output topics (1 partition), and
 * every input appended, in the table's order, before the application starts: a task reading
 * two topics then finds both queues filled at its first poll and picks records by their
 * timestamps, which increase across topics. The application `wops-<scenario>` runs with the
 * record cache off and a 100 ms commit interval; the run ends once the group has committed
 * every input topic to its end (the commit flushes what was produced first) and the outputs
 * hold the records expected, or a moment after the commit when they never will; then the
 * application is closed and each output topic is read from the log and compared exactly. */
#include "test.h"

#include <time.h>
#include <unistd.h>

#include "eddy/app.h"
#include "eddy/config.h"
#include "eddy/log.h"

#include "windows_scenarios.inc"

#define WOPS_RUNNER "runtime"
#define WOPS_DEADLINE_MS 20000
/* How long to wait for missing outputs once every input is committed, before comparing. */
#define WOPS_SETTLE_MS 2000
#define WOPS_POLL_US 10000

typedef struct wops_run {
    const wops_scenario *scenario;
    char app_id[128];
    char dir[1024];
    eddy_log *log;
    eddy_builder *builder;
    eddy_app *app;
} wops_run;

static int64_t wops_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void wops_create_topic(wops_run *run, const char *topic)
{
    eddy_err err = eddy_log_topic_create(run->log, topic, 1, NULL);
    if (err != EDDY_OK && err != EDDY_ERR_EXISTS)
        eddy_test_fail(__FILE__, __LINE__, "create %s: %s: %s", topic, eddy_err_name(err),
                       eddy_last_error());
}

/* Creates the input and output topics and appends the inputs, one batch each, in order. */
static void wops_produce(wops_run *run)
{
    const wops_scenario *scenario = run->scenario;
    for (size_t i = 0; i < scenario->input_count; i++)
        wops_create_topic(run, scenario->inputs[i].topic);
    for (size_t i = 0; i < scenario->output_count; i++)
        wops_create_topic(run, scenario->outputs[i].topic);
    for (size_t i = 0; i < scenario->input_count; i++) {
        const wops_input *input = &scenario->inputs[i];
        eddy_record record = {.key = eddy_string_slice(input->key),
                              .value = eddy_string_slice(input->value),
                              .timestamp_ms = input->timestamp_ms};
        EXPECT_OK(
            eddy_log_append(run->log, input->topic, 0, &record, 1, EDDY_ACKS_LEADER, NULL, NULL));
    }
}

static eddy_config *wops_app_config(const wops_run *run)
{
    char path[1200];
    eddy_config *config = eddy_config_new();
    EXPECT_TRUE(config != NULL);
    EXPECT_OK(eddy_config_set(config, "application.id", run->app_id));
    snprintf(path, sizeof(path), "%s/log", run->dir);
    EXPECT_OK(eddy_config_set(config, "log.dir", path));
    snprintf(path, sizeof(path), "%s/state", run->dir);
    EXPECT_OK(eddy_config_set(config, "state.dir", path));
    EXPECT_OK(eddy_config_set(config, "statestore.cache.max.bytes", "0"));
    EXPECT_OK(eddy_config_set(config, "commit.interval.ms", "100"));
    return config;
}

/* Opens the log, fills it and makes (not starts) the application. */
static void wops_run_open(wops_run *run, const wops_scenario *scenario)
{
    run->scenario = scenario;
    snprintf(run->app_id, sizeof(run->app_id), "wops-%s", scenario->name);
    for (char *c = run->app_id; *c; c++)
        if (*c == '_')
            *c = '-';
    snprintf(run->dir, sizeof(run->dir), "%s", test_tmpdir());
    char log_dir[1200];
    snprintf(log_dir, sizeof(log_dir), "%s/log", run->dir);
    EXPECT_OK(eddy_log_open(log_dir, EDDY_LOG_CREATE, &run->log));
    wops_produce(run);
    run->builder = eddy_builder_new();
    EXPECT_TRUE(run->builder != NULL);
    scenario->build(run->builder);
    EXPECT_OK(eddy_builder_check(run->builder));
    eddy_config *config = wops_app_config(run);
    EXPECT_OK(eddy_app_new(run->builder, config, &run->app));
    eddy_config_destroy(config);
}

static void wops_run_close(wops_run *run)
{
    eddy_app_destroy(run->app);
    eddy_builder_destroy(run->builder);
    eddy_log_close(run->log);
}

/* The end offset of the topic's partition 0; 0 while the topic does not exist. */
static int64_t wops_end_offset(wops_run *run, const char *topic)
{
    int64_t end = 0;
    if (eddy_log_partition_info(run->log, topic, 0, NULL, &end, NULL, NULL) != EDDY_OK)
        return 0;
    return end;
}

/* True when the application's group has committed `topic` to its end. */
static bool wops_committed_to_end(wops_run *run, const char *topic)
{
    int64_t committed = -1;
    if (eddy_log_group_committed(run->log, run->app_id, topic, 0, &committed) != EDDY_OK)
        committed = 0; /* nothing committed yet: done only for an empty topic */
    return committed == wops_end_offset(run, topic);
}

/* True when every input topic and every repartition topic of the application is committed to
 * its end: all input was processed and its output flushed. */
static bool wops_all_committed(wops_run *run)
{
    const wops_scenario *scenario = run->scenario;
    for (size_t i = 0; i < scenario->input_count; i++)
        if (!wops_committed_to_end(run, scenario->inputs[i].topic))
            return false;
    char **names = NULL;
    size_t count = 0;
    EXPECT_OK(eddy_log_topic_list(run->log, &names, &count));
    bool done = true;
    size_t prefix = strlen(run->app_id), suffix = strlen("-repartition");
    for (size_t i = 0; done && i < count; i++) {
        size_t len = strlen(names[i]);
        if (len > prefix + suffix && strncmp(names[i], run->app_id, prefix) == 0 &&
            names[i][prefix] == '-' && strcmp(names[i] + len - suffix, "-repartition") == 0)
            done = wops_committed_to_end(run, names[i]);
    }
    eddy_log_names_free(names, count);
    return done;
}

static bool wops_outputs_complete(wops_run *run)
{
    for (size_t i = 0; i < run->scenario->output_count; i++) {
        const wops_output *output = &run->scenario->outputs[i];
        if (wops_end_offset(run, output->topic) < (int64_t)output->count)
            return false;
    }
    return true;
}

/* Waits until the application has processed everything, polling; fails on ERROR, or when the
 * inputs are not committed after WOPS_DEADLINE_MS. Outputs still short WOPS_SETTLE_MS after the
 * commit are left to the comparison, which shows what is missing. */
static void wops_wait_processed(wops_run *run)
{
    int64_t deadline = wops_now_ms() + WOPS_DEADLINE_MS;
    int64_t committed_at = -1;
    for (;;) {
        if (eddy_app_state_get(run->app) == EDDY_APP_ERROR)
            eddy_test_fail(__FILE__, __LINE__, "scenario %s: the application failed: %s",
                           run->scenario->name, eddy_app_error(run->app));
        bool outputs = wops_outputs_complete(run);
        bool committed = wops_all_committed(run);
        if (committed && outputs)
            return;
        int64_t now = wops_now_ms();
        if (committed && committed_at < 0)
            committed_at = now;
        if (committed && now - committed_at > WOPS_SETTLE_MS)
            return;
        if (now > deadline)
            eddy_test_fail(__FILE__, __LINE__,
                           "scenario %s: after %d ms: outputs complete %d, inputs committed %d "
                           "(state %s)",
                           run->scenario->name, WOPS_DEADLINE_MS, outputs, committed,
                           eddy_app_state_name(eddy_app_state_get(run->app)));
        usleep(WOPS_POLL_US);
    }
}

/* Every record of the output topic's partition 0, from its log start. */
static void wops_log_read_all(wops_run *run, const wops_output *output, wops_got_list *got)
{
    eddy_log_reader *reader = NULL;
    EXPECT_OK(eddy_log_reader_new(run->log, output->topic, 0, EDDY_OFFSET_BEGINNING, &reader));
    eddy_record record;
    eddy_err err;
    while ((err = eddy_log_reader_next(reader, 0, &record)) == EDDY_OK)
        wops_got_add(got, &record, output);
    if (err != EDDY_ERR_TIMED_OUT)
        eddy_test_fail(__FILE__, __LINE__, "read %s: %s: %s", output->topic, eddy_err_name(err),
                       eddy_last_error());
    eddy_log_reader_destroy(reader);
}

static void wops_run_runtime(const wops_scenario *scenario)
{
    wops_run run = {0};
    wops_run_open(&run, scenario);
    EXPECT_OK(eddy_app_start(run.app));
    wops_wait_processed(&run);
    EXPECT_OK(eddy_app_close(run.app));
    EXPECT_EQ(eddy_app_state_get(run.app), EDDY_APP_NOT_RUNNING);
    bool same = true;
    for (size_t i = 0; i < scenario->output_count; i++) {
        wops_got_list got = {0};
        wops_log_read_all(&run, &scenario->outputs[i], &got);
        same &= wops_check_records(WOPS_RUNNER, scenario, &scenario->outputs[i], &got);
        wops_got_free(&got);
    }
    wops_run_close(&run);
    if (!same)
        eddy_test_fail(__FILE__, __LINE__, "scenario %s: the outputs above differ", scenario->name);
}

#define WOPS_RUNTIME_TEST(name)                                                                    \
    TEST(runtime_##name)                                                                           \
    {                                                                                              \
        wops_run_runtime(&wops_scenario_##name);                                                   \
    }
WOPS_SCENARIOS(WOPS_RUNTIME_TEST)
