/*
 * eddy topic consume against Kafka: the same flags, stop rules and --format output as the
 * embedded consume (consume.c), on a librdkafka consumer.
 *
 *   - without -g, the chosen partitions (-p, else all) are assigned at the offsets -o resolves
 *     to (watermarks, or offsets_for_times for @UNIX_MS); nothing is committed;
 *   - with -g, the consumer subscribes; the rebalance callback starts each partition it is
 *     given at the group's committed offset (else at -o start|end, which is then committed too,
 *     as on the embedded log), and commits a partition before giving it up.
 *
 * Without --follow the command stops at the high watermarks the partitions had when it
 * started (partition EOF events say when a partition got there), at -n, or on SIGINT/SIGTERM;
 * it then flushes stdout, commits what it printed (with -g), and leaves the group. Every wait
 * is bounded by --timeout-ms: for a group assignment, for the next record of a partition not
 * at its end yet, for each commit and for the close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"

/* Longest wait of one poll: bounds how late a signal is noticed. */
#define KAFKA_CONSUME_POLL_TIMEOUT_MS 100
/* With --follow in a group, commits happen at most this often. */
#define KAFKA_CONSUME_COMMIT_INTERVAL_MS 1000
/* The output buffer, as the embedded consume's. */
#define KAFKA_CONSUME_OUTPUT_BYTES (256 * 1024)

typedef struct kafka_partition {
    bool selected;    /* in the -p list, or every partition */
    bool assigned;    /* currently ours */
    bool dirty;       /* position not committed yet */
    int64_t position; /* offset of the next record to print */
    int64_t stop;     /* high watermark when the command started (INT64_MAX with --follow) */
} kafka_partition;

typedef struct kafka_consumer {
    cli_kafka kafka;
    const cli_consume_options *options;
    int32_t partitions;
    kafka_partition *state;
    size_t unfinished;      /* assigned partitions with position < stop */
    bool assignment_known;  /* partitions were assigned, or the group gave an assignment */
    int64_t progress_ms;    /* monotonic time of the last record, EOF or assignment */
    int64_t last_commit_ms; /* monotonic time of the last periodic commit */
    int64_t printed;
    cli_out out;
    eddy_header *headers; /* the current record's headers */
    size_t headers_capacity;
    int status; /* set by the rebalance callback when it fails */
} kafka_consumer;

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static bool finished(const kafka_partition *s)
{
    return s->position >= s->stop;
}

static void set_position(kafka_consumer *c, kafka_partition *s, int64_t position)
{
    bool was_finished = finished(s);
    s->position = position;
    if (s->assigned && !was_finished && finished(s)) {
        c->unfinished--;
    }
}

static void mark_assigned(kafka_consumer *c, kafka_partition *s, bool assigned)
{
    if (s->assigned != assigned && !finished(s)) {
        c->unfinished += assigned ? 1 : (size_t)-1;
    }
    s->assigned = assigned;
}

/* ------------------------------------------------------------------------------------------ */
/* Positions and commits                                                                      */

