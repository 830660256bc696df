/*
 * eddy topic consume: print a topic's records through a --format.
 *
 * Two modes, both on an eddy_log_consumer:
 *   - without -g, a consumer with no group is assigned the chosen partitions (-p, else all) at
 *     the offsets -o resolves to; nothing is committed;
 *   - with -g, the consumer subscribes as a member of the group, starts each partition it is
 *     given at the group's committed offset (else at -o start|end), and commits the offset
 *     after the last record it printed: at exit, on rebalance (before a partition is taken
 *     away), and with --follow at most every CONSUME_COMMIT_INTERVAL_MS, busy or idle.
 *
 * Without --follow the command stops at the end offsets the partitions had when it started
 * (later records are not printed), or when a poll finds nothing left anywhere (compaction can
 * leave the last offsets of a partition empty). With -n it stops after COUNT records.
 *
 * Output goes through one buffer (cli_out) flushed when full, when the consumer is idle and at
 * exit. Commits follow a successful flush only, so a committed record has been written to
 * stdout (at-least-once). SIGINT and SIGTERM stop the loop; the command then flushes, commits
 * and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* Longest wait of one poll: bounds how late a signal is noticed. */
#define CONSUME_POLL_TIMEOUT_MS 100
/* Without --follow, a group member that has been given no partition gives up after this many
 * idle polls (about a second): time for other members to hand partitions over. */
#define CONSUME_UNASSIGNED_IDLE_POLLS 10
/* With --follow, commits happen at most this often (each is durable: an fsync), whether the
 * consumer is busy or idle; a rebalance and the exit commit at once. */
#define CONSUME_COMMIT_INTERVAL_MS 1000
/* The output buffer: large enough that write(2) is rare. */
#define CONSUME_OUTPUT_BYTES (256 * 1024)

typedef struct partition_state {
    bool selected;    /* to be consumed: in the -p list, or every partition */
    bool assigned;    /* currently ours */
    bool dirty;       /* position not committed yet (records printed, or chosen by -o) */
    int64_t position; /* offset of the next record to print */
    int64_t stop;     /* end offset when the command started */
} partition_state;

typedef struct consume_run {
    eddy_log *log;
    eddy_log_consumer *consumer;
    const char *topic;
    const char *group; /* NULL: no group */
    int32_t partitions;
    partition_state *state;
    size_t unfinished;      /* assigned partitions with position < stop */
    bool assignment_known;  /* an ASSIGN arrived (group), or partitions were assigned */
    int idle_polls;         /* consecutive polls that found nothing */
    int64_t last_commit_ms; /* monotonic time of the last periodic commit */
    cli_start start;
    bool follow;
    int64_t limit; /* -1: no limit */
    int64_t printed;
    cli_format *format;
    cli_out out;
    int status; /* set by the rebalance callback when a commit fails */
} consume_run;

typedef struct consume_args {
    const char *group;
    const char *offset;
    const char *count;
    const char *format;
    bool follow;
    cli_list partitions;
    cli_list operands;
} consume_args;

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

bool cli_consume_stopped(void)
{
    return stop_requested != 0;
}

void cli_consume_signals(void)
{
    struct sigaction action = {0};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    /* A closed stdout shows up as EPIPE from write(2) and ends the loop quietly. */
    signal(SIGPIPE, SIG_IGN);
}

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------------------------ */
/* Flags                                                                                      */

static bool parse_start(const char *text, cli_start *out)
{
    if (strcmp(text, "start") == 0 || strcmp(text, "beginning") == 0 ||
        strcmp(text, "oldest") == 0) {
        *out = (cli_start){CLI_START_BEGINNING, 0};
        return true;
    }
    if (strcmp(text, "end") == 0 || strcmp(text, "newest") == 0) {
        *out = (cli_start){CLI_START_END, 0};
        return true;
    }
    cli_start_kind kind = text[0] == '@'   ? CLI_START_TIME
                          : text[0] == '-' ? CLI_START_FROM_END
                          : text[0] == '+' ? CLI_START_FROM_START
                                           : CLI_START_OFFSET;
    const char *digits = kind == CLI_START_OFFSET ? text : text + 1;
    out->kind = kind;
    return digits[0] >= '0' && digits[0] <= '9' && cli_parse_i64(digits, 0, INT64_MAX, &out->value);
}

