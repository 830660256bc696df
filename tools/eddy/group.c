/*
 * eddy group list | describe.
 *
 * describe gathers what the library reports through callbacks (live members with the
 * partitions they own, committed offsets) into arrays first, because the callbacks' pointers
 * are valid during the call only; then it prints a summary, the members, and one row per
 * partition of every topic the group commits to or owns, with its lag.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A topic-partition the group knows about: committed (offset >= 0) and/or owned. */
typedef struct group_partition {
    char *topic;
    int32_t partition;
    int64_t committed; /* -1: nothing committed */
    size_t owner;      /* index into members, or SIZE_MAX */
} group_partition;

typedef struct group_member {
    char *id;
    int pid;
    char *assignment; /* "orders[0,1] payments[2]" */
} group_member;

typedef struct group_view {
    group_member *members;
    size_t member_count;
    group_partition *partitions;
    size_t partition_count;
    size_t partition_capacity;
    int64_t generation;
} group_view;

static group_partition *view_partition(group_view *view, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < view->partition_count; i++) {
        group_partition *gp = &view->partitions[i];
        if (gp->partition == partition && strcmp(gp->topic, topic) == 0) {
            return gp;
        }
    }
    if (view->partition_count == view->partition_capacity) {
        view->partition_capacity = view->partition_capacity ? view->partition_capacity * 2 : 16;
        view->partitions =
            cli_realloc(view->partitions, view->partition_capacity * sizeof(*view->partitions));
    }
    group_partition *gp = &view->partitions[view->partition_count++];
    *gp = (group_partition){cli_strdup(topic), partition, -1, SIZE_MAX};
    return gp;
}

/* "orders[0,1] payments[2]": the partitions a member owns, grouped by topic. */
static char *format_assignment(const eddy_topic_partition *owned, size_t count)
{
    size_t capacity = 16;
    for (size_t i = 0; i < count; i++) {
        capacity += strlen(owned[i].topic) + 16;
    }
    char *text = cli_alloc(capacity);
    size_t n = 0;
    text[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        bool same_topic = i > 0 && strcmp(owned[i].topic, owned[i - 1].topic) == 0;
        const char *open = same_topic ? "," : i > 0 ? "] " : "";
        n += (size_t)snprintf(text + n, capacity - n, "%s%s%s%d", open,
                              same_topic ? "" : owned[i].topic, same_topic ? "" : "[",
                              (int)owned[i].partition);
    }
    snprintf(text + n, capacity - n, "%s", count > 0 ? "]" : "-");
    return text;
}

static void on_member(const char *member_id, int pid, const eddy_topic_partition *owned,
                      size_t count, void *opaque)
{
    group_view *view = opaque;
    view->members = cli_realloc(view->members, (view->member_count + 1) * sizeof(group_member));
    size_t index = view->member_count++;
    view->members[index] =
        (group_member){cli_strdup(member_id), pid, format_assignment(owned, count)};
    for (size_t i = 0; i < count; i++) {
        view_partition(view, owned[i].topic, owned[i].partition)->owner = index;
    }
}

static void on_offset(const char *topic, int32_t partition, int64_t offset, void *opaque)
{
    view_partition(opaque, topic, partition)->committed = offset;
}

static void view_free(group_view *view)
{
    for (size_t i = 0; i < view->member_count; i++) {
        free(view->members[i].id);
        free(view->members[i].assignment);
    }
    for (size_t i = 0; i < view->partition_count; i++) {
        free(view->partitions[i].topic);
    }
    free(view->members);
    free(view->partitions);
    *view = (group_view){0};
}

/* Adds the partitions no one owns or committed, for every topic the group has, so that each
 * such topic shows all its partitions. */
static void add_whole_topics(eddy_log *log, group_view *view)
{
    size_t known = view->partition_count;
    for (size_t i = 0; i < known; i++) {
        int32_t partitions = 0;
        char *topic = cli_strdup(view->partitions[i].topic);
        if (eddy_log_topic_partitions(log, topic, &partitions) == EDDY_OK) {
            for (int32_t p = 0; p < partitions; p++) {
                view_partition(view, topic, p);
            }
        }
        free(topic);
    }
}

static int compare_partitions(const void *a, const void *b)
{
    const group_partition *x = a, *y = b;
    int order = strcmp(x->topic, y->topic);
    return order != 0 ? order : (x->partition > y->partition) - (x->partition < y->partition);
}

static int load_view(eddy_log *log, const char *group, group_view *view)
{
    eddy_err err = eddy_log_group_describe(log, group, on_member, view, &view->generation);
    if (err == EDDY_ERR_NOT_FOUND) {
        cli_error("unknown group '%s' in '%s' (see 'eddy group list')", group, eddy_log_dir(log));
        return CLI_EXIT_RUNTIME;
    }
    if (err == EDDY_OK) {
        err = eddy_log_group_offsets(log, group, on_offset, view);
    }
    if (err != EDDY_OK) {
        return cli_library_error(err, group);
    }
    add_whole_topics(log, view);
    qsort(view->partitions, view->partition_count, sizeof(*view->partitions), compare_partitions);
    return CLI_EXIT_OK;
}