/* Where -o starts @p partition: watermarks, or the offset for a time. */
static int resolve_start(kafka_consumer *c, int32_t partition, int64_t *offset)
{
    const char *topic = c->options->topic;
    int64_t low = 0, high = 0;
    int status = cli_kafka_watermarks(&c->kafka, topic, partition, &low, &high);
    if (status != CLI_EXIT_OK || c->options->start.kind != CLI_START_TIME) {
        *offset = cli_start_offset(&c->options->start, low, high);
        return status;
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset = c->options->start.value;
    rd_kafka_resp_err_t err =
        rd_kafka_offsets_for_times(c->kafka.handle, list, c->kafka.timeout_ms);
    *offset = list->elems[0].offset >= 0 ? list->elems[0].offset : high; /* none: the end */
    rd_kafka_topic_partition_list_destroy(list);
    return err == RD_KAFKA_RESP_ERR_NO_ERROR
               ? CLI_EXIT_OK
               : cli_kafka_error(&c->kafka, err, "looking up offsets for the time");
}

/* Commits the position of every dirty partition in @p only (or all when NULL), after stdout
 * took what was printed: a commit never covers a record that did not reach stdout. */
static int commit_dirty(kafka_consumer *c, const rd_kafka_topic_partition_list_t *only)
{
    if (c->options->group == NULL || !cli_out_flush(&c->out)) {
        return CLI_EXIT_OK; /* a failed write is reported by the caller */
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(c->partitions);
    for (int32_t p = 0; p < c->partitions; p++) {
        bool included =
            only == NULL || rd_kafka_topic_partition_list_find(only, c->options->topic, p) != NULL;
        if (c->state[p].dirty && included) {
            rd_kafka_topic_partition_list_add(list, c->options->topic, p)->offset =
                c->state[p].position;
        }
    }
    int status = CLI_EXIT_OK;
    if (list->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(c->kafka.handle, list, 0);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            char what[300];
            snprintf(what, sizeof(what), "committing offsets of group '%s'", c->options->group);
            status = cli_kafka_error(&c->kafka, err, what);
        }
        for (int i = 0; i < list->cnt && status == CLI_EXIT_OK; i++) {
            c->state[list->elems[i].partition].dirty = false;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return status;
}

/* A partition given by the group: start at its committed offset, else where -o says (and
 * commit that, so that the next member resumes there rather than choosing again). */
static int start_given(kafka_consumer *c, rd_kafka_topic_partition_list_t *given)
{
    rd_kafka_resp_err_t err = rd_kafka_committed(c->kafka.handle, given, c->kafka.timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return cli_kafka_error(&c->kafka, err, "fetching the group's committed offsets");
    }
    for (int i = 0; i < given->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &given->elems[i];
        if (strcmp(tp->topic, c->options->topic) != 0 || tp->partition >= c->partitions) {
            continue;
        }
        kafka_partition *s = &c->state[tp->partition];
        s->dirty = tp->offset < 0;
        if (s->dirty) {
            int status = resolve_start(c, tp->partition, &tp->offset);
            if (status != CLI_EXIT_OK) {
                return status;
            }
        }
        s->position = tp->offset;
        mark_assigned(c, s, true);
    }
    return CLI_EXIT_OK;
}

static void on_rebalance(rd_kafka_t *handle, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    kafka_consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && c->status == CLI_EXIT_OK) {
        c->status = start_given(c, partitions);
        c->assignment_known = true;
        c->progress_ms = monotonic_ms();
        rd_kafka_assign(handle, c->status == CLI_EXIT_OK ? partitions : NULL);
        return;
    }
    if (c->status == CLI_EXIT_OK) {
        c->status = commit_dirty(c, partitions);
    }
    for (int i = 0; i < partitions->cnt; i++) {
        int32_t p = partitions->elems[i].partition;
        if (strcmp(partitions->elems[i].topic, c->options->topic) == 0 && p < c->partitions) {
            mark_assigned(c, &c->state[p], false);
        }
    }
    rd_kafka_assign(handle, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Setting up                                                                                 */

static int open_consumer(const cli_global *global, kafka_consumer *c)
{
    const char *group = c->options->group;
    const char *reset = c->options->start.kind == CLI_START_END ? "latest" : "earliest";
    const char *const with_group[] = {"enable.auto.commit",
                                      "false",
                                      "enable.auto.offset.store",
                                      "false",
                                      "enable.partition.eof",
                                      "true",
                                      "auto.offset.reset",
                                      reset,
                                      "group.id",
                                      group,
                                      NULL};
    /* librdkafka's consumer needs a group id even for rd_kafka_assign(); without -g it gets
     * one of its own that never joins, fetches nor commits (offsets are given explicitly). */
    char own_group[64];
    snprintf(own_group, sizeof(own_group), "eddy-consume-%ld", (long)getpid());
    const char *const without_group[] = {
        "enable.auto.commit", "false", "enable.partition.eof", "true", "group.id", own_group, NULL};
    const char *const *defaults = group != NULL ? with_group : without_group;
    rd_kafka_conf_t *conf = NULL;
    int status = cli_kafka_conf(global, defaults, &conf);
    if (status != CLI_EXIT_OK) {
        return status;
    }
    if (group != NULL) {
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
        rd_kafka_conf_set_opaque(conf, c);
    }
    return cli_kafka_open(global, RD_KAFKA_CONSUMER, conf, &c->kafka);
}

/* Without --follow, each partition stops at its high watermark of now. */
static int take_stop_offsets(kafka_consumer *c)
{
    for (int32_t p = 0; p < c->partitions; p++) {
        int64_t low = 0, high = 0;
        c->state[p].stop = INT64_MAX;
        if (!c->options->follow && (c->state[p].selected || c->options->group != NULL)) {
            int status = cli_kafka_watermarks(&c->kafka, c->options->topic, p, &low, &high);
            if (status != CLI_EXIT_OK) {
                return status;
            }
            c->state[p].stop = high;
        }
    }
    return CLI_EXIT_OK;
}

/* Without a group: assigns each selected partition that has something to print. */
static int start_assigned(kafka_consumer *c)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(c->partitions);
    int status = CLI_EXIT_OK;
    for (int32_t p = 0; p < c->partitions && status == CLI_EXIT_OK; p++) {
        kafka_partition *s = &c->state[p];
        if (s->selected) {
            status = resolve_start(c, p, &s->position);
        }
        if (status == CLI_EXIT_OK && s->selected && !finished(s)) {
            rd_kafka_topic_partition_list_add(list, c->options->topic, p)->offset = s->position;
            mark_assigned(c, s, true);
        }
    }
    if (status == CLI_EXIT_OK && list->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_assign(c->kafka.handle, list);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            status = cli_kafka_error(&c->kafka, err, "assigning partitions");
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    c->assignment_known = true;
    return status;
}

static int start_group(kafka_consumer *c)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, c->options->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->kafka.handle, list);
    rd_kafka_topic_partition_list_destroy(list);
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ? CLI_EXIT_OK
                                             : cli_kafka_error(&c->kafka, err, "subscribing");
}

/* ------------------------------------------------------------------------------------------ */
/* The loop                                                                                   */

/* The record as eddy_record, for cli_format_record: pointers into @p message. */
static void to_record(kafka_consumer *c, const rd_kafka_message_t *message, eddy_record *record)
{
    rd_kafka_headers_t *headers = NULL;
    size_t count = 0;
    if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        count = rd_kafka_header_cnt(headers);
    }
    if (count > c->headers_capacity) {
        c->headers = cli_realloc(c->headers, count * sizeof(*c->headers));
        c->headers_capacity = count;
    }
    for (size_t i = 0; i < count; i++) {
        const char *name = NULL;
        const void *value = NULL;
        size_t size = 0;
        rd_kafka_header_get_all(headers, i, &name, &value, &size);
        c->headers[i] = (eddy_header){{name, strlen(name)}, {value, value ? size : 0}};
    }
    *record = (eddy_record){
        .key = {message->key, message->key ? message->key_len : 0},
        .value = {message->payload, message->payload ? message->len : 0},
        .headers = c->headers,
        .header_count = count,
        .timestamp_ms = rd_kafka_message_timestamp(message, NULL),
        .offset = message->offset,
        .partition = message->partition,
        .topic = c->options->topic,
    };
}

static void print_message(kafka_consumer *c, const rd_kafka_message_t *message)
{
    if (message->partition < 0 || message->partition >= c->partitions) {
        return;
    }
    kafka_partition *s = &c->state[message->partition];
    c->progress_ms = monotonic_ms();
    if (message->offset >= s->stop) {
        set_position(c, s, s->stop); /* produced after we started: this partition is done */
        return;
    }
    eddy_record record;
    to_record(c, message, &record);
    cli_format_record(c->options->format, &record, &c->out);
    s->dirty = true;
    set_position(c, s, message->offset + 1);
    c->printed++;
}

/* A consumer error event: EOF ends a partition; other errors are fatal for the command only
 * when librdkafka says so or the topic is gone, else librdkafka retries (and the progress
 * timeout bounds the wait). */
static int on_error(kafka_consumer *c, const rd_kafka_message_t *message)
{
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (message->partition >= 0 && message->partition < c->partitions && !c->options->follow) {
            kafka_partition *s = &c->state[message->partition];
            set_position(c, s, s->position > s->stop ? s->position : s->stop);
        }
        c->progress_ms = monotonic_ms();
        return CLI_EXIT_OK;
    }
    char fatal[512];
    if (rd_kafka_fatal_error(c->kafka.handle, fatal, sizeof(fatal)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cli_error("the consumer failed: %s", fatal);
        return CLI_EXIT_RUNTIME;
    }
    if (message->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        message->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        message->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
        message->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
        cli_error("consuming %s from the brokers at %s: %s", c->options->topic, c->kafka.bootstrap,
                  rd_kafka_message_errstr(message));
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* Handles a poll that found nothing: flush; with --follow in a group, commit now and then;
 * without --follow, stop when every assigned partition is at its end, and fail when nothing
 * came for --timeout-ms (no assignment, or a partition short of its end). */
static int on_idle(kafka_consumer *c, bool *done)
{
    cli_out_flush(&c->out);
    int64_t now_ms = monotonic_ms();
    if (c->options->follow) {
        if (now_ms - c->last_commit_ms >= KAFKA_CONSUME_COMMIT_INTERVAL_MS) {
            c->last_commit_ms = now_ms;
            return commit_dirty(c, NULL);
        }
        return CLI_EXIT_OK;
    }
    *done = c->assignment_known && c->unfinished == 0;
    if (!*done && now_ms - c->progress_ms > c->kafka.timeout_ms) {
        return cli_kafka_timeout_error(&c->kafka, c->assignment_known
                                                      ? "reading records"
                                                      : "waiting for the group's assignment");
    }
    return CLI_EXIT_OK;
}

static int consume_loop(kafka_consumer *c)
{
    c->progress_ms = c->last_commit_ms = monotonic_ms();
    int status = CLI_EXIT_OK;
    bool done = false;
    while (status == CLI_EXIT_OK && c->status == CLI_EXIT_OK && !done && !cli_consume_stopped() &&
           c->out.error == 0 && (c->options->limit < 0 || c->printed < c->options->limit)) {
        int timeout_ms = c->out.len > 0 ? 0 : KAFKA_CONSUME_POLL_TIMEOUT_MS;
        rd_kafka_message_t *message = rd_kafka_consumer_poll(c->kafka.handle, timeout_ms);
        if (message == NULL) {
            status = on_idle(c, &done);
        } else if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            status = on_error(c, message);
        } else {
            print_message(c, message);
        }
        if (message != NULL) {
            rd_kafka_message_destroy(message);
        }
    }
    return status != CLI_EXIT_OK ? status : c->status;
}

/* Leaves the group within the timeout: the close's rebalance events are served here. */
static void close_group(kafka_consumer *c)
{
    rd_kafka_queue_t *queue = rd_kafka_queue_new(c->kafka.handle);
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(c->kafka.handle, queue);
    int64_t deadline_ms = monotonic_ms() + c->kafka.timeout_ms;
    while (error == NULL && !rd_kafka_consumer_closed(c->kafka.handle) &&
           monotonic_ms() < deadline_ms) {
        rd_kafka_event_t *event = rd_kafka_queue_poll(queue, KAFKA_CONSUME_POLL_TIMEOUT_MS);
        if (event != NULL && rd_kafka_event_type(event) == RD_KAFKA_EVENT_REBALANCE) {
            rd_kafka_assign(c->kafka.handle, NULL); /* everything was committed before */
        }
        if (event != NULL) {
            rd_kafka_event_destroy(event);
        }
    }
    if (error != NULL) {
        rd_kafka_error_destroy(error);
    }
    rd_kafka_queue_destroy(queue);
}

static int run(const cli_global *global, kafka_consumer *c)
{
    int status = open_consumer(global, c);
    if (status == CLI_EXIT_OK) {
        status = cli_kafka_topic_partitions(&c->kafka, c->options->topic, &c->partitions);
    }
    if (status != CLI_EXIT_OK) {
        return status;
    }
    c->state = cli_alloc((size_t)c->partitions * sizeof(*c->state));
    memset(c->state, 0, (size_t)c->partitions * sizeof(*c->state));
    bool *selected = cli_alloc((size_t)c->partitions * sizeof(*selected));
    memset(selected, 0, (size_t)c->partitions * sizeof(*selected));
    /* The -p values were checked when parsed, except against the partition count. */
    const cli_command command = {"topic consume", "NAME", "", NULL, NULL, 0, 1, 1};
    status = cli_consume_select(&command, c->options, c->partitions, selected);
    for (int32_t p = 0; p < c->partitions; p++) {
        c->state[p].selected = selected[p] || c->options->partitions->count == 0;
    }
    free(selected);
    if (status == CLI_EXIT_OK) {
        status = take_stop_offsets(c);
    }
    if (status == CLI_EXIT_OK) {
        status = c->options->group ? start_group(c) : start_assigned(c);
    }
    if (status != CLI_EXIT_OK) {
        return status;
    }
    cli_consume_signals();
    cli_out_init(&c->out, 1, KAFKA_CONSUME_OUTPUT_BYTES);
    status = consume_loop(c);
    if (status == CLI_EXIT_OK) {
        status = commit_dirty(c, NULL);
    }
    if (c->out.error != 0 && c->out.error != EPIPE && status == CLI_EXIT_OK) {
        cli_error("writing to stdout: %s", strerror(c->out.error));
        status = CLI_EXIT_RUNTIME;
    }
    if (c->options->group != NULL) {
        close_group(c);
    }
    return status;
}

int cli_kafka_consume(const cli_global *global, const cli_consume_options *options)
{
    kafka_consumer *c = cli_alloc(sizeof(*c));
    *c = (kafka_consumer){.options = options};
    int status = run(global, c);
    cli_out_flush(&c->out);
    cli_out_free(&c->out);
    cli_kafka_close(&c->kafka);
    free(c->headers);
    free(c->state);
    free(c);
    return status;
}
