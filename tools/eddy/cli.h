/*
 * The eddy command line: what its files share.
 *
 * The command line uses eddy's public API only (include/eddy/). Its parts:
 *   main.c     the command table and dispatch ("eddy topic create ...")
 *   args.c     the table-driven argument parser and the help printer
 *   util.c     errors, number parsing, allocation, opening the data directory
 *   out.c      the buffered writer behind `topic consume` and the table printer
 *   topic.c    topic create / list / describe / delete
 *   produce.c  topic produce
 *   consume.c  topic consume
 *   format.c   the --format mini-language of topic consume
 *   group.c    group list / describe
 *   verify.c   log verify
 *   kafka.h    the same commands against Kafka through librdkafka (--brokers, -X), in
 *              kafka.c (configuration, metadata, topics, groups), kafka_produce.c and
 *              kafka_consume.c; they share the flag parsing and formatting of the files above
 *   dev.c      dev kafka: a development Kafka cluster (librdkafka's mock) and its control
 *
 * Conventions: results go to stdout, errors to stderr as exactly one line "eddy: <what was
 * wrong, naming the input>". Exit status: 0 success, 1 runtime failure (the library refused,
 * an unknown topic, corrupt data), 2 usage error (unknown flag, malformed value).
 */
#ifndef EDDY_CLI_H
#define EDDY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "eddy/eddy.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_RUNTIME 1
#define CLI_EXIT_USAGE 2

/** The data directory used when neither --data nor EDDY_DATA is given. */
#define CLI_DATA_DIR_DEFAULT "./eddy-data"

/* ------------------------------------------------------------------------------------------ */
/* Argument parsing (args.c)                                                                  */

typedef enum cli_option_kind {
    CLI_OPTION_FLAG,  /**< target is a bool *, set to true */
    CLI_OPTION_VALUE, /**< target is a const char **; the last occurrence wins */
    CLI_OPTION_LIST,  /**< target is a cli_list *; every occurrence is appended */
} cli_option_kind;

/** A growable list of borrowed strings (they point into argv). */
typedef struct cli_list {
    const char **items;
    size_t count;
    size_t capacity;
} cli_list;

/** One flag of a command: -s / --long, what it takes and where the parser stores it. */
typedef struct cli_option {
    char short_name;       /**< 0: no short form */
    const char *long_name; /**< without the leading "--"; NULL: no long form */
    cli_option_kind kind;
    const char *value_name; /**< shown in help, e.g. "PARTITIONS"; NULL for flags */
    const char *help;
    void *target;
} cli_option;

/** A command's grammar and help text. */
typedef struct cli_command {
    const char *path;    /**< e.g. "topic create" */
    const char *usage;   /**< the operands, e.g. "NAME [NAME...]" */
    const char *summary; /**< one line */
    const char *details; /**< more help text printed after the flags; may be NULL */
    const cli_option *options;
    size_t option_count;
    size_t positional_min;
    size_t positional_max; /**< SIZE_MAX: no limit */
} cli_command;

/** Longest wait of one Kafka request when --timeout-ms is not given. */
#define CLI_KAFKA_TIMEOUT_MS_DEFAULT 10000

/** The options every command accepts. The fields marked "resolved" are set by
 *  cli_parse_or_exit() from the flags and the environment. */
typedef struct cli_global {
    const char *data_dir;       /**< resolved: --data, else $EDDY_DATA, else CLI_DATA_DIR_DEFAULT */
    const char *data_option;    /**< --data as given; NULL when absent */
    const char *brokers;        /**< resolved: --brokers, else $EDDY_BROKERS; NULL: none */
    const char *brokers_option; /**< --brokers as given; NULL when absent */
    cli_list kafka_properties;  /**< -X KEY=VALUE, librdkafka properties, in order */
    const char *timeout_option; /**< --timeout-ms as given; NULL when absent */
    int timeout_ms;             /**< resolved: --timeout-ms, else CLI_KAFKA_TIMEOUT_MS_DEFAULT */
    bool kafka;                 /**< resolved: the command talks to Kafka, not the embedded log */
    bool verbose;               /**< --verbose: the library's log messages go to stderr */
    bool help;                  /**< --help / -h was given */
} cli_global;

