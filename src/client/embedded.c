/* The client seam on the embedded log, built on the public API of eddy/log.h only.
 *
 * Admin maps one to one onto eddy_log_topic_* and eddy_log_partition_info().
 *
 * Producer
 * --------
 * No thread: records are copied into a buffer per partition and written as one batch
 * (eddy_log_append) when the next record would not fit batch.size, or when linger.ms has passed
 * since the buffer's first record, which send, poll and flush check. Each buffer keeps its
 * records' bytes in one arena and their fields in an array of spans into it; both are reused
 * batch after batch, so the steady state allocates nothing per record. Buffers that hold records
 * are queued in the order they got their first record (the linger queue), so finding the
 * batches that are due is a look at the queue's head.
 *
 *     topic ──► partition buffers [0..n)      linger queue (oldest first)
 *               ┌──────────────────────┐      ┌────────────┬────────────┬───
 *               │ arena: k v hk hv k v │ ◄──  │ (t, p, t0) │ (t, p, t0) │ ...
 *               │ records: spans, ts,  │      └────────────┴────────────┴───
 *               │          opaque      │
 *               └──────────────────────┘
 *
 * A written batch becomes one report (topic, partition, base offset, count, error) plus its
 * records' opaques; poll and flush turn reports into one callback per record. Memory for a
 * batch's report, its opaques and the record array handed to eddy_log_append is reserved when a
 * record is accepted, so that writing a batch cannot fail for memory: a record accepted is
 * always reported.
 *
 * Consumer
 * --------
 * eddy_log_consumer gives group membership (subscribe, range assignment, rebalance callbacks)
 * and reads many partitions with one wait, but has no pause, no seek of a subscribed partition
 * and no unassign. So a client consumer keeps its own table of assigned partitions (position,
 * paused) and uses up to three log consumers:
 *
 *   member     subscribed to the group, only for membership: it is polled without waiting, at
 *              most every CONSUMER_PROTOCOL_INTERVAL_MS (or when idle), to run the protocol; the
 *              one record such a poll may read is dropped. Its callbacks update the table.
 *   fetcher    without a group, manually assigned the table's unpaused partitions at their
 *              positions; it reads the records the client returns. Seeking and adding a
 *              partition re-assign it in the fetcher; pausing or removing one rebuilds the
 *              fetcher from the table (the log consumer cannot drop a partition), at the next
 *              poll, so a returned record's memory stays valid until then.
 *   committer  with the group, never polled: commits assign the offsets to it as positions and
 *              commit them together, which is one durable write of the group's offsets file.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/backend.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/logging.h"

#define MODULE "client"

/* RecordBatch v2 header bytes, before the records (docs/log-format.md). */
#define BATCH_HEADER_BYTES 61

/* The most a record's framing adds to its key, value and header bytes: length (varint, 5),
 * attributes (1), timestamp delta (varint64, 10), offset delta (5), key and value lengths
 * (5 + 5) and header count (5). Each header adds its key and value lengths (5 + 5). */
#define RECORD_FRAMING_BYTES_MAX 36
#define HEADER_FRAMING_BYTES_MAX 10

/* How often a busy consumer runs the group protocol, and the longest a waiting poll goes
 * without running it: other members' joins and leaves reach this member within about this. */
#define CONSUMER_PROTOCOL_INTERVAL_MS 10

/* Polls between two looks at the clock for the protocol interval, when records keep coming. */
#define CONSUMER_CLOCK_POLLS 32

/* Rounds of write-and-report one flush makes while delivery callbacks send more records. */
#define FLUSH_ROUNDS_MAX 16

/* ------------------------------------------------------------------------------------------ */
/* Client and admin                                                                           */

typedef struct embedded_client {
    eddy__client base;
    eddy_log *log;
} embedded_client;

static eddy_log *client_log(eddy__client *client)
{
    return ((embedded_client *)client)->log;
}

static void client_destroy(eddy__client *client)
{
    embedded_client *c = (embedded_client *)client;
    eddy_log_close(c->log);
    eddy__free(c);
}

static eddy_err admin_topic_create(eddy__client *client, const char *topic, int32_t partitions,
                                   const eddy_config *topic_config)
{
    return eddy_log_topic_create(client_log(client), topic, partitions, topic_config);
}

static eddy_err admin_topic_delete(eddy__client *client, const char *topic)
{
    return eddy_log_topic_delete(client_log(client), topic);
}

static eddy_err admin_topic_partitions(eddy__client *client, const char *topic, int32_t *partitions)
{
    return eddy_log_topic_partitions(client_log(client), topic, partitions);
}

static eddy_err admin_topic_list(eddy__client *client, char ***names, size_t *count)
{
    return eddy_log_topic_list(client_log(client), names, count);
}

static eddy_err admin_watermarks(eddy__client *client, const char *topic, int32_t partition,
                                 int64_t *low, int64_t *high)
{
    return eddy_log_partition_info(client_log(client), topic, partition, low, high, NULL, NULL);
}

static eddy_err producer_new(eddy__client *client, const eddy__producer_settings *settings,
                             const eddy_config *config, eddy__producer **out);
static eddy_err consumer_new(eddy__client *client, const char *group_id,
                             const eddy__consumer_settings *settings, const eddy_config *config,
                             eddy__consumer **out);

static const eddy__client_ops embedded_client_ops = {
    .name = "embedded",
    .destroy = client_destroy,
    .topic_create = admin_topic_create,
    .topic_delete = admin_topic_delete,
    .topic_partitions = admin_topic_partitions,
    .topic_list = admin_topic_list,
    .watermarks = admin_watermarks,
    .producer_new = producer_new,
    .consumer_new = consumer_new,
};

eddy_err eddy__embedded_client_new(const char *dir, eddy__client **out)
{
    embedded_client *c = eddy__calloc(1, sizeof(*c));
    if (!c)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "client: out of memory");
    eddy_err err = eddy_log_open(dir, EDDY_LOG_CREATE, &c->log);
    if (err != EDDY_OK) {
        eddy__free(c);
        return eddy__fail_context(err, "log.dir '%s'", dir);
    }
    c->base.ops = &embedded_client_ops;
    *out = &c->base;
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Producer: types                                                                            */

/* A byte range in a buffer's arena; len -1 is null. */
typedef struct span {
    size_t at;
    int64_t len;
} span;

typedef struct pending_header {
    span key, value;
} pending_header;

typedef struct pending_record {
    span key, value;
    size_t header_first, header_count; /* into the buffer's headers */
    int64_t timestamp_ms;
    void *opaque;
} pending_record;

typedef struct partition_buffer {
    eddy__buf arena;
    pending_record *records;
    size_t count, cap;
    pending_header *headers;
    size_t header_count, header_cap;
    size_t batch_bytes; /* bound of the encoded batch's size */
    int64_t opened_ns;  /* when the first record came in (monotonic) */
} partition_buffer;

typedef struct producer_topic {
    char *name;
    size_t id; /* its place in the producer's topics */
    int32_t partitions;
    int stale;           /* a write said the topic or partition is gone: look it up again */
    int32_t sticky;      /* the partition null keys go to; -1: choose at the next one */
    int32_t sticky_next; /* round robin over the partitions */
    partition_buffer *buffers;
} producer_topic;

