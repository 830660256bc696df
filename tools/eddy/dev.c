/*
 * eddy dev kafka: a development Kafka cluster (librdkafka's in-memory mock cluster) in the
 * foreground, and the commands that talk to a running one:
 *
 *   eddy dev kafka [--brokers N] [--port-file FILE] [--topic NAME:PARTITIONS ...]
 *   eddy dev kafka create-topic -b HOST:PORT NAME:PARTITIONS [NAME:PARTITIONS...]
 *   eddy dev kafka topics -b HOST:PORT
 *   eddy dev kafka fault -b HOST:PORT broker-down ID | broker-up ID |
 *                        leader TOPIC PARTITION ID|none | request-errors API_KEY COUNT CODE
 *
 * The cluster is for development and tests only: it keeps everything in memory. The word after
 * "kafka" picks a subcommand; anything else is the cluster's own flags.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* What every help text of this group repeats, so no one mistakes the mock for a Kafka. */
#define DEV_KAFKA_WARNING                                                                          \
    "For development and tests only: librdkafka's mock cluster keeps everything in memory\n"       \
    "and the data dies with the process. It has no Admin API (topics are created here, not\n"      \
    "with CreateTopics), no compaction, no real transactions (read_committed sees aborted\n"       \
    "data), no de-duplication for idempotent producers, no TLS/SASL, and each partition keeps\n"   \
    "only its last ~5 MiB (older records are dropped silently). A client that asks for an\n"       \
    "unknown topic's metadata makes the mock create it with 4 partitions: create topics first.\n"

/* A NAME:PARTITIONS operand, split. */
typedef struct topic_spec {
    char name[256];
    int32_t partitions;
} topic_spec;

/* Parses NAME:PARTITIONS; a usage error naming @p text when it is malformed. */
static int parse_topic_spec(const cli_command *command, const char *text, topic_spec *out)
{
    const char *colon = strrchr(text, ':');
    size_t name_len = colon ? (size_t)(colon - text) : 0;
    int64_t partitions = 0;
    if (colon == NULL || name_len == 0 || name_len >= sizeof(out->name) ||
        !cli_parse_i64(colon + 1, 1, 10000, &partitions)) {
        return cli_usage_error(command,
                               "invalid topic '%s': expected NAME:PARTITIONS, e.g. orders:3, "
                               "with 1..10000 partitions",
                               text);
    }
    memcpy(out->name, text, name_len);
    out->name[name_len] = '\0';
    if (!cli_name_valid(out->name)) {
        return cli_usage_error(command,
                               "invalid topic name '%s': use 1-249 characters of "
                               "[a-zA-Z0-9._-], not '.' or '..'",
                               out->name);
    }
    out->partitions = (int32_t)partitions;
    return CLI_EXIT_OK;
}