typedef enum cli_parse_result {
    CLI_PARSE_RUN,        /**< arguments are good: run the command */
    CLI_PARSE_EXIT_OK,    /**< help was printed: exit 0 */
    CLI_PARSE_EXIT_USAGE, /**< an error line was printed: exit 2 */
} cli_parse_result;

/**
 * Parses @p argc / @p argv (the words after the command's name) against @p command's options
 * and the global ones, storing values through the options' targets and the operands in
 * @p positionals (free with cli_list_free()). Prints help for --help, and one error line for
 * a bad argument.
 */
cli_parse_result cli_args_parse(const cli_command *command, cli_global *global, int argc,
                                char **argv, cli_list *positionals);

/**
 * Consumes global options (--data, --verbose, --help) at argv[*index] onwards, stopping at the
 * first other word. Prints one error line and returns false on a malformed global option.
 */
bool cli_args_parse_globals(cli_global *global, int argc, char **argv, int *index);

/** Prints @p command's help: usage, summary, flags, global flags and details. */
void cli_command_help(const cli_command *command, FILE *out);

/** Appends @p item to @p list. */
void cli_list_push(cli_list *list, const char *item);

/** Frees the list's array (not the strings, which are borrowed). */
void cli_list_free(cli_list *list);

/* ------------------------------------------------------------------------------------------ */
/* Commands (one function per subcommand; argv holds the words after the subcommand)           */

typedef int (*cli_run_fn)(cli_global *global, int argc, char **argv);

int cli_topic_create(cli_global *global, int argc, char **argv);
int cli_topic_list(cli_global *global, int argc, char **argv);
int cli_topic_describe(cli_global *global, int argc, char **argv);
int cli_topic_delete(cli_global *global, int argc, char **argv);
int cli_topic_produce(cli_global *global, int argc, char **argv);
int cli_topic_consume(cli_global *global, int argc, char **argv);
int cli_group_list(cli_global *global, int argc, char **argv);
int cli_group_describe(cli_global *global, int argc, char **argv);
int cli_log_verify(cli_global *global, int argc, char **argv);
/** eddy dev kafka, and its subcommands create-topic, topics and fault (dev.c). */
int cli_dev_kafka(cli_global *global, int argc, char **argv);

/** Parses a command's arguments, resolves the global options (which backend: --data or
 *  --brokers) and maps the result to an exit status: returns -1 when the command should run,
 *  else the status to exit with. */
int cli_parse_or_exit(const cli_command *command, cli_global *global, int argc, char **argv,
                      cli_list *positionals);

/* ------------------------------------------------------------------------------------------ */
/* Errors, numbers, memory, the data directory (util.c)                                       */

/** Prints "eddy: <message>" and a newline to stderr. */
void cli_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

/** Prints a usage error naming the command's help, and returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_command *command, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/** Prints the library's message for a failed call (eddy_last_error(), else the error's
 *  generic message after @p context) and returns CLI_EXIT_RUNTIME. */
int cli_library_error(eddy_err err, const char *context);

/** Parses a whole decimal integer in [min, max]; false when it is anything else. */
bool cli_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out);

/** Kafka's rule for topic names, which eddy also applies to group ids: 1-249 characters of
 *  [a-zA-Z0-9._-], not "." or "..". Checked up front so that a bad name is a usage error. */
bool cli_name_valid(const char *name);

/** Allocation that cannot return NULL: on exhaustion it prints an error and exits 1. */
void *cli_alloc(size_t bytes);
void *cli_realloc(void *pointer, size_t bytes);
char *cli_strdup(const char *text);

/**
 * Opens the data directory named by @p global. With @p create the directory is created when
 * missing (only topic create does that; reading commands must not create it).
 * @return CLI_EXIT_OK, or an exit status after printing one error line.
 */
int cli_log_open(const cli_global *global, bool create, eddy_log **out);

