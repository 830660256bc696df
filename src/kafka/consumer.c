/* The Kafka backend's consumer: one librdkafka high-level consumer handle.
 *
 * librdkafka fetches on its own threads; the seam's calls map onto it as docs/client.md says.
 * What this file adds:
 *   - Group: partition.assignment.strategy=range (eager), so a rebalance revokes everything and
 *     assigns everything again. The rebalance callback, which librdkafka calls from
 *     rd_kafka_consumer_poll() and rd_kafka_consumer_close() (so on the caller's thread), tells
 *     the application REVOKE (LOST when librdkafka says the assignment was lost) before it
 *     unassigns, and ASSIGN after it assigns. A consumer without a group id gets a private
 *     group.id nobody else uses, since librdkafka's consumer needs one; it never commits.
 *   - The assignment is mirrored here, with each partition's position and pause: the position
 *     is the offset after the last record poll returned, or where a partition starts
 *     (BEGINNING, END, STORED) until its first record. librdkafka knows a position only after a
 *     record was consumed; the seam answers at once, looking up the committed offset or a
 *     watermark when asked about a partition whose start is not resolved yet.
 *   - Commits pass offsets explicitly (enable.auto.offset.store=false). With enable.auto.commit,
 *     poll stores each returned record's next offset, and librdkafka commits stored offsets on
 *     its interval, when partitions are revoked, and on close.
 *   - poll keeps the message librdkafka returned until the next poll or close, so the record's
 *     pointers stay valid as client.h promises. A record of a paused partition that librdkafka
 *     had fetched before the pause is put back (a seek to its offset), not returned. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/logging.h"
#include "kafka/kafka.h"

#define PART_NONE SIZE_MAX

/* How long unsubscribe serves librdkafka's rebalance callback, waiting for its REVOKE. */
#define UNSUBSCRIBE_TIMEOUT_MS 10000
#define UNSUBSCRIBE_POLL_MS 50

typedef struct kc_part {
    char *topic;
    int32_t partition;
    int64_t position; /* >= 0: the next offset to read; else its start: BEGINNING, END, STORED */
    int64_t start;    /* while position < 0: that start resolved to an offset (for lag), or -1 */
    int paused;
} kc_part;

typedef struct kafka_consumer {
    eddy__consumer base;
    rd_kafka_t *rk;
    int has_group;            /* base.group_id is set (else a private group.id) */
    int closing;              /* inside rd_kafka_consumer_close(): no more group requests */
    rd_kafka_message_t *held; /* the message behind the record poll returned last */
    kc_part *parts;           /* the assignment */
    size_t part_count, part_cap;
    eddy_topic_partition *view; /* the assignment as eddy__consumer_assignment() returns it */
    size_t view_cap;
    eddy_header *headers; /* the held record's headers */
    size_t header_cap;
    /* part_of_message's memo: the last message's topic handle, its entry and that entry's topic
     * string (an entry freed and remade gets a new string). */
    const rd_kafka_topic_t *last_rkt;
    size_t last_part;
    const char *last_topic;
} kafka_consumer;

/* ------------------------------------------------------------------------------------------ */
/* The mirrored assignment                                                                    */

static eddy_err grow(void **array, size_t *cap, size_t needed, size_t size)
{
    if (needed <= *cap)
        return EDDY_OK;
    size_t n = *cap ? *cap : 8;
    while (n < needed)
        n *= 2;
    void *grown = eddy__realloc(*array, n * size);
    if (!grown)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory for %zu partitions", n);
    *array = grown;
    *cap = n;
    return EDDY_OK;
}

static size_t part_find(const kafka_consumer *c, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < c->part_count; i++)
        if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
            return i;
    return PART_NONE;
}

/* The assigned partition a message belongs to: the last one found when the message is of the
 * same librdkafka topic handle and partition (records come in runs per partition), else a
 * search by name. The entry found is checked, so a changed assignment cannot mislead it. */
