/*
 * eddy topic create | list | describe | delete.
 *
 * Commands that change several topics check every name first and change nothing when one of
 * them is wrong (a bad name, a topic that exists or does not), so that a typo in the fifth
 * name does not leave four topics behind.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Kafka's defaults for the topic keys eddy knows, in key order: what applies when a topic does
 * not set the key. */
static const char *const TOPIC_DEFAULTS[][2] = {
    {"cleanup.policy", "delete"},     {"delete.retention.ms", "86400000"},
    {"index.interval.bytes", "4096"}, {"message.timestamp.type", "CreateTime"},
    {"retention.bytes", "-1"},        {"retention.ms", "604800000"},
    {"segment.bytes", "1073741824"},  {"segment.ms", "604800000"},
};

enum { TOPIC_DEFAULT_COUNT = sizeof(TOPIC_DEFAULTS) / sizeof(TOPIC_DEFAULTS[0]) };

/* A usage error when a topic is named twice. */
static int check_duplicates(const cli_command *command, const cli_list *names)
{
    for (size_t i = 0; i < names->count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(names->items[i], names->items[j]) == 0) {
                return cli_usage_error(command, "topic '%s' is named twice", names->items[i]);
            }
        }
    }
    return CLI_EXIT_OK;
}

/* Usage errors in the names of `topic create`: a bad name or one given twice. */
static int check_new_names(const cli_command *command, const cli_list *names)
{
    for (size_t i = 0; i < names->count; i++) {
        if (!cli_name_valid(names->items[i])) {
            return cli_usage_error(command,
                                   "invalid topic name '%s': use 1-249 characters of "
                                   "[a-zA-Z0-9._-], not '.' or '..'",
                                   names->items[i]);
        }
    }
    return check_duplicates(command, names);
}

/* Builds the topic configuration from the -c KEY=VALUE flags, validating every value. */
static int build_config(const cli_command *command, const cli_list *pairs, eddy_config **out)
{
    eddy_config *config = eddy_config_new();
    if (config == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_RUNTIME;
    }
    for (size_t i = 0; i < pairs->count; i++) {
        const char *pair = pairs->items[i];
        const char *equals = strchr(pair, '=');
        if (equals == NULL || equals == pair) {
            eddy_config_destroy(config);
            return cli_usage_error(command, "-c '%s': expected KEY=VALUE", pair);
        }
        if (eddy_config_set_pair(config, pair) != EDDY_OK) {
            cli_error("-c '%s': %s", pair, eddy_last_error());
            eddy_config_destroy(config);
            return CLI_EXIT_USAGE;
        }
    }
    *out = config;
    return CLI_EXIT_OK;
}

/* Fails when any of @p names exists (@p want_exist false) or does not (true). */
static int check_existence(eddy_log *log, const cli_list *names, bool want_exist)
{
    for (size_t i = 0; i < names->count; i++) {
        int32_t partitions = 0;
        eddy_err err = eddy_log_topic_partitions(log, names->items[i], &partitions);
        if (err == EDDY_OK && !want_exist) {
            cli_error("topic '%s' already exists", names->items[i]);
            return CLI_EXIT_RUNTIME;
        }
        if (err != EDDY_OK && want_exist) {
            return cli_topic_partitions(log, names->items[i], &partitions);
        }
        if (err != EDDY_OK && err != EDDY_ERR_UNKNOWN_TOPIC) {
            return cli_library_error(err, names->items[i]);
        }
    }
    return CLI_EXIT_OK;
}

/* Creates the topics, printing the TOPIC / STATUS table of those it made. */
static int create_topics(eddy_log *log, const cli_list *names, int32_t partitions,
                         const eddy_config *config)
{
    static const char *const headers[] = {"TOPIC", "STATUS"};
    cli_table table;
    cli_table_init(&table, 2, headers);
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < names->count && status == CLI_EXIT_OK; i++) {
        eddy_err err = eddy_log_topic_create(log, names->items[i], partitions, config);
        if (err != EDDY_OK) {
            status = cli_library_error(err, names->items[i]);
            break;
        }
        cli_table_cell(&table, "%s", names->items[i]);
        cli_table_cell(&table, "OK");
    }
    if (table.count > table.columns) {
        cli_table_print(&table, stdout);
    }
    cli_table_free(&table);
    return status;
}

typedef struct create_args {
    const char *partitions;
    const char *replicas;
    cli_list configs;
    cli_list names;
} create_args;