/* A buffer that got its first record at opened_ns; stale once the buffer was written. */
typedef struct linger_entry {
    size_t topic;
    int32_t partition;
    int64_t opened_ns;
} linger_entry;

/* One written (or failed) batch, awaiting poll. */
typedef struct report {
    producer_topic *topic;
    int32_t partition;
    int64_t base_offset;
    size_t count;
    eddy_err err;
    char *message;    /* err's message, or NULL */
    size_t opaque_at; /* its records' opaques: opaques[opaque_at, opaque_at + count) */
} report;

typedef struct embedded_producer {
    eddy__producer base;
    eddy_log *log;
    producer_topic **topics;
    size_t topic_count, topic_cap;
    size_t *index; /* open addressing over topic names: topic + 1, 0 empty */
    size_t index_cap;
    producer_topic *last_topic;
    linger_entry *linger; /* a ring */
    size_t linger_head, linger_count, linger_cap;
    size_t open_buffers; /* buffers holding records */
    report *reports;
    size_t report_count, report_cap;
    void **opaques;
    size_t opaque_count, opaque_cap;
    eddy_record *scratch; /* the records of one batch, for eddy_log_append */
    size_t scratch_cap;
    eddy_header *scratch_headers;
    size_t scratch_header_cap;
    size_t buffered; /* records in buffers */
    size_t reported; /* records in reports */
    eddy_err flush_err;
    char flush_message[EDDY_ERROR_MESSAGE_MAX];
} embedded_producer;

/* Grows an array to hold at least `needed` elements (doubling). */
static eddy_err grow(void **array, size_t *cap, size_t needed, size_t size)
{
    if (needed <= *cap)
        return EDDY_OK;
    size_t n = *cap ? *cap : 8;
    while (n < needed)
        n *= 2;
    void *grown = eddy__realloc(*array, n * size);
    if (!grown)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "producer: out of memory for %zu entries", n);
    *array = grown;
    *cap = n;
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Producer: topics                                                                           */

static size_t index_slot(const embedded_producer *p, const char *name)
{
    return (size_t)eddy__hash64(name, strlen(name)) & (p->index_cap - 1);
}

static producer_topic *topic_find(embedded_producer *p, const char *name)
{
    if (p->last_topic && strcmp(p->last_topic->name, name) == 0)
        return p->last_topic;
    if (p->index_cap == 0)
        return NULL;
    for (size_t i = index_slot(p, name), probes = 0; probes < p->index_cap; probes++) {
        size_t at = p->index[i];
        if (at == 0)
            return NULL;
        if (strcmp(p->topics[at - 1]->name, name) == 0)
            return p->last_topic = p->topics[at - 1];
        i = (i + 1) & (p->index_cap - 1);
    }
    return NULL;
}

/* Keeps the index at most half full. */
static eddy_err index_grow(embedded_producer *p)
{
    if (2 * (p->topic_count + 1) <= p->index_cap)
        return EDDY_OK;
    size_t cap = p->index_cap ? p->index_cap * 2 : 16;
    size_t *index = eddy__calloc(cap, sizeof(*index));
    if (!index)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "producer: out of memory");
    eddy__free(p->index);
    p->index = index;
    p->index_cap = cap;
    for (size_t t = 0; t < p->topic_count; t++) {
        size_t i = index_slot(p, p->topics[t]->name);
        while (p->index[i] != 0)
            i = (i + 1) & (cap - 1);
        p->index[i] = t + 1;
    }
    return EDDY_OK;
}

static void buffer_free(partition_buffer *b)
{
    eddy__buf_free(&b->arena);
    eddy__free(b->records);
    eddy__free(b->headers);
}

static void topic_free(producer_topic *t)
{
    for (int32_t i = 0; t->buffers && i < t->partitions; i++)
        buffer_free(&t->buffers[i]);
    eddy__free(t->buffers);
    eddy__free(t->name);
    eddy__free(t);
}

static eddy_err topic_add(embedded_producer *p, const char *name, producer_topic **out)
{
    int32_t partitions = 0;
    eddy_err err = eddy_log_topic_partitions(p->log, name, &partitions);
    if (err != EDDY_OK)
        return err;
    if ((err = index_grow(p)) != EDDY_OK ||
        (err = grow((void **)&p->topics, &p->topic_cap, p->topic_count + 1, sizeof(*p->topics))))
        return err;
    producer_topic *t = eddy__calloc(1, sizeof(*t));
    if (t) {
        t->name = eddy__strdup(name);
        t->buffers = eddy__calloc((size_t)partitions, sizeof(*t->buffers));
    }
    if (!t || !t->name || !t->buffers) {
        if (t)
            topic_free(t);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "producer: out of memory for topic '%s'", name);
    }
    t->partitions = partitions;
    t->sticky = -1;
    size_t i = index_slot(p, name);
    while (p->index[i] != 0)
        i = (i + 1) & (p->index_cap - 1);
    t->id = p->topic_count;
    p->topics[p->topic_count++] = t;
    p->index[i] = p->topic_count;
    *out = p->last_topic = t;
    return EDDY_OK;
}

static void buffer_write(embedded_producer *p, producer_topic *t, int32_t partition);

/* Looks a stale topic up again: gone is an error; a new partition count (deleted and created
 * again) writes what is buffered for it and starts over with the new count. */
static eddy_err topic_refresh(embedded_producer *p, producer_topic *t)
{
    int32_t partitions = 0;
    eddy_err err = eddy_log_topic_partitions(p->log, t->name, &partitions);
    if (err != EDDY_OK)
        return err;
    if (partitions != t->partitions) {
        partition_buffer *buffers = eddy__calloc((size_t)partitions, sizeof(*buffers));
        if (!buffers)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "producer: out of memory for topic '%s'",
                              t->name);
        for (int32_t i = 0; i < t->partitions; i++) {
            buffer_write(p, t, i);
            buffer_free(&t->buffers[i]);
        }
        eddy__free(t->buffers);
        t->buffers = buffers;
        t->partitions = partitions;
        t->sticky = -1;
        t->sticky_next = 0;
    }
    t->stale = 0;
    return EDDY_OK;
}

static eddy_err topic_get(embedded_producer *p, const char *name, producer_topic **out)
{
    producer_topic *t = topic_find(p, name);
    if (!t)
        return topic_add(p, name, out);
    eddy_err err = t->stale ? topic_refresh(p, t) : EDDY_OK;
    *out = t;
    return err;
}

/* ------------------------------------------------------------------------------------------ */
/* Producer: writing batches and reporting                                                    */

static eddy_slice span_slice(const partition_buffer *b, span s)
{
    if (s.len < 0)
        return (eddy_slice){NULL, 0};
    return (eddy_slice){b->arena.data + s.at, (size_t)s.len};
}

/* Writes a buffer as one batch and queues its report. Never fails: memory for the report was
 * reserved when its records were accepted, and a failed append is reported per record. */