static size_t part_of_message(kafka_consumer *c, const rd_kafka_message_t *m)
{
    size_t at = c->last_part;
    if (m->rkt == c->last_rkt && at < c->part_count && c->parts[at].partition == m->partition &&
        c->parts[at].topic == c->last_topic)
        return at;
    at = part_find(c, rd_kafka_topic_name(m->rkt), m->partition);
    c->last_rkt = m->rkt;
    c->last_part = at;
    c->last_topic = at != PART_NONE ? c->parts[at].topic : NULL;
    return at;
}

static eddy_err part_assigned(const kafka_consumer *c, const char *what, const char *topic,
                              int32_t partition, size_t *at)
{
    *at = part_find(c, topic, partition);
    if (*at == PART_NONE)
        return eddy__fail(EDDY_ERR_STATE, "%s: topic '%s' partition %d is not assigned", what,
                          topic, (int)partition);
    return EDDY_OK;
}

static void parts_free(kc_part *parts, size_t count)
{
    for (size_t i = 0; i < count; i++)
        eddy__free(parts[i].topic);
}

static void parts_clear(kafka_consumer *c)
{
    parts_free(c->parts, c->part_count);
    c->part_count = 0;
}

/* A list of one partition, for librdkafka calls about it. */
static rd_kafka_topic_partition_list_t *list_of_one(const char *topic, int32_t partition,
                                                    int64_t offset)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset;
    return list;
}

/* The held record's memory goes back to librdkafka. */
static void held_release(kafka_consumer *c)
{
    if (c->held)
        rd_kafka_message_destroy(c->held);
    c->held = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Rebalances                                                                                 */

/* Tells the application about the partitions of `list`, as an array valid during the call. */
static void notify(kafka_consumer *c, eddy__rebalance_event event,
                   const rd_kafka_topic_partition_list_t *list)
{
    size_t count = (size_t)list->cnt;
    eddy_topic_partition *tps = count ? eddy__malloc(count * sizeof(*tps)) : NULL;
    if (count && !tps) {
        EDDY_ERROR(KAFKA_MODULE,
                   "group '%s': out of memory telling the application of %zu "
                   "partitions",
                   c->base.group_id, count);
        return;
    }
    for (size_t i = 0; i < count; i++)
        tps[i] = (eddy_topic_partition){list->elems[i].topic, list->elems[i].partition};
    eddy__consumer_notify(&c->base, event, tps, count);
    eddy__free(tps);
}

static void rebalance_assign(kafka_consumer *c, rd_kafka_topic_partition_list_t *list)
{
    rd_kafka_resp_err_t kerr = rd_kafka_assign(c->rk, list);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        EDDY_ERROR(KAFKA_MODULE, "group '%s': assigning %d partitions: %s", c->base.group_id,
                   list->cnt, rd_kafka_err2str(kerr));
        return;
    }
    parts_clear(c); /* eager: the list is the whole assignment */
    if (grow((void **)&c->parts, &c->part_cap, (size_t)list->cnt, sizeof(*c->parts)) != EDDY_OK) {
        EDDY_ERROR(KAFKA_MODULE, "group '%s': %s", c->base.group_id, eddy_last_error());
        return;
    }
    for (int i = 0; i < list->cnt; i++) {
        char *topic = eddy__strdup(list->elems[i].topic);
        if (!topic) {
            EDDY_ERROR(KAFKA_MODULE, "group '%s': out of memory", c->base.group_id);
            continue;
        }
        c->parts[c->part_count++] =
            (kc_part){topic, list->elems[i].partition, EDDY_OFFSET_STORED, -1, 0};
    }
    notify(c, EDDY__REBALANCE_ASSIGN, list);
}

/* librdkafka's rebalance callback, from rd_kafka_consumer_poll() and rd_kafka_consumer_close(). */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    kafka_consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rebalance_assign(c, list);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        notify(c, rd_kafka_assignment_lost(rk) ? EDDY__REBALANCE_LOST : EDDY__REBALANCE_REVOKE,
               list);
    else
        EDDY_WARN(KAFKA_MODULE, "group '%s': rebalance failed: %s", c->base.group_id,
                  rd_kafka_err2str(err));
    rd_kafka_resp_err_t kerr = rd_kafka_assign(rk, NULL);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        EDDY_WARN(KAFKA_MODULE, "group '%s': unassigning: %s", c->base.group_id,
                  rd_kafka_err2str(kerr));
    parts_clear(c);
}

