/* page-views: a stream-table join feeding an aggregation.
 *
 * Each page view (topic page-views: key = user id, value = page) is joined with the user's
 * region from the table user-regions (key = user id, value = region; store
 * "user-regions-store"), re-keyed by region and counted per region in the store
 * "views-per-region". Every new count goes, as decimal text, to topic views-per-region:
 *
 *     page-views ─left-join user-regions─> (user, region) ─select-key─> (region, region)
 *       ─group-by-key (repartition by region)─> count "views-per-region" ─> views-per-region
 *
 * A view of a user with no region yet counts for "unknown". page-views and user-regions are
 * co-partitioned (same partition count, keyed by user id), as a stream-table join needs.
 * README.md shows how to run it on the embedded log. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <eddy/app.h>

/* The joined value: the viewer's region, "unknown" without one. */
static void region_of_view(eddy_ctx *ctx, const eddy_record *view, eddy_slice region, void *opaque)
{
    (void)view;
    (void)opaque;
    eddy_result(ctx, region.data ? region : eddy_string_slice("unknown"));
}

/* The new key: the region. */
static void by_region(eddy_ctx *ctx, const eddy_record *view, void *opaque)
{
    (void)opaque;
    eddy_result(ctx, view->value);
}

/* The int64 count as decimal text. */
static void count_to_text(eddy_ctx *ctx, const eddy_record *record, void *opaque)
{
    (void)opaque;
    int64_t count;
    char text[24];
    if (eddy_int64_decode(record->value, &count) != EDDY_OK) {
        eddy_forward_value(ctx, record->value); /* null: a deleted count stays deleted */
        return;
    }
    snprintf(text, sizeof(text), "%" PRId64, count);
    eddy_forward_value_str(ctx, text);
}

int main(int argc, char **argv)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_config *defaults = eddy_config_new();
    if (!builder || !defaults) {
        fprintf(stderr, "page-views: out of memory\n");
        return 1;
    }
    eddy_config_set(defaults, "application.id", "page-views");
    /* Its own topics, made at start when missing; the joined inputs are co-partitioned. */
    eddy_config_set(defaults, "eddy.create.topics",
                    "page-views:4,user-regions:4,views-per-region:4");

    const eddy_serde *string = eddy_serde_string();
    eddy_stream *views = eddy_stream_from(builder, "page-views", string, string);
    eddy_table *regions =
        eddy_table_from(builder, "user-regions", string, string, "user-regions-store");
    eddy_stream *view_regions = eddy_left_join_table(views, regions, region_of_view, NULL);
    eddy_stream *rekeyed = eddy_select_key(view_regions, by_region, NULL);
    eddy_table *counts = eddy_count(eddy_group_by_key(rekeyed), "views-per-region");
    eddy_to(eddy_map_values(eddy_to_stream(counts), count_to_text, NULL), "views-per-region");

    int rc = eddy_main(argc, argv, builder, defaults);
    eddy_config_destroy(defaults);
    eddy_builder_destroy(builder);
    return rc;
}
