/* Operator semantics through the test driver (include/eddy/test_driver.h): every scenario of
 * tests/ops_scenarios.inc piped record by record, each output topic compared exactly (order,
 * keys, values, timestamps where given) and store contents read through the driver. Also
 * what only the driver can show deterministically: log-and-fail deserialization returned by
 * the pipe call, and wall-clock punctuation moved by eddy_test_driver_advance_wall_clock().
 * tests/integ/test_runtime_ops.c runs the same scenarios through the runtime. */
#include "test.h"

#include "eddy/config.h"
#include "eddy/test_driver.h"

#include "ops_scenarios.inc"

#define OPS_APP_ID "ops"
#define OPS_RUNNER "driver"

static eddy_config *ops_driver_config(const ops_scenario *scenario)
{
    eddy_config *config = eddy_config_new();
    EXPECT_TRUE(config != NULL);
    EXPECT_OK(eddy_config_set(config, "application.id", OPS_APP_ID));
    if (scenario)
        ops_config_apply(config, scenario);
    return config;
}

static void ops_pipe(eddy_test_driver *driver, const ops_input *input)
{
    uint8_t buf[8];
    eddy_slice key = eddy_string_slice(input->key);
    eddy_err err = eddy_test_driver_pipe(driver, input->topic, key, ops_input_value(input, buf),
                                         input->timestamp_ms);
    if (err != EDDY_OK)
        eddy_test_fail(__FILE__, __LINE__, "pipe (%s, %s) @%" PRId64 " to %s: %s: %s",
                       input->key ? input->key : "null", input->value ? input->value : "null",
                       input->timestamp_ms, input->topic, eddy_err_name(err), eddy_last_error());
}

/* Every record the driver holds for `topic`, read to the end. */
static void ops_driver_read_all(eddy_test_driver *driver, const char *topic, ops_format format,
                                ops_got_list *got)
{
    eddy_record record;
    eddy_err err;
    while ((err = eddy_test_driver_read(driver, topic, &record)) == EDDY_OK)
        ops_got_add(got, &record, format);
    if (err != EDDY_ERR_END)
        eddy_test_fail(__FILE__, __LINE__, "read %s: %s: %s", topic, eddy_err_name(err),
                       eddy_last_error());
    EXPECT_EQ(eddy_test_driver_unread(driver, topic), 0);
}

static void ops_driver_check_outputs(eddy_test_driver *driver, const ops_scenario *scenario)
{
    for (size_t i = 0; i < scenario->output_count; i++) {
        const ops_output *output = &scenario->outputs[i];
        if (output->flags & OPS_RUNTIME_ONLY)
            continue;
        char topic[512];
        snprintf(topic, sizeof(topic), "%s%s%s", output->flags & OPS_INTERNAL ? OPS_APP_ID : "",
                 output->flags & OPS_INTERNAL ? "-" : "", output->topic);
        ops_got_list got = {0};
        ops_driver_read_all(driver, topic, output->format, &got);
        ops_expect_records(OPS_RUNNER, scenario, output, &got);
        ops_got_free(&got);
    }
}

static void ops_driver_check_stores(eddy_test_driver *driver, const ops_scenario *scenario)
{
    for (size_t i = 0; i < scenario->store_count; i++) {
        const ops_store_expect *expect = &scenario->stores[i];
        eddy_kv_store *store = eddy_test_driver_store(driver, expect->store);
        if (store == NULL)
            eddy_test_fail(__FILE__, __LINE__, "scenario %s: the driver has no store %s",
                           scenario->name, expect->store);
        eddy_slice value = {0};
        eddy_err err = eddy_kv_get(store, eddy_string_slice(expect->key), &value);
        ops_expect_store(OPS_RUNNER, scenario, expect, err, value);
    }
}

static void ops_run_driver(const ops_scenario *scenario)
{
    ops_state state = {0};
    eddy_builder *builder = eddy_builder_new();
    EXPECT_TRUE(builder != NULL);
    scenario->build(builder, &state);
    EXPECT_OK(eddy_builder_check(builder));
    eddy_config *config = ops_driver_config(scenario);
    eddy_test_driver *driver = NULL;
    EXPECT_OK(eddy_test_driver_new(builder, config, 0, &driver));
    eddy_config_destroy(config);
    for (size_t i = 0; i < scenario->input_count; i++)
        ops_pipe(driver, &scenario->inputs[i]);
    ops_driver_check_outputs(driver, scenario);
    ops_driver_check_stores(driver, scenario);
    eddy_test_driver_destroy(driver);
    if (scenario->check)
        scenario->check(&state);
    eddy_builder_destroy(builder);
}

