/*
 * `eddy`: the command line of the embedded log, shaped like Redpanda's rpk.
 *
 *   eddy [global flags] GROUP COMMAND [flags] [operands]
 *
 * This file holds the table of commands and the dispatch: global flags, then a group word
 * ("topic"), then a command word ("create"), whose function parses the rest. docs/cli.md is the
 * user's reference.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct command_entry {
    const char *group;
    const char *name;
    cli_run_fn run;
    const char *summary;
} command_entry;

static const command_entry COMMANDS[] = {
    {"topic", "create", cli_topic_create, "Create topics"},
    {"topic", "list", cli_topic_list, "List topics and their partition counts"},
    {"topic", "describe", cli_topic_describe, "Describe a topic: configuration and partitions"},
    {"topic", "delete", cli_topic_delete, "Delete topics and their data"},
    {"topic", "produce", cli_topic_produce, "Produce records from stdin, one per line"},
    {"topic", "consume", cli_topic_consume, "Consume records and print them"},
    {"group", "list", cli_group_list, "List consumer groups"},
    {"group", "describe", cli_group_describe, "Describe a group: members, offsets and lag"},
    {"log", "verify", cli_log_verify, "Check every batch's CRC and every index of the log"},
    {"dev", "kafka", cli_dev_kafka, "Run an in-memory Kafka for development and tests"},
};

enum { COMMAND_COUNT = sizeof(COMMANDS) / sizeof(COMMANDS[0]) };

static const char *const GROUP_SUMMARIES[][2] = {
    {"topic", "Create, list, describe, delete, produce to and consume from topics"},
    {"group", "Describe consumer groups and their lag"},
    {"log", "Check the data directory's integrity"},
    {"dev", "Development tools: an in-memory Kafka cluster for tests"},
};

enum { GROUP_COUNT = sizeof(GROUP_SUMMARIES) / sizeof(GROUP_SUMMARIES[0]) };

static void print_main_help(FILE *out)
{
    fprintf(out, "eddy: the command line of eddy's embedded log (a partitioned, durable log in a\n"
                 "local directory, with Kafka's semantics), and of Kafka with --brokers.\n\n"
                 "Usage:\n  eddy [--data DIR | --brokers HOST:PORT] GROUP COMMAND [flags] "
                 "[arguments]\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s %s", COMMANDS[i].group, COMMANDS[i].name);
        fprintf(out, "  %-16s %s\n", name, COMMANDS[i].summary);
    }
    fprintf(out, "\nGlobal flags:\n"
                 "  --data DIR       data directory (default $EDDY_DATA, else ./eddy-data)\n"
                 "  --brokers HOST:PORT,...  talk to Kafka instead (default $EDDY_BROKERS)\n"
                 "  -X KEY=VALUE     a librdkafka property, e.g. -X security.protocol=SSL\n"
                 "  --timeout-ms MS  Kafka: longest wait for the brokers (default 10000)\n"
                 "  -v, --verbose    print the library's log messages to stderr\n"
                 "  -h, --help       print help (also after any command)\n"
                 "  --version        print eddy's version\n\n"
                 "Exit status: 0 success, 1 runtime error, 2 usage error.\n"
                 "Run 'eddy GROUP COMMAND --help' for a command's flags.\n");
}

static void print_group_help(const char *group, FILE *out)
{
    for (size_t i = 0; i < GROUP_COUNT; i++) {
        if (strcmp(GROUP_SUMMARIES[i][0], group) == 0) {
            fprintf(out, "%s\n\n", GROUP_SUMMARIES[i][1]);
        }
    }
    fprintf(out, "Usage:\n  eddy %s COMMAND [flags]\n\nCommands:\n", group);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(COMMANDS[i].group, group) == 0) {
            fprintf(out, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
        }
    }
    fprintf(out, "\nRun 'eddy %s COMMAND --help' for a command's flags.\n", group);
}

static bool group_exists(const char *group)
{
    for (size_t i = 0; i < GROUP_COUNT; i++) {
        if (strcmp(GROUP_SUMMARIES[i][0], group) == 0) {
            return true;
        }
    }
    return false;
}

static const command_entry *find_command(const char *group, const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(COMMANDS[i].group, group) == 0 && strcmp(COMMANDS[i].name, name) == 0) {
            return &COMMANDS[i];
        }
    }
    return NULL;
}

/* Handles what is left once the global flags before the group word are read. */
static int run_group(cli_global *global, int argc, char **argv, int index)
{
    const char *group = argv[index++];
    if (!group_exists(group)) {
        cli_error("unknown command '%s' (see 'eddy --help')", group);
        return CLI_EXIT_USAGE;
    }
    if (!cli_args_parse_globals(global, argc, argv, &index)) {
        return CLI_EXIT_USAGE;
    }
    if (index >= argc || global->help) {
        if (global->help) {
            print_group_help(group, stdout);
            return CLI_EXIT_OK;
        }
        cli_error("'eddy %s' needs a command (see 'eddy %s --help')", group, group);
        return CLI_EXIT_USAGE;
    }
    const command_entry *command = find_command(group, argv[index]);
    if (command == NULL) {
        cli_error("unknown command '%s %s' (see 'eddy %s --help')", group, argv[index], group);
        return CLI_EXIT_USAGE;
    }
    index++;
    return command->run(global, argc - index, argv + index);
}

static int run_main(cli_global *global, int argc, char **argv, int index);

int main(int argc, char **argv)
{
    /* The data directory and the brokers are resolved from flags and the environment once
     * the command's flags are read (cli_parse_or_exit). */
    cli_global global = {0};
    int index = 1;
    if (!cli_args_parse_globals(&global, argc, argv, &index)) {
        cli_list_free(&global.kafka_properties);
        return CLI_EXIT_USAGE;
    }
    int status = run_main(&global, argc, argv, index);
    cli_list_free(&global.kafka_properties);
    return status;
}

/* What follows the first global flags: --version, help, or a command. */
static int run_main(cli_global *global, int argc, char **argv, int index)
{
    if (index < argc && strcmp(argv[index], "--version") == 0) {
        printf("eddy %s\n", eddy_version());
        return CLI_EXIT_OK;
    }
    if (global->help || (index < argc && strcmp(argv[index], "help") == 0)) {
        print_main_help(stdout);
        return CLI_EXIT_OK;
    }
    if (index >= argc) {
        cli_error("missing command (see 'eddy --help')");
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[index], "--") == 0 || argv[index][0] == '-') {
        cli_error("unknown flag '%s' (see 'eddy --help')", argv[index]);
        return CLI_EXIT_USAGE;
    }
    /* Global flags may still follow; logging is set up by each command once they are read. */
    return run_group(global, argc, argv, index);
}