static int run_create(const cli_command *command, cli_global *global, create_args *args)
{
    int64_t partitions = 1;
    if (args->partitions != NULL && !cli_parse_i64(args->partitions, 1, 10000, &partitions)) {
        return cli_usage_error(command, "invalid partition count '%s' for -p (expected 1..10000)",
                               args->partitions);
    }
    int64_t replicas = -1;
    if (args->replicas != NULL &&
        (!global->kafka || !cli_parse_i64(args->replicas, -1, 32767, &replicas) || replicas == 0)) {
        return cli_usage_error(command,
                               global->kafka ? "invalid replication factor '%s' for --replicas "
                                               "(expected 1 or more, or -1: the broker's default)"
                                             : "--replicas '%s' needs --brokers (the embedded log "
                                               "has no replicas)",
                               args->replicas);
    }
    int status = check_new_names(command, &args->names);
    eddy_config *config = NULL;
    if (status == CLI_EXIT_OK) {
        status = build_config(command, &args->configs, &config);
    }
    if (status == CLI_EXIT_OK && global->kafka) {
        /* The values were checked as the embedded log checks them; the broker gets them as
         * given. */
        eddy_config_destroy(config);
        return cli_kafka_topic_create(global, &args->names, (int32_t)partitions, (int32_t)replicas,
                                      &args->configs);
    }
    eddy_log *log = NULL;
    if (status == CLI_EXIT_OK) {
        status = cli_log_open(global, true, &log);
    }
    if (status == CLI_EXIT_OK) {
        status = check_existence(log, &args->names, false);
    }
    if (status == CLI_EXIT_OK) {
        status = create_topics(log, &args->names, (int32_t)partitions, config);
    }
    eddy_log_close(log);
    eddy_config_destroy(config);
    return status;
}

int cli_topic_create(cli_global *global, int argc, char **argv)
{
    create_args args = {0};
    const cli_option options[] = {
        {'p', "partitions", CLI_OPTION_VALUE, "N", "partitions per topic, 1..10000 (default 1)",
         &args.partitions},
        {'c', "topic-config", CLI_OPTION_LIST, "KEY=VALUE",
         "topic configuration, e.g. -c retention.ms=3600000", &args.configs},
        {'r', "replicas", CLI_OPTION_VALUE, "N",
         "with --brokers: replication factor (default -1: the broker's)", &args.replicas},
    };
    const cli_command command = {
        "topic create",
        "NAME [NAME...]",
        "Create topics (and the data directory if missing).",
        "Every name and value is checked before anything is created; when one is wrong,\n"
        "nothing is. Config keys: cleanup.policy, retention.ms, retention.bytes,\n"
        "segment.bytes, segment.ms, delete.retention.ms, index.interval.bytes,\n"
        "message.timestamp.type (Kafka's names and defaults).\n"
        "With --brokers the topics are created with CreateTopics (any topic config key);\n"
        "against `eddy dev kafka`, which answers no CreateTopics, through its control\n"
        "channel (partitions only).\n",
        options,
        3,
        1,
        SIZE_MAX};
    int status = cli_parse_or_exit(&command, global, argc, argv, &args.names);
    if (status < 0) {
        status = run_create(&command, global, &args);
    }
    cli_list_free(&args.names);
    cli_list_free(&args.configs);
    return status;
}

/* ------------------------------------------------------------------------------------------ */

static int list_topics(eddy_log *log)
{
    char **names = NULL;
    size_t count = 0;
    eddy_err err = eddy_log_topic_list(log, &names, &count);
    if (err != EDDY_OK) {
        return cli_library_error(err, eddy_log_dir(log));
    }
    static const char *const headers[] = {"NAME", "PARTITIONS"};
    cli_table table;
    cli_table_init(&table, 2, headers);
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < count && status == CLI_EXIT_OK; i++) {
        int32_t partitions = 0;
        err = eddy_log_topic_partitions(log, names[i], &partitions);
        if (err == EDDY_ERR_UNKNOWN_TOPIC) {
            continue; /* deleted since it was listed */
        }
        if (err != EDDY_OK) {
            status = cli_library_error(err, names[i]);
        }
        cli_table_cell(&table, "%s", names[i]);
        cli_table_cell(&table, "%d", (int)partitions);
    }
    if (status == CLI_EXIT_OK) {
        cli_table_print(&table, stdout);
    }
    cli_table_free(&table);
    eddy_log_names_free(names, count);
    return status;
}

