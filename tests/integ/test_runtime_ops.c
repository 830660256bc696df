/* Operator semantics through the real runtime (include/eddy/app.h) on the embedded log (local,
 * no Kafka): every scenario of tests/ops_scenarios.inc, with the same expectations as the test
 * driver's runner (tests/unit/test_driver_ops.c). Each scenario gets a fresh log directory, its
 * input topics (1 partition) filled before the application starts, and an application
 * `ops-<scenario>` with the record cache off and a 100 ms commit interval; the run ends when
 * the application has committed every input (and repartition) topic to its end and every
 * output holds at least the records expected, then the application is closed and each output
 * topic is read from the log and compared exactly. Stores are checked through interactive
 * queries while the application runs. */
#include "test.h"

#include <time.h>
#include <unistd.h>

#include "eddy/app.h"
#include "eddy/config.h"
#include "eddy/log.h"

#include "ops_scenarios.inc"

#define OPS_RUNNER "runtime"
#define OPS_DEADLINE_MS 20000
#define OPS_POLL_US 10000

typedef struct ops_run {
    const ops_scenario *scenario;
    char app_id[128];
    char dir[1024];
    eddy_log *log;
    eddy_builder *builder;
    eddy_app *app;
    ops_state state;
} ops_run;

static int64_t ops_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The topic's name on the log: internal topics carry the application id in front. */
static void ops_topic_name(const ops_run *run, const ops_output *output, char *out, size_t size)
{
    if (output->flags & OPS_INTERNAL)
        snprintf(out, size, "%s-%s", run->app_id, output->topic);
    else
        snprintf(out, size, "%s", output->topic);
}

static void ops_create_topic(ops_run *run, const char *topic)
{
    eddy_err err = eddy_log_topic_create(run->log, topic, 1, NULL);
    if (err != EDDY_OK && err != EDDY_ERR_EXISTS)
        eddy_test_fail(__FILE__, __LINE__, "create %s: %s: %s", topic, eddy_err_name(err),
                       eddy_last_error());
}

/* Creates the input and output topics and appends the inputs, one batch each, in order. */
static void ops_produce(ops_run *run)
{
    const ops_scenario *scenario = run->scenario;
    for (size_t i = 0; i < scenario->input_count; i++)
        ops_create_topic(run, scenario->inputs[i].topic);
    for (size_t i = 0; i < scenario->output_count; i++)
        if (!(scenario->outputs[i].flags & OPS_INTERNAL))
            ops_create_topic(run, scenario->outputs[i].topic);
    for (size_t i = 0; i < scenario->input_count; i++) {
        const ops_input *input = &scenario->inputs[i];
        uint8_t buf[8];
        eddy_record record = {.key = eddy_string_slice(input->key),
                              .value = ops_input_value(input, buf),
                              .timestamp_ms = input->timestamp_ms};
        EXPECT_OK(
            eddy_log_append(run->log, input->topic, 0, &record, 1, EDDY_ACKS_LEADER, NULL, NULL));
    }
}

static eddy_config *ops_app_config(const ops_run *run, bool with_scenario_config)
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
    if (with_scenario_config)
        ops_config_apply(config, run->scenario);
    return config;
}

/* Opens the log, fills it and makes (not starts) the application. */
static void ops_run_open(ops_run *run, const ops_scenario *scenario, bool with_scenario_config)
{
    run->scenario = scenario;
    snprintf(run->app_id, sizeof(run->app_id), "ops-%s", scenario->name);
    for (char *c = run->app_id; *c; c++)
        if (*c == '_')
            *c = '-';
    snprintf(run->dir, sizeof(run->dir), "%s", test_tmpdir());
    char log_dir[1200];
    snprintf(log_dir, sizeof(log_dir), "%s/log", run->dir);
    EXPECT_OK(eddy_log_open(log_dir, EDDY_LOG_CREATE, &run->log));
    ops_produce(run);
    run->builder = eddy_builder_new();
    EXPECT_TRUE(run->builder != NULL);
    scenario->build(run->builder, &run->state);
    EXPECT_OK(eddy_builder_check(run->builder));
    eddy_config *config = ops_app_config(run, with_scenario_config);
    EXPECT_OK(eddy_app_new(run->builder, config, &run->app));
    eddy_config_destroy(config);
}

