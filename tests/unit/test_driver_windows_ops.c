/* Windows, suppression, joins and cogroup through the test driver (include/eddy/test_driver.h):
 * every scenario of tests/windows_scenarios.inc piped record by record, each output topic
 * compared exactly (order, key bytes, values, timestamps).
 * tests/integ/test_runtime_windows_ops.c runs the same scenarios through the runtime. */
#include "test.h"

#include "eddy/config.h"
#include "eddy/test_driver.h"

#include "windows_scenarios.inc"

#define WOPS_APP_ID "wops"
#define WOPS_RUNNER "driver"

static void wops_pipe(eddy_test_driver *driver, const wops_input *input)
{
    eddy_err err = eddy_test_driver_pipe(driver, input->topic, eddy_string_slice(input->key),
                                         eddy_string_slice(input->value), input->timestamp_ms);
    if (err != EDDY_OK)
        eddy_test_fail(__FILE__, __LINE__, "pipe (%s, %s) @%" PRId64 " to %s: %s: %s",
                       input->key ? input->key : "null", input->value ? input->value : "null",
                       input->timestamp_ms, input->topic, eddy_err_name(err), eddy_last_error());
}

/* Every record the driver holds for the output's topic, read to the end. */
static void wops_driver_read_all(eddy_test_driver *driver, const wops_output *output,
                                 wops_got_list *got)
{
    eddy_record record;
    eddy_err err;
    while ((err = eddy_test_driver_read(driver, output->topic, &record)) == EDDY_OK)
        wops_got_add(got, &record, output);
    if (err != EDDY_ERR_END)
        eddy_test_fail(__FILE__, __LINE__, "read %s: %s: %s", output->topic, eddy_err_name(err),
                       eddy_last_error());
    EXPECT_EQ(eddy_test_driver_unread(driver, output->topic), 0);
}

static void wops_run_driver(const wops_scenario *scenario)
{
    eddy_builder *builder = eddy_builder_new();
    EXPECT_TRUE(builder != NULL);
    scenario->build(builder);
    EXPECT_OK(eddy_builder_check(builder));
    eddy_config *config = eddy_config_new();
    EXPECT_TRUE(config != NULL);
    EXPECT_OK(eddy_config_set(config, "application.id", WOPS_APP_ID));
    eddy_test_driver *driver = NULL;
    EXPECT_OK(eddy_test_driver_new(builder, config, 0, &driver));
    eddy_config_destroy(config);
    for (size_t i = 0; i < scenario->input_count; i++)
        wops_pipe(driver, &scenario->inputs[i]);
    bool same = true;
    for (size_t i = 0; i < scenario->output_count; i++) {
        wops_got_list got = {0};
        wops_driver_read_all(driver, &scenario->outputs[i], &got);
        same &= wops_check_records(WOPS_RUNNER, scenario, &scenario->outputs[i], &got);
        wops_got_free(&got);
    }
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
    if (!same)
        eddy_test_fail(__FILE__, __LINE__, "scenario %s: the outputs above differ", scenario->name);
}

#define WOPS_DRIVER_TEST(name)                                                                     \
    TEST(driver_##name)                                                                            \
    {                                                                                              \
        wops_run_driver(&wops_scenario_##name);                                                    \
    }
WOPS_SCENARIOS(WOPS_DRIVER_TEST)
