/*
 * eddy group list | describe against Kafka.
 *
 * list is ListGroups (rd_kafka_list_groups over every broker). describe combines three
 * sources, so that what a broker cannot answer leaves the rest:
 *   - DescribeGroups (rd_kafka_list_groups naming the group): state, members, assignments.
 *     librdkafka's mock cluster refuses it as unsupported; the state then shows as unknown;
 *   - the group's committed offsets for every partition of every topic (OffsetFetch, through
 *     rd_kafka_committed on a consumer with the group's id that never subscribes, so it never
 *     joins the group, nor triggers a rebalance, nor commits);
 *   - each shown partition's high watermark (ListOffsets), for the lag.
 * As on the embedded log, a topic the group committed to or owns shows all its partitions.
 */
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

/* One partition of a topic the group committed to or owns. */
typedef struct group_partition {
    const char *topic; /* borrowed from the metadata */
    int32_t partition;
    int64_t committed; /* -1: nothing committed */
    const char *owner; /* member id, borrowed from the group info; NULL: none */
    bool shown;
} group_partition;

typedef struct group_view {
    const struct rd_kafka_metadata *metadata;
    const struct rd_kafka_group_info *info; /* NULL: the brokers answer no DescribeGroups */
    group_partition *partitions;            /* every partition of every topic in the metadata */
    size_t count;
    char **assignments; /* per member: "orders[0,1] payments[2]" */
} group_view;

/* ------------------------------------------------------------------------------------------ */
/* Member assignments: Kafka's ConsumerProtocolAssignment, big-endian:
 *   int16 version, int32 topic count, { int16 name length, name, int32 count, int32 ids },
 *   then user data (ignored). Every length is checked against the bytes left. */

typedef struct reader {
    const unsigned char *at;
    const unsigned char *end;
    bool ok;
} reader;

static int64_t read_int(reader *r, size_t bytes)
{
    if (!r->ok || (size_t)(r->end - r->at) < bytes) {
        r->ok = false;
        return 0;
    }
    uint32_t value = 0;
    for (size_t i = 0; i < bytes; i++) {
        value = value << 8 | r->at[i];
    }
    r->at += bytes;
    return bytes == 2 ? (int16_t)value : (int32_t)value;
}

static group_partition *find_partition(group_view *view, const char *topic, size_t topic_len,
                                       int32_t partition)
{
    for (size_t i = 0; i < view->count; i++) {
        group_partition *gp = &view->partitions[i];
        if (gp->partition == partition && strlen(gp->topic) == topic_len &&
            memcmp(gp->topic, topic, topic_len) == 0) {
            return gp;
        }
    }
    return NULL;
}

/* Parses one member's assignment into "topic[0,1] other[2]" and marks the partitions it owns. */
static char *parse_assignment(group_view *view, const struct rd_kafka_group_member_info *member)
{
    reader r = {member->member_assignment,
                (const unsigned char *)member->member_assignment + member->member_assignment_size,
                member->member_assignment != NULL};
    size_t capacity = 64 + 2 * (size_t)member->member_assignment_size * 4;
    char *text = cli_alloc(capacity);
    size_t n = 0;
    text[0] = '\0';
    read_int(&r, 2); /* version */
    int64_t topics = read_int(&r, 4);
    for (int64_t t = 0; r.ok && t < topics; t++) {
        int64_t name_len = read_int(&r, 2);
        if (name_len < 0 || r.end - r.at < name_len) {
            break;
        }
        const char *name = (const char *)r.at;
        r.at += name_len;
        int64_t count = read_int(&r, 4);
        n += (size_t)snprintf(text + n, capacity - n, "%s%.*s[", t > 0 ? " " : "", (int)name_len,
                              name);
        for (int64_t i = 0; r.ok && i < count && n < capacity; i++) {
            int32_t partition = (int32_t)read_int(&r, 4);
            group_partition *gp =
                r.ok ? find_partition(view, name, (size_t)name_len, partition) : NULL;
            if (gp != NULL) {
                gp->owner = member->member_id;
                gp->shown = true;
            }
            n += (size_t)snprintf(text + n, capacity - n, "%s%d", i > 0 ? "," : "", (int)partition);
        }
        n += n < capacity ? (size_t)snprintf(text + n, capacity - n, "]") : 0;
    }
    if (text[0] == '\0') {
        snprintf(text, capacity, "-");
    }
    return text;
}