static void ops_run_close(ops_run *run)
{
    eddy_app_destroy(run->app);
    eddy_builder_destroy(run->builder);
    eddy_log_close(run->log);
}

/* The end offset of the topic's partition 0; 0 while the topic does not exist. */
static int64_t ops_end_offset(ops_run *run, const char *topic)
{
    int64_t end = 0;
    if (eddy_log_partition_info(run->log, topic, 0, NULL, &end, NULL, NULL) != EDDY_OK)
        return 0;
    return end;
}

/* True when the application's group has committed `topic` to its end. */
static bool ops_committed_to_end(ops_run *run, const char *topic)
{
    int64_t committed = -1;
    if (eddy_log_group_committed(run->log, run->app_id, topic, 0, &committed) != EDDY_OK)
        committed = 0; /* nothing committed yet: done only for an empty topic */
    return committed == ops_end_offset(run, topic);
}

/* True when every input topic (but a global table's) and every repartition topic of the
 * application is committed to its end: all input was processed and its output flushed. */
static bool ops_all_committed(ops_run *run)
{
    const ops_scenario *scenario = run->scenario;
    for (size_t i = 0; i < scenario->input_count; i++) {
        const char *topic = scenario->inputs[i].topic;
        if (scenario->global_topic && strcmp(topic, scenario->global_topic) == 0)
            continue;
        if (!ops_committed_to_end(run, topic))
            return false;
    }
    char **names = NULL;
    size_t count = 0;
    EXPECT_OK(eddy_log_topic_list(run->log, &names, &count));
    bool done = true;
    size_t prefix = strlen(run->app_id), suffix = strlen("-repartition");
    for (size_t i = 0; done && i < count; i++) {
        size_t len = strlen(names[i]);
        if (len > prefix + suffix && strncmp(names[i], run->app_id, prefix) == 0 &&
            names[i][prefix] == '-' && strcmp(names[i] + len - suffix, "-repartition") == 0)
            done = ops_committed_to_end(run, names[i]);
    }
    eddy_log_names_free(names, count);
    return done;
}

static bool ops_outputs_complete(ops_run *run)
{
    for (size_t i = 0; i < run->scenario->output_count; i++) {
        const ops_output *output = &run->scenario->outputs[i];
        char topic[512];
        ops_topic_name(run, output, topic, sizeof(topic));
        if (ops_end_offset(run, topic) < (int64_t)output->count)
            return false;
    }
    return true;
}

/* Waits until the application has processed everything, polling; fails on ERROR or after
 * OPS_DEADLINE_MS, saying what was still missing. */
static void ops_wait_processed(ops_run *run)
{
    int64_t deadline = ops_now_ms() + OPS_DEADLINE_MS;
    for (;;) {
        if (eddy_app_state_get(run->app) == EDDY_APP_ERROR)
            eddy_test_fail(__FILE__, __LINE__, "scenario %s: the application failed: %s",
                           run->scenario->name, eddy_app_error(run->app));
        bool outputs = ops_outputs_complete(run);
        bool committed = ops_all_committed(run);
        if (outputs && committed)
            return;
        if (ops_now_ms() > deadline)
            eddy_test_fail(__FILE__, __LINE__,
                           "scenario %s: after %d ms: outputs complete %d, inputs committed %d "
                           "(state %s)",
                           run->scenario->name, OPS_DEADLINE_MS, outputs, committed,
                           eddy_app_state_name(eddy_app_state_get(run->app)));
        usleep(OPS_POLL_US);
    }
}

static void ops_runtime_check_stores(ops_run *run)
{
    const ops_scenario *scenario = run->scenario;
    for (size_t i = 0; i < scenario->store_count; i++) {
        const ops_store_expect *expect = &scenario->stores[i];
        void *value = NULL;
        size_t len = 0;
        eddy_err err = eddy_app_store_get(run->app, expect->store, eddy_string_slice(expect->key),
                                          &value, &len);
        eddy_slice slice = {err == EDDY_OK ? (value ? value : "") : NULL, len};
        ops_expect_store(OPS_RUNNER, scenario, expect, err, slice);
        eddy_free(value);
    }
}