static eddy_err consumer_subscribe(eddy__consumer *base, const char *const *topics, size_t count)
{
    kafka_consumer *c = (kafka_consumer *)base;
    /* Checked here, in all topics' metadata: librdkafka would name them in a Metadata request,
     * which creates them on brokers that auto-create (always on the mock cluster). */
    for (size_t i = 0; i < count; i++) {
        int32_t partitions = 0;
        eddy_err err = eddy__kafka_topic_partitions(c->rk, topics[i], &partitions);
        if (err != EDDY_OK)
            return eddy__fail_context(err, "subscribe");
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++)
        rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(c->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return eddy__kafka_fail(kerr, "subscribe");
    return EDDY_OK;
}

/* librdkafka revokes the assignment from its next consumer poll: served here, so that the
 * REVOKE callbacks run before unsubscribe returns, as the seam promises. */
static eddy_err consumer_unsubscribe(eddy__consumer *base)
{
    kafka_consumer *c = (kafka_consumer *)base;
    held_release(c);
    rd_kafka_resp_err_t kerr = rd_kafka_unsubscribe(c->rk);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return eddy__kafka_fail(kerr, "unsubscribe");
    int64_t deadline = eddy__monotonic_ns() + (int64_t)UNSUBSCRIBE_TIMEOUT_MS * 1000000;
    while (c->part_count > 0 && eddy__monotonic_ns() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, UNSUBSCRIBE_POLL_MS);
        if (m)
            rd_kafka_message_destroy(m); /* unread: its offset was never stored */
    }
    if (c->part_count > 0)
        return eddy__fail(EDDY_ERR_TIMED_OUT,
                          "unsubscribe from group '%s': the assignment was not revoked in %d ms",
                          base->group_id, UNSUBSCRIBE_TIMEOUT_MS);
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Poll                                                                                       */

/* Gives a fetched message back: the partition's next fetch starts at its offset again. */
static void unread(kafka_consumer *c, const rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_list_t *list =
        list_of_one(rd_kafka_topic_name(m->rkt), m->partition, m->offset);
    rd_kafka_error_t *error = rd_kafka_seek_partitions(c->rk, list, KAFKA_REQUEST_TIMEOUT_MS);
    if (error) {
        EDDY_WARN(KAFKA_MODULE, "topic '%s' partition %d: putting back offset %" PRId64 ": %s",
                  rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset,
                  rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* A consumer error: EDDY_OK for what librdkafka recovers from by itself (logged), else the
 * error for poll to return. */
static eddy_err poll_error(kafka_consumer *c, const rd_kafka_message_t *m)
{
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "(none)";
    switch (m->err) {
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        return EDDY_OK;
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        return eddy__fail(eddy__kafka_err(m->err), "topic '%s' partition %d: %s", topic,
                          (int)m->partition, rd_kafka_message_errstr(m));
    case RD_KAFKA_RESP_ERR__FATAL: {
        char reason[256];
        rd_kafka_fatal_error(c->rk, reason, sizeof(reason));
        return eddy__fail(EDDY_ERR_FATAL, "consumer of group '%s' failed: %s",
                          c->base.group_id ? c->base.group_id : "(none)", reason);
    }
    default:
        EDDY_WARN(KAFKA_MODULE, "consumer: topic '%s' partition %d: %s", topic, (int)m->partition,
                  rd_kafka_message_errstr(m));
        return EDDY_OK;
    }
}

/* Fills `record` from the message; its pointers are the message's (and c->headers). */
static eddy_err record_fill(kafka_consumer *c, const rd_kafka_message_t *m, eddy_record *record)
{
    rd_kafka_headers_t *headers = NULL;
    size_t count = 0;
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR)
        count = rd_kafka_header_cnt(headers);
    eddy_err err = grow((void **)&c->headers, &c->header_cap, count, sizeof(*c->headers));
    if (err != EDDY_OK)
        return err;
    for (size_t i = 0; i < count; i++) {
        const char *name = NULL;
        const void *value = NULL;
        size_t size = 0;
        rd_kafka_header_get_all(headers, i, &name, &value, &size);
        c->headers[i] = (eddy_header){{name, strlen(name)}, {value, value ? size : 0}};
    }
    rd_kafka_timestamp_type_t type;
    *record = (eddy_record){
        .key = {m->key, m->key ? m->key_len : 0},
        .value = {m->payload, m->payload ? m->len : 0},
        .headers = count ? c->headers : NULL,
        .header_count = count,
        .timestamp_ms = rd_kafka_message_timestamp(m, &type),
        .offset = m->offset,
        .partition = m->partition,
        .topic = rd_kafka_topic_name(m->rkt),
    };
    return EDDY_OK;
}

/* Takes a fetched record: EDDY_ERR_END when it belongs to a paused partition (put back). */
static eddy_err record_take(kafka_consumer *c, rd_kafka_message_t *m, eddy_record *record)
{
    size_t at = part_of_message(c, m);
    if (at != PART_NONE && c->parts[at].paused) {
        unread(c, m);
        return EDDY_ERR_END;
    }
    eddy_err err = record_fill(c, m, record);
    if (err != EDDY_OK) {
        unread(c, m);
        return err;
    }
    if (at != PART_NONE)
        c->parts[at].position = m->offset + 1;
    if (c->base.settings.auto_commit && c->has_group) /* librdkafka stores offset + 1 */
        rd_kafka_offset_store(m->rkt, m->partition, m->offset);
    return EDDY_OK;
}

static eddy_err consumer_poll(eddy__consumer *base, int timeout_ms, eddy_record *record)
{
    kafka_consumer *c = (kafka_consumer *)base;
    held_release(c);
    /* The clock is read only when a message is put back (a paused partition, an error), not
     * for every record. */
    int64_t deadline = -1;
    for (;;) {
        int wait_ms = timeout_ms;
        if (deadline >= 0) {
            int64_t left_ms = (deadline - eddy__monotonic_ns()) / 1000000;
            wait_ms = left_ms > 0 ? (int)left_ms : 0;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, wait_ms);
        if (!m)
            return EDDY_ERR_TIMED_OUT;
        eddy_err err = m->err ? poll_error(c, m) : record_take(c, m, record);
        if (err == EDDY_OK && !m->err) {
            c->held = m;
            return EDDY_OK;
        }
        rd_kafka_message_destroy(m);
        if (err != EDDY_OK && err != EDDY_ERR_END)
            return err;
        if (timeout_ms >= 0 && deadline < 0)
            deadline = eddy__monotonic_ns() + (int64_t)timeout_ms * 1000000;
        else if (timeout_ms >= 0 && eddy__monotonic_ns() >= deadline)
            return EDDY_ERR_TIMED_OUT;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Manual assignment                                                                          */

/* The new assignment, planned before librdkafka is touched so that a failure changes nothing:
 * each partition exists, and a kept partition asked to keep its place (EDDY__OFFSET_INVALID)
 * keeps its position and its pause. */
static eddy_err assign_plan(kafka_consumer *c, const eddy__topic_partition_offset *list,
                            size_t count, kc_part *plan)
{
    const char *counted = NULL; /* the topic whose partition count is at hand */
    int32_t partitions = 0;
    for (size_t i = 0; i < count; i++) {
        const eddy__topic_partition_offset *tp = &list[i];
        if (!counted || strcmp(counted, tp->topic) != 0) {
            eddy_err err = eddy__kafka_topic_partitions(c->rk, tp->topic, &partitions);
            if (err != EDDY_OK)
                return eddy__fail_context(err, "assign");
            counted = tp->topic;
        }
        if (tp->partition >= partitions)
            return eddy__fail(EDDY_ERR_UNKNOWN_PARTITION,
                              "assign: topic '%s' has no partition %d (it has %d)", tp->topic,
                              (int)tp->partition, (int)partitions);
        if (!(plan[i].topic = eddy__strdup(tp->topic)))
            return eddy__fail(EDDY_ERR_NO_MEMORY, "assign: out of memory");
        plan[i].partition = tp->partition;
        plan[i].position = tp->offset;
        plan[i].start = -1;
        size_t at = part_find(c, tp->topic, tp->partition);
        if (tp->offset == EDDY__OFFSET_INVALID)
            plan[i].position = at != PART_NONE ? c->parts[at].position : EDDY_OFFSET_STORED;
        plan[i].paused =
            tp->offset == EDDY__OFFSET_INVALID && at != PART_NONE && c->parts[at].paused;
    }
    return EDDY_OK;
}

/* rd_kafka_assign() of the plan, then the kept pauses again (a new assignment starts
 * unpaused). */
static eddy_err assign_apply(kafka_consumer *c, const kc_part *plan, size_t count)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)count);
    rd_kafka_topic_partition_list_t *paused = rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++) {
        rd_kafka_topic_partition_list_add(list, plan[i].topic, plan[i].partition)->offset =
            plan[i].position;
        if (plan[i].paused)
            rd_kafka_topic_partition_list_add(paused, plan[i].topic, plan[i].partition);
    }
    rd_kafka_resp_err_t kerr = rd_kafka_assign(c->rk, count ? list : NULL);
    if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR && paused->cnt > 0)
        kerr = rd_kafka_pause_partitions(c->rk, paused);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_topic_partition_list_destroy(paused);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return eddy__kafka_fail(kerr, "assign");
    return EDDY_OK;
}

