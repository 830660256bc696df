/* The test driver (include/eddy/test_driver.h): the runtime's task code with no log.
 *
 * Every sub-topology is one task on partition 0 (global ones a global task); stores are in
 * memory. Records written to a repartition topic are queued and processed, in write order,
 * after the record in hand is done, as a real log would deliver them; every record written to
 * any topic is also kept, per topic, to be read by the test. */
#include "eddy/test_driver.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "runtime/runtime.h"
#include "runtime/task.h"
#include "store/store.h"
#include "store/window.h"
#include "topology/topology.h"

/* A record copied into one allocation. */
typedef struct stored_record {
    eddy_record rec; /* pointers into the allocation; topic points at the owner topic's name */
} stored_record;

typedef struct driver_topic {
    char *name;
    stored_record **records;
    size_t count, capacity;
    size_t read;         /* records read by the test */
    size_t processed;    /* internal topics: records looped back into their tasks */
    int64_t next_offset; /* the offset the next record written or piped gets */
} driver_topic;

struct eddy_test_driver {
    const eddy__topology *topology;
    eddy__streams_config config;
    eddy__task_host host;
    eddy__task **tasks; /* by sub-topology index */
    eddy_kv_store **stores;
    driver_topic *topics;
    size_t topic_count, topic_capacity;
    int64_t wall_clock_ms;
    bool failed;
};

static void stored_record_free(stored_record *s)
{
    eddy__free(s);
}

/* Copies a record (key, value, headers) into one allocation. */
static stored_record *stored_record_copy(const eddy_record *rec, const char *topic, int64_t offset)
{
    size_t size = sizeof(stored_record) + rec->key.len + rec->value.len;
    size += rec->header_count * sizeof(eddy_header);
    for (size_t i = 0; i < rec->header_count; i++)
        size += rec->headers[i].key.len + rec->headers[i].value.len;
    stored_record *s = eddy__malloc(size);
    if (!s)
        return NULL;
    uint8_t *p = (uint8_t *)(s + 1);
    eddy_header *headers = (eddy_header *)p;
    p += rec->header_count * sizeof(eddy_header);
    s->rec = *rec;
    s->rec.topic = topic;
    s->rec.offset = offset;
    s->rec.partition = 0;
    s->rec.headers = rec->header_count ? headers : NULL;
    eddy_slice *slices[2] = {&s->rec.key, &s->rec.value};
    for (int i = 0; i < 2; i++) {
        if (!slices[i]->data)
            continue;
        memcpy(p, slices[i]->data, slices[i]->len);
        slices[i]->data = p;
        p += slices[i]->len;
    }
    for (size_t i = 0; i < rec->header_count; i++) {
        headers[i] = rec->headers[i];
        eddy_slice *hs[2] = {&headers[i].key, &headers[i].value};
        for (int k = 0; k < 2; k++) {
            if (!hs[k]->data)
                continue;
            memcpy(p, hs[k]->data, hs[k]->len);
            hs[k]->data = p;
            p += hs[k]->len;
        }
    }
    return s;
}

static driver_topic *topic_find(eddy_test_driver *d, const char *name, bool create)
{
    for (size_t i = 0; i < d->topic_count; i++)
        if (strcmp(d->topics[i].name, name) == 0)
            return &d->topics[i];
    if (!create)
        return NULL;
    if (d->topic_count == d->topic_capacity) {
        size_t capacity = d->topic_capacity ? d->topic_capacity * 2 : 8;
        driver_topic *grown = eddy__realloc(d->topics, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        d->topics = grown;
        d->topic_capacity = capacity;
    }
    driver_topic *t = &d->topics[d->topic_count];
    memset(t, 0, sizeof *t);
    t->name = eddy__strdup(name);
    if (!t->name)
        return NULL;
    d->topic_count++;
    return t;
}

static eddy_err topic_append(driver_topic *t, const eddy_record *rec)
{
    if (t->count == t->capacity) {
        size_t capacity = t->capacity ? t->capacity * 2 : 16;
        stored_record **grown = eddy__realloc(t->records, capacity * sizeof *grown);
        if (!grown)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "test driver: out of memory");
        t->records = grown;
        t->capacity = capacity;
    }
    stored_record *s = stored_record_copy(rec, t->name, t->next_offset);
    if (!s)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "test driver: out of memory");
    t->next_offset++;
    t->records[t->count++] = s;
    return EDDY_OK;
}

