/* A joiner that emits nothing gives a joined record with a null value, as a Java ValueJoiner
 * returning null does (stream-table and stream-global-table joins). */
#include <string.h>

#include "eddy/test_driver.h"
#include "test.h"

/* Joins only when the table's value is "yes"; otherwise emits nothing (a null result). */
static void picky_joiner(eddy_ctx *ctx, const eddy_record *left, eddy_slice right, void *opaque)
{
    (void)left, (void)opaque;
    if (right.data && right.len == 3 && memcmp(right.data, "yes", 3) == 0)
        eddy_result_str(ctx, "joined");
}

static void key_as_is(eddy_ctx *ctx, const eddy_record *record, void *opaque)
{
    (void)opaque;
    eddy_result(ctx, record->key);
}

static void expect_next(eddy_test_driver *d, const char *key, const char *value)
{
    eddy_record out;
    EXPECT_OK(eddy_test_driver_read(d, "out", &out));
    EXPECT_MEMEQ(out.key.data, out.key.len, key, strlen(key));
    if (value)
        EXPECT_MEMEQ(out.value.data, out.value.len, value, strlen(value));
    else
        EXPECT_TRUE(out.value.data == NULL);
}

static void pipe_str(eddy_test_driver *d, const char *topic, const char *key, const char *value,
                     int64_t ts)
{
    EXPECT_OK(eddy_test_driver_pipe(d, topic, eddy_string_slice(key), eddy_string_slice(value),
                                    ts));
}

TEST(stream_table_joiner_without_result_forwards_null)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *s = eddy_stream_from(b, "orders", NULL, NULL);
    eddy_table *t = eddy_table_from(b, "flags", NULL, NULL, "flags-store");
    eddy_to(eddy_join_table(s, t, picky_joiner, NULL), "out");
    eddy_test_driver *d = NULL;
    EXPECT_OK(eddy_test_driver_new(b, NULL, 0, &d));
    pipe_str(d, "flags", "a", "yes", 1);
    pipe_str(d, "flags", "b", "no", 2);
    pipe_str(d, "orders", "a", "o1", 3);
    pipe_str(d, "orders", "b", "o2", 4);
    expect_next(d, "a", "joined");
    expect_next(d, "b", NULL);
    EXPECT_EQ(eddy_test_driver_unread(d, "out"), 0);
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(stream_global_joiner_without_result_forwards_null)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *s = eddy_stream_from(b, "orders", NULL, NULL);
    eddy_global_table *g = eddy_global_table_from(b, "flags", NULL, NULL, "flags-store");
    eddy_to(eddy_left_join_global(s, g, key_as_is, picky_joiner, NULL), "out");
    eddy_test_driver *d = NULL;
    EXPECT_OK(eddy_test_driver_new(b, NULL, 0, &d));
    pipe_str(d, "flags", "a", "yes", 1);
    pipe_str(d, "orders", "a", "o1", 2);
    pipe_str(d, "orders", "c", "o3", 3); /* no row: the left join calls the joiner with null */
    expect_next(d, "a", "joined");
    expect_next(d, "c", NULL);
    EXPECT_EQ(eddy_test_driver_unread(d, "out"), 0);
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}