static eddy_err consumer_assign(eddy__consumer *base, const eddy__topic_partition_offset *list,
                                size_t count)
{
    kafka_consumer *c = (kafka_consumer *)base;
    kc_part *plan = count ? eddy__calloc(count, sizeof(*plan)) : NULL;
    eddy_err err =
        count && !plan ? eddy__fail(EDDY_ERR_NO_MEMORY, "assign: out of memory") : EDDY_OK;
    if (err == EDDY_OK)
        err = assign_plan(c, list, count, plan);
    if (err == EDDY_OK)
        err = grow((void **)&c->parts, &c->part_cap, count, sizeof(*c->parts));
    if (err == EDDY_OK)
        err = assign_apply(c, plan, count);
    if (err != EDDY_OK) {
        if (plan)
            parts_free(plan, count);
        eddy__free(plan);
        return err;
    }
    parts_clear(c);
    if (count)
        memcpy(c->parts, plan, count * sizeof(*plan));
    c->part_count = count;
    eddy__free(plan);
    return EDDY_OK;
}

static eddy_err consumer_assignment(eddy__consumer *base, const eddy_topic_partition **out,
                                    size_t *count)
{
    kafka_consumer *c = (kafka_consumer *)base;
    eddy_err err = grow((void **)&c->view, &c->view_cap, c->part_count, sizeof(*c->view));
    if (err != EDDY_OK)
        return err;
    for (size_t i = 0; i < c->part_count; i++)
        c->view[i] = (eddy_topic_partition){c->parts[i].topic, c->parts[i].partition};
    *out = c->part_count ? c->view : NULL;
    *count = c->part_count;
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Seek, position, pause                                                                      */

static eddy_err consumer_seek(eddy__consumer *base, const char *topic, int32_t partition,
                              int64_t offset)
{
    kafka_consumer *c = (kafka_consumer *)base;
    size_t at;
    eddy_err err = part_assigned(c, "seek", topic, partition, &at);
    if (err != EDDY_OK)
        return err;
    rd_kafka_topic_partition_list_t *list = list_of_one(topic, partition, offset);
    rd_kafka_error_t *error = rd_kafka_seek_partitions(c->rk, list, KAFKA_REQUEST_TIMEOUT_MS);
    rd_kafka_resp_err_t kerr = error ? rd_kafka_error_code(error) : list->elems[0].err;
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(list);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char context[320];
        snprintf(context, sizeof(context), "seek: topic '%s' partition %d to %" PRId64, topic,
                 (int)partition, offset);
        return eddy__kafka_fail(kerr, context);
    }
    c->parts[at].position = offset;
    return EDDY_OK;
}

