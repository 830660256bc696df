/* Instance metadata: which instance of an application hosts which tasks (metadata.h).
 *
 * Kafka Streams shares this in its group protocol's assignment data; eddy's runtime uses plain
 * consumer groups on both logs, so it shares it through a topic of the application's log
 * instead, which works alike on the embedded log and on Kafka:
 *
 *     topic   <application.id>-eddy-instances, 1 partition, cleanup.policy=compact
 *     key     the instance's application.server ("host:port")
 *     value   "v1 active=<task>,<task>,... standby=<task>,... members=<id>,..."   (tasks
 * "<sub-topology>_<partition>"; ids: the group member ids of the instance's stream threads, for
 * standby placement (placement.h); any list may be empty, and " members=..." may be missing, as
 * in the first records of this format), or null (a tombstone) when the instance closes
 *
 * Every instance publishes its record whenever its stream threads' tasks change, and reads the
 * topic from its start on a thread of its own. The owner of a task is the instance whose latest
 * record (by offset) claims it: when an instance dies without its tombstone, its claims stand
 * until the rebalance gives its tasks to others and their newer records win, as Kafka Streams'
 * metadata is stale until the rebalance. A record that does not parse is skipped with a
 * warning: the topic is shared by every instance, and one bad writer must not stop the rest. */
#include "runtime/metadata.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/logging.h"

#define METADATA_POLL_MS 50
#define METADATA_FLUSH_TIMEOUT_MS 30000
#define METADATA_VALUE_MAX 65536

typedef struct instance {
    char *server;
    char *active;  /* comma-separated task ids */
    char *standby; /* comma-separated task ids */
    char *members; /* comma-separated group member ids */
    int64_t offset;
} instance;

struct eddy__metadata {
    eddy__client *client;
    char topic[320];
    char server[256];
    eddy__producer *producer;
    eddy__consumer *consumer;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t changed;
    bool stop;
    char **thread_tasks;   /* by stream thread: comma-separated task ids (NULL: none) */
    char **thread_members; /* by stream thread: its group member id (NULL: none yet) */
    char *standby_tasks;   /* the standby tasks: comma-separated task ids (NULL: none) */
    int threads;
    uint64_t version, published;
    int64_t published_offset; /* of this instance's last record; -1 before the first */
    int64_t read_offset;      /* the next offset to read */
    instance *instances;
    size_t count, capacity;
};

void eddy__metadata_topic(const char *application_id, char *buf, size_t size)
{
    snprintf(buf, size, "%s-eddy-instances", application_id);
}

eddy_config *eddy__metadata_topic_config(void)
{
    eddy_config *c = eddy_config_new();
    if (c && eddy_config_set(c, "cleanup.policy", "compact") != EDDY_OK) {
        eddy_config_destroy(c);
        return NULL;
    }
    return c;
}

/* ---- The instances read ---------------------------------------------------------------------- */

static instance *instance_find(eddy__metadata *m, const char *server, size_t len)
{
    for (size_t i = 0; i < m->count; i++)
        if (strlen(m->instances[i].server) == len &&
            memcmp(m->instances[i].server, server, len) == 0)
            return &m->instances[i];
    return NULL;
}

static void instance_remove(eddy__metadata *m, instance *in)
{
    eddy__free(in->server);
    eddy__free(in->active);
    eddy__free(in->standby);
    eddy__free(in->members);
    *in = m->instances[--m->count];
}