static void buffer_write(embedded_producer *p, producer_topic *t, int32_t partition)
{
    partition_buffer *b = &t->buffers[partition];
    if (b->count == 0)
        return;
    EDDY_ASSERT(p->scratch_cap >= b->count && p->scratch_header_cap >= b->header_count);
    EDDY_ASSERT(p->report_count < p->report_cap && p->opaque_count + b->count <= p->opaque_cap);
    for (size_t h = 0; h < b->header_count; h++)
        p->scratch_headers[h] =
            (eddy_header){span_slice(b, b->headers[h].key), span_slice(b, b->headers[h].value)};
    for (size_t i = 0; i < b->count; i++) {
        const pending_record *r = &b->records[i];
        p->scratch[i] = (eddy_record){
            .key = span_slice(b, r->key),
            .value = span_slice(b, r->value),
            .headers = r->header_count ? &p->scratch_headers[r->header_first] : NULL,
            .header_count = r->header_count,
            .timestamp_ms = r->timestamp_ms,
        };
        p->opaques[p->opaque_count + i] = r->opaque;
    }
    int64_t base = -1;
    eddy_err err = eddy_log_append(p->log, t->name, partition, p->scratch, b->count,
                                   p->base.settings.acks, &base, NULL);
    report *rep = &p->reports[p->report_count++];
    *rep = (report){t, partition, err == EDDY_OK ? base : -1, b->count, err, NULL, p->opaque_count};
    p->opaque_count += b->count;
    if (err != EDDY_OK) {
        const char *message = eddy_last_error();
        rep->message = eddy__strdup(message); /* NULL when short of memory: strerror then */
        if (p->flush_err == EDDY_OK) {
            p->flush_err = err;
            snprintf(p->flush_message, sizeof(p->flush_message), "%s", message);
        }
        if (err == EDDY_ERR_UNKNOWN_TOPIC || err == EDDY_ERR_UNKNOWN_PARTITION)
            t->stale = 1;
        EDDY_DEBUG(MODULE, "producer: %zu records to topic '%s' partition %d failed: %s", b->count,
                   t->name, (int)partition, message);
    }
    p->buffered -= b->count;
    p->reported += b->count;
    p->open_buffers--;
    b->count = 0;
    b->header_count = 0;
    b->arena.len = 0;
    b->batch_bytes = 0;
    if (t->sticky == partition)
        t->sticky = -1; /* null keys move on to the next partition */
}

/* Writes the buffers whose linger.ms has passed at `now_ns` (all of them for INT64_MAX), oldest
 * first. */
static void linger_due(embedded_producer *p, int64_t now_ns)
{
    int64_t linger_ns = p->base.settings.linger_ms * 1000000;
    while (p->linger_count > 0) {
        linger_entry e = p->linger[p->linger_head];
        if (now_ns != INT64_MAX && e.opened_ns > now_ns - linger_ns)
            return;
        p->linger_head = (p->linger_head + 1) % p->linger_cap;
        p->linger_count--;
        producer_topic *t = p->topics[e.topic];
        if (e.partition < t->partitions && t->buffers[e.partition].count > 0 &&
            t->buffers[e.partition].opened_ns == e.opened_ns)
            buffer_write(p, t, e.partition);
    }
}

/* When the oldest live buffer comes due (monotonic ns), dropping stale queue entries; -1 when
 * nothing is buffered. */
static int64_t linger_next_due(embedded_producer *p)
{
    while (p->linger_count > 0) {
        linger_entry e = p->linger[p->linger_head];
        producer_topic *t = p->topics[e.topic];
        if (e.partition < t->partitions && t->buffers[e.partition].count > 0 &&
            t->buffers[e.partition].opened_ns == e.opened_ns)
            return e.opened_ns + p->base.settings.linger_ms * 1000000;
        p->linger_head = (p->linger_head + 1) % p->linger_cap;
        p->linger_count--;
    }
    return -1;
}

static eddy_err linger_reserve(embedded_producer *p)
{
    if (p->linger_count < p->linger_cap)
        return EDDY_OK;
    size_t cap = p->linger_cap ? p->linger_cap * 2 : 16;
    linger_entry *ring = eddy__malloc(cap * sizeof(*ring));
    if (!ring)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "producer: out of memory");
    for (size_t i = 0; i < p->linger_count; i++)
        ring[i] = p->linger[(p->linger_head + i) % p->linger_cap];
    eddy__free(p->linger);
    p->linger = ring;
    p->linger_head = 0;
    p->linger_cap = cap;
    return EDDY_OK;
}

/* Calls the delivery callback for the reports queued now (not those that callbacks add). */
static int reports_serve(embedded_producer *p)
{
    size_t n = p->report_count, served = 0;
    p->base.in_callback = 1;
    for (size_t i = 0; i < n; i++) {
        report r = p->reports[i]; /* a callback's send may move the array */
        for (size_t k = 0; k < r.count && p->base.cb; k++) {
            if (r.err != EDDY_OK)
                eddy__fail(r.err, "%s", r.message ? r.message : eddy_strerror(r.err));
            eddy__delivery d = {r.topic->name, r.partition,
                                r.err == EDDY_OK ? r.base_offset + (int64_t)k : -1, r.err,
                                p->opaques[r.opaque_at + k]};
            p->base.cb(&p->base, &d, p->base.opaque);
        }
        served += r.count;
        eddy__free(r.message);
    }
    p->base.in_callback = 0;
    size_t opaques_done = n < p->report_count ? p->reports[n].opaque_at : p->opaque_count;
    memmove(p->reports, p->reports + n, (p->report_count - n) * sizeof(*p->reports));
    p->report_count -= n;
    for (size_t i = 0; i < p->report_count; i++)
        p->reports[i].opaque_at -= opaques_done;
    memmove(p->opaques, p->opaques + opaques_done,
            (p->opaque_count - opaques_done) * sizeof(*p->opaques));
    p->opaque_count -= opaques_done;
    p->reported -= served;
    return (int)(served > INT32_MAX ? INT32_MAX : served);
}

/* ------------------------------------------------------------------------------------------ */
/* Producer: operations                                                                       */

/* The most the record adds to an encoded batch; SIZE_MAX when it could never fit one. */
static size_t record_bound(const eddy_record *r)
{
    size_t limit = EDDY_BATCH_BYTES_MAX, bound = RECORD_FRAMING_BYTES_MAX;
    if ((r->key.data && r->key.len > limit) || (r->value.data && r->value.len > limit))
        return SIZE_MAX;
    bound += (r->key.data ? r->key.len : 0) + (r->value.data ? r->value.len : 0);
    for (size_t h = 0; h < r->header_count; h++) {
        const eddy_header *hd = &r->headers[h];
        if ((hd->key.data && hd->key.len > limit) || (hd->value.data && hd->value.len > limit))
            return SIZE_MAX;
        bound += HEADER_FRAMING_BYTES_MAX + (hd->key.data ? hd->key.len : 0) +
                 (hd->value.data ? hd->value.len : 0);
        if (bound > limit)
            return SIZE_MAX;
    }
    return bound;
}