/* The lag table; returns the total lag of the partitions that have a committed offset. */
static int64_t fill_lag_table(eddy_log *log, const group_view *view, cli_table *table)
{
    static const char *const headers[] = {"TOPIC",          "PARTITION", "CURRENT-OFFSET",
                                          "LOG-END-OFFSET", "LAG",       "MEMBER-ID"};
    cli_table_init(table, 6, headers);
    int64_t total = 0;
    for (size_t i = 0; i < view->partition_count; i++) {
        const group_partition *gp = &view->partitions[i];
        int64_t end = -1;
        bool has_end = eddy_log_partition_info(log, gp->topic, gp->partition, NULL, &end, NULL,
                                               NULL) == EDDY_OK;
        cli_table_cell(table, "%s", gp->topic);
        cli_table_cell(table, "%d", (int)gp->partition);
        cli_table_cell(table, gp->committed >= 0 ? "%lld" : "-", (long long)gp->committed);
        cli_table_cell(table, has_end ? "%lld" : "-", (long long)end);
        bool has_lag = has_end && gp->committed >= 0;
        int64_t lag = has_lag && end > gp->committed ? end - gp->committed : 0;
        cli_table_cell(table, has_lag ? "%lld" : "-", (long long)lag);
        cli_table_cell(table, "%s", gp->owner == SIZE_MAX ? "-" : view->members[gp->owner].id);
        total += lag;
    }
    return total;
}

static void print_members(const group_view *view)
{
    static const char *const headers[] = {"MEMBER-ID", "PID", "ASSIGNMENT"};
    cli_table table;
    cli_table_init(&table, 3, headers);
    for (size_t i = 0; i < view->member_count; i++) {
        cli_table_cell(&table, "%s", view->members[i].id);
        cli_table_cell(&table, "%d", view->members[i].pid);
        cli_table_cell(&table, "%s", view->members[i].assignment);
    }
    printf("\n");
    cli_table_print(&table, stdout);
    cli_table_free(&table);
}

static int describe_group(eddy_log *log, const char *group)
{
    group_view view = {0};
    int status = load_view(log, group, &view);
    if (status == CLI_EXIT_OK) {
        cli_table lags;
        int64_t total_lag = fill_lag_table(log, &view, &lags);
        printf("GROUP       %s\nGENERATION  %lld\nSTATE       %s\nMEMBERS     %zu\n"
               "TOTAL-LAG   %lld\n",
               group, (long long)view.generation, view.member_count > 0 ? "Stable" : "Empty",
               view.member_count, (long long)total_lag);
        if (view.member_count > 0) {
            print_members(&view);
        }
        if (view.partition_count > 0) {
            printf("\n");
            cli_table_print(&lags, stdout);
        }
        cli_table_free(&lags);
    }
    view_free(&view);
    return status;
}

int cli_group_describe(cli_global *global, int argc, char **argv)
{
    const cli_command command = {
        "group describe",
        "GROUP [GROUP...]",
        "Describe consumer groups: members, committed offsets and lag.",
        "CURRENT-OFFSET is the group's committed offset (the next record it will read),\n"
        "LOG-END-OFFSET the partition's high watermark, LAG their difference; '-' where the\n"
        "group committed nothing. STATE is Stable with live members, else Empty.\n",
        NULL,
        0,
        1,
        SIZE_MAX};
    cli_list groups = {0};
    int status = cli_parse_or_exit(&command, global, argc, argv, &groups);
    if (status < 0 && global->kafka) {
        status = cli_kafka_group_describe(global, &groups);
    } else if (status < 0) {
        eddy_log *log = NULL;
        status = cli_log_open(global, false, &log);
        for (size_t i = 0; i < groups.count && status == CLI_EXIT_OK; i++) {
            if (i > 0) {
                printf("\n");
            }
            status = describe_group(log, groups.items[i]);
        }
        eddy_log_close(log);
    }
    cli_list_free(&groups);
    return status;
}

/* ------------------------------------------------------------------------------------------ */

static void count_member(const char *member_id, int pid, const eddy_topic_partition *owned,
                         size_t count, void *opaque)
{
    (void)member_id, (void)pid, (void)owned, (void)count;
    (*(size_t *)opaque)++;
}

static int list_groups(eddy_log *log)
{
    char **names = NULL;
    size_t count = 0;
    eddy_err err = eddy_log_group_list(log, &names, &count);
    if (err != EDDY_OK) {
        return cli_library_error(err, eddy_log_dir(log));
    }
    static const char *const headers[] = {"GROUP", "MEMBERS", "STATE"};
    cli_table table;
    cli_table_init(&table, 3, headers);
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < count && status == CLI_EXIT_OK; i++) {
        size_t members = 0;
        int64_t generation = 0;
        err = eddy_log_group_describe(log, names[i], count_member, &members, &generation);
        if (err == EDDY_ERR_NOT_FOUND) {
            continue; /* removed since it was listed */
        }
        if (err != EDDY_OK) {
            status = cli_library_error(err, names[i]);
        }
        cli_table_cell(&table, "%s", names[i]);
        cli_table_cell(&table, "%zu", members);
        cli_table_cell(&table, "%s", members > 0 ? "Stable" : "Empty");
    }
    if (status == CLI_EXIT_OK) {
        cli_table_print(&table, stdout);
    }
    cli_table_free(&table);
    eddy_log_names_free(names, count);
    return status;
}

int cli_group_list(cli_global *global, int argc, char **argv)
{
    const cli_command command = {"group list",
                                 "",
                                 "List consumer groups.",
                                 "A group is listed once it has committed offsets or members.\n",
                                 NULL,
                                 0,
                                 0,
                                 0};
    cli_list operands = {0};
    int status = cli_parse_or_exit(&command, global, argc, argv, &operands);
    cli_list_free(&operands);
    if (status >= 0) {
        return status;
    }
    if (global->kafka) {
        return cli_kafka_group_list(global);
    }
    eddy_log *log = NULL;
    status = cli_log_open(global, false, &log);
    if (status == CLI_EXIT_OK) {
        status = list_groups(log);
    }
    eddy_log_close(log);
    return status;
}