/* ------------------------------------------------------------------------------------------ */

/* Every partition of every topic except the internal ones (__consumer_offsets, ...). */
static void view_init(group_view *view, const struct rd_kafka_metadata *metadata)
{
    *view = (group_view){.metadata = metadata};
    size_t total = 0;
    for (int t = 0; t < metadata->topic_cnt; t++) {
        total += (size_t)metadata->topics[t].partition_cnt;
    }
    view->partitions = cli_alloc(total * sizeof(*view->partitions));
    for (int t = 0; t < metadata->topic_cnt; t++) {
        const struct rd_kafka_metadata_topic *topic = &metadata->topics[t];
        if (strncmp(topic->topic, "__", 2) == 0 || topic->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            continue;
        }
        for (int p = 0; p < topic->partition_cnt; p++) {
            view->partitions[view->count++] =
                (group_partition){topic->topic, topic->partitions[p].id, -1, NULL, false};
        }
    }
}

static void view_free(group_view *view)
{
    for (int i = 0; view->info != NULL && i < view->info->member_cnt; i++) {
        free(view->assignments[i]);
    }
    free(view->assignments);
    free(view->partitions);
}

/* The group's committed offsets, through a consumer of the group that never subscribes. */
static int load_committed(const cli_global *global, const char *group, group_view *view)
{
    const char *const defaults[] = {"group.id", group, "enable.auto.commit", "false", NULL};
    rd_kafka_conf_t *conf = NULL;
    cli_kafka consumer = {0};
    int status = cli_kafka_conf(global, defaults, &conf);
    if (status == CLI_EXIT_OK) {
        status = cli_kafka_open(global, RD_KAFKA_CONSUMER, conf, &consumer);
    }
    if (status != CLI_EXIT_OK || view->count == 0) {
        cli_kafka_close(&consumer);
        return status;
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)view->count);
    for (size_t i = 0; i < view->count; i++) {
        rd_kafka_topic_partition_list_add(list, view->partitions[i].topic,
                                          view->partitions[i].partition);
    }
    rd_kafka_resp_err_t err = rd_kafka_committed(consumer.handle, list, consumer.timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = cli_kafka_error(&consumer, err, "fetching the group's committed offsets");
    }
    for (int i = 0; i < list->cnt && status == CLI_EXIT_OK; i++) {
        if (list->elems[i].offset >= 0) {
            view->partitions[i].committed = list->elems[i].offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    cli_kafka_close(&consumer);
    return status;
}

/* Shows every partition of each topic that has a shown partition. */
static void show_whole_topics(group_view *view)
{
    for (size_t i = 0; i < view->count; i++) {
        view->partitions[i].shown |= view->partitions[i].committed >= 0;
    }
    for (size_t i = 0; i < view->count; i++) {
        for (size_t j = 0; j < view->count && !view->partitions[i].shown; j++) {
            view->partitions[i].shown =
                view->partitions[j].shown &&
                strcmp(view->partitions[j].topic, view->partitions[i].topic) == 0;
        }
    }
}

static int compare_partitions(const void *a, const void *b)
{
    const group_partition *x = a, *y = b;
    int order = strcmp(x->topic, y->topic);
    return order != 0 ? order : (x->partition > y->partition) - (x->partition < y->partition);
}

/* The lag table, as the embedded log's; returns the total lag through @p total. */
static int fill_lag_table(cli_kafka *kafka, const group_view *view, cli_table *table,
                          int64_t *total)
{
    static const char *const headers[] = {"TOPIC",          "PARTITION", "CURRENT-OFFSET",
                                          "LOG-END-OFFSET", "LAG",       "MEMBER-ID"};
    cli_table_init(table, 6, headers);
    *total = 0;
    for (size_t i = 0; i < view->count; i++) {
        const group_partition *gp = &view->partitions[i];
        int64_t low = 0, end = 0;
        if (!gp->shown) {
            continue;
        }
        int status = cli_kafka_watermarks(kafka, gp->topic, gp->partition, &low, &end);
        if (status != CLI_EXIT_OK) {
            return status;
        }
        bool has_lag = gp->committed >= 0;
        int64_t lag = has_lag && end > gp->committed ? end - gp->committed : 0;
        cli_table_cell(table, "%s", gp->topic);
        cli_table_cell(table, "%d", (int)gp->partition);
        cli_table_cell(table, has_lag ? "%lld" : "-", (long long)gp->committed);
        cli_table_cell(table, "%lld", (long long)end);
        cli_table_cell(table, has_lag ? "%lld" : "-", (long long)lag);
        cli_table_cell(table, "%s", gp->owner ? gp->owner : "-");
        *total += lag;
    }
    return CLI_EXIT_OK;
}

static void print_members(const group_view *view)
{
    static const char *const headers[] = {"MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT"};
    cli_table table;
    cli_table_init(&table, 4, headers);
    for (int i = 0; i < view->info->member_cnt; i++) {
        const struct rd_kafka_group_member_info *member = &view->info->members[i];
        cli_table_cell(&table, "%s", member->member_id);
        cli_table_cell(&table, "%s", member->client_id);
        cli_table_cell(&table, "%s", member->client_host);
        cli_table_cell(&table, "%s", view->assignments[i]);
    }
    printf("\n");
    cli_table_print(&table, stdout);
    cli_table_free(&table);
}

static int print_group(cli_kafka *kafka, const char *group, group_view *view)
{
    cli_table lags;
    int64_t total_lag = 0;
    int status = fill_lag_table(kafka, view, &lags, &total_lag);
    if (status == CLI_EXIT_OK) {
        printf("GROUP       %s\n", group);
        if (view->info != NULL) {
            printf("COORDINATOR %d\nSTATE       %s\nMEMBERS     %d\n", (int)view->info->broker.id,
                   view->info->state, view->info->member_cnt);
        } else {
            printf("STATE       unknown (the brokers answer no DescribeGroups)\n"
                   "MEMBERS     unknown\n");
        }
        printf("TOTAL-LAG   %lld\n", (long long)total_lag);
        if (view->info != NULL && view->info->member_cnt > 0) {
            print_members(view);
        }
        if (lags.count > lags.columns) {
            printf("\n");
            cli_table_print(&lags, stdout);
        }
    }
    cli_table_free(&lags);
    return status;
}

/* DescribeGroups; a broker that does not support it leaves *list NULL. */
static int describe(cli_kafka *kafka, const char *group, const struct rd_kafka_group_list **list)
{
    *list = NULL;
    rd_kafka_resp_err_t err = rd_kafka_list_groups(kafka->handle, group, list, kafka->timeout_ms);
    if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
        *list = NULL;
        return CLI_EXIT_OK;
    }
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ? CLI_EXIT_OK
                                             : cli_kafka_error(kafka, err, "describing the group");
}