/* Where a partition without a record read yet starts: the group's committed offset, else
 * auto.offset.reset; the beginning or the end as the watermarks say now. */
static eddy_err position_resolve(kafka_consumer *c, const char *topic, int32_t partition,
                                 int64_t start, int64_t *offset)
{
    *offset = EDDY__OFFSET_INVALID;
    /* Closing, librdkafka no longer answers requests for the group's offsets (they time out):
     * a partition nothing was read from has no position to tell. */
    if (c->closing)
        return EDDY_OK;
    if (start == EDDY_OFFSET_STORED && c->has_group) {
        rd_kafka_topic_partition_list_t *list = list_of_one(topic, partition, 0);
        rd_kafka_resp_err_t kerr = rd_kafka_committed(c->rk, list, KAFKA_REQUEST_TIMEOUT_MS);
        int64_t committed = list->elems[0].offset;
        rd_kafka_topic_partition_list_destroy(list);
        if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
            return eddy__kafka_fail(kerr, "position: committed offset");
        if (committed >= 0) {
            *offset = committed;
            return EDDY_OK;
        }
    }
    if (start == EDDY_OFFSET_STORED) {
        if (c->base.settings.offset_reset == EDDY__RESET_NONE)
            return EDDY_OK; /* unknown until a seek */
        start = c->base.settings.offset_reset == EDDY__RESET_EARLIEST ? EDDY_OFFSET_BEGINNING
                                                                      : EDDY_OFFSET_END;
    }
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t kerr = rd_kafka_query_watermark_offsets(c->rk, topic, partition, &low,
                                                                &high, KAFKA_REQUEST_TIMEOUT_MS);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return eddy__kafka_fail(kerr, "position: watermarks");
    *offset = start == EDDY_OFFSET_BEGINNING ? low : high;
    return EDDY_OK;
}