/** Looks up @p topic's partition count, printing an error line when it fails.
 *  @return CLI_EXIT_OK or CLI_EXIT_RUNTIME. */
int cli_topic_partitions(eddy_log *log, const char *topic, int32_t *partitions);

/** Prints "partition P does not exist: topic 'T' has N partitions (0..N-1)" and returns
 *  CLI_EXIT_RUNTIME. */
int cli_partition_error(const char *topic, int64_t partition, int32_t partitions);

/** Routes the library's log messages: dropped unless --verbose or EDDY_LOG_LEVEL is set, so that
 *  a failure prints exactly one line. */
void cli_logging_setup(const cli_global *global);

/* ------------------------------------------------------------------------------------------ */
/* Output (out.c)                                                                             */

/**
 * A buffered writer to a file descriptor, for output of millions of records per second. It
 * remembers the first write error; after EPIPE (the reader went away) writes are dropped.
 */
typedef struct cli_out {
    int fd;
    char *data;
    size_t len;
    size_t capacity;
    int error; /**< errno of the first failed write, 0 when none */
} cli_out;

void cli_out_init(cli_out *out, int fd, size_t capacity);
void cli_out_free(cli_out *out);
void cli_out_write(cli_out *out, const void *bytes, size_t len);
void cli_out_byte(cli_out *out, char byte);
void cli_out_i64(cli_out *out, int64_t value);
/** Writes the buffered bytes; false when a write failed (see out->error). */
bool cli_out_flush(cli_out *out);

/** The widest table any command prints has 6 columns. */
#define CLI_TABLE_COLUMNS_MAX 8

/** A text table printed with aligned columns, as `rpk` prints them. */
typedef struct cli_table {
    size_t columns;
    char **cells;
    size_t count;
    size_t capacity;
} cli_table;