static int describe_group(const cli_global *global, cli_kafka *kafka,
                          const struct rd_kafka_metadata *metadata, const char *group)
{
    const struct rd_kafka_group_list *list = NULL;
    group_view view;
    view_init(&view, metadata);
    int status = describe(kafka, group, &list);
    if (status == CLI_EXIT_OK && list != NULL && list->group_cnt > 0 &&
        list->groups[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        view.info = &list->groups[0];
        view.assignments = cli_alloc((size_t)view.info->member_cnt * sizeof(char *));
        for (int i = 0; i < view.info->member_cnt; i++) {
            view.assignments[i] = parse_assignment(&view, &view.info->members[i]);
        }
    }
    if (status == CLI_EXIT_OK) {
        status = load_committed(global, group, &view);
    }
    if (status == CLI_EXIT_OK) {
        show_whole_topics(&view);
        qsort(view.partitions, view.count, sizeof(*view.partitions), compare_partitions);
        bool any_shown = false;
        for (size_t i = 0; i < view.count; i++) {
            any_shown |= view.partitions[i].shown;
        }
        bool dead = view.info == NULL || strcmp(view.info->state, "Dead") == 0;
        if (!any_shown && dead) {
            cli_error("unknown group '%s' on the brokers at %s: no committed offsets%s", group,
                      kafka->bootstrap,
                      view.info == NULL ? " (and the brokers answer no DescribeGroups)" : "");
            status = CLI_EXIT_RUNTIME;
        } else {
            status = print_group(kafka, group, &view);
        }
    }
    view_free(&view);
    if (list != NULL) {
        rd_kafka_group_list_destroy(list);
    }
    return status;
}

static int open_admin_metadata(const cli_global *global, cli_kafka *kafka,
                               const struct rd_kafka_metadata **metadata)
{
    int status = cli_kafka_open_admin(global, kafka);
    if (status == CLI_EXIT_OK && metadata != NULL) {
        status = cli_kafka_metadata(kafka, metadata);
    }
    return status;
}

int cli_kafka_group_describe(const cli_global *global, const cli_list *groups)
{
    cli_kafka kafka = {0};
    const struct rd_kafka_metadata *metadata = NULL;
    int status = open_admin_metadata(global, &kafka, &metadata);
    for (size_t i = 0; i < groups->count && status == CLI_EXIT_OK; i++) {
        printf("%s", i > 0 ? "\n" : "");
        status = describe_group(global, &kafka, metadata, groups->items[i]);
    }
    if (metadata != NULL) {
        rd_kafka_metadata_destroy(metadata);
    }
    cli_kafka_close(&kafka);
    return status;
}

static int compare_groups(const void *a, const void *b)
{
    const struct rd_kafka_group_info *x = a, *y = b;
    return strcmp(x->group, y->group);
}

int cli_kafka_group_list(const cli_global *global)
{
    cli_kafka kafka = {0};
    int status = open_admin_metadata(global, &kafka, NULL);
    const struct rd_kafka_group_list *list = NULL;
    if (status == CLI_EXIT_OK) {
        rd_kafka_resp_err_t err = rd_kafka_list_groups(kafka.handle, NULL, &list, kafka.timeout_ms);
        if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
            cli_error("the brokers at %s did not answer ListGroups (%s; a development cluster, "
                      "librdkafka's mock, cannot list groups: use 'eddy group describe GROUP')",
                      kafka.bootstrap, rd_kafka_err2str(err));
            status = CLI_EXIT_RUNTIME;
        } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            status = cli_kafka_error(&kafka, err, "listing groups");
        }
    }
    if (status == CLI_EXIT_OK) {
        struct rd_kafka_group_info *sorted = cli_alloc((size_t)list->group_cnt * sizeof(*sorted));
        memcpy(sorted, list->groups, (size_t)list->group_cnt * sizeof(*sorted));
        qsort(sorted, (size_t)list->group_cnt, sizeof(*sorted), compare_groups);
        static const char *const headers[] = {"GROUP", "MEMBERS", "STATE"};
        cli_table table;
        cli_table_init(&table, 3, headers);
        for (int i = 0; i < list->group_cnt; i++) {
            cli_table_cell(&table, "%s", sorted[i].group);
            cli_table_cell(&table, "%d", sorted[i].member_cnt);
            cli_table_cell(&table, "%s", sorted[i].state[0] ? sorted[i].state : "-");
        }
        cli_table_print(&table, stdout);
        cli_table_free(&table);
        free(sorted);
    }
    if (list != NULL) {
        rd_kafka_group_list_destroy(list);
    }
    cli_kafka_close(&kafka);
    return status;
}