#define OPS_DRIVER_TEST(name)                                                                      \
    TEST(driver_##name)                                                                            \
    {                                                                                              \
        ops_run_driver(&ops_scenario_##name);                                                      \
    }
OPS_SCENARIOS(OPS_DRIVER_TEST)

/* Under the default handler (log-and-fail, Kafka's default) the 3-byte value of an int64
 * source fails the pipe call that brought it, naming topic, partition and offset; the driver
 * then refuses further input; what came before was processed. */
TEST(driver_deser_fail)
{
    ops_state state = {0};
    eddy_builder *builder = eddy_builder_new();
    ops_build_deser(builder, &state);
    eddy_config *config = ops_driver_config(NULL);
    eddy_test_driver *driver = NULL;
    EXPECT_OK(eddy_test_driver_new(builder, config, 0, &driver));
    eddy_config_destroy(config);

    uint8_t buf[8];
    const ops_input *in = ops_deser_in;
    EXPECT_OK(eddy_test_driver_pipe(driver, in[0].topic, eddy_string_slice(in[0].key),
                                    ops_input_value(&in[0], buf), in[0].timestamp_ms));
    eddy_err err = eddy_test_driver_pipe(driver, in[1].topic, eddy_string_slice(in[1].key),
                                         ops_input_value(&in[1], buf), in[1].timestamp_ms);
    EXPECT_NE(err, EDDY_OK);
    const char *message = eddy_last_error();
    EXPECT_CONTAINS(message, "ints-in");
    EXPECT_CONTAINS(message, "offset 1");
    EXPECT_ERR(eddy_test_driver_pipe(driver, in[2].topic, eddy_string_slice(in[2].key),
                                     ops_input_value(&in[2], buf), in[2].timestamp_ms),
               EDDY_ERR_STATE);

    static const ops_expect first_only[] = {OPS_ET("a", "1", 1)};
    static const ops_output output = OPS_OUT("ints-out", OPS_TEXT, 0, first_only);
    static const ops_scenario fail = {.name = "deser_fail"};
    ops_got_list got = {0};
    ops_driver_read_all(driver, "ints-out", OPS_TEXT, &got);
    ops_expect_records(OPS_RUNNER, &fail, &output, &got);
    ops_got_free(&got);
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

/* Kafka's StreamTask.schedule for wall-clock time: the first punctuation is due one interval
 * after init (driver time start_ms); each fires once with the current time even when several
 * intervals were missed, and the next is due at the following multiple of the interval from
 * the last schedule. Stream time (piped records) does not fire it. */
static eddy_err ops_wall_init(eddy_ctx *ctx, void *opaque, void **state)
{
    (void)opaque;
    *state = NULL;
    return eddy_schedule(ctx, 100, EDDY_PUNCTUATE_WALL_CLOCK_TIME, ops_tick, "wall");
}

TEST(driver_wall_clock_punctuation)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_processor_def wall = {
        .name = "wall", .init = ops_wall_init, .process = ops_silent_process};
    ops_to(eddy_process(ops_source(builder, "wall-in"), &wall, NULL, 0), "wall-out");
    eddy_config *config = ops_driver_config(NULL);
    eddy_test_driver *driver = NULL;
    EXPECT_OK(eddy_test_driver_new(builder, config, 1000, &driver));
    eddy_config_destroy(config);

    EXPECT_OK(eddy_test_driver_pipe(driver, "wall-in", eddy_string_slice("k"),
                                    eddy_string_slice("v"), 5000));
    EXPECT_EQ(eddy_test_driver_unread(driver, "wall-out"), 0);
    EXPECT_OK(eddy_test_driver_advance_wall_clock(driver, 50)); /* 1050: not due */
    EXPECT_EQ(eddy_test_driver_unread(driver, "wall-out"), 0);
    EXPECT_OK(eddy_test_driver_advance_wall_clock(driver, 50));  /* 1100 */
    EXPECT_OK(eddy_test_driver_advance_wall_clock(driver, 250)); /* 1350: once */
    EXPECT_OK(eddy_test_driver_advance_wall_clock(driver, 40));  /* 1390: not due */
    EXPECT_OK(eddy_test_driver_advance_wall_clock(driver, 10));  /* 1400 */

    static const ops_expect ticks[] = {OPS_E("wall", "1100"), OPS_E("wall", "1350"),
                                       OPS_E("wall", "1400")};
    static const ops_output output = OPS_OUT("wall-out", OPS_TEXT, 0, ticks);
    static const ops_scenario scenario = {.name = "wall_clock_punctuation"};
    ops_got_list got = {0};
    ops_driver_read_all(driver, "wall-out", OPS_TEXT, &got);
    ops_expect_records(OPS_RUNNER, &scenario, &output, &got);
    ops_got_free(&got);
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}