/** Starts a table whose header row is the @p columns strings in @p headers. */
void cli_table_init(cli_table *table, size_t columns, const char *const *headers);
/** Appends one cell (printf-formatted); rows fill left to right. */
void cli_table_cell(cli_table *table, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void cli_table_print(const cli_table *table, FILE *out);
void cli_table_free(cli_table *table);

/** Prints a section title underlined with '=' (as rpk's describe sections). */
void cli_section(FILE *out, const char *title);

/** A compiled --format (format.c). */
typedef struct cli_format cli_format;

/* ------------------------------------------------------------------------------------------ */
/* topic produce's input (produce.c), shared by the embedded and the Kafka backend            */

/** What topic produce's flags say, checked; the same for both backends. */
typedef struct cli_produce_options {
    const char *topic;
    int32_t partition;     /**< -p; -1: by key (murmur2), keyless records spread */
    bool acks_all;         /**< --acks all (default), else 1 */
    const char *delimiter; /**< --key-delim, unescaped; NULL: the whole line is the value */
    size_t delimiter_len;
    const char *fixed_key;      /**< -k; NULL: no key */
    bool tombstone;             /**< -Z: an empty value is a null value */
    const eddy_header *headers; /**< -H, on every record */
    size_t header_count;
    int64_t timestamp_ms; /**< --timestamp; -1: the time of producing */
} cli_produce_options;

/** Where records read from stdin go: the embedded log or a Kafka producer. */
typedef struct cli_produce_sink {
    /** Queues @p record (its pointers are valid during the call only; partition is -1 or
     *  the -p partition); prints one error line and returns an exit status on failure. */
    int (*add)(void *opaque, const eddy_record *record);
    /** Delivers every queued record (acknowledged, for Kafka); prints one error line, naming
     *  how many records were produced, and returns CLI_EXIT_RUNTIME when one failed. */
    int (*flush)(void *opaque);
    /** Records delivered so far. */
    uint64_t (*produced)(const void *opaque);
    void *opaque;
} cli_produce_sink;

/**
 * Reads stdin to its end, one record per line split as @p options say, into @p sink; flushes
 * and prints "Produced N records to TOPIC." on success. A line without the delimiter stops it
 * after flushing the lines before (exit 1).
 */
int cli_produce_stdin(const cli_produce_options *options, const cli_produce_sink *sink);

/* ------------------------------------------------------------------------------------------ */
/* topic consume's flags (consume.c), shared by the embedded and the Kafka backend            */

typedef enum cli_start_kind {
    CLI_START_BEGINNING,  /**< start */
    CLI_START_END,        /**< end */
    CLI_START_OFFSET,     /**< N: clamped to [log start, end] */
    CLI_START_FROM_END,   /**< -N: N records before the end */
    CLI_START_FROM_START, /**< +N: N records after the log start */
    CLI_START_TIME,       /**< @UNIX_MS: the first record at or after the time */
} cli_start_kind;

/** Where -o starts a partition. */
typedef struct cli_start {
    cli_start_kind kind;
    int64_t value;
} cli_start;

/** What topic consume's flags say, checked; the same for both backends. */
typedef struct cli_consume_options {
    const char *topic;
    const char *group; /**< -g; NULL: no group */
    cli_start start;
    bool follow;
    int64_t limit;              /**< -n; -1: no limit */
    cli_format *format;         /**< -f, compiled; owned by the command */
    const cli_list *partitions; /**< the -p values as given ("0,2"), checked by
                                     cli_consume_select() once the partition count is known */
} cli_consume_options;

/** The offset -o @p start names in a partition whose log starts at @p low and ends at
 *  @p high; not for CLI_START_TIME, which needs a lookup. */
int64_t cli_start_offset(const cli_start *start, int64_t low, int64_t high);

/**
 * Marks in @p selected (@p partitions entries, zeroed by the caller) the partitions the -p
 * values name. @return CLI_EXIT_OK; CLI_EXIT_USAGE for a malformed value; CLI_EXIT_RUNTIME
 * for a partition the topic does not have (after one error line).
 */
int cli_consume_select(const cli_command *command, const cli_consume_options *options,
                       int32_t partitions, bool *selected);

/** Makes SIGINT and SIGTERM request a stop (see cli_consume_stopped()), and ignores SIGPIPE
 *  (a closed stdout shows as EPIPE). */
void cli_consume_signals(void);
/** Whether SIGINT or SIGTERM arrived since cli_consume_signals(). */
bool cli_consume_stopped(void);

/* ------------------------------------------------------------------------------------------ */
/* The commands against Kafka (kafka.c, kafka_group.c, kafka_produce.c, kafka_consume.c; their
 * internals in kafka.h), called once the flags are checked as for the embedded log, when
 * cli_global.kafka is set.                                                                   */

int cli_kafka_topic_create(const cli_global *global, const cli_list *names, int32_t partitions,
                           int32_t replicas, const cli_list *configs);
int cli_kafka_topic_list(const cli_global *global);
int cli_kafka_topic_describe(const cli_global *global, const cli_list *names, bool summary,
                             bool configs, bool partitions);
int cli_kafka_topic_delete(const cli_global *global, const cli_list *names);
int cli_kafka_group_list(const cli_global *global);
int cli_kafka_group_describe(const cli_global *global, const cli_list *groups);

/** topic produce: reads stdin through cli_produce_stdin() into a librdkafka producer. */
int cli_kafka_produce(const cli_global *global, const cli_produce_options *options);

/** topic consume: prints records through @p options->format until the end offsets the
 *  partitions had at start, -n, or SIGINT/SIGTERM. */
int cli_kafka_consume(const cli_global *global, const cli_consume_options *options);

/* ------------------------------------------------------------------------------------------ */
/* Record formats for topic consume (format.c)                                                */

/**
 * Compiles a format such as "%k\t%v\n". Directives: %k key, %v value, %K key length, %V
 * value length, %p partition, %o offset, %t timestamp (ms), %T topic, %h headers, %H header
 * count, %% percent; escapes \n \t \r \\ \xNN.
 * @return NULL after writing a message naming the bad directive into @p error.
 */
cli_format *cli_format_compile(const char *text, char *error, size_t error_size);
void cli_format_free(cli_format *format);
/** Writes one record through @p format. */
void cli_format_record(const cli_format *format, const eddy_record *record, cli_out *out);

#endif
