/* Timestamp extractors through the test driver: a custom extractor, and each built-in one
 * (default.timestamp.extractor) on valid and invalid (negative) record timestamps. */
#include <stdio.h>
#include <string.h>

#include "eddy/app.h"
#include "eddy/test_driver.h"
#include "test.h"

/* The event time is the value, in decimal. */
static int64_t time_from_value(const eddy_record *record, int64_t partition_time_ms, void *opaque)
{
    (void)partition_time_ms;
    (void)opaque;
    char text[32];
    snprintf(text, sizeof text, "%.*s", (int)record->value.len, (const char *)record->value.data);
    return strtoll(text, NULL, 10);
}

static eddy_builder *pass_through(void)
{
    eddy_builder *b = eddy_builder_new();
    eddy_to(eddy_stream_from(b, "in", NULL, NULL), "out");
    return b;
}

static eddy_test_driver *driver_with(eddy_builder *b, const char *extractor)
{
    eddy_config *c = eddy_config_new();
    if (extractor)
        EXPECT_OK(eddy_config_set(c, "default.timestamp.extractor", extractor));
    eddy_test_driver *d = NULL;
    EXPECT_OK(eddy_test_driver_new(b, c, 777, &d));
    eddy_config_destroy(c);
    return d;
}

static int64_t next_timestamp(eddy_test_driver *d)
{
    eddy_record out;
    EXPECT_OK(eddy_test_driver_read(d, "out", &out));
    return out.timestamp_ms;
}

static eddy_err pipe_at(eddy_test_driver *d, const char *value, int64_t timestamp_ms)
{
    return eddy_test_driver_pipe(d, "in", (eddy_slice){"k", 1}, eddy_string_slice(value),
                                 timestamp_ms);
}

TEST(custom_extractor_sets_event_time_and_negative_skips)
{
    eddy_builder *b = pass_through();
    eddy_builder_set_timestamp_extractor(b, time_from_value, NULL);
    eddy_test_driver *d = driver_with(b, NULL);
    EXPECT_OK(pipe_at(d, "5000", 1));
    EXPECT_OK(pipe_at(d, "-3", 2)); /* dropped with a warning, as Kafka does */
    EXPECT_OK(pipe_at(d, "6000", 3));
    EXPECT_EQ(next_timestamp(d), 5000);
    EXPECT_EQ(next_timestamp(d), 6000);
    EXPECT_EQ(eddy_test_driver_unread(d, "out"), 0);
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(fail_on_invalid_timestamp_is_the_default)
{
    eddy_builder *b = pass_through();
    eddy_test_driver *d = driver_with(b, NULL);
    EXPECT_OK(pipe_at(d, "a", 10));
    EXPECT_ERR(pipe_at(d, "b", -1), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "invalid (negative) timestamp -1");
    EXPECT_CONTAINS(eddy_last_error(), "topic in partition 0 offset 1");
    EXPECT_ERR(pipe_at(d, "c", 20), EDDY_ERR_STATE);
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(log_and_skip_drops_invalid_timestamps)
{
    eddy_builder *b = pass_through();
    eddy_test_driver *d = driver_with(
        b, "org.apache.kafka.streams.processor.LogAndSkipOnInvalidTimestamp");
    EXPECT_OK(pipe_at(d, "a", 10));
    EXPECT_OK(pipe_at(d, "b", -1));
    EXPECT_OK(pipe_at(d, "c", 20));
    EXPECT_EQ(next_timestamp(d), 10);
    EXPECT_EQ(next_timestamp(d), 20);
    EXPECT_EQ(eddy_test_driver_unread(d, "out"), 0);
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(use_partition_time_replaces_invalid_timestamps)
{
    eddy_builder *b = pass_through();
    eddy_test_driver *d = driver_with(b, "UsePartitionTimeOnInvalidTimestamp");
    EXPECT_ERR(pipe_at(d, "first", -1), EDDY_ERR_INVALID_ARGUMENT); /* no partition time yet */
    eddy_test_driver_destroy(d);
    d = driver_with(b, "UsePartitionTimeOnInvalidTimestamp");
    EXPECT_OK(pipe_at(d, "a", 30));
    EXPECT_OK(pipe_at(d, "b", -5));
    EXPECT_EQ(next_timestamp(d), 30);
    EXPECT_EQ(next_timestamp(d), 30);
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(wall_clock_extractor_uses_the_driver_clock)
{
    eddy_builder *b = pass_through();
    eddy_test_driver *d = driver_with(b, "WallclockTimestampExtractor");
    EXPECT_OK(pipe_at(d, "a", 10));
    EXPECT_OK(eddy_test_driver_advance_wall_clock(d, 23));
    EXPECT_OK(pipe_at(d, "b", 11));
    EXPECT_EQ(next_timestamp(d), 777);
    EXPECT_EQ(next_timestamp(d), 800);
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(unknown_extractor_is_a_config_error)
{
    eddy_builder *b = pass_through();
    eddy_config *c = eddy_config_new();
    EXPECT_OK(eddy_config_set(c, "default.timestamp.extractor", "MyExtractor"));
    eddy_test_driver *d = NULL;
    EXPECT_ERR(eddy_test_driver_new(b, c, 0, &d), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "default.timestamp.extractor: 'MyExtractor'");
    eddy_config_destroy(c);
    eddy_builder_destroy(b);
}