int cli_topic_list(cli_global *global, int argc, char **argv)
{
    const cli_command command = {
        "topic list", "", "List topics and their partition counts.", NULL, NULL, 0, 0, 0};
    cli_list operands = {0};
    int status = cli_parse_or_exit(&command, global, argc, argv, &operands);
    cli_list_free(&operands);
    if (status >= 0) {
        return status;
    }
    if (global->kafka) {
        return cli_kafka_topic_list(global);
    }
    eddy_log *log = NULL;
    status = cli_log_open(global, false, &log);
    if (status == CLI_EXIT_OK) {
        status = list_topics(log);
    }
    eddy_log_close(log);
    return status;
}

/* ------------------------------------------------------------------------------------------ */

typedef struct describe_args {
    bool summary;
    bool configs;
    bool partitions;
    cli_list names;
} describe_args;

/* The partition table, and the topic's total size through @p total_bytes. */
static int describe_partitions(eddy_log *log, const char *topic, int32_t partitions,
                               cli_table *table, int64_t *total_bytes)
{
    static const char *const headers[] = {"PARTITION", "START-OFFSET", "END-OFFSET", "SIZE",
                                          "SEGMENTS"};
    cli_table_init(table, 5, headers);
    *total_bytes = 0;
    for (int32_t p = 0; p < partitions; p++) {
        int64_t start = 0, end = 0, bytes = 0;
        int32_t segments = 0;
        eddy_err err = eddy_log_partition_info(log, topic, p, &start, &end, &bytes, &segments);
        if (err != EDDY_OK) {
            return cli_library_error(err, topic);
        }
        cli_table_cell(table, "%d", (int)p);
        cli_table_cell(table, "%lld", (long long)start);
        cli_table_cell(table, "%lld", (long long)end);
        cli_table_cell(table, "%lld", (long long)bytes);
        cli_table_cell(table, "%d", (int)segments);
        *total_bytes += bytes;
    }
    return CLI_EXIT_OK;
}

/* One CONFIGS row per key the topic sets or eddy knows a default for, merged in key order. */
static void describe_configs(const eddy_config *config, cli_table *table)
{
    static const char *const headers[] = {"KEY", "VALUE", "SOURCE"};
    cli_table_init(table, 3, headers);
    size_t set_count = eddy_config_count(config);
    size_t s = 0, d = 0;
    while (s < set_count || d < TOPIC_DEFAULT_COUNT) {
        const char *key = NULL, *value = NULL;
        if (s < set_count) {
            eddy_config_at(config, s, &key, &value);
        }
        int order = s == set_count             ? 1
                    : d == TOPIC_DEFAULT_COUNT ? -1
                                               : strcmp(key, TOPIC_DEFAULTS[d][0]);
        if (order <= 0) {
            cli_table_cell(table, "%s", key);
            cli_table_cell(table, "%s", value);
            cli_table_cell(table, "set");
            s++;
            d += order == 0;
        } else {
            cli_table_cell(table, "%s", TOPIC_DEFAULTS[d][0]);
            cli_table_cell(table, "%s", TOPIC_DEFAULTS[d][1]);
            cli_table_cell(table, "default");
            d++;
        }
    }
}

/* Prints the chosen sections; a blank line separates them. */
static void print_describe(const char *topic, int32_t partitions, int64_t total_bytes,
                           const eddy_config *config, const cli_table *parts,
                           const describe_args *args)
{
    bool all = !args->summary && !args->configs && !args->partitions;
    bool printed = false;
    if (all || args->summary) {
        cli_section(stdout, "SUMMARY");
        printf("NAME        %s\nPARTITIONS  %d\nSIZE        %lld\n", topic, (int)partitions,
               (long long)total_bytes);
        printed = true;
    }
    if (all || args->configs) {
        cli_table configs;
        describe_configs(config, &configs);
        printf("%s", printed ? "\n" : "");
        cli_section(stdout, "CONFIGS");
        cli_table_print(&configs, stdout);
        cli_table_free(&configs);
        printed = true;
    }
    if (all || args->partitions) {
        printf("%s", printed ? "\n" : "");
        cli_section(stdout, "PARTITIONS");
        cli_table_print(parts, stdout);
    }
}