static span arena_put(partition_buffer *b, eddy_slice s)
{
    if (!s.data)
        return (span){0, -1};
    span out = {b->arena.len, (int64_t)s.len};
    memcpy(b->arena.data + b->arena.len, s.data, s.len);
    b->arena.len += s.len;
    return out;
}

/* Reserves everything accepting this record into `b` may need, now and when its batch is
 * written, so that nothing after acceptance can fail for memory. */
static eddy_err producer_reserve(embedded_producer *p, partition_buffer *b, const eddy_record *r,
                                 size_t bytes)
{
    eddy_err err = eddy__buf_reserve(&b->arena, bytes);
    if (err == EDDY_OK)
        err = grow((void **)&b->records, &b->cap, b->count + 1, sizeof(*b->records));
    if (err == EDDY_OK)
        err = grow((void **)&b->headers, &b->header_cap, b->header_count + r->header_count,
                   sizeof(*b->headers));
    if (err == EDDY_OK)
        err = grow((void **)&p->scratch, &p->scratch_cap, b->count + 1, sizeof(*p->scratch));
    if (err == EDDY_OK)
        err = grow((void **)&p->scratch_headers, &p->scratch_header_cap,
                   b->header_count + r->header_count, sizeof(*p->scratch_headers));
    /* Every buffered record may be written before the next poll: room for all their opaques
     * and a report per open buffer. */
    if (err == EDDY_OK)
        err = grow((void **)&p->opaques, &p->opaque_cap, p->opaque_count + p->buffered + 1,
                   sizeof(*p->opaques));
    if (err == EDDY_OK)
        err = grow((void **)&p->reports, &p->report_cap, p->report_count + p->open_buffers + 1,
                   sizeof(*p->reports));
    if (err == EDDY_OK && b->count == 0)
        err = linger_reserve(p);
    return err;
}

/* Chooses the partition for partition -1: murmur2 of the key, or the sticky one for null keys. */
static int32_t partition_choose(producer_topic *t, const eddy_record *r)
{
    if (r->key.data)
        return eddy_log_partition_for_key(r->key, t->partitions);
    if (t->sticky < 0) {
        t->sticky = t->sticky_next;
        t->sticky_next = (t->sticky_next + 1) % t->partitions;
    }
    return t->sticky;
}

static void buffer_append(embedded_producer *p, producer_topic *t, int32_t partition,
                          const eddy_record *r, void *opaque, size_t bound, int64_t now_ns)
{
    partition_buffer *b = &t->buffers[partition];
    if (b->count == 0) {
        b->opened_ns = now_ns;
        b->batch_bytes = BATCH_HEADER_BYTES;
        size_t at = (p->linger_head + p->linger_count) % p->linger_cap;
        p->linger[at] = (linger_entry){t->id, partition, now_ns};
        p->linger_count++;
        p->open_buffers++;
    }
    pending_record *pr = &b->records[b->count++];
    pr->key = arena_put(b, r->key);
    pr->value = arena_put(b, r->value);
    pr->header_first = b->header_count;
    pr->header_count = r->header_count;
    for (size_t h = 0; h < r->header_count; h++) {
        pending_header *ph = &b->headers[b->header_count++];
        ph->key = arena_put(b, r->headers[h].key);
        ph->value = arena_put(b, r->headers[h].value);
    }
    pr->timestamp_ms = r->timestamp_ms >= 0 ? r->timestamp_ms : eddy__now_ms();
    pr->opaque = opaque;
    b->batch_bytes += bound;
    p->buffered++;
}

static eddy_err producer_send(eddy__producer *base, const char *topic, int32_t partition,
                              const eddy_record *r, void *opaque)
{
    embedded_producer *p = (embedded_producer *)base;
    producer_topic *t = NULL;
    eddy_err err = topic_get(p, topic, &t);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "send");
    if (partition >= t->partitions)
        return eddy__fail(EDDY_ERR_UNKNOWN_PARTITION,
                          "send: topic '%s' has no partition %d (it has %d)", topic, (int)partition,
                          (int)t->partitions);
    size_t bound = record_bound(r);
    if (bound == SIZE_MAX || bound + BATCH_HEADER_BYTES > EDDY_BATCH_BYTES_MAX)
        return eddy__fail(EDDY_ERR_TOO_LARGE,
                          "send: topic '%s': the record does not fit a batch of %u bytes", topic,
                          EDDY_BATCH_BYTES_MAX);
    if (p->buffered + p->reported >= (size_t)base->settings.queue_records_max)
        return eddy__fail(EDDY_ERR_BUSY,
                          "send: topic '%s': %zu records await delivery reports "
                          "(queue.buffering.max.messages); poll the producer",
                          topic, p->buffered + p->reported);
    int32_t chosen = partition >= 0 ? partition : partition_choose(t, r);
    partition_buffer *b = &t->buffers[chosen];
    if (b->count > 0 && (b->batch_bytes + bound > (size_t)base->settings.batch_bytes ||
                         b->count >= EDDY_BATCH_RECORDS_MAX)) {
        buffer_write(p, t, chosen); /* full: this record starts the next batch */
        if (partition < 0 && !r->key.data) {
            chosen = partition_choose(t, r);
            b = &t->buffers[chosen];
        }
    }
    size_t bytes = (r->key.data ? r->key.len : 0) + (r->value.data ? r->value.len : 0);
    for (size_t h = 0; h < r->header_count; h++)
        bytes += (r->headers[h].key.data ? r->headers[h].key.len : 0) +
                 (r->headers[h].value.data ? r->headers[h].value.len : 0);
    if ((err = producer_reserve(p, b, r, bytes)) != EDDY_OK)
        return eddy__fail_context(err, "send: topic '%s' partition %d", topic, (int)chosen);
    int64_t now_ns = eddy__monotonic_ns();
    buffer_append(p, t, chosen, r, opaque, bound, now_ns);
    if (b->batch_bytes >= (size_t)base->settings.batch_bytes)
        buffer_write(p, t, chosen);
    linger_due(p, now_ns);
    return EDDY_OK;
}

static int producer_poll(eddy__producer *base, int timeout_ms)
{
    embedded_producer *p = (embedded_producer *)base;
    int64_t now = eddy__monotonic_ns();
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : now + (int64_t)timeout_ms * 1000000;
    linger_due(p, now);
    /* Bounded: each round either writes the oldest buffer or runs into the deadline. */
    while (p->report_count == 0 && now < deadline) {
        int64_t due = linger_next_due(p);
        if (due < 0)
            break;
        if (due > now)
            eddy__sleep_ms(((due < deadline ? due : deadline) - now + 999999) / 1000000);
        now = eddy__monotonic_ns();
        linger_due(p, now);
    }
    return reports_serve(p);
}