/* Adds the partitions of one -p value ("2" or "0,1,2") to the selection. */
static int select_partitions(const cli_command *command, const char *text, const char *topic,
                             int32_t partitions, bool *selected)
{
    const char *at = text;
    for (;;) {
        const char *comma = strchr(at, ',');
        size_t len = comma ? (size_t)(comma - at) : strlen(at);
        char number[24];
        int64_t partition = 0;
        if (len == 0 || len >= sizeof(number)) {
            return cli_usage_error(command, "invalid partition list '%s' for -p", text);
        }
        memcpy(number, at, len);
        number[len] = '\0';
        if (!cli_parse_i64(number, 0, INT32_MAX, &partition)) {
            return cli_usage_error(command, "invalid partition '%s' for -p (expected 0 or more)",
                                   number);
        }
        if (partition >= partitions) {
            return cli_partition_error(topic, partition, partitions);
        }
        selected[partition] = true;
        if (comma == NULL) {
            return CLI_EXIT_OK;
        }
        at = comma + 1;
    }
}

int cli_consume_select(const cli_command *command, const cli_consume_options *options,
                       int32_t partitions, bool *selected)
{
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < options->partitions->count && status == CLI_EXIT_OK; i++) {
        status = select_partitions(command, options->partitions->items[i], options->topic,
                                   partitions, selected);
    }
    return status;
}