static int describe_topic(eddy_log *log, const char *topic, const describe_args *args)
{
    int32_t partitions = 0;
    int status = cli_topic_partitions(log, topic, &partitions);
    if (status != CLI_EXIT_OK) {
        return status;
    }
    eddy_config *config = NULL;
    eddy_err err = eddy_log_topic_config(log, topic, &config);
    if (err != EDDY_OK) {
        return cli_library_error(err, topic);
    }
    cli_table parts = {0};
    int64_t total_bytes = 0;
    status = describe_partitions(log, topic, partitions, &parts, &total_bytes);
    if (status == CLI_EXIT_OK) {
        print_describe(topic, partitions, total_bytes, config, &parts, args);
    }
    cli_table_free(&parts);
    eddy_config_destroy(config);
    return status;
}

static int run_describe(cli_global *global, const describe_args *args)
{
    if (global->kafka) {
        return cli_kafka_topic_describe(global, &args->names, args->summary, args->configs,
                                        args->partitions);
    }
    eddy_log *log = NULL;
    int status = cli_log_open(global, false, &log);
    if (status == CLI_EXIT_OK) {
        status = check_existence(log, &args->names, true);
    }
    for (size_t i = 0; i < args->names.count && status == CLI_EXIT_OK; i++) {
        if (i > 0) {
            printf("\n");
        }
        status = describe_topic(log, args->names.items[i], args);
    }
    eddy_log_close(log);
    return status;
}

int cli_topic_describe(cli_global *global, int argc, char **argv)
{
    describe_args args = {0};
    const cli_option options[] = {
        {'s', "print-summary", CLI_OPTION_FLAG, NULL, "print only the summary section",
         &args.summary},
        {'c', "print-configs", CLI_OPTION_FLAG, NULL, "print only the configuration section",
         &args.configs},
        {'p', "print-partitions", CLI_OPTION_FLAG, NULL, "print only the partition section",
         &args.partitions},
    };
    const cli_command command = {
        "topic describe",
        "NAME [NAME...]",
        "Describe topics: summary, configuration and partitions.",
        "Sections: SUMMARY (name, partition count, total size in bytes); CONFIGS (every key\n"
        "the topic sets, SOURCE 'set', and Kafka's default for the other known keys, SOURCE\n"
        "'default'); PARTITIONS (START-OFFSET: the log start offset, END-OFFSET: the high\n"
        "watermark, SIZE: bytes in segment files, SEGMENTS: their number).\n",
        options,
        3,
        1,
        SIZE_MAX};
    int status = cli_parse_or_exit(&command, global, argc, argv, &args.names);
    if (status < 0) {
        status = run_describe(global, &args);
    }
    cli_list_free(&args.names);
    return status;
}

/* ------------------------------------------------------------------------------------------ */

static int delete_topics(eddy_log *log, const cli_list *names)
{
    static const char *const headers[] = {"TOPIC", "STATUS"};
    cli_table table;
    cli_table_init(&table, 2, headers);
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < names->count; i++) {
        eddy_err err = eddy_log_topic_delete(log, names->items[i]);
        if (err != EDDY_OK) {
            status = cli_library_error(err, names->items[i]);
            break;
        }
        cli_table_cell(&table, "%s", names->items[i]);
        cli_table_cell(&table, "OK");
    }
    if (table.count > table.columns) {
        cli_table_print(&table, stdout);
    }
    cli_table_free(&table);
    return status;
}

static int run_delete(const cli_command *command, cli_global *global, const cli_list *names)
{
    int status = check_duplicates(command, names);
    if (status == CLI_EXIT_OK && global->kafka) {
        return cli_kafka_topic_delete(global, names);
    }
    eddy_log *log = NULL;
    if (status == CLI_EXIT_OK) {
        status = cli_log_open(global, false, &log);
    }
    if (status == CLI_EXIT_OK) {
        status = check_existence(log, names, true);
    }
    if (status == CLI_EXIT_OK) {
        status = delete_topics(log, names);
    }
    eddy_log_close(log);
    return status;
}

int cli_topic_delete(cli_global *global, int argc, char **argv)
{
    const cli_command command = {"topic delete",
                                 "NAME [NAME...]",
                                 "Delete topics and all their records.",
                                 "Every topic must exist; when one does not, none is deleted.\n",
                                 NULL,
                                 0,
                                 1,
                                 SIZE_MAX};
    cli_list names = {0};
    int status = cli_parse_or_exit(&command, global, argc, argv, &names);
    if (status < 0) {
        status = run_delete(&command, global, &names);
    }
    cli_list_free(&names);
    return status;
}