static eddy_err producer_flush(eddy__producer *base, int timeout_ms)
{
    embedded_producer *p = (embedded_producer *)base;
    int64_t deadline =
        timeout_ms < 0 ? INT64_MAX : eddy__monotonic_ns() + (int64_t)timeout_ms * 1000000;
    for (int round = 0; round < FLUSH_ROUNDS_MAX && p->buffered + p->reported > 0; round++) {
        if (round > 0 && eddy__monotonic_ns() >= deadline)
            break;
        linger_due(p, INT64_MAX);
        reports_serve(p);
    }
    eddy_err err = p->flush_err;
    p->flush_err = EDDY_OK;
    if (err != EDDY_OK)
        return eddy__fail(err, "%s", p->flush_message);
    if (p->buffered + p->reported > 0)
        return eddy__fail(EDDY_ERR_TIMED_OUT,
                          "flush: %zu records still unreported (delivery callbacks kept sending)",
                          p->buffered + p->reported);
    return EDDY_OK;
}

static size_t producer_outstanding(const eddy__producer *base)
{
    const embedded_producer *p = (const embedded_producer *)base;
    return p->buffered + p->reported;
}

static void producer_destroy(eddy__producer *base)
{
    embedded_producer *p = (embedded_producer *)base;
    if (p->buffered > 0 || p->reported > 0)
        EDDY_WARN(MODULE, "producer destroyed with %zu records unwritten and %zu unreported",
                  p->buffered, p->reported);
    for (size_t i = 0; i < p->report_count; i++)
        eddy__free(p->reports[i].message);
    for (size_t i = 0; i < p->topic_count; i++)
        topic_free(p->topics[i]);
    eddy__free(p->topics);
    eddy__free(p->index);
    eddy__free(p->linger);
    eddy__free(p->reports);
    eddy__free(p->opaques);
    eddy__free(p->scratch);
    eddy__free(p->scratch_headers);
    eddy__free(p);
}

static const eddy__producer_ops embedded_producer_ops = {
    .send = producer_send,
    .poll = producer_poll,
    .flush = producer_flush,
    .outstanding = producer_outstanding,
    .destroy = producer_destroy,
};

static eddy_err producer_new(eddy__client *client, const eddy__producer_settings *settings,
                             const eddy_config *config, eddy__producer **out)
{
    (void)settings;
    (void)config;
    embedded_producer *p = eddy__calloc(1, sizeof(*p));
    if (!p)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "producer: out of memory");
    p->base.ops = &embedded_producer_ops;
    p->log = client_log(client);
    *out = &p->base;
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer: the partition table                                                              */

/* An assigned partition. */
typedef struct consumer_part {
    char *topic;
    int32_t partition;
    int64_t position; /* the next offset to return; EDDY__OFFSET_INVALID: none (reset none) */
    int paused;
    int fetching; /* assigned in the fetcher at `position` */
} consumer_part;

typedef struct embedded_consumer {
    eddy__consumer base;
    eddy_log *log;
    eddy_log_consumer *member;    /* group membership (subscribed) */
    eddy_log_consumer *fetcher;   /* reads the unpaused partitions; NULL when none */
    eddy_log_consumer *committer; /* commits (with a group) */
    eddy_config *fetcher_config;
    consumer_part *parts;
    size_t part_count, part_cap;
    eddy_topic_partition *view; /* for assignment() */
    size_t view_cap;
    size_t last_part; /* the part of the last record, for the next lookup */
    int rebuild;      /* a partition must leave the fetcher: rebuild it at the next poll */
    int dirty;        /* some unpaused part is not (or not at its position) in the fetcher */
    int protocol_now; /* run the group protocol at the next poll */
    uint32_t polls;   /* since the last look at the clock */
    int64_t next_protocol_ns;
    int64_t next_auto_commit_ns;
    eddy_err deferred; /* failed inside a member callback: returned by the next poll */
    char deferred_message[EDDY_ERROR_MESSAGE_MAX];
} embedded_consumer;

#define PART_NONE SIZE_MAX

static size_t part_find(const embedded_consumer *c, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < c->part_count; i++)
        if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
            return i;
    return PART_NONE;
}

static eddy_err part_unassigned(const char *what, const char *topic, int32_t partition)
{
    return eddy__fail(EDDY_ERR_STATE, "%s: topic '%s' partition %d is not assigned", what, topic,
                      (int)partition);
}

/* A concrete start offset for `offset` (>= 0, BEGINNING, END, STORED): STORED is the group's
 * committed offset, else auto.offset.reset; INVALID when that is none. */
static eddy_err position_resolve(embedded_consumer *c, const char *topic, int32_t partition,
                                 int64_t offset, int64_t *position)
{
    eddy_err err;
    if (offset == EDDY_OFFSET_STORED && c->base.group_id) {
        err = eddy_log_group_committed(c->log, c->base.group_id, topic, partition, position);
        if (err != EDDY_ERR_NOT_FOUND)
            return err;
    }
    if (offset == EDDY_OFFSET_STORED) {
        if (c->base.settings.offset_reset == EDDY__RESET_NONE) {
            *position = EDDY__OFFSET_INVALID;
            return EDDY_OK;
        }
        offset = c->base.settings.offset_reset == EDDY__RESET_EARLIEST ? EDDY_OFFSET_BEGINNING
                                                                       : EDDY_OFFSET_END;
    }
    if (offset >= 0) {
        *position = offset;
        return EDDY_OK;
    }
    int64_t start = 0, end = 0;
    err = eddy_log_partition_info(c->log, topic, partition, &start, &end, NULL, NULL);
    if (err == EDDY_OK)
        *position = offset == EDDY_OFFSET_BEGINNING ? start : end;
    return err;
}

static eddy_err parts_reserve(embedded_consumer *c, size_t count)
{
    return grow((void **)&c->parts, &c->part_cap, count, sizeof(*c->parts));
}

static void parts_clear(embedded_consumer *c)
{
    for (size_t i = 0; i < c->part_count; i++)
        eddy__free(c->parts[i].topic);
    c->part_count = 0;
    c->last_part = PART_NONE;
    c->rebuild = 1;
}

/* Adds a partition at `offset` (see position_resolve); one already there is left alone. */
static eddy_err part_add(embedded_consumer *c, const char *topic, int32_t partition, int64_t offset)
{
    if (part_find(c, topic, partition) != PART_NONE)
        return EDDY_OK;
    int64_t position = EDDY__OFFSET_INVALID;
    eddy_err err = position_resolve(c, topic, partition, offset, &position);
    if (err == EDDY_OK)
        err = parts_reserve(c, c->part_count + 1);
    char *name = err == EDDY_OK ? eddy__strdup(topic) : NULL;
    if (err == EDDY_OK && !name)
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory");
    if (err != EDDY_OK)
        return eddy__fail_context(err, "topic '%s' partition %d", topic, (int)partition);
    c->parts[c->part_count++] = (consumer_part){name, partition, position, 0, 0};
    c->dirty = 1;
    return EDDY_OK;
}