/* The task (sub-topology index) whose sources read `topic`, or EDDY__NONE. */
static uint32_t task_for_topic(eddy_test_driver *d, const char *topic)
{
    const eddy__topology *t = d->topology;
    for (uint32_t s = 0; s < t->subtopology_count; s++) {
        char names[64][256];
        uint32_t n = eddy__subtopology_source_topics(t, s, d->config.application_id, names, 64);
        for (uint32_t i = 0; i < n && i < 64; i++)
            if (strcmp(names[i], topic) == 0)
                return s;
    }
    return EDDY__NONE;
}

static bool topic_is_internal(eddy_test_driver *d, const char *topic)
{
    const eddy__topology *t = d->topology;
    for (uint32_t i = 0; i < t->topic_count; i++) {
        char name[512];
        eddy__topic_full_name(&t->topics[i], d->config.application_id, name, sizeof name);
        if (t->topics[i].internal && strcmp(name, topic) == 0)
            return true;
    }
    return false;
}

static eddy_err host_send(void *opaque, eddy__task *task, const char *topic, int32_t partition,
                          const eddy_record *record)
{
    (void)task;
    (void)partition;
    eddy_test_driver *d = opaque;
    driver_topic *t = topic_find(d, topic, true);
    if (!t)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "test driver: out of memory");
    return topic_append(t, record);
}

static eddy_err host_open_store(void *opaque, eddy__task *task, uint32_t store, eddy_kv_store **out)
{
    (void)task;
    eddy_test_driver *d = opaque;
    if (!d->stores[store]) {
        const eddy__store *def = &d->topology->stores[store];
        /* Session stores and join buffers, scanned per record: store/windowed.c. */
        bool session = def->type == EDDY__STORE_SESSION;
        eddy_err err =
            session || def->retain_duplicates
                ? eddy__kv_store_open_memory_windowed(
                      def->name, eddy__window_suffix_bytes(session, def->retain_duplicates),
                      &d->stores[store])
                : eddy_kv_store_open_memory(def->name, &d->stores[store]);
        if (err != EDDY_OK)
            return err;
    }
    *out = d->stores[store];
    return EDDY_OK;
}

static int64_t host_wall_clock(void *opaque)
{
    return ((eddy_test_driver *)opaque)->wall_clock_ms;
}

static eddy_err driver_make_tasks(eddy_test_driver *d)
{
    const eddy__topology *t = d->topology;
    d->tasks = eddy__calloc(t->subtopology_count ? t->subtopology_count : 1, sizeof *d->tasks);
    d->stores = eddy__calloc(t->store_count ? t->store_count : 1, sizeof *d->stores);
    if (!d->tasks || !d->stores)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "test driver: out of memory");
    /* Global tasks first: other tasks' joins read their stores. */
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t s = 0; s < t->subtopology_count; s++) {
            bool global = t->subtopologies[s].global;
            if (global != (pass == 0))
                continue;
            eddy_err err = eddy__task_new(&d->host, s, global ? -1 : 0, &d->tasks[s]);
            if (err != EDDY_OK)
                return err;
        }
    }
    return EDDY_OK;
}

eddy_err eddy_test_driver_new(eddy_builder *builder, const eddy_config *config, int64_t start_ms,
                              eddy_test_driver **out)
{
    if (!out || !builder)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_test_driver_new: NULL argument");
    *out = NULL;
    const eddy__topology *topology;
    eddy_err err = eddy__builder_build(builder, &topology);
    if (err != EDDY_OK)
        return err;
    eddy_test_driver *d = eddy__calloc(1, sizeof *d);
    if (!d)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "test driver: out of memory");
    d->topology = topology;
    d->wall_clock_ms = start_ms;
    err = eddy__streams_config_parse(config, "test-driver", &d->config);
    if (err == EDDY_OK) {
        d->host = (eddy__task_host){
            .opaque = d,
            .application_id = d->config.application_id,
            .topology = topology,
            .send = host_send,
            .open_store = host_open_store,
            .wall_clock_ms = host_wall_clock,
            .deser_handler = d->config.deser_handler,
            .dlq_topic = d->config.dlq_topic,
            .default_key_serde = d->config.default_key_serde,
            .default_value_serde = d->config.default_value_serde,
            .processing_continue = d->config.processing_continue,
            .timestamp_mode = d->config.timestamp_mode,
        };
        err = driver_make_tasks(d);
    }
    if (err != EDDY_OK) {
        eddy_test_driver_destroy(d);
        return err;
    }
    *out = d;
    return EDDY_OK;
}