static char *copy_n(const char *s, size_t len)
{
    char *c = eddy__malloc(len + 1);
    if (c) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

/* The lists of a value "v1 active=<list> standby=<list>[ members=<list>]", copied;
 * EDDY_ERR_CORRUPT when the value does not parse. */
static eddy_err value_parse(eddy_slice value, char **active, char **standby, char **members)
{
    *active = *standby = *members = NULL;
    static const char head[] = "v1 active=";
    size_t head_len = sizeof head - 1;
    if (value.len < head_len || value.len > METADATA_VALUE_MAX ||
        memcmp(value.data, head, head_len) != 0)
        return EDDY_ERR_CORRUPT;
    const char *list = (const char *)value.data + head_len,
               *stop = (const char *)value.data + value.len;
    const char *end = memchr(list, ' ', (size_t)(stop - list));
    if (!end || (size_t)(stop - end) < 9 || memcmp(end, " standby=", 9) != 0)
        return EDDY_ERR_CORRUPT;
    const char *standbys = end + 9;
    const char *standbys_end = memchr(standbys, ' ', (size_t)(stop - standbys));
    const char *ids = stop;
    if (standbys_end) {
        if ((size_t)(stop - standbys_end) < 9 || memcmp(standbys_end, " members=", 9) != 0)
            return EDDY_ERR_CORRUPT;
        ids = standbys_end + 9;
        if (memchr(ids, ' ', (size_t)(stop - ids)))
            return EDDY_ERR_CORRUPT;
    } else {
        standbys_end = stop;
    }
    *active = copy_n(list, (size_t)(end - list));
    *standby = copy_n(standbys, (size_t)(standbys_end - standbys));
    *members = copy_n(ids, (size_t)(stop - ids));
    if (*active && *standby && *members)
        return EDDY_OK;
    eddy__free(*active);
    eddy__free(*standby);
    eddy__free(*members);
    *active = *standby = *members = NULL;
    return EDDY_ERR_NO_MEMORY;
}

/* Applies one record of the topic (under the lock). */
static void record_apply(eddy__metadata *m, const eddy_record *rec)
{
    m->read_offset = rec->offset + 1;
    if (!rec->key.data || rec->key.len == 0 || rec->key.len > 255)
        return;
    instance *in = instance_find(m, rec->key.data, rec->key.len);
    if (!rec->value.data) {
        if (in)
            instance_remove(m, in);
        return;
    }
    char *active = NULL, *standby = NULL, *members = NULL;
    eddy_err err = value_parse(rec->value, &active, &standby, &members);
    if (err == EDDY_ERR_CORRUPT) {
        EDDY_WARN("runtime", "%s: skipping the record at offset %lld: not an instance record",
                  m->topic, (long long)rec->offset);
        return;
    }
    if (err != EDDY_OK)
        return;
    if (!in && m->count == m->capacity) {
        size_t capacity = m->capacity ? 2 * m->capacity : 8;
        instance *grown = eddy__realloc(m->instances, capacity * sizeof *grown);
        if (!grown) {
            eddy__free(active);
            eddy__free(standby);
            eddy__free(members);
            return;
        }
        m->instances = grown;
        m->capacity = capacity;
    }
    if (!in) {
        char *server = eddy__malloc(rec->key.len + 1);
        if (!server) {
            eddy__free(active);
            eddy__free(standby);
            eddy__free(members);
            return;
        }
        memcpy(server, rec->key.data, rec->key.len);
        server[rec->key.len] = '\0';
        in = &m->instances[m->count++];
        *in = (instance){server, NULL, NULL, NULL, 0};
    }
    eddy__free(in->active);
    eddy__free(in->standby);
    eddy__free(in->members);
    in->active = active;
    in->standby = standby;
    in->members = members;
    in->offset = rec->offset;
}

/* Whether the comma-separated list holds the task id. */
static bool list_contains(const char *list, const char *task_id)
{
    size_t len = strlen(task_id);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t item = comma ? (size_t)(comma - p) : strlen(p);
        if (item == len && memcmp(p, task_id, len) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

/* Whether instance `in` is gone without its tombstone (killed): another instance's newer record
 * claims one of the tasks its record claims. A live instance that loses a task in a rebalance
 * publishes its shorter list when the task is revoked, before the new owner can claim it, so
 * only a dead instance's claims are overtaken (a live one's at most for the moment between). An
 * instance that died claiming nothing stays listed (nothing overtakes it). Under the lock. */
static bool instance_stale(const eddy__metadata *m, const instance *in)
{
    for (const char *p = in->active; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char task[64];
        if (len < sizeof task) {
            memcpy(task, p, len);
            task[len] = '\0';
            for (size_t i = 0; i < m->count; i++)
                if (&m->instances[i] != in && m->instances[i].offset > in->offset &&
                    list_contains(m->instances[i].active, task))
                    return true;
        }
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

/* ---- Publishing --------------------------------------------------------------------------------
 */

static void on_delivery(eddy__producer *producer, const eddy__delivery *d, void *opaque)
{
    (void)producer;
    (void)opaque;
    int64_t *offset = d->record_opaque;
    *offset = d->err == EDDY_OK ? d->offset : -1;
}

/* Appends the threads' non-empty entries of `lists` to value, comma-separated. */
static size_t append_lists(char *value, size_t at, size_t len, char *const *lists, int threads)
{
    bool first = true;
    for (int t = 0; t < threads; t++) {
        if (!lists[t] || !lists[t][0])
            continue;
        at += (size_t)snprintf(value + at, len - at, "%s%s", first ? "" : ",", lists[t]);
        first = false;
    }
    return at;
}

/* This instance's record value: the union of the threads' lists (under the lock). */
static char *value_make(eddy__metadata *m)
{
    size_t len =
        sizeof "v1 active= standby= members=" + (m->standby_tasks ? strlen(m->standby_tasks) : 0);
    for (int t = 0; t < m->threads; t++) {
        len += m->thread_tasks[t] ? strlen(m->thread_tasks[t]) + 1 : 0;
        len += m->thread_members[t] ? strlen(m->thread_members[t]) + 1 : 0;
    }
    char *value = eddy__malloc(len);
    if (!value)
        return NULL;
    size_t at = (size_t)snprintf(value, len, "v1 active=");
    at = append_lists(value, at, len, m->thread_tasks, m->threads);
    at += (size_t)snprintf(value + at, len - at,
                           " standby=%s members=", m->standby_tasks ? m->standby_tasks : "");
    append_lists(value, at, len, m->thread_members, m->threads);
    return value;
}

/* Writes this instance's record (value NULL: its tombstone) and waits for it; returns its
 * offset, or -1 when it could not be written (logged; the next change tries again). */
static int64_t publish(eddy__metadata *m, const char *value)
{
    eddy_record rec = {.key = {m->server, strlen(m->server)},
                       .value = {value, value ? strlen(value) : 0},
                       .timestamp_ms = -1};
    int64_t offset = -1;
    eddy_err err = eddy__producer_send(m->producer, m->topic, 0, &rec, &offset);
    if (err == EDDY_OK)
        err = eddy__producer_flush(m->producer, METADATA_FLUSH_TIMEOUT_MS);
    if (err != EDDY_OK || offset < 0)
        EDDY_WARN("runtime", "%s: publishing this instance's tasks failed: %s", m->topic,
                  eddy_last_error());
    return err == EDDY_OK ? offset : -1;
}

static void publish_pending(eddy__metadata *m)
{
    pthread_mutex_lock(&m->lock);
    uint64_t version = m->version;
    char *value = version != m->published ? value_make(m) : NULL;
    pthread_mutex_unlock(&m->lock);
    if (!value)
        return;
    int64_t offset = publish(m, value);
    eddy__free(value);
    pthread_mutex_lock(&m->lock);
    if (offset >= 0) {
        m->published = version;
        m->published_offset = offset;
    }
    pthread_mutex_unlock(&m->lock);
}

static void *metadata_main(void *arg)
{
    eddy__metadata *m = arg;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        bool stop = m->stop;
        pthread_mutex_unlock(&m->lock);
        if (stop)
            break;
        publish_pending(m);
        eddy_record rec;
        eddy_err err;
        int timeout = METADATA_POLL_MS;
        while ((err = eddy__consumer_poll(m->consumer, timeout, &rec)) == EDDY_OK) {
            pthread_mutex_lock(&m->lock);
            record_apply(m, &rec);
            pthread_cond_broadcast(&m->changed);
            pthread_mutex_unlock(&m->lock);
            timeout = 0;
        }
        if (err != EDDY_ERR_TIMED_OUT)
            EDDY_WARN("runtime", "%s: reading: %s", m->topic, eddy_last_error());
    }
    return NULL;
}

/* ---- Public to the runtime ----------------------------------------------------------------------
 */

eddy_err eddy__metadata_start(eddy__client *client, const char *application_id, const char *server,
                              int threads, eddy__metadata **out)
{
    *out = NULL;
    eddy__metadata *m = eddy__calloc(1, sizeof *m);
    if (!m)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory starting instance metadata");
    m->client = client;
    eddy__metadata_topic(application_id, m->topic, sizeof m->topic);
    snprintf(m->server, sizeof m->server, "%s", server);
    m->threads = threads;
    m->published_offset = -1;
    m->version = 1; /* publish at once, even with no task yet: the instance is there */
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->changed, NULL);
    m->thread_tasks = eddy__calloc((size_t)threads, sizeof(char *));
    m->thread_members = eddy__calloc((size_t)threads, sizeof(char *));
    eddy_config *config = eddy_config_new();
    eddy_err err = m->thread_tasks && m->thread_members && config ? EDDY_OK : EDDY_ERR_NO_MEMORY;
    if (err == EDDY_OK)
        err = eddy_config_set(config, "linger.ms", "0");
    if (err == EDDY_OK)
        err = eddy__producer_new(client, config, on_delivery, NULL, &m->producer);
    if (err == EDDY_OK)
        err = eddy_config_set(config, "auto.offset.reset", "earliest");
    if (err == EDDY_OK)
        err = eddy__consumer_new(client, NULL, config, &m->consumer);
    eddy_config_destroy(config);
    eddy__topic_partition_offset tp = {m->topic, 0, EDDY_OFFSET_BEGINNING};
    if (err == EDDY_OK)
        err = eddy__consumer_assign(m->consumer, &tp, 1);
    if (err == EDDY_OK && pthread_create(&m->thread, NULL, metadata_main, m) != 0)
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "cannot start the instance metadata thread");
    if (err != EDDY_OK) {
        eddy__metadata_stop(m);
        return err == EDDY_ERR_NO_MEMORY && !eddy_last_error()[0]
                   ? eddy__fail(err, "out of memory starting instance metadata")
                   : err;
    }
    m->started = true;
    *out = m;
    return EDDY_OK;
}

/* The comma-separated list of the ids; NULL on no memory. */
static char *list_make(const char *const *task_ids, size_t count)
{
    size_t len = 1;
    for (size_t i = 0; i < count; i++)
        len += strlen(task_ids[i]) + 1;
    char *list = eddy__malloc(len);
    if (!list)
        return NULL;
    size_t at = 0;
    list[0] = '\0';
    for (size_t i = 0; i < count; i++)
        at += (size_t)snprintf(list + at, len - at, "%s%s", i ? "," : "", task_ids[i]);
    return list;
}

void eddy__metadata_set_standbys(eddy__metadata *m, const char *const *task_ids, size_t count)
{
    char *list = m ? list_make(task_ids, count) : NULL;
    if (!list)
        return; /* the previous list stands; the next change publishes again */
    pthread_mutex_lock(&m->lock);
    if (m->standby_tasks && strcmp(m->standby_tasks, list) == 0) {
        pthread_mutex_unlock(&m->lock);
        eddy__free(list);
        return;
    }
    eddy__free(m->standby_tasks);
    m->standby_tasks = list;
    m->version++;
    pthread_mutex_unlock(&m->lock);
}

void eddy__metadata_set_tasks(eddy__metadata *m, int thread, const char *const *task_ids,
                              size_t count)
{
    if (!m || thread < 0 || thread >= m->threads)
        return;
    char *list = list_make(task_ids, count);
    if (!list)
        return; /* the previous list stands; the next change publishes again */
    pthread_mutex_lock(&m->lock);
    eddy__free(m->thread_tasks[thread]);
    m->thread_tasks[thread] = list;
    m->version++;
    pthread_mutex_unlock(&m->lock);
}

void eddy__metadata_set_member(eddy__metadata *m, int thread, const char *member_id)
{
    if (!m || thread < 0 || thread >= m->threads)
        return;
    /* A member id becomes part of a comma-separated list in a space-separated value. */
    if (strpbrk(member_id, ", ") || strlen(member_id) > 255)
        member_id = "";
    pthread_mutex_lock(&m->lock);
    const char *now = m->thread_members[thread] ? m->thread_members[thread] : "";
    char *copy = strcmp(now, member_id) != 0 ? eddy__strdup(member_id) : NULL;
    if (copy) {
        eddy__free(m->thread_members[thread]);
        m->thread_members[thread] = copy;
        m->version++;
    }
    pthread_mutex_unlock(&m->lock);
}

eddy_err eddy__metadata_owner(eddy__metadata *m, const char *task_id, char **server)
{
    *server = NULL;
    pthread_mutex_lock(&m->lock);
    const instance *best = NULL;
    for (size_t i = 0; i < m->count; i++)
        if (list_contains(m->instances[i].active, task_id) &&
            (!best || m->instances[i].offset > best->offset))
            best = &m->instances[i];
    eddy_err err = EDDY_OK;
    if (best && !(*server = eddy__strdup(best->server)))
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_unlock(&m->lock);
    return err;
}

eddy_err eddy__metadata_standbys(eddy__metadata *m, const char *task_id, char **servers)
{
    pthread_mutex_lock(&m->lock);
    size_t len = 1;
    for (size_t i = 0; i < m->count; i++)
        len += strlen(m->instances[i].server) + 1;
    char *out = eddy__malloc(len);
    size_t at = 0;
    for (size_t i = 0; out && i < m->count; i++)
        if (list_contains(m->instances[i].standby, task_id))
            at +=
                (size_t)snprintf(out + at, len - at, "%s%s", at ? "," : "", m->instances[i].server);
    if (out && at == 0)
        out[0] = '\0';
    pthread_mutex_unlock(&m->lock);
    *servers = out;
    return out ? EDDY_OK : eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
}

eddy_err eddy__metadata_servers(eddy__metadata *m, char ***servers, char ***members, size_t *count)
{
    *servers = NULL;
    if (members)
        *members = NULL;
    *count = 0;
    pthread_mutex_lock(&m->lock);
    size_t n = 0;
    char **out = eddy__calloc(m->count ? m->count : 1, sizeof *out);
    char **ids = members ? eddy__calloc(m->count ? m->count : 1, sizeof *ids) : NULL;
    eddy_err err = out && (ids || !members) ? EDDY_OK : EDDY_ERR_NO_MEMORY;
    for (size_t i = 0; err == EDDY_OK && i < m->count; i++) {
        const instance *in = &m->instances[i];
        if (instance_stale(m, in))
            continue;
        if (!(out[n] = eddy__strdup(in->server)) ||
            (ids && !(ids[n] = eddy__strdup(in->members ? in->members : ""))))
            err = EDDY_ERR_NO_MEMORY;
        n++;
    }
    pthread_mutex_unlock(&m->lock);
    if (err != EDDY_OK) {
        eddy__client_names_free(out, out ? n : 0);
        eddy__client_names_free(ids, ids ? n : 0);
        return eddy__fail(err, "out of memory listing the instances");
    }
    *servers = out;
    if (members)
        *members = ids;
    *count = n;
    return EDDY_OK;
}

static int server_compare(const void *a, const void *b)
{
    return strcmp(((const instance *)a)->server, ((const instance *)b)->server);
}

eddy_err eddy__metadata_describe(eddy__metadata *m, char **text)
{
    *text = NULL;
    pthread_mutex_lock(&m->lock);
    qsort(m->instances, m->count, sizeof *m->instances, server_compare);
    size_t len = 1;
    for (size_t i = 0; i < m->count; i++)
        len += strlen(m->instances[i].server) + strlen(m->instances[i].active) +
               strlen(m->instances[i].standby) + strlen(m->instances[i].members) + 48;
    char *out = eddy__malloc(len);
    size_t at = 0;
    if (out) {
        out[0] = '\0';
        for (size_t i = 0; i < m->count; i++)
            if (!instance_stale(m, &m->instances[i]))
                at += (size_t)snprintf(out + at, len - at, "%s active=%s standby=%s members=%s\n",
                                       m->instances[i].server, m->instances[i].active,
                                       m->instances[i].standby, m->instances[i].members);
    }
    pthread_mutex_unlock(&m->lock);
    if (!out)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory describing the instances");
    *text = out;
    return EDDY_OK;
}

eddy_err eddy__metadata_sync(eddy__metadata *m, int timeout_ms)
{
    int64_t deadline = eddy__now_ms() + timeout_ms;
    pthread_mutex_lock(&m->lock);
    eddy_err err = EDDY_OK;
    while (m->published != m->version || m->published_offset < 0 ||
           m->read_offset <= m->published_offset) {
        int64_t left = deadline - eddy__now_ms();
        if (left <= 0) {
            err = eddy__fail(EDDY_ERR_TIMED_OUT,
                             "%s: this instance's tasks not published after "
                             "%d ms",
                             m->topic, timeout_ms);
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = left < 20 ? left : 20;
        ts.tv_nsec += (long)wait * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&m->changed, &m->lock, &ts);
    }
    pthread_mutex_unlock(&m->lock);
    return err;
}

void eddy__metadata_stop(eddy__metadata *m)
{
    if (!m)
        return;
    if (m->started) {
        pthread_mutex_lock(&m->lock);
        m->stop = true;
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
        publish(m, NULL); /* the instance is gone */
    }
    eddy__consumer_destroy(m->consumer);
    eddy__producer_destroy(m->producer);
    eddy__client_names_free(m->thread_tasks, m->thread_tasks ? (size_t)m->threads : 0);
    eddy__client_names_free(m->thread_members, m->thread_members ? (size_t)m->threads : 0);
    eddy__free(m->standby_tasks);
    for (size_t i = 0; i < m->count; i++) {
        eddy__free(m->instances[i].server);
        eddy__free(m->instances[i].active);
        eddy__free(m->instances[i].standby);
        eddy__free(m->instances[i].members);
    }
    eddy__free(m->instances);
    pthread_cond_destroy(&m->changed);
    pthread_mutex_destroy(&m->lock);
    eddy__free(m);
}