static void part_remove(embedded_consumer *c, size_t i)
{
    if (c->parts[i].fetching)
        c->rebuild = 1;
    eddy__free(c->parts[i].topic);
    memmove(&c->parts[i], &c->parts[i + 1], (c->part_count - i - 1) * sizeof(*c->parts));
    c->part_count--;
    c->last_part = PART_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer: commits                                                                          */

static eddy_err committer_get(embedded_consumer *c)
{
    if (c->committer)
        return EDDY_OK;
    eddy_config *config = eddy_config_new();
    eddy_err err = config ? eddy_config_set(config, "enable.auto.commit", "false")
                          : eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory");
    if (err == EDDY_OK)
        err = eddy_log_consumer_new(c->log, c->base.group_id, config, &c->committer);
    eddy_config_destroy(config);
    return err;
}

/* Commits the offsets in one durable write: each becomes the committer's position of its
 * partition, and the committer commits the positions that differ from the group's. */
static eddy_err commit_offsets(embedded_consumer *c, const eddy__topic_partition_offset *offsets,
                               size_t count)
{
    if (count == 0)
        return EDDY_OK;
    eddy_err err = committer_get(c);
    for (size_t i = 0; err == EDDY_OK && i < count; i++)
        err = eddy_log_consumer_assign(c->committer, offsets[i].topic, offsets[i].partition,
                                       offsets[i].offset);
    if (err == EDDY_OK)
        err = eddy_log_consumer_commit(c->committer);
    if (err != EDDY_OK && c->committer) {
        /* Its positions no longer match what was asked; start over at the next commit so that
         * a later commit cannot write these offsets behind the caller's back. */
        eddy_log_consumer_destroy(c->committer);
        c->committer = NULL;
    }
    return err;
}

/* Commits the positions of the parts listed (all parts when tps is NULL). */
static eddy_err commit_positions(embedded_consumer *c, const eddy_topic_partition *tps,
                                 size_t count)
{
    size_t n = tps ? count : c->part_count;
    if (n == 0)
        return EDDY_OK;
    eddy__topic_partition_offset *offsets = eddy__malloc(n * sizeof(*offsets));
    if (!offsets)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "commit: out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t at = tps ? part_find(c, tps[i].topic, tps[i].partition) : i;
        if (at != PART_NONE && c->parts[at].position >= 0)
            offsets[m++] = (eddy__topic_partition_offset){
                c->parts[at].topic, c->parts[at].partition, c->parts[at].position};
    }
    eddy_err err = commit_offsets(c, offsets, m);
    eddy__free(offsets);
    return err;
}