/* Parses every NAME:PARTITIONS of @p texts into a new array; refuses a name given twice. */
static int parse_topic_specs(const cli_command *command, const cli_list *texts, topic_spec **out)
{
    topic_spec *specs = cli_alloc((texts->count ? texts->count : 1) * sizeof(*specs));
    for (size_t i = 0; i < texts->count; i++) {
        int status = parse_topic_spec(command, texts->items[i], &specs[i]);
        for (size_t j = 0; j < i && status == CLI_EXIT_OK; j++) {
            if (strcmp(specs[i].name, specs[j].name) == 0) {
                status = cli_usage_error(command, "topic '%s' is named twice", specs[i].name);
            }
        }
        if (status != CLI_EXIT_OK) {
            free(specs);
            return status;
        }
    }
    *out = specs;
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* The cluster in the foreground                                                              */

static void print_event(const char *message, void *opaque)
{
    (void)opaque;
    fprintf(stderr, "eddy dev kafka: %s\n", message);
    fflush(stderr);
}

/* Writes @p text and a newline to @p path through a temporary file and a rename, so that a
 * reader polling for the file never sees it half written. */
static int write_port_file(const char *path, const char *text)
{
    size_t tmp_len = strlen(path) + 32;
    char *tmp = cli_alloc(tmp_len);
    snprintf(tmp, tmp_len, "%s.tmp.%ld", path, (long)getpid());
    FILE *file = fopen(tmp, "w");
    bool ok = file != NULL && fprintf(file, "%s\n", text) >= 0;
    int saved = errno;
    if (file != NULL && fclose(file) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        cli_error("cannot write port file '%s': %s", path, strerror(saved));
    }
    free(tmp);
    return ok ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

/* Creates the --topic topics, announces the address and waits for SIGINT or SIGTERM, which
 * the caller has blocked so that sigwait receives them here. Nothing is printed on stderr
 * before the setup succeeded, so that a failure is one error line. */
static int serve(eddy_dev_kafka *dk, const topic_spec *topics, size_t topic_count,
                 const char *port_file, const sigset_t *stop_signals)
{
    for (size_t i = 0; i < topic_count; i++) {
        eddy_err err = eddy_dev_kafka_create_topic(dk, topics[i].name, topics[i].partitions);
        if (err != EDDY_OK) {
            return cli_library_error(err, topics[i].name);
        }
    }
    /* Set before the address is published, so that no change made through it goes unlogged. */
    eddy_dev_kafka_set_event_callback(dk, print_event, NULL);
    /* The port file comes after the topics: whoever waits for it may rely on them. */
    const char *bootstrap = eddy_dev_kafka_bootstrap(dk);
    if (port_file != NULL && write_port_file(port_file, bootstrap) != CLI_EXIT_OK) {
        return CLI_EXIT_RUNTIME;
    }
    printf("%s\n", bootstrap);
    fflush(stdout);
    fprintf(stderr,
            "eddy dev kafka: in-memory mock cluster at %s, for development and tests only; its "
            "data dies with it (SIGINT/SIGTERM stops it)\n",
            bootstrap);
    for (size_t i = 0; i < topic_count; i++) {
        fprintf(stderr, "eddy dev kafka: created topic '%s' with %d partition%s\n", topics[i].name,
                (int)topics[i].partitions, topics[i].partitions == 1 ? "" : "s");
    }
    fflush(stderr);
    int signal_number = 0;
    while (sigwait(stop_signals, &signal_number) != 0) {
    }
    fprintf(stderr, "eddy dev kafka: stopping on %s; the cluster's data is dropped\n",
            signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    if (port_file != NULL) {
        unlink(port_file);
    }
    return CLI_EXIT_OK;
}

typedef struct cluster_args {
    const char *brokers;
    const char *port_file;
    cli_list topics;
} cluster_args;

static int run_cluster(const cli_command *command, const cluster_args *args)
{
    int64_t brokers = 1;
    if (args->brokers != NULL &&
        !cli_parse_i64(args->brokers, 1, EDDY_DEV_KAFKA_BROKERS_MAX, &brokers)) {
        return cli_usage_error(command, "invalid broker count '%s' for --brokers (expected 1..%d)",
                               args->brokers, EDDY_DEV_KAFKA_BROKERS_MAX);
    }
    if (args->port_file != NULL && args->port_file[0] == '\0') {
        return cli_usage_error(command, "--port-file needs a file name");
    }
    topic_spec *topics = NULL;
    int status = parse_topic_specs(command, &args->topics, &topics);
    if (status != CLI_EXIT_OK) {
        return status;
    }
    /* Blocked before any thread starts, so every thread inherits the mask and the signals
     * wait for sigwait in serve(). An ignored signal would be discarded even while blocked,
     * and a shell starts background jobs with SIGINT ignored: restore the default first. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    eddy_dev_kafka *dk = NULL;
    eddy_err err = eddy_dev_kafka_start((int)brokers, &dk);
    if (err != EDDY_OK) {
        status = cli_library_error(err, "dev kafka");
    } else {
        status = serve(dk, topics, args->topics.count, args->port_file, &stop_signals);
    }
    eddy_dev_kafka_stop(dk);
    free(topics);
    return status;
}

static int cluster_command(cli_global *global, int argc, char **argv)
{
    cluster_args args = {0};
    const cli_option options[] = {
        {0, "brokers", CLI_OPTION_VALUE, "N", "number of brokers, 1..9 (default 1)", &args.brokers},
        {0, "port-file", CLI_OPTION_VALUE, "FILE",
         "write the bootstrap address to FILE once ready (removed at exit)", &args.port_file},
        {0, "topic", CLI_OPTION_LIST, "NAME:PARTITIONS", "create this topic at start",
         &args.topics},
    };
    const cli_command command = {
        "dev kafka",
        "",
        "Run a development Kafka cluster (librdkafka's in-memory mock) in the foreground.",
        "Listens on 127.0.0.1 at ports the kernel picks and prints the bootstrap address\n"
        "(127.0.0.1:PORT[,...]) on stdout once the --topic topics exist; with --port-file it\n"
        "also writes it to FILE. SIGINT or SIGTERM stops it (exit 0, port file removed).\n"
        "Other processes of the same user create topics and inject faults while it runs:\n"
        "  eddy dev kafka create-topic -b ADDRESS NAME:PARTITIONS ...\n"
        "  eddy dev kafka topics -b ADDRESS\n"
        "  eddy dev kafka fault -b ADDRESS broker-down 2\n\n" DEV_KAFKA_WARNING,
        options,
        3,
        0,
        0};
    cli_list operands = {0};
    int status = cli_parse_or_exit(&command, global, argc, argv, &operands);
    if (status < 0) {
        status = run_cluster(&command, &args);
    }
    cli_list_free(&operands);
    cli_list_free(&args.topics);
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Commands that talk to a running cluster                                                    */

/* The one flag of the commands that talk to a running cluster. */
#define BOOTSTRAP_OPTION(target)                                                                   \
    {                                                                                              \
        'b', "bootstrap-servers", CLI_OPTION_VALUE, "HOST:PORT[,...]",                             \
            "the cluster's address, as `eddy dev kafka` printed it (required)", (target)           \
    }

static int need_bootstrap(const cli_command *command, const char *bootstrap)
{
    if (bootstrap == NULL || bootstrap[0] == '\0') {
        return cli_usage_error(command, "--bootstrap-servers is required");
    }
    return CLI_EXIT_OK;
}

/* Sends one request; prints the error line and returns its status when it fails or the
 * cluster answers "error". On success @p reply holds the reply. */
static int request(const char *bootstrap, const char *line, char *reply, size_t reply_cap)
{
    eddy_err err = eddy_dev_kafka_request_at(bootstrap, line, reply, reply_cap);
    if (err != EDDY_OK) {
        return cli_library_error(err, bootstrap);
    }
    if (strncmp(reply, "error ", 6) == 0) {
        cli_error("%s", reply + 6);
        return CLI_EXIT_RUNTIME;
    }
    if (strcmp(reply, "ok") != 0 && strncmp(reply, "ok ", 3) != 0) {
        cli_error("the cluster at '%s' replied '%.200s'", bootstrap, reply);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* Creates each topic in turn, printing the rows of those created; stops at the first failure. */
static int create_remote(const char *bootstrap, const topic_spec *topics, size_t count)
{
    static const char *const headers[] = {"TOPIC", "PARTITIONS", "STATUS"};
    cli_table table;
    cli_table_init(&table, 3, headers);
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < count && status == CLI_EXIT_OK; i++) {
        eddy_err err =
            eddy_dev_kafka_create_topic_at(bootstrap, topics[i].name, topics[i].partitions);
        if (err != EDDY_OK) {
            status = cli_library_error(err, topics[i].name);
            break;
        }
        cli_table_cell(&table, "%s", topics[i].name);
        cli_table_cell(&table, "%d", (int)topics[i].partitions);
        cli_table_cell(&table, "OK");
    }
    if (table.count > table.columns) {
        cli_table_print(&table, stdout);
    }
    cli_table_free(&table);
    return status;
}

static int create_topic_command(cli_global *global, int argc, char **argv)
{
    const char *bootstrap = NULL;
    const cli_option options[] = {BOOTSTRAP_OPTION(&bootstrap)};
    const cli_command command = {
        "dev kafka create-topic",
        "NAME:PARTITIONS [NAME:PARTITIONS...]",
        "Create topics in a running development cluster (eddy dev kafka).",
        "Every operand is checked before any topic is created. A topic that exists is an\n"
        "error (exit 1); the topics before it stay created.\n",
        options,
        1,
        1,
        SIZE_MAX};
    cli_list operands = {0};
    topic_spec *topics = NULL;
    int status = cli_parse_or_exit(&command, global, argc, argv, &operands);
    if (status < 0) {
        status = need_bootstrap(&command, bootstrap);
        if (status == CLI_EXIT_OK) {
            status = parse_topic_specs(&command, &operands, &topics);
        }
        if (status == CLI_EXIT_OK) {
            status = create_remote(bootstrap, topics, operands.count);
        }
    }
    free(topics);
    cli_list_free(&operands);
    return status;
}

/* Prints the "ok NAME:PARTITIONS ..." reply of `topics` as a table. */
static void print_topics(char *reply)
{
    static const char *const headers[] = {"NAME", "PARTITIONS"};
    cli_table table;
    cli_table_init(&table, 2, headers);
    char *save = NULL;
    for (char *word = strtok_r(reply + 2, " ", &save); word != NULL;
         word = strtok_r(NULL, " ", &save)) {
        char *colon = strrchr(word, ':');
        if (colon != NULL) {
            *colon = '\0';
            cli_table_cell(&table, "%s", word);
            cli_table_cell(&table, "%s", colon + 1);
        }
    }
    cli_table_print(&table, stdout);
    cli_table_free(&table);
}

static int topics_command(cli_global *global, int argc, char **argv)
{
    const char *bootstrap = NULL;
    const cli_option options[] = {BOOTSTRAP_OPTION(&bootstrap)};
    const cli_command command = {
        "dev kafka topics",
        "",
        "List the topics created in a running development cluster, with partition counts.",
        "Topics the mock created by itself (a client asked for an unknown topic) are not\n"
        "listed; a Metadata request for all topics (kcat -L) shows them.\n",
        options,
        1,
        0,
        0};
    cli_list operands = {0};
    int status = cli_parse_or_exit(&command, global, argc, argv, &operands);
    cli_list_free(&operands);
    if (status >= 0) {
        return status;
    }
    status = need_bootstrap(&command, bootstrap);
    if (status != CLI_EXIT_OK) {
        return status;
    }
    char *reply = cli_alloc(EDDY_DEV_KAFKA_REPLY_MAX);
    status = request(bootstrap, "topics", reply, EDDY_DEV_KAFKA_REPLY_MAX);
    if (status == CLI_EXIT_OK) {
        print_topics(reply);
    }
    free(reply);
    return status;
}

/* The faults: the request word, its operands and which of them must be integers (a bit per
 * operand; the error code may also be a name, which the cluster checks). */
static const struct {
    const char *name;
    size_t operands;
    unsigned integer_operands;
    const char *grammar;
} FAULTS[] = {
    {"broker-down", 1, 1u, "broker-down BROKER_ID"},
    {"broker-up", 1, 1u, "broker-up BROKER_ID"},
    {"leader", 3, 2u, "leader TOPIC PARTITION BROKER_ID|none"},
    {"request-errors", 3, 3u, "request-errors API_KEY COUNT ERROR_CODE"},
};

enum { FAULT_COUNT = sizeof(FAULTS) / sizeof(FAULTS[0]) };

/* Checks a fault's operands and joins them into one request line. */
static int build_fault_line(const cli_command *command, const cli_list *words, char *line,
                            size_t cap)
{
    for (size_t f = 0; f < FAULT_COUNT; f++) {
        if (strcmp(words->items[0], FAULTS[f].name) != 0) {
            continue;
        }
        if (words->count - 1 != FAULTS[f].operands) {
            return cli_usage_error(command, "expected '%s'", FAULTS[f].grammar);
        }
        size_t len = (size_t)snprintf(line, cap, "%s", FAULTS[f].name);
        for (size_t i = 1; i < words->count; i++) {
            const char *word = words->items[i];
            int64_t unused = 0;
            if ((FAULTS[f].integer_operands & (1u << (i - 1))) != 0 &&
                !cli_parse_i64(word, INT32_MIN, INT32_MAX, &unused)) {
                return cli_usage_error(command, "invalid number '%s' in '%s'", word,
                                       FAULTS[f].grammar);
            }
            if (strcmp(FAULTS[f].name, "leader") == 0 && i == 3 && strcmp(word, "none") == 0) {
                word = "-1";
            }
            if (strchr(word, ' ') != NULL || len + 1 + strlen(word) >= cap) {
                return cli_usage_error(command, "invalid operand '%s'", word);
            }
            len += (size_t)snprintf(line + len, cap - len, " %s", word);
        }
        return CLI_EXIT_OK;
    }
    return cli_usage_error(command,
                           "unknown fault '%s' (expected broker-down, broker-up, leader or "
                           "request-errors)",
                           words->items[0]);
}

static int fault_command(cli_global *global, int argc, char **argv)
{
    const char *bootstrap = NULL;
    const cli_option options[] = {BOOTSTRAP_OPTION(&bootstrap)};
    const cli_command command = {
        "dev kafka fault",
        "FAULT [OPERANDS]",
        "Inject a fault into a running development cluster (eddy dev kafka).",
        "Faults:\n"
        "  broker-down BROKER_ID      close the broker's connections, refuse new ones\n"
        "  broker-up BROKER_ID        accept connections again\n"
        "  leader TOPIC PARTITION ID  move the partition's leader (none: no leader)\n"
        "  request-errors API_KEY COUNT ERROR_CODE\n"
        "                             fail the next COUNT requests of API_KEY (0 Produce,\n"
        "                             1 Fetch, 3 Metadata, ...) with ERROR_CODE, a number or\n"
        "                             librdkafka's name (NOT_LEADER_FOR_PARTITION, _TRANSPORT)\n"
        "Brokers are numbered from 1. Put '--' before a negative number: -- -195.\n"
        "Leaders move only on topics created through the cluster; a broker going down does\n"
        "not move its partitions' leaders (the mock has no failover).\n",
        options,
        1,
        1,
        4};
    cli_list operands = {0};
    int status = cli_parse_or_exit(&command, global, argc, argv, &operands);
    if (status < 0) {
        char line[EDDY_DEV_KAFKA_LINE_MAX];
        status = need_bootstrap(&command, bootstrap);
        if (status == CLI_EXIT_OK) {
            status = build_fault_line(&command, &operands, line, sizeof(line));
        }
        if (status == CLI_EXIT_OK) {
            char reply[EDDY_DEV_KAFKA_LINE_MAX];
            status = request(bootstrap, line, reply, sizeof(reply));
        }
    }
    cli_list_free(&operands);
    return status;
}

int cli_dev_kafka(cli_global *global, int argc, char **argv)
{
    if (argc > 0 && strcmp(argv[0], "create-topic") == 0) {
        return create_topic_command(global, argc - 1, argv + 1);
    }
    if (argc > 0 && strcmp(argv[0], "topics") == 0) {
        return topics_command(global, argc - 1, argv + 1);
    }
    if (argc > 0 && strcmp(argv[0], "fault") == 0) {
        return fault_command(global, argc - 1, argv + 1);
    }
    return cluster_command(global, argc, argv);
}