void eddy_test_driver_destroy(eddy_test_driver *d)
{
    if (!d)
        return;
    const eddy__topology *t = d->topology;
    if (d->tasks)
        for (uint32_t s = 0; s < t->subtopology_count; s++)
            eddy__task_destroy(d->tasks[s]);
    if (d->stores)
        for (uint32_t s = 0; s < t->store_count; s++)
            eddy_kv_store_close(d->stores[s]);
    for (size_t i = 0; i < d->topic_count; i++) {
        for (size_t r = 0; r < d->topics[i].count; r++)
            stored_record_free(d->topics[i].records[r]);
        eddy__free(d->topics[i].records);
        eddy__free(d->topics[i].name);
    }
    eddy__free(d->topics);
    eddy__free(d->tasks);
    eddy__free(d->stores);
    eddy__free(d);
}

/* Processes the records written to repartition topics since they were last looked at, oldest
 * topic position first, until none is left. */
static eddy_err drain_internal(eddy_test_driver *d)
{
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t i = 0; i < d->topic_count; i++) {
            driver_topic *t = &d->topics[i];
            if (t->processed == t->count || !topic_is_internal(d, t->name))
                continue;
            uint32_t s = task_for_topic(d, t->name);
            if (s == EDDY__NONE) {
                t->processed = t->count;
                continue;
            }
            while (t->processed < t->count) {
                /* Copy the pointer: processing may append to this topic and move the array. */
                stored_record *r = t->records[t->processed++];
                eddy_err err = eddy__task_process(d->tasks[s], &r->rec);
                if (err != EDDY_OK)
                    return err;
                t = &d->topics[i];
                progress = true;
            }
        }
    }
    return EDDY_OK;
}

eddy_err eddy_test_driver_pipe_record(eddy_test_driver *d, const char *topic,
                                      const eddy_record *record)
{
    if (!d || !topic || !record)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_test_driver_pipe: NULL argument");
    if (d->failed)
        return eddy__fail(EDDY_ERR_STATE, "test driver: stopped by an earlier error");
    uint32_t s = task_for_topic(d, topic);
    if (s == EDDY__NONE)
        return eddy__fail(EDDY_ERR_UNKNOWN_TOPIC, "test driver: no source reads topic %s", topic);
    driver_topic *t = topic_find(d, topic, true);
    if (!t)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "test driver: out of memory");
    eddy_record rec = *record;
    rec.topic = t->name;
    rec.partition = 0;
    rec.offset = t->next_offset++;
    eddy_err err = eddy__task_process(d->tasks[s], &rec);
    if (err == EDDY_OK)
        err = drain_internal(d);
    if (err != EDDY_OK)
        d->failed = true;
    return err;
}

eddy_err eddy_test_driver_pipe(eddy_test_driver *d, const char *topic, eddy_slice key,
                               eddy_slice value, int64_t timestamp_ms)
{
    eddy_record rec = {.key = key, .value = value, .timestamp_ms = timestamp_ms};
    return eddy_test_driver_pipe_record(d, topic, &rec);
}

eddy_err eddy_test_driver_advance_wall_clock(eddy_test_driver *d, int64_t ms)
{
    if (!d || ms < 0)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "eddy_test_driver_advance_wall_clock: needs a driver and ms >= 0");
    if (d->failed)
        return eddy__fail(EDDY_ERR_STATE, "test driver: stopped by an earlier error");
    d->wall_clock_ms += ms;
    eddy_err err = EDDY_OK;
    for (uint32_t s = 0; s < d->topology->subtopology_count && err == EDDY_OK; s++)
        err = eddy__task_punctuate_wall_clock(d->tasks[s], d->wall_clock_ms);
    if (err == EDDY_OK)
        err = drain_internal(d);
    if (err != EDDY_OK)
        d->failed = true;
    return err;
}

eddy_err eddy_test_driver_read(eddy_test_driver *d, const char *topic, eddy_record *out)
{
    if (!d || !topic || !out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_test_driver_read: NULL argument");
    driver_topic *t = topic_find(d, topic, false);
    if (!t || t->read == t->count)
        return EDDY_ERR_END;
    *out = t->records[t->read++]->rec;
    return EDDY_OK;
}

size_t eddy_test_driver_unread(eddy_test_driver *d, const char *topic)
{
    driver_topic *t = d && topic ? topic_find(d, topic, false) : NULL;
    return t ? t->count - t->read : 0;
}

eddy_kv_store *eddy_test_driver_store(eddy_test_driver *d, const char *name)
{
    if (!d || !name)
        return NULL;
    for (uint32_t s = 0; s < d->topology->store_count; s++)
        if (strcmp(d->topology->stores[s].name, name) == 0)
            return d->stores[s];
    return NULL;
}