static void auto_commit(embedded_consumer *c, const eddy_topic_partition *tps, size_t count,
                        const char *when)
{
    if (!c->base.settings.auto_commit || !c->base.group_id)
        return;
    if (commit_positions(c, tps, count) != EDDY_OK)
        EDDY_WARN(MODULE, "group '%s': auto-commit %s: %s", c->base.group_id, when,
                  eddy_last_error());
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer: membership                                                                       */

static void defer_error(embedded_consumer *c, eddy_err err)
{
    if (c->deferred != EDDY_OK)
        return;
    c->deferred = err;
    snprintf(c->deferred_message, sizeof(c->deferred_message), "%s", eddy_last_error());
}

/* The member's rebalance callback: keeps the table in step and tells the application. */
static void member_rebalance(eddy_log_consumer *member, eddy_rebalance_event event,
                             const eddy_topic_partition *tps, size_t count, void *opaque)
{
    (void)member;
    embedded_consumer *c = opaque;
    if (event == EDDY_REBALANCE_ASSIGN) {
        for (size_t i = 0; i < count; i++) {
            eddy_err err = part_add(c, tps[i].topic, tps[i].partition, EDDY_OFFSET_STORED);
            if (err != EDDY_OK)
                defer_error(c, err);
        }
        eddy__consumer_notify(&c->base, EDDY__REBALANCE_ASSIGN, tps, count);
        return;
    }
    auto_commit(c, tps, count, "before revoking partitions");
    eddy__consumer_notify(&c->base, EDDY__REBALANCE_REVOKE, tps, count);
    for (size_t i = 0; i < count; i++) {
        size_t at = part_find(c, tps[i].topic, tps[i].partition);
        if (at != PART_NONE)
            part_remove(c, at);
    }
}

static eddy_err consumer_subscribe(eddy__consumer *base, const char *const *topics, size_t count)
{
    embedded_consumer *c = (embedded_consumer *)base;
    int created = 0;
    eddy_err err = EDDY_OK;
    if (!c->member) {
        eddy_config *config = eddy_config_new();
        err = config ? eddy_config_set(config, "enable.auto.commit", "false")
                     : eddy__fail(EDDY_ERR_NO_MEMORY, "subscribe: out of memory");
        /* The member's own reads are dropped; from the end they cost nothing. */
        if (err == EDDY_OK)
            err = eddy_config_set(config, "auto.offset.reset", "latest");
        if (err == EDDY_OK)
            err = eddy_log_consumer_new(c->log, base->group_id, config, &c->member);
        eddy_config_destroy(config);
        created = err == EDDY_OK;
    }
    if (err == EDDY_OK)
        err = eddy_log_consumer_subscribe(c->member, topics, count, member_rebalance, c);
    if (err != EDDY_OK && created) {
        eddy_log_consumer_destroy(c->member);
        c->member = NULL;
    }
    c->protocol_now = 1;
    return err;
}

/* Leaves the group: the member's REVOKE (through member_rebalance) empties the table. */
static eddy_err consumer_unsubscribe(eddy__consumer *base)
{
    embedded_consumer *c = (embedded_consumer *)base;
    if (c->member) {
        eddy_log_consumer_destroy(c->member);
        c->member = NULL;
    }
    if (c->part_count > 0)
        parts_clear(c); /* partitions the member could not hand to member_rebalance */
    return EDDY_OK;
}

/* Runs the group protocol: a poll of the member that does not wait. It may read one record of
 * its own, which is dropped; its read errors are the fetcher's to report. */
static eddy_err protocol_run(embedded_consumer *c, int64_t now_ns)
{
    c->protocol_now = 0;
    c->polls = 0;
    c->next_protocol_ns = now_ns + (int64_t)CONSUMER_PROTOCOL_INTERVAL_MS * 1000000;
    if (c->base.settings.auto_commit && now_ns >= c->next_auto_commit_ns) {
        auto_commit(c, NULL, 0, "on interval");
        c->next_auto_commit_ns = now_ns + c->base.settings.auto_commit_interval_ms * 1000000;
    }
    if (!c->member)
        return EDDY_OK;
    eddy_record dropped;
    eddy_err err = eddy_log_consumer_poll(c->member, 0, &dropped);
    if (err == EDDY_OK || err == EDDY_ERR_TIMED_OUT || err == EDDY_ERR_CORRUPT ||
        err == EDDY_ERR_OFFSET_OUT_OF_RANGE)
        return EDDY_OK;
    return eddy__fail_context(err, "group '%s'", c->base.group_id);
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer: the fetcher and poll                                                             */

/* Brings the fetcher in line with the table: rebuilt without the partitions that left it, and
 * every unpaused partition assigned at its position. */
static eddy_err fetcher_apply(embedded_consumer *c)
{
    if (c->rebuild) {
        eddy_log_consumer_destroy(c->fetcher);
        c->fetcher = NULL;
        for (size_t i = 0; i < c->part_count; i++)
            c->parts[i].fetching = 0;
        c->rebuild = 0;
        c->dirty = 1;
    }
    if (!c->dirty)
        return EDDY_OK;
    for (size_t i = 0; i < c->part_count; i++) {
        consumer_part *part = &c->parts[i];
        if (part->paused || part->fetching)
            continue;
        if (part->position == EDDY__OFFSET_INVALID)
            return eddy__fail(EDDY_ERR_OFFSET_OUT_OF_RANGE,
                              "topic '%s' partition %d: no committed offset and "
                              "auto.offset.reset is none",
                              part->topic, (int)part->partition);
        eddy_err err = EDDY_OK;
        if (!c->fetcher)
            err = eddy_log_consumer_new(c->log, NULL, c->fetcher_config, &c->fetcher);
        if (err == EDDY_OK)
            err =
                eddy_log_consumer_assign(c->fetcher, part->topic, part->partition, part->position);
        if (err != EDDY_OK)
            return err;
        part->fetching = 1;
    }
    c->dirty = 0;
    return EDDY_OK;
}

/* Moves the record's partition's position past it. */
static void position_advance(embedded_consumer *c, const eddy_record *record)
{
    size_t i = c->last_part;
    if (i >= c->part_count || c->parts[i].partition != record->partition ||
        strcmp(c->parts[i].topic, record->topic) != 0)
        i = part_find(c, record->topic, record->partition);
    /* The fetcher holds only the table's unpaused partitions. */
    EDDY_ASSERT(i != PART_NONE && c->parts[i].fetching && !c->parts[i].paused);
    c->parts[i].position = record->offset + 1;
    c->last_part = i;
}

/* Whether the group protocol should run now: when asked to, and otherwise every
 * CONSUMER_PROTOCOL_INTERVAL_MS, looking at the clock every CONSUMER_CLOCK_POLLS polls. */
static int protocol_due(embedded_consumer *c, int idle, int64_t *now_ns)
{
    int wanted = c->member || c->base.settings.auto_commit;
    if (!wanted || (!idle && !c->protocol_now && ++c->polls < CONSUMER_CLOCK_POLLS))
        return 0;
    c->polls = 0;
    *now_ns = eddy__monotonic_ns();
    return c->protocol_now || *now_ns >= c->next_protocol_ns;
}

static eddy_err consumer_poll(eddy__consumer *base, int timeout_ms, eddy_record *record)
{
    embedded_consumer *c = (embedded_consumer *)base;
    int64_t deadline_ns = -1;
    for (int idle = 0;; idle = 1) {
        int64_t now_ns = 0;
        eddy_err err = protocol_due(c, idle, &now_ns) ? protocol_run(c, now_ns) : EDDY_OK;
        if (err == EDDY_OK && c->deferred != EDDY_OK) {
            err = eddy__fail(c->deferred, "%s", c->deferred_message);
            c->deferred = EDDY_OK;
        }
        if (err == EDDY_OK)
            err = fetcher_apply(c);
        if (err != EDDY_OK)
            return err;
        /* The first look does not wait; later ones wait at most until the deadline, and, with a
         * group, at most until the protocol must run again. */
        int wait_ms = 0;
        if (idle) {
            now_ns = eddy__monotonic_ns();
            if (deadline_ns < 0)
                deadline_ns = timeout_ms < 0 ? INT64_MAX : now_ns + (int64_t)timeout_ms * 1000000;
            if (now_ns >= deadline_ns)
                return EDDY_ERR_TIMED_OUT;
            int64_t left_ms = (deadline_ns - now_ns + 999999) / 1000000;
            int64_t slice_ms = c->member ? CONSUMER_PROTOCOL_INTERVAL_MS : 100;
            wait_ms = (int)(left_ms < slice_ms ? left_ms : slice_ms);
        }
        if (c->fetcher) {
            err = eddy_log_consumer_poll(c->fetcher, wait_ms, record);
            if (err == EDDY_OK) {
                position_advance(c, record);
                return EDDY_OK;
            }
            if (err != EDDY_ERR_TIMED_OUT)
                return err;
        } else if (wait_ms > 0) {
            eddy__sleep_ms(wait_ms);
        }
        if (timeout_ms == 0)
            return EDDY_ERR_TIMED_OUT;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer: manual assignment, seek, position, pause                                         */

/* Whether `name` is the very string of an assigned partition's topic. */
static int topic_is_assigned(const embedded_consumer *c, const char *name)
{
    for (size_t i = 0; i < c->part_count; i++)
        if (c->parts[i].topic == name)
            return 1;
    return 0;
}

static eddy_err consumer_assign(eddy__consumer *base, const eddy__topic_partition_offset *list,
                                size_t count)
{
    embedded_consumer *c = (embedded_consumer *)base;
    for (size_t i = 0; i < count; i++) {
        int32_t partitions = 0;
        eddy_err err = eddy_log_topic_partitions(c->log, list[i].topic, &partitions);
        if (err != EDDY_OK)
            return eddy__fail_context(err, "assign");
        if (list[i].partition >= partitions)
            return eddy__fail(EDDY_ERR_UNKNOWN_PARTITION,
                              "assign: topic '%s' has no partition %d (it has %d)", list[i].topic,
                              (int)list[i].partition, (int)partitions);
    }
    /* Build the new table aside, so that a failure changes nothing. */
    consumer_part *parts = count ? eddy__calloc(count, sizeof(*parts)) : NULL;
    char *kept = c->part_count ? eddy__calloc(c->part_count, 1) : NULL;
    eddy_err err = (count && !parts) || (c->part_count && !kept)
                       ? eddy__fail(EDDY_ERR_NO_MEMORY, "assign: out of memory")
                       : EDDY_OK;
    size_t n = 0;
    for (; err == EDDY_OK && n < count; n++) {
        const eddy__topic_partition_offset *tp = &list[n];
        size_t old = part_find(c, tp->topic, tp->partition);
        if (old != PART_NONE && tp->offset == EDDY__OFFSET_INVALID) {
            parts[n] = c->parts[old]; /* position, pause and fetcher state carry over */
            kept[old] = 1;
            continue;
        }
        int64_t offset = tp->offset == EDDY__OFFSET_INVALID ? EDDY_OFFSET_STORED : tp->offset;
        err = position_resolve(c, tp->topic, tp->partition, offset, &parts[n].position);
        if (err == EDDY_OK && !(parts[n].topic = eddy__strdup(tp->topic)))
            err = eddy__fail(EDDY_ERR_NO_MEMORY, "assign: out of memory");
        if (err != EDDY_OK)
            break;
        parts[n].partition = tp->partition;
        parts[n].paused = old != PART_NONE && c->parts[old].paused;
        if (old != PART_NONE)
            kept[old] = 2; /* kept, at a new position: the fetcher re-seeks it */
    }
    if (err != EDDY_OK) {
        for (size_t i = 0; parts && i <= n && i < count; i++)
            if (!topic_is_assigned(c, parts[i].topic)) /* copied here, not carried over */
                eddy__free(parts[i].topic);
        eddy__free(parts);
        eddy__free(kept);
        return eddy__fail_context(err, "assign");
    }
    for (size_t i = 0; i < c->part_count; i++) {
        if (kept[i] != 1) {
            if (c->parts[i].fetching && kept[i] == 0)
                c->rebuild = 1; /* gone from the assignment */
            eddy__free(c->parts[i].topic);
        }
    }
    eddy__free(kept);
    eddy__free(c->parts);
    c->parts = parts;
    c->part_count = c->part_cap = count;
    c->last_part = PART_NONE;
    c->dirty = 1;
    return EDDY_OK;
}

static eddy_err consumer_assignment(eddy__consumer *base, const eddy_topic_partition **out,
                                    size_t *count)
{
    embedded_consumer *c = (embedded_consumer *)base;
    eddy_err err = grow((void **)&c->view, &c->view_cap, c->part_count, sizeof(*c->view));
    if (err != EDDY_OK)
        return err;
    for (size_t i = 0; i < c->part_count; i++)
        c->view[i] = (eddy_topic_partition){c->parts[i].topic, c->parts[i].partition};
    *out = c->view;
    *count = c->part_count;
    return EDDY_OK;
}

static eddy_err consumer_seek(eddy__consumer *base, const char *topic, int32_t partition,
                              int64_t offset)
{
    embedded_consumer *c = (embedded_consumer *)base;
    size_t at = part_find(c, topic, partition);
    if (at == PART_NONE)
        return part_unassigned("seek", topic, partition);
    int64_t position = 0;
    eddy_err err = position_resolve(c, topic, partition, offset, &position);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "seek");
    c->parts[at].position = position;
    c->parts[at].fetching = 0; /* assigning it again moves the fetcher's reader */
    c->dirty = 1;
    return EDDY_OK;
}

static eddy_err consumer_position(eddy__consumer *base, const char *topic, int32_t partition,
                                  int64_t *offset)
{
    embedded_consumer *c = (embedded_consumer *)base;
    size_t at = part_find(c, topic, partition);
    if (at == PART_NONE)
        return part_unassigned("position", topic, partition);
    *offset = c->parts[at].position;
    return EDDY_OK;
}

static eddy_err consumer_pause(eddy__consumer *base, const eddy_topic_partition *tps, size_t count,
                               int pause)
{
    embedded_consumer *c = (embedded_consumer *)base;
    for (size_t i = 0; i < count; i++)
        if (part_find(c, tps[i].topic, tps[i].partition) == PART_NONE)
            return part_unassigned(pause ? "pause" : "resume", tps[i].topic, tps[i].partition);
    for (size_t i = 0; i < count; i++) {
        consumer_part *part = &c->parts[part_find(c, tps[i].topic, tps[i].partition)];
        if (pause && !part->paused && part->fetching)
            c->rebuild = 1;
        if (!pause && part->paused)
            c->dirty = 1;
        part->paused = pause;
    }
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer: commits, close                                                                   */

static eddy_err consumer_commit(eddy__consumer *base, const eddy__topic_partition_offset *offsets,
                                size_t count)
{
    embedded_consumer *c = (embedded_consumer *)base;
    if (!offsets)
        return commit_positions(c, NULL, 0);
    /* A member commits only what it owns: its table follows the member's ownership, which moves
     * only after this member's REVOKE returned. */
    for (size_t i = 0; base->mode == EDDY__CONSUMER_SUBSCRIBED && i < count; i++)
        if (part_find(c, offsets[i].topic, offsets[i].partition) == PART_NONE)
            return eddy__fail(EDDY_ERR_STATE,
                              "commit: group '%s': topic '%s' partition %d is not assigned to "
                              "this member",
                              base->group_id, offsets[i].topic, (int)offsets[i].partition);
    return commit_offsets(c, offsets, count);
}

static eddy_err consumer_committed(eddy__consumer *base, const char *topic, int32_t partition,
                                   int64_t *offset)
{
    embedded_consumer *c = (embedded_consumer *)base;
    eddy_err err = eddy_log_group_committed(c->log, base->group_id, topic, partition, offset);
    if (err == EDDY_ERR_NOT_FOUND) {
        *offset = EDDY__OFFSET_INVALID;
        return EDDY_OK;
    }
    return err;
}

static eddy_err consumer_close(eddy__consumer *base)
{
    embedded_consumer *c = (embedded_consumer *)base;
    eddy_err err = EDDY_OK;
    if (c->member) {
        consumer_unsubscribe(base); /* auto-commits through member_rebalance */
    } else if (base->settings.auto_commit && base->group_id) {
        err = commit_positions(c, NULL, 0);
        if (err != EDDY_OK)
            EDDY_WARN(MODULE, "group '%s': auto-commit on close: %s", base->group_id,
                      eddy_last_error());
    }
    parts_clear(c);
    eddy_log_consumer_destroy(c->fetcher);
    eddy_log_consumer_destroy(c->committer);
    c->fetcher = c->committer = NULL;
    return err;
}

static void consumer_destroy(eddy__consumer *base)
{
    embedded_consumer *c = (embedded_consumer *)base;
    EDDY_ASSERT(!c->member && !c->fetcher && !c->committer && c->part_count == 0);
    eddy_config_destroy(c->fetcher_config);
    eddy__free(c->parts);
    eddy__free(c->view);
    eddy__free(c);
}

static const eddy__consumer_ops embedded_consumer_ops = {
    .subscribe = consumer_subscribe,
    .unsubscribe = consumer_unsubscribe,
    .assign = consumer_assign,
    .assignment = consumer_assignment,
    .poll = consumer_poll,
    .seek = consumer_seek,
    .position = consumer_position,
    .pause = consumer_pause,
    .commit = consumer_commit,
    .committed = consumer_committed,
    .close = consumer_close,
    .destroy = consumer_destroy,
};

static eddy_err consumer_new(eddy__client *client, const char *group_id,
                             const eddy__consumer_settings *settings, const eddy_config *config,
                             eddy__consumer **out)
{
    (void)config;
    static const char *const resets[] = {"earliest", "latest", "none"};
    embedded_consumer *c = eddy__calloc(1, sizeof(*c));
    eddy_config *fetcher_config = c ? eddy_config_new() : NULL;
    eddy_err err =
        fetcher_config ? EDDY_OK : eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory");
    /* The fetcher resets out-of-range positions as the application asked; it never commits. */
    if (err == EDDY_OK)
        err = eddy_config_set(fetcher_config, "auto.offset.reset", resets[settings->offset_reset]);
    if (err == EDDY_OK)
        err = eddy_config_set(fetcher_config, "enable.auto.commit", "false");
    /* Check the group id now, as Kafka's consumer does, rather than at subscribe. */
    eddy_log_consumer *probe = NULL;
    if (err == EDDY_OK && group_id)
        err = eddy_log_consumer_new(client_log(client), group_id, fetcher_config, &probe);
    eddy_log_consumer_destroy(probe);
    if (err != EDDY_OK) {
        eddy_config_destroy(fetcher_config);
        eddy__free(c);
        return err;
    }
    c->base.ops = &embedded_consumer_ops;
    c->log = client_log(client);
    c->fetcher_config = fetcher_config;
    c->last_part = PART_NONE;
    *out = &c->base;
    return EDDY_OK;
}