/* The high watermark librdkafka last saw in a fetch response (no request) minus the position;
 * a partition nothing was read from yet counts from its resolved start (the committed offset,
 * else auto.offset.reset's end: one request, remembered in `start`). */
static eddy_err consumer_lag(eddy__consumer *base, const char *topic, int32_t partition,
                             int64_t *lag)
{
    kafka_consumer *c = (kafka_consumer *)base;
    *lag = -1;
    size_t at;
    eddy_err err = part_assigned(c, "lag", topic, partition, &at);
    if (err != EDDY_OK)
        return err;
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(c->rk, topic, partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0)
        return EDDY_OK; /* no fetch response yet */
    int64_t position = c->parts[at].position;
    if (position < 0) {
        if (c->parts[at].start < 0) {
            err = position_resolve(c, topic, partition, position, &c->parts[at].start);
            if (err != EDDY_OK)
                return eddy__fail_context(err, "lag: topic '%s' partition %d", topic,
                                          (int)partition);
        }
        position = c->parts[at].start;
    }
    if (position >= 0)
        *lag = high > position ? high - position : 0;
    return EDDY_OK;
}

/* librdkafka's member id, which its range assignor sorts the group's members by. */
static void consumer_member_id(eddy__consumer *base, char *buf, size_t size)
{
    kafka_consumer *c = (kafka_consumer *)base;
    char *id = rd_kafka_memberid(c->rk);
    snprintf(buf, size, "%s", id ? id : "");
    if (id)
        rd_kafka_mem_free(c->rk, id);
}

static eddy_err consumer_position(eddy__consumer *base, const char *topic, int32_t partition,
                                  int64_t *offset)
{
    kafka_consumer *c = (kafka_consumer *)base;
    size_t at;
    eddy_err err = part_assigned(c, "position", topic, partition, &at);
    if (err != EDDY_OK)
        return err;
    if (c->parts[at].position >= 0) {
        *offset = c->parts[at].position;
        return EDDY_OK;
    }
    err = position_resolve(c, topic, partition, c->parts[at].position, offset);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "topic '%s' partition %d", topic, (int)partition);
    return EDDY_OK;
}

