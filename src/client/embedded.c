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
 * One eddy_log_consumer per client consumer, which holds the assignment, the positions and the
 * pauses: subscribe, poll, seek, position, pause and resume, and commits map onto it one to one
 * (a commit of several offsets is one durable write; a member's commit is checked against what
 * it owns). What the seam adds:
 *   - auto-commit: the log consumer's is off; the seam commits positions every
 *     auto.commit.interval.ms (checked by poll), from the REVOKE callback before the
 *     application's, and on close;
 *   - starts are resolved when a partition is assigned or sought to the beginning or end (the
 *     log consumer resolves them at the first read), so records appended before the first poll
 *     are read, and position answers EDDY__OFFSET_INVALID for auto.offset.reset=none;
 *   - manual assign replaces the assignment: the log consumer adds one partition at a time and
 *     drops all at once, so the seam unassigns and assigns again, keeping kept partitions'
 *     positions and pauses (which it remembers for manual assignments);
 *   - unsubscribe: the log consumer has none; it is destroyed (leaving the group, with its
 *     REVOKE) and a fresh one made.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Topics remembered by the address of the name they were last sent by. */
#define PRODUCER_RECENT_TOPICS 4

typedef struct recent_topic {
    const char *name; /* the caller's pointer: compared, never read (its bytes may be gone) */
    producer_topic *topic;
} recent_topic;