/* Every record of the topic's partition 0, from its log start. */
static void ops_log_read_all(ops_run *run, const char *topic, ops_format format, ops_got_list *got)
{
    eddy_log_reader *reader = NULL;
    EXPECT_OK(eddy_log_reader_new(run->log, topic, 0, EDDY_OFFSET_BEGINNING, &reader));
    eddy_record record;
    eddy_err err;
    while ((err = eddy_log_reader_next(reader, 0, &record)) == EDDY_OK)
        ops_got_add(got, &record, format);
    if (err != EDDY_ERR_TIMED_OUT)
        eddy_test_fail(__FILE__, __LINE__, "read %s: %s: %s", topic, eddy_err_name(err),
                       eddy_last_error());
    eddy_log_reader_destroy(reader);
}

/* Compares each output topic. A repartition topic the runtime has purged (its log start moved
 * past 0, as Kafka deletes consumed repartition records) is compared by its record count. */
static void ops_runtime_check_outputs(ops_run *run)
{
    const ops_scenario *scenario = run->scenario;
    for (size_t i = 0; i < scenario->output_count; i++) {
        const ops_output *output = &scenario->outputs[i];
        char topic[512];
        ops_topic_name(run, output, topic, sizeof(topic));
        int32_t partitions = 0;
        EXPECT_OK(eddy_log_topic_partitions(run->log, topic, &partitions));
        EXPECT_EQ(partitions, 1);
        int64_t start = 0, end = 0;
        EXPECT_OK(eddy_log_partition_info(run->log, topic, 0, &start, &end, NULL, NULL));
        if (start > 0) {
            EXPECT_EQ(end, (int64_t)output->count);
            continue;
        }
        ops_got_list got = {0};
        ops_log_read_all(run, topic, output->format, &got);
        ops_expect_records(OPS_RUNNER, scenario, output, &got);
        ops_got_free(&got);
    }
}

static void ops_run_runtime(const ops_scenario *scenario)
{
    ops_run run = {0};
    ops_run_open(&run, scenario, true);
    EXPECT_OK(eddy_app_start(run.app));
    ops_wait_processed(&run);
    ops_runtime_check_stores(&run);
    EXPECT_OK(eddy_app_close(run.app));
    EXPECT_EQ(eddy_app_state_get(run.app), EDDY_APP_NOT_RUNNING);
    ops_runtime_check_outputs(&run);
    if (scenario->check)
        scenario->check(&run.state);
    ops_run_close(&run);
}

#define OPS_RUNTIME_TEST(name)                                                                     \
    TEST(runtime_##name)                                                                           \
    {                                                                                              \
        ops_run_runtime(&ops_scenario_##name);                                                     \
    }

OPS_SCENARIOS(OPS_RUNTIME_TEST)

/* Under the default handler (log-and-fail) the 3-byte value stops the application: state
 * ERROR, with an error naming the topic; no record after it is processed. (Whether the output
 * of the record before it was flushed before the thread stopped is not specified, so it is not
 * checked.) */
TEST(runtime_deser_fail)
{
    ops_run run = {0};
    ops_run_open(&run, &ops_scenario_deser_continue, false);
    EXPECT_OK(eddy_app_start(run.app));
    int64_t deadline = ops_now_ms() + OPS_DEADLINE_MS;
    while (eddy_app_state_get(run.app) != EDDY_APP_ERROR && ops_now_ms() < deadline)
        usleep(OPS_POLL_US);
    EXPECT_EQ(eddy_app_state_get(run.app), EDDY_APP_ERROR);
    EXPECT_CONTAINS(eddy_app_error(run.app), "ints-in");
    EXPECT_CONTAINS(eddy_app_error(run.app), "offset 1");
    (void)eddy_app_close(run.app); /* returns the thread's error */
    EXPECT_EQ(eddy_app_state_get(run.app), EDDY_APP_ERROR);

    ops_got_list got = {0};
    ops_log_read_all(&run, "ints-out", OPS_TEXT, &got);
    EXPECT_LE(got.count, 1);
    for (size_t i = 0; i < got.count; i++)
        EXPECT_STREQ(got.items[i].key, "a");
    ops_got_free(&got);
    ops_run_close(&run);
}