static eddy_err consumer_pause(eddy__consumer *base, const eddy_topic_partition *tps, size_t count,
                               int pause)
{
    kafka_consumer *c = (kafka_consumer *)base;
    const char *what = pause ? "pause" : "resume";
    size_t at;
    for (size_t i = 0; i < count; i++) {
        eddy_err err = part_assigned(c, what, tps[i].topic, tps[i].partition, &at);
        if (err != EDDY_OK)
            return err;
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++)
        rd_kafka_topic_partition_list_add(list, tps[i].topic, tps[i].partition);
    rd_kafka_resp_err_t kerr =
        pause ? rd_kafka_pause_partitions(c->rk, list) : rd_kafka_resume_partitions(c->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return eddy__kafka_fail(kerr, what);
    for (size_t i = 0; i < count; i++)
        c->parts[part_find(c, tps[i].topic, tps[i].partition)].paused = pause;
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Commits                                                                                    */

/* The positions of the assigned partitions a record was read from (or that were sought to an
 * offset): the others have nothing new to commit, and resolving their start would cost a
 * request each. */
static void positions_list(const kafka_consumer *c, rd_kafka_topic_partition_list_t *list)
{
    for (size_t i = 0; i < c->part_count; i++)
        if (c->parts[i].position >= 0)
            rd_kafka_topic_partition_list_add(list, c->parts[i].topic, c->parts[i].partition)
                ->offset = c->parts[i].position;
}

static eddy_err commit_list(kafka_consumer *c, const rd_kafka_topic_partition_list_t *list)
{
    char context[320];
    rd_kafka_resp_err_t kerr = rd_kafka_commit(c->rk, list, 0);
    for (int i = 0; kerr == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; i++)
        if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(context, sizeof(context), "commit to group '%s': topic '%s' partition %d",
                     c->base.group_id, list->elems[i].topic, (int)list->elems[i].partition);
            return eddy__kafka_fail(list->elems[i].err, context);
        }
    if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR)
        return EDDY_OK;
    snprintf(context, sizeof(context), "commit to group '%s'", c->base.group_id);
    return eddy__kafka_fail(kerr, context);
}

static eddy_err consumer_commit(eddy__consumer *base, const eddy__topic_partition_offset *offsets,
                                size_t count)
{
    kafka_consumer *c = (kafka_consumer *)base;
    int subscribed = base->mode == EDDY__CONSUMER_SUBSCRIBED;
    for (size_t i = 0; offsets && subscribed && i < count; i++)
        if (part_find(c, offsets[i].topic, offsets[i].partition) == PART_NONE)
            return eddy__fail(EDDY_ERR_STATE,
                              "commit: topic '%s' partition %d is not assigned to this member of "
                              "group '%s'",
                              offsets[i].topic, (int)offsets[i].partition, base->group_id);
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(offsets ? (int)count : (int)c->part_count);
    eddy_err err = EDDY_OK;
    if (!offsets)
        positions_list(c, list);
    for (size_t i = 0; offsets && i < count; i++)
        rd_kafka_topic_partition_list_add(list, offsets[i].topic, offsets[i].partition)->offset =
            offsets[i].offset;
    if (err == EDDY_OK && list->cnt > 0)
        err = commit_list(c, list);
    rd_kafka_topic_partition_list_destroy(list);
    return err;
}

static eddy_err consumer_committed(eddy__consumer *base, const char *topic, int32_t partition,
                                   int64_t *offset)
{
    kafka_consumer *c = (kafka_consumer *)base;
    rd_kafka_topic_partition_list_t *list = list_of_one(topic, partition, 0);
    rd_kafka_resp_err_t kerr = rd_kafka_committed(c->rk, list, KAFKA_REQUEST_TIMEOUT_MS);
    if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR)
        kerr = list->elems[0].err;
    int64_t committed = list->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(list);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char context[320];
        snprintf(context, sizeof(context), "committed offset of group '%s' topic '%s' partition %d",
                 base->group_id, topic, (int)partition);
        return eddy__kafka_fail(kerr, context);
    }
    *offset = committed >= 0 ? committed : EDDY__OFFSET_INVALID;
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Close and construction                                                                     */

/* librdkafka leaves the group (REVOKE through on_rebalance; auto-commit when enabled). */
static eddy_err consumer_close(eddy__consumer *base)
{
    kafka_consumer *c = (kafka_consumer *)base;
    held_release(c);
    c->closing = 1;
    rd_kafka_resp_err_t kerr = rd_kafka_consumer_close(c->rk);
    parts_clear(c);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return eddy__kafka_fail(kerr, "consumer close");
    return EDDY_OK;
}