/* Checks the flags, which need neither a data directory nor a broker. */
static int parse_consume_flags(const cli_command *command, const consume_args *args,
                               cli_consume_options *options)
{
    options->topic = args->operands.items[0];
    options->partitions = &args->partitions;
    options->start = (cli_start){CLI_START_BEGINNING, 0};
    if (args->offset != NULL && !parse_start(args->offset, &options->start)) {
        return cli_usage_error(command,
                               "invalid offset '%s' for -o (expected start, end, N, -N, +N or "
                               "@UNIX_MS)",
                               args->offset);
    }
    options->limit = -1;
    if (args->count != NULL && !cli_parse_i64(args->count, 1, INT64_MAX, &options->limit)) {
        return cli_usage_error(command, "invalid count '%s' for -n (expected 1 or more)",
                               args->count);
    }
    if (args->group != NULL && !cli_name_valid(args->group)) {
        return cli_usage_error(command,
                               "invalid group id '%s' for -g: use 1-249 characters of "
                               "[a-zA-Z0-9._-], not '.' or '..'",
                               args->group);
    }
    if (args->group != NULL && args->partitions.count > 0) {
        return cli_usage_error(command, "-p cannot be used with -g (the group assigns "
                                        "partitions)");
    }
    if (args->group != NULL && options->start.kind != CLI_START_BEGINNING &&
        options->start.kind != CLI_START_END) {
        return cli_usage_error(command, "with -g, -o must be start or end (where a partition "
                                        "without a committed offset starts)");
    }
    char error[512];
    options->format =
        cli_format_compile(args->format ? args->format : "%v\\n", error, sizeof(error));
    if (options->format == NULL) {
        return cli_usage_error(command, "%s", error);
    }
    options->group = args->group;
    options->follow = args->follow;
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Positions                                                                                  */

int64_t cli_start_offset(const cli_start *start, int64_t low, int64_t high)
{
    int64_t value = start->value;
    switch (start->kind) {
    case CLI_START_BEGINNING:
        return low;
    case CLI_START_END:
        return high;
    case CLI_START_OFFSET:
        return value < low ? low : value > high ? high : value;
    case CLI_START_FROM_END:
        return high - low < value ? low : high - value;
    case CLI_START_FROM_START:
        return high - low < value ? high : low + value;
    case CLI_START_TIME:
        break;
    }
    return low; /* a time needs a lookup: the caller's */
}

/* Where a partition starts without a committed offset, as -o says. */
static int resolve_start(consume_run *run, int32_t partition, int64_t *offset)
{
    int64_t start = 0, end = 0;
    eddy_err err =
        eddy_log_partition_info(run->log, run->topic, partition, &start, &end, NULL, NULL);
    if (err != EDDY_OK) {
        return cli_library_error(err, run->topic);
    }
    if (run->start.kind != CLI_START_TIME) {
        *offset = cli_start_offset(&run->start, start, end);
        return CLI_EXIT_OK;
    }
    err = eddy_log_offset_for_time(run->log, run->topic, partition, run->start.value, offset);
    return err == EDDY_OK ? CLI_EXIT_OK : cli_library_error(err, run->topic);
}

static bool partition_finished(const partition_state *s)
{
    return s->position >= s->stop;
}

/* Moves a partition's position, keeping the count of unfinished partitions. */
static void set_position(consume_run *run, partition_state *s, int64_t position)
{
    bool was_finished = partition_finished(s);
    s->position = position;
    if (s->assigned && !was_finished && partition_finished(s)) {
        run->unfinished--;
    }
}

static void mark_assigned(consume_run *run, partition_state *s, bool assigned)
{
    if (s->assigned != assigned && !partition_finished(s)) {
        if (assigned) {
            run->unfinished++;
        } else {
            run->unfinished--;
        }
    }
    s->assigned = assigned;
}

/* Takes each partition's end offset: without --follow, the command stops there. */
static int take_stop_offsets(consume_run *run)
{
    for (int32_t p = 0; p < run->partitions; p++) {
        int64_t end = 0;
        eddy_err err = eddy_log_partition_info(run->log, run->topic, p, NULL, &end, NULL, NULL);
        if (err != EDDY_OK) {
            return cli_library_error(err, run->topic);
        }
        run->state[p].stop = run->follow ? INT64_MAX : end;
    }
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Commits (group mode)                                                                       */

static int commit_partition(consume_run *run, int32_t partition)
{
    partition_state *s = &run->state[partition];
    if (run->group == NULL || !s->dirty) {
        return CLI_EXIT_OK;
    }
    eddy_err err =
        eddy_log_consumer_commit_offset(run->consumer, run->topic, partition, s->position);
    if (err != EDDY_OK) {
        return cli_library_error(err, run->group);
    }
    s->dirty = false;
    return CLI_EXIT_OK;
}

/* Flushes the output, then commits every partition printed from: a commit never covers a
 * record that did not reach stdout. */
static int flush_and_commit(consume_run *run)
{
    if (!cli_out_flush(&run->out)) {
        return CLI_EXIT_OK; /* reported by the caller */
    }
    for (int32_t p = 0; p < run->partitions; p++) {
        int status = commit_partition(run, p);
        if (status != CLI_EXIT_OK) {
            return status;
        }
    }
    return CLI_EXIT_OK;
}

/* Called inside poll: set up a partition we are given, commit one being taken away. */
static void on_rebalance(eddy_log_consumer *consumer, eddy_rebalance_event event,
                         const eddy_topic_partition *partitions, size_t count, void *opaque)
{
    (void)consumer;
    consume_run *run = opaque;
    if (event == EDDY_REBALANCE_REVOKE && !cli_out_flush(&run->out)) {
        return;
    }
    for (size_t i = 0; i < count && run->status == CLI_EXIT_OK; i++) {
        int32_t p = partitions[i].partition;
        if (strcmp(partitions[i].topic, run->topic) != 0 || p < 0 || p >= run->partitions) {
            continue;
        }
        partition_state *s = &run->state[p];
        if (event == EDDY_REBALANCE_REVOKE) {
            run->status = commit_partition(run, p);
            mark_assigned(run, s, false);
            continue;
        }
        int64_t committed = 0;
        bool had_commit =
            eddy_log_group_committed(run->log, run->group, run->topic, p, &committed) == EDDY_OK;
        if (!had_commit) {
            run->status = resolve_start(run, p, &committed);
        }
        s->position = committed;
        /* A position chosen by -o is committed too, so that the next member resumes here
         * rather than choosing again (records produced meanwhile would be skipped at end). */
        s->dirty = !had_commit;
        mark_assigned(run, s, true);
    }
    run->assignment_known |= event == EDDY_REBALANCE_ASSIGN;
}

/* ------------------------------------------------------------------------------------------ */
/* Setting up the consumer                                                                    */

static int start_group(consume_run *run)
{
    eddy_config *config = eddy_config_new();
    if (config == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_RUNTIME;
    }
    eddy_config_set(config, "auto.offset.reset",
                    run->start.kind == CLI_START_END ? "latest" : "earliest");
    eddy_config_set(config, "enable.auto.commit", "false");
    eddy_err err = eddy_log_consumer_new(run->log, run->group, config, &run->consumer);
    eddy_config_destroy(config);
    if (err == EDDY_OK) {
        const char *topics[] = {run->topic};
        err = eddy_log_consumer_subscribe(run->consumer, topics, 1, on_rebalance, run);
    }
    return err == EDDY_OK ? CLI_EXIT_OK : cli_library_error(err, run->group);
}

/* Without a group: assigns each selected partition that has something to print. */
static int start_assigned(consume_run *run, bool all)
{
    eddy_err err = eddy_log_consumer_new(run->log, NULL, NULL, &run->consumer);
    if (err != EDDY_OK) {
        return cli_library_error(err, run->topic);
    }
    for (int32_t p = 0; p < run->partitions; p++) {
        partition_state *s = &run->state[p];
        if (!all && !s->selected) {
            continue;
        }
        int status = resolve_start(run, p, &s->position);
        if (status != CLI_EXIT_OK) {
            return status;
        }
        if (partition_finished(s)) {
            continue;
        }
        err = eddy_log_consumer_assign(run->consumer, run->topic, p, s->position);
        if (err != EDDY_OK) {
            return cli_library_error(err, run->topic);
        }
        mark_assigned(run, s, true);
    }
    run->assignment_known = true;
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* The loop                                                                                   */

static void print_record(consume_run *run, const eddy_record *record)
{
    if (record->partition < 0 || record->partition >= run->partitions) {
        return;
    }
    partition_state *s = &run->state[record->partition];
    if (record->offset >= s->stop) {
        /* Appended after we started: everything before it was seen, so this one is done. */
        if (s->position < s->stop) {
            set_position(run, s, s->stop);
        }
        return;
    }
    cli_format_record(run->format, record, &run->out);
    s->dirty = true;
    set_position(run, s, record->offset + 1);
    run->printed++;
}

static bool loop_finished(const consume_run *run)
{
    if (stop_requested || run->out.error != 0 || run->status != CLI_EXIT_OK) {
        return true;
    }
    if (run->limit >= 0 && run->printed >= run->limit) {
        return true;
    }
    return !run->follow && run->assignment_known && run->unfinished == 0;
}

/* With --follow in a group: flush and commit when the commit interval has passed. */
static int periodic_commit(consume_run *run)
{
    int64_t now_ms = monotonic_ms();
    if (run->group == NULL || !run->follow ||
        now_ms - run->last_commit_ms < CONSUME_COMMIT_INTERVAL_MS) {
        return CLI_EXIT_OK;
    }
    run->last_commit_ms = now_ms;
    return flush_and_commit(run);
}

/* Handles a poll that found nothing: flush, commit periodically; without --follow, stop when
 * every assigned partition is at its end, or when the group gave us nothing for a while (the
 * library calls no ASSIGN for an empty assignment). */
static int on_idle(consume_run *run, bool *done)
{
    cli_out_flush(&run->out);
    int status = periodic_commit(run);
    run->idle_polls++;
    *done =
        !run->follow && (run->assignment_known || run->idle_polls >= CONSUME_UNASSIGNED_IDLE_POLLS);
    return status;
}

/* A failed poll (e.g. a corrupt batch): keep what was printed, commit it, report the error. */
static int on_poll_error(consume_run *run, eddy_err err)
{
    char message[1024];
    snprintf(message, sizeof(message), "%s",
             eddy_last_error()[0] ? eddy_last_error() : eddy_strerror(err));
    int status = flush_and_commit(run);
    if (status == CLI_EXIT_OK) {
        cli_error("%s", message);
    }
    return CLI_EXIT_RUNTIME;
}

static int consume_loop(consume_run *run)
{
    run->last_commit_ms = monotonic_ms();
    int status = CLI_EXIT_OK;
    bool done = false;
    while (status == CLI_EXIT_OK && !done && !loop_finished(run)) {
        eddy_record record;
        int timeout_ms = run->out.len > 0 ? 0 : CONSUME_POLL_TIMEOUT_MS;
        eddy_err err = eddy_log_consumer_poll(run->consumer, timeout_ms, &record);
        if (err == EDDY_OK) {
            run->idle_polls = 0;
            print_record(run, &record);
            if ((run->printed & 1023) == 0) {
                status = periodic_commit(run); /* a busy consumer is never idle */
            }
        } else if (err == EDDY_ERR_TIMED_OUT) {
            status = on_idle(run, &done);
        } else {
            status = on_poll_error(run, err);
        }
    }
    return status != CLI_EXIT_OK ? status : run->status;
}

/* Flushes and commits at the end; a closed stdout ends quietly without committing. */
static int finish(consume_run *run, int status)
{
    if (status == CLI_EXIT_OK) {
        status = flush_and_commit(run);
    }
    if (run->out.error != 0 && run->out.error != EPIPE && status == CLI_EXIT_OK) {
        cli_error("writing to stdout: %s", strerror(run->out.error));
        status = CLI_EXIT_RUNTIME;
    }
    return status;
}

/* The embedded backend: an eddy_log_consumer on the data directory. */
static int run_consume(const cli_command *command, cli_global *global,
                       const cli_consume_options *options, consume_run *run)
{
    run->topic = options->topic;
    run->group = options->group;
    run->start = options->start;
    run->follow = options->follow;
    run->limit = options->limit;
    run->format = options->format;
    int status = cli_log_open(global, false, &run->log);
    if (status == CLI_EXIT_OK) {
        status = cli_topic_partitions(run->log, run->topic, &run->partitions);
    }
    if (status != CLI_EXIT_OK) {
        return status;
    }
    run->state = cli_alloc((size_t)run->partitions * sizeof(*run->state));
    memset(run->state, 0, (size_t)run->partitions * sizeof(*run->state));
    bool *selected = cli_alloc((size_t)run->partitions * sizeof(*selected));
    memset(selected, 0, (size_t)run->partitions * sizeof(*selected));
    status = cli_consume_select(command, options, run->partitions, selected);
    for (int32_t p = 0; p < run->partitions; p++) {
        run->state[p].selected = selected[p];
    }
    free(selected);
    if (status == CLI_EXIT_OK) {
        status = take_stop_offsets(run);
    }
    if (status == CLI_EXIT_OK) {
        status =
            run->group ? start_group(run) : start_assigned(run, options->partitions->count == 0);
    }
    if (status != CLI_EXIT_OK) {
        return status;
    }
    cli_consume_signals();
    cli_out_init(&run->out, 1, CONSUME_OUTPUT_BYTES);
    return finish(run, consume_loop(run));
}

int cli_topic_consume(cli_global *global, int argc, char **argv)
{
    consume_args args = {0};
    const cli_option options[] = {
        {'g', "group", CLI_OPTION_VALUE, "GROUP", "consume as a member of GROUP and commit",
         &args.group},
        {'o', "offset", CLI_OPTION_VALUE, "OFFSET",
         "start, end, N, -N (N before end), +N (N after start), @UNIX_MS", &args.offset},
        {'n', "num", CLI_OPTION_VALUE, "COUNT", "stop after COUNT records", &args.count},
        {'f', "format", CLI_OPTION_VALUE, "FORMAT", "output format (default '%v\\n')",
         &args.format},
        {0, "follow", CLI_OPTION_FLAG, NULL, "wait for new records instead of stopping at the end",
         &args.follow},
        {'p', "partitions", CLI_OPTION_LIST, "N[,N...]", "consume only these partitions",
         &args.partitions},
    };
    const cli_command command = {
        "topic consume",
        "NAME",
        "Consume a topic's records and print them to stdout.",
        "Format directives: %k key, %v value, %K / %V their lengths (-1 when null),\n"
        "%p partition, %o offset, %t timestamp (Unix ms), %T topic, %h headers as\n"
        "KEY=VALUE,KEY=VALUE, %H header count, %% percent. Escapes: \\n \\t \\r \\\\ \\xNN.\n"
        "A null key or value prints as nothing.\n\n"
        "Without --follow the command stops at the end offsets the partitions had when it\n"
        "started. With -g it starts where the group committed (else at -o start|end) and\n"
        "commits what it printed before exiting. SIGINT/SIGTERM: commit and exit 0.\n",
        options,
        6,
        1,
        1};
    consume_run *run = cli_alloc(sizeof(*run));
    *run = (consume_run){0};
    cli_consume_options consume = {0};
    int status = cli_parse_or_exit(&command, global, argc, argv, &args.operands);
    if (status < 0) {
        status = parse_consume_flags(&command, &args, &consume);
        if (status == CLI_EXIT_OK) {
            status = global->kafka ? cli_kafka_consume(global, &consume)
                                   : run_consume(&command, global, &consume, run);
        }
    }
    eddy_log_consumer_destroy(run->consumer);
    eddy_log_close(run->log);
    cli_format_free(consume.format);
    cli_out_free(&run->out);
    free(run->state);
    free(run);
    cli_list_free(&args.partitions);
    cli_list_free(&args.operands);
    return status;
}