typedef struct embedded_producer {
    eddy__producer base;
    eddy_log *log;
    producer_topic **topics;
    size_t topic_count, topic_cap;
    size_t *index; /* open addressing over topic names: topic + 1, 0 empty */
    size_t index_cap;
    /* The topics sent to last, by the address of the name the caller passed: an application
     * sends to a few topics in turn (an output and a changelog or two) with names it keeps, so
     * a name found here costs one pointer compare and the string compare that confirms it, not
     * a hash and a probe (nor string compares with the other recent topics, whose names share
     * long prefixes). */
    recent_topic recent[PRODUCER_RECENT_TOPICS];
    size_t recent_next;   /* the entry the next new name replaces (round robin) */
    linger_entry *linger; /* a ring */
    size_t linger_head, linger_count, linger_cap;
    size_t open_buffers;     /* buffers holding records */
    int64_t opened_slack_ns; /* the coarse clock's resolution (see linger_wait_ns) */
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

/* grow's reallocation, out of line: a send checks six arrays and almost never grows one. */
static eddy_err __attribute__((noinline))
grow_to(void **array, size_t *cap, size_t needed, size_t size)
{
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

/* Grows an array to hold at least `needed` elements (doubling). */
static inline eddy_err grow(void **array, size_t *cap, size_t needed, size_t size)
{
    return needed <= *cap ? EDDY_OK : grow_to(array, cap, needed, size);
}

/* ------------------------------------------------------------------------------------------ */
/* Producer: topics                                                                           */

static size_t index_slot(const embedded_producer *p, const char *name)
{
    return (size_t)eddy__hash64(name, strlen(name)) & (p->index_cap - 1);
}

/* Remembers that `name` (the caller's pointer) named t: in the entry of that pointer if there
 * is one (its bytes named another topic before), else in the next one round robin. */
static producer_topic *topic_remember(embedded_producer *p, const char *name, producer_topic *t)
{
    size_t at = p->recent_next;
    for (size_t i = 0; i < PRODUCER_RECENT_TOPICS; i++)
        if (p->recent[i].name == name)
            at = i;
    if (at == p->recent_next)
        p->recent_next = (p->recent_next + 1) % PRODUCER_RECENT_TOPICS;
    p->recent[at] = (recent_topic){name, t};
    return t;
}

static producer_topic *topic_find(embedded_producer *p, const char *name)
{
    /* The same pointer may now hold another name: the string compare decides. */
    for (size_t i = 0; i < PRODUCER_RECENT_TOPICS; i++)
        if (p->recent[i].name == name && strcmp(p->recent[i].topic->name, name) == 0)
            return p->recent[i].topic;
    if (p->index_cap == 0)
        return NULL;
    for (size_t i = index_slot(p, name), probes = 0; probes < p->index_cap; probes++) {
        size_t at = p->index[i];
        if (at == 0)
            return NULL;
        if (strcmp(p->topics[at - 1]->name, name) == 0)
            return topic_remember(p, name, p->topics[at - 1]);
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
    *out = topic_remember(p, name, t);
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

/* How long after its opened_ns a buffer comes due: linger.ms, plus the resolution of the coarse
 * clock that stamped opened_ns (it may lag the true time by that much), so that no batch is
 * written before linger.ms has really passed since its first record; linger.ms 0 is at once. */
static int64_t linger_wait_ns(const embedded_producer *p)
{
    int64_t linger_ms = p->base.settings.linger_ms;
    return linger_ms > 0 ? linger_ms * 1000000 + p->opened_slack_ns : 0;
}

/* Writes the buffers whose linger.ms has passed at `now_ns` (all of them for INT64_MAX), oldest
 * first. */
static void linger_due(embedded_producer *p, int64_t now_ns)
{
    int64_t linger_ns = linger_wait_ns(p);
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
            return e.opened_ns + linger_wait_ns(p);
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
    if (p->report_count > n) /* memmove of NULL is undefined even for 0 bytes */
        memmove(p->reports, p->reports + n, (p->report_count - n) * sizeof(*p->reports));
    p->report_count -= n;
    for (size_t i = 0; i < p->report_count; i++)
        p->reports[i].opaque_at -= opaques_done;
    if (p->opaque_count > opaques_done)
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
    /* At least one byte: an arena never allocated has a null base, and an empty key or value
     * put there would come out null (a null key, not an empty one). */
    eddy_err err = eddy__buf_reserve(&b->arena, bytes > 0 ? bytes : 1);
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
    if (t->partitions == 1)
        return 0; /* what any key hashes to: no murmur2 per record for one partition */
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
    int64_t now_ns = eddy__monotonic_coarse_ns(); /* per record: the cheap clock; linger is ms */
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
    struct timespec resolution;
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &resolution) == 0)
        p->opened_slack_ns = (int64_t)resolution.tv_sec * 1000000000 + resolution.tv_nsec;
    *out = &p->base;
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer: one log consumer                                                                 */

typedef struct embedded_consumer {
    eddy__consumer base;
    eddy_log *log;
    eddy_log_consumer *lc;        /* NULL only when re-making it after unsubscribe failed */
    eddy_config *lc_config;       /* auto.offset.reset as asked; enable.auto.commit=false */
    eddy_topic_partition *paused; /* manual mode's paused partitions (the log's strings) */
    size_t paused_count, paused_cap;
    size_t manual_count; /* partitions of the manual assignment */
    int64_t next_auto_commit_ns;
} embedded_consumer;

#define PART_NONE SIZE_MAX

/* The log consumer, made again when an unsubscribe destroyed it. */
static eddy_err lc_ready(embedded_consumer *c)
{
    if (c->lc)
        return EDDY_OK;
    return eddy_log_consumer_new(c->log, c->base.group_id, c->lc_config, &c->lc);
}

static size_t paused_find(const embedded_consumer *c, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < c->paused_count; i++)
        if (c->paused[i].partition == partition && strcmp(c->paused[i].topic, topic) == 0)
            return i;
    return PART_NONE;
}

/* The log's own string for an assigned partition's topic (stable while it stays assigned). */
static const char *assigned_topic(embedded_consumer *c, const char *topic, int32_t partition)
{
    const eddy_topic_partition *tps = NULL;
    size_t n = 0;
    eddy_log_consumer_assignment(c->lc, &tps, &n);
    for (size_t i = 0; i < n; i++)
        if (tps[i].partition == partition && strcmp(tps[i].topic, topic) == 0)
            return tps[i].topic;
    return NULL;
}

/* Resolves a start not yet resolved (committed offset, beginning, end, auto.offset.reset) now,
 * as Kafka's consumer does at assignment, so that records appended before the first poll are
 * read. An error is left to the poll that reads the partition. */
static void position_settle(embedded_consumer *c, const char *topic, int32_t partition)
{
    int64_t position;
    (void)eddy_log_consumer_position(c->lc, topic, partition, &position);
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer: commits                                                                          */

/* Commits the positions of the partitions listed (all assigned ones when tps is NULL) in one
 * durable write. A partition whose position is unknown (auto.offset.reset=none) is left out. */
static eddy_err commit_positions(embedded_consumer *c, const eddy_topic_partition *tps,
                                 size_t count)
{
    if (!tps && c->lc)
        eddy_log_consumer_assignment(c->lc, &tps, &count);
    if (!c->lc || count == 0)
        return EDDY_OK;
    eddy_topic_partition *parts = eddy__malloc(count * sizeof(*parts));
    int64_t *offsets = parts ? eddy__malloc(count * sizeof(*offsets)) : NULL;
    eddy_err err = offsets ? EDDY_OK : eddy__fail(EDDY_ERR_NO_MEMORY, "commit: out of memory");
    size_t m = 0;
    for (size_t i = 0; err == EDDY_OK && i < count; i++) {
        err = eddy_log_consumer_position(c->lc, tps[i].topic, tps[i].partition, &offsets[m]);
        if (err == EDDY_OK)
            parts[m++] = tps[i];
        else if (err == EDDY_ERR_OFFSET_OUT_OF_RANGE)
            err = EDDY_OK;
    }
    if (err == EDDY_OK && m > 0)
        err = eddy_log_consumer_commit_offsets(c->lc, parts, offsets, m);
    eddy__free(parts);
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
/* Consumer: membership and poll                                                              */

/* The log consumer's rebalance callback: settles new positions, auto-commits before a
 * revocation, and tells the application. */
static void on_rebalance(eddy_log_consumer *lc, eddy_rebalance_event event,
                         const eddy_topic_partition *tps, size_t count, void *opaque)
{
    (void)lc;
    embedded_consumer *c = opaque;
    if (event == EDDY_REBALANCE_ASSIGN) {
        for (size_t i = 0; i < count; i++)
            position_settle(c, tps[i].topic, tps[i].partition);
        eddy__consumer_notify(&c->base, EDDY__REBALANCE_ASSIGN, tps, count);
        return;
    }
    auto_commit(c, tps, count, "before revoking partitions");
    eddy__consumer_notify(&c->base, EDDY__REBALANCE_REVOKE, tps, count);
}

static eddy_err consumer_subscribe(eddy__consumer *base, const char *const *topics, size_t count)
{
    embedded_consumer *c = (embedded_consumer *)base;
    eddy_err err = lc_ready(c);
    return err != EDDY_OK ? err
                          : eddy_log_consumer_subscribe(c->lc, topics, count, on_rebalance, c);
}

/* Leaves the group: destroying the log consumer revokes everything (through on_rebalance);
 * the log consumer has no unsubscribe, so a fresh one takes its place. */
static eddy_err consumer_unsubscribe(eddy__consumer *base)
{
    embedded_consumer *c = (embedded_consumer *)base;
    eddy_log_consumer_destroy(c->lc); /* the callbacks still see c->lc */
    c->lc = NULL;
    c->paused_count = 0;
    (void)lc_ready(c); /* else made again at the next call */
    return EDDY_OK;
}

/* The log's message for auto.offset.reset=none names the group first; the seam's names the
 * partition alone. */
static eddy_err reset_error(embedded_consumer *c, eddy_err err)
{
    char prefix[EDDY_ERROR_MESSAGE_MAX];
    snprintf(prefix, sizeof(prefix),
             "group '%s': ", c->base.group_id ? c->base.group_id : "(none)");
    const char *message = eddy_last_error();
    size_t n = strlen(prefix);
    if (strncmp(message, prefix, n) != 0)
        return err;
    char copy[EDDY_ERROR_MESSAGE_MAX];
    snprintf(copy, sizeof(copy), "%s", message + n);
    return eddy__fail(err, "%s", copy);
}

static eddy_err consumer_poll(eddy__consumer *base, int timeout_ms, eddy_record *record)
{
    embedded_consumer *c = (embedded_consumer *)base;
    if (base->settings.auto_commit && base->group_id) {
        int64_t now_ns = eddy__monotonic_ns();
        if (now_ns >= c->next_auto_commit_ns) {
            auto_commit(c, NULL, 0, "on interval");
            c->next_auto_commit_ns = now_ns + base->settings.auto_commit_interval_ms * 1000000;
        }
    }
    eddy_err err = lc_ready(c);
    if (err != EDDY_OK)
        return err;
    if (base->mode != EDDY__CONSUMER_SUBSCRIBED && c->manual_count == 0) { /* wait it out */
        while (timeout_ms < 0)
            eddy__sleep_ms(1000);
        if (timeout_ms > 0)
            eddy__sleep_ms(timeout_ms);
        return EDDY_ERR_TIMED_OUT;
    }
    err = eddy_log_consumer_poll(c->lc, timeout_ms, record);
    return err == EDDY_ERR_OFFSET_OUT_OF_RANGE ? reset_error(c, err) : err;
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer: manual assignment, seek, position, pause                                         */

/* A partition of a new manual assignment, with its own copy of the topic name (the caller's
 * may be the log's, which unassigning frees). */
typedef struct assign_plan {
    char *topic;
    int32_t partition;
    int64_t offset;
    int paused;
} assign_plan;

/* The log consumer assigns one partition at a time and unassigns all at once: the new
 * assignment is planned first (kept partitions' positions and pauses), so that a failure before
 * the log consumer is touched changes nothing; then everything is unassigned and assigned
 * again. */
static eddy_err consumer_assign(eddy__consumer *base, const eddy__topic_partition_offset *list,
                                size_t count)
{
    embedded_consumer *c = (embedded_consumer *)base;
    eddy_err err = lc_ready(c);
    for (size_t i = 0; err == EDDY_OK && i < count; i++) {
        int32_t partitions = 0;
        err = eddy_log_topic_partitions(c->log, list[i].topic, &partitions);
        if (err != EDDY_OK)
            return eddy__fail_context(err, "assign");
        if (list[i].partition >= partitions)
            return eddy__fail(EDDY_ERR_UNKNOWN_PARTITION,
                              "assign: topic '%s' has no partition %d (it has %d)", list[i].topic,
                              (int)list[i].partition, (int)partitions);
    }
    if (err == EDDY_OK)
        err = grow((void **)&c->paused, &c->paused_cap, count, sizeof(*c->paused));
    assign_plan *plan = err == EDDY_OK && count ? eddy__calloc(count, sizeof(*plan)) : NULL;
    if (err == EDDY_OK && count && !plan)
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "assign: out of memory");
    for (size_t i = 0; err == EDDY_OK && i < count; i++) {
        const eddy__topic_partition_offset *tp = &list[i];
        plan[i] = (assign_plan){eddy__strdup(tp->topic), tp->partition, tp->offset,
                                paused_find(c, tp->topic, tp->partition) != PART_NONE};
        if (!plan[i].topic)
            err = eddy__fail(EDDY_ERR_NO_MEMORY, "assign: out of memory");
        if (err != EDDY_OK || tp->offset != EDDY__OFFSET_INVALID)
            continue;
        /* Keep the position of a partition already assigned; a new one starts STORED. */
        plan[i].offset = EDDY_OFFSET_STORED;
        int64_t position;
        err = eddy_log_consumer_position(c->lc, tp->topic, tp->partition, &position);
        if (err == EDDY_OK)
            plan[i].offset = position;
        else if (err == EDDY_ERR_STATE || err == EDDY_ERR_OFFSET_OUT_OF_RANGE)
            err = EDDY_OK; /* not assigned; or still unknown, STORED again */
    }
    int touched = 0;
    if (err == EDDY_OK) {
        err = eddy_log_consumer_unassign(c->lc); /* never commits: enable.auto.commit=false */
        touched = err == EDDY_OK;
    }
    if (touched) {
        c->paused_count = 0;
        c->manual_count = 0;
    }
    for (size_t i = 0; err == EDDY_OK && i < count; i++) {
        err = eddy_log_consumer_assign(c->lc, plan[i].topic, plan[i].partition, plan[i].offset);
        if (err == EDDY_OK)
            position_settle(c, plan[i].topic, plan[i].partition);
        if (err != EDDY_OK || !plan[i].paused)
            continue;
        eddy_topic_partition tp = {plan[i].topic, plan[i].partition};
        err = eddy_log_consumer_pause(c->lc, &tp, 1);
        if (err == EDDY_OK)
            c->paused[c->paused_count++] =
                (eddy_topic_partition){assigned_topic(c, tp.topic, tp.partition), tp.partition};
    }
    for (size_t i = 0; plan && i < count; i++)
        eddy__free(plan[i].topic);
    eddy__free(plan);
    if (err == EDDY_OK) {
        c->manual_count = count;
        return EDDY_OK;
    }
    if (touched) { /* failed half way: nothing assigned rather than part of the list */
        (void)eddy_log_consumer_unassign(c->lc);
        c->paused_count = 0;
    }
    return eddy__fail_context(err, "assign");
}

static eddy_err consumer_assignment(eddy__consumer *base, const eddy_topic_partition **out,
                                    size_t *count)
{
    embedded_consumer *c = (embedded_consumer *)base;
    if (!c->lc) {
        *out = NULL;
        *count = 0;
        return EDDY_OK;
    }
    return eddy_log_consumer_assignment(c->lc, out, count);
}

static eddy_err consumer_seek(eddy__consumer *base, const char *topic, int32_t partition,
                              int64_t offset)
{
    embedded_consumer *c = (embedded_consumer *)base;
    eddy_err err = lc_ready(c);
    if (err == EDDY_OK)
        err = eddy_log_consumer_seek(c->lc, topic, partition, offset);
    if (err == EDDY_OK && offset < 0)
        position_settle(c, topic, partition); /* the beginning or end as of now */
    return err;
}

/* The log's end offset is always known here: a read of the partition's state page. */
static eddy_err consumer_lag(eddy__consumer *base, const char *topic, int32_t partition,
                             int64_t *lag)
{
    embedded_consumer *c = (embedded_consumer *)base;
    *lag = -1;
    int64_t position = 0, end = 0;
    eddy_err err = lc_ready(c);
    if (err == EDDY_OK)
        err = eddy_log_consumer_position(c->lc, topic, partition, &position);
    if (err == EDDY_ERR_OFFSET_OUT_OF_RANGE)
        return EDDY_OK; /* auto.offset.reset=none without a committed offset: unknown */
    if (err == EDDY_OK)
        err = eddy_log_partition_info(c->log, topic, partition, NULL, &end, NULL, NULL);
    if (err == EDDY_OK)
        *lag = end > position ? end - position : 0;
    return err;
}

static void consumer_member_id(eddy__consumer *base, char *buf, size_t size)
{
    embedded_consumer *c = (embedded_consumer *)base;
    const char *id = c->lc ? eddy_log_consumer_member_id(c->lc) : NULL;
    snprintf(buf, size, "%s", id ? id : "");
}

static eddy_err consumer_position(eddy__consumer *base, const char *topic, int32_t partition,
                                  int64_t *offset)
{
    embedded_consumer *c = (embedded_consumer *)base;
    eddy_err err = lc_ready(c);
    if (err == EDDY_OK)
        err = eddy_log_consumer_position(c->lc, topic, partition, offset);
    if (err == EDDY_ERR_OFFSET_OUT_OF_RANGE) { /* auto.offset.reset=none: unknown */
        *offset = EDDY__OFFSET_INVALID;
        return EDDY_OK;
    }
    return err;
}

static eddy_err consumer_pause(eddy__consumer *base, const eddy_topic_partition *tps, size_t count,
                               int pause)
{
    embedded_consumer *c = (embedded_consumer *)base;
    eddy_err err = lc_ready(c);
    /* A manual assignment remembers its pauses, to keep them when assign keeps a partition. */
    int manual = base->mode != EDDY__CONSUMER_SUBSCRIBED;
    if (err == EDDY_OK && manual && pause)
        err =
            grow((void **)&c->paused, &c->paused_cap, c->paused_count + count, sizeof(*c->paused));
    if (err == EDDY_OK)
        err = pause ? eddy_log_consumer_pause(c->lc, tps, count)
                    : eddy_log_consumer_resume(c->lc, tps, count);
    for (size_t i = 0; err == EDDY_OK && manual && i < count; i++) {
        size_t at = paused_find(c, tps[i].topic, tps[i].partition);
        if (pause && at == PART_NONE)
            c->paused[c->paused_count++] = (eddy_topic_partition){
                assigned_topic(c, tps[i].topic, tps[i].partition), tps[i].partition};
        else if (!pause && at != PART_NONE)
            c->paused[at] = c->paused[--c->paused_count];
    }
    return err;
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer: commits, close                                                                   */

static eddy_err consumer_commit(eddy__consumer *base, const eddy__topic_partition_offset *offsets,
                                size_t count)
{
    embedded_consumer *c = (embedded_consumer *)base;
    eddy_err err = lc_ready(c);
    if (err != EDDY_OK || !offsets)
        return err != EDDY_OK ? err : commit_positions(c, NULL, 0);
    if (count == 0)
        return EDDY_OK;
    eddy_topic_partition *tps = eddy__malloc(count * sizeof(*tps));
    int64_t *values = tps ? eddy__malloc(count * sizeof(*values)) : NULL;
    if (!values) {
        eddy__free(tps);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "commit: out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        tps[i] = (eddy_topic_partition){offsets[i].topic, offsets[i].partition};
        values[i] = offsets[i].offset;
    }
    /* A member commits only partitions it owns: the log consumer checks. */
    err = eddy_log_consumer_commit_offsets(c->lc, tps, values, count);
    eddy__free(tps);
    eddy__free(values);
    return err;
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
    /* A member's destroy revokes, auto-committing through on_rebalance. */
    if (base->mode != EDDY__CONSUMER_SUBSCRIBED && base->settings.auto_commit && base->group_id) {
        err = commit_positions(c, NULL, 0);
        if (err != EDDY_OK)
            EDDY_WARN(MODULE, "group '%s': auto-commit on close: %s", base->group_id,
                      eddy_last_error());
    }
    eddy_log_consumer_destroy(c->lc);
    c->lc = NULL;
    c->paused_count = c->manual_count = 0;
    return err;
}

static void consumer_destroy(eddy__consumer *base)
{
    embedded_consumer *c = (embedded_consumer *)base;
    EDDY_ASSERT(!c->lc);
    eddy_config_destroy(c->lc_config);
    eddy__free(c->paused);
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
    .lag = consumer_lag,
    .member_id = consumer_member_id,
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
    eddy_config *lc_config = c ? eddy_config_new() : NULL;
    eddy_err err = lc_config ? EDDY_OK : eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory");
    /* The seam auto-commits itself (on its interval, before revoking, on close). */
    if (err == EDDY_OK)
        err = eddy_config_set(lc_config, "auto.offset.reset", resets[settings->offset_reset]);
    if (err == EDDY_OK)
        err = eddy_config_set(lc_config, "enable.auto.commit", "false");
    /* Made now, which checks the group id, as Kafka's consumer does, rather than at subscribe. */
    if (err == EDDY_OK)
        err = eddy_log_consumer_new(client_log(client), group_id, lc_config, &c->lc);
    if (err != EDDY_OK) {
        eddy_config_destroy(lc_config);
        eddy__free(c);
        return err;
    }
    c->base.ops = &embedded_consumer_ops;
    c->log = client_log(client);
    c->lc_config = lc_config;
    *out = &c->base;
    return EDDY_OK;
}