static void consumer_destroy(eddy__consumer *base)
{
    kafka_consumer *c = (kafka_consumer *)base;
    held_release(c);
    rd_kafka_destroy(c->rk);
    parts_clear(c);
    eddy__free(c->parts);
    eddy__free(c->view);
    eddy__free(c->headers);
    eddy__free(c);
}

static const eddy__consumer_ops kafka_consumer_ops = {
    .subscribe = consumer_subscribe,
    .unsubscribe = consumer_unsubscribe,
    .assign = consumer_assign,
    .assignment = consumer_assignment,
    .poll = consumer_poll,
    .seek = consumer_seek,
    .position = consumer_position,
    .lag = consumer_lag,
    .member_id = consumer_member_id,
    .pause = consumer_pause,
    .commit = consumer_commit,
    .committed = consumer_committed,
    .close = consumer_close,
    .destroy = consumer_destroy,
};

/* The consumer's librdkafka configuration: the client's, the consumer configuration's own
 * librdkafka properties, then what the seam rests on. */
static eddy_err consumer_conf(rd_kafka_conf_t *conf, const char *group_id,
                              const eddy__consumer_settings *s, const eddy_config *config)
{
    static const char *const resets[] = {"earliest", "latest", "error"};
    static _Atomic unsigned private_groups;
    char private_group[96], interval[24];
    if (!group_id) {
        snprintf(private_group, sizeof(private_group), "eddy-private-%ld-%u-%" PRId64,
                 (long)getpid(), atomic_fetch_add(&private_groups, 1), eddy__monotonic_ns());
        group_id = private_group;
    }
    snprintf(interval, sizeof(interval), "%" PRId64, s->auto_commit_interval_ms);
    int auto_commit = s->auto_commit && group_id != private_group;
    const char *what = "consumer";
    eddy_err err = eddy__kafka_conf_apply(conf, config, what);
    const char *const fixed[] = {"group.id",
                                 group_id,
                                 "partition.assignment.strategy",
                                 "range",
                                 "enable.auto.commit",
                                 auto_commit ? "true" : "false",
                                 "auto.commit.interval.ms",
                                 interval,
                                 "enable.auto.offset.store",
                                 "false",
                                 "auto.offset.reset",
                                 resets[s->offset_reset],
                                 NULL};
    for (size_t i = 0; err == EDDY_OK && fixed[i]; i += 2)
        err = eddy__kafka_conf_set(conf, fixed[i], fixed[i + 1], what);
    return err;
}

eddy_err eddy__kafka_consumer_new(eddy__client *client, const char *group_id,
                                  const eddy__consumer_settings *settings,
                                  const eddy_config *config, eddy__consumer **out)
{
    if (group_id && group_id[0] == '\0')
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "consumer: the group id is empty");
    kafka_consumer *c = eddy__calloc(1, sizeof(*c));
    if (!c)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory");
    rd_kafka_conf_t *conf = eddy__kafka_conf_dup((kafka_client *)client);
    eddy_err err = conf ? consumer_conf(conf, group_id, settings, config) : EDDY_ERR_NO_MEMORY;
    if (err == EDDY_OK) {
        char errstr[512];
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
        rd_kafka_conf_set_error_cb(conf, eddy__kafka_on_error);
        rd_kafka_conf_set_opaque(conf, c);
        c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (c->rk)
            conf = NULL; /* the handle owns it now */
        else
            err = eddy__fail(EDDY_ERR_CONFIG, "consumer: librdkafka refuses the configuration: %s",
                             errstr);
    }
    if (err != EDDY_OK) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        eddy__free(c);
        return err;
    }
    /* Every event (rebalances, errors) comes through rd_kafka_consumer_poll(). */
    rd_kafka_poll_set_consumer(c->rk);
    c->has_group = group_id != NULL;
    c->base.ops = &kafka_consumer_ops;
    *out = &c->base;
    return EDDY_OK;
}
