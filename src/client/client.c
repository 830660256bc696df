/* The client seam's front: chooses the backend from configuration, reads and checks producer
 * and consumer configuration once for every backend, checks arguments and states, implements
 * create-if-not-exists on top of a backend's plain create, and dispatches the rest through the
 * backend's operation tables (backend.h). */
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "client/backend.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"

#define CLIENT_LOG_DIR_DEFAULT "./eddy-data"

/* Producer defaults are librdkafka's, so that the Kafka backend needs no overrides and both
 * backends batch alike. batch.size: the Java producer's 16384 would cost the embedded log twelve
 * times its acks=all throughput (each batch waits for one fdatasync on the sending thread:
 * 0.2 M against 2.5 M records/s of 100 bytes here). Ranges: linger.ms is librdkafka's; a full
 * batch plus the batch header must stay within the largest batch the log accepts. */
#define LINGER_MS_DEFAULT 5
#define LINGER_MS_MAX EDDY_PRODUCER_LINGER_MS_MAX
#define BATCH_BYTES_DEFAULT 1000000
#define BATCH_BYTES_MAX EDDY_PRODUCER_BATCH_BYTES_MAX
#define QUEUE_RECORDS_DEFAULT 100000
#define QUEUE_RECORDS_MAX EDDY_PRODUCER_QUEUE_RECORDS_MAX
#define AUTO_COMMIT_INTERVAL_MS_DEFAULT 5000
#define AUTO_COMMIT_INTERVAL_MS_MAX EDDY_AUTO_COMMIT_INTERVAL_MS_MAX

/* ------------------------------------------------------------------------------------------ */
/* Client                                                                                     */

eddy_err eddy__client_new(const eddy_config *config, eddy__client **out)
{
    if (!out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "client: out is NULL");
    *out = NULL;
    const char *servers = config ? eddy_config_get(config, "bootstrap.servers") : NULL;
    if (servers && servers[0] != '\0')
        return eddy__kafka_client_new(config, out);
    const char *dir = config ? eddy_config_get(config, "log.dir") : NULL;
    if (!dir)
        dir = CLIENT_LOG_DIR_DEFAULT;
    if (dir[0] == '\0')
        return eddy__fail(EDDY_ERR_CONFIG, "config log.dir: '' is not a directory path");
    return eddy__embedded_client_new(dir, out);
}

eddy_err eddy__client_config_check(const char *key, const char *value)
{
    return eddy__kafka_property_check(key, value);
}

void eddy__client_destroy(eddy__client *client)
{
    if (client)
        client->ops->destroy(client);
}

const char *eddy__client_backend(const eddy__client *client)
{
    return client->ops->name;
}

/* ------------------------------------------------------------------------------------------ */
/* Admin                                                                                      */

static eddy_err topic_check(const char *what, const char *topic)
{
    if (!topic)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "%s: topic is NULL", what);
    return EDDY_OK;
}

eddy_err eddy__client_topic_create(eddy__client *client, const char *topic, int32_t partitions,
                                   const eddy_config *topic_config, int flags)
{
    eddy_err err = topic_check("create topic", topic);
    if (err != EDDY_OK)
        return err;
    err = client->ops->topic_create(client, topic, partitions, topic_config);
    if (err != EDDY_ERR_EXISTS || !(flags & EDDY__TOPIC_IF_NOT_EXISTS))
        return err;
    /* It exists: another instance may have created it a moment ago. Only its partition count
     * decides whether it is the topic we wanted. */
    int32_t existing = 0;
    err = client->ops->topic_partitions(client, topic, &existing);
    if (err != EDDY_OK)
        return err;
    if (existing != partitions)
        return eddy__fail(EDDY_ERR_EXISTS,
                          "topic '%s' already exists with %d partitions, not the %d requested",
                          topic, (int)existing, (int)partitions);
    return EDDY_OK;
}

eddy_err eddy__client_topic_delete(eddy__client *client, const char *topic)
{
    eddy_err err = topic_check("delete topic", topic);
    return err != EDDY_OK ? err : client->ops->topic_delete(client, topic);
}

eddy_err eddy__client_topic_partitions(eddy__client *client, const char *topic, int32_t *partitions)
{
    eddy_err err = topic_check("partitions", topic);
    return err != EDDY_OK ? err : client->ops->topic_partitions(client, topic, partitions);
}

eddy_err eddy__client_topic_list(eddy__client *client, char ***names, size_t *count)
{
    return client->ops->topic_list(client, names, count);
}

void eddy__client_names_free(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        eddy__free(names[i]);
    eddy__free(names);
}

eddy_err eddy__client_watermarks(eddy__client *client, const char *topic, int32_t partition,
                                 int64_t *low, int64_t *high)
{
    eddy_err err = topic_check("watermarks", topic);
    if (err == EDDY_OK && partition < 0)
        err = eddy__fail(EDDY_ERR_UNKNOWN_PARTITION, "watermarks: topic '%s' has no partition %d",
                         topic, (int)partition);
    return err != EDDY_OK ? err : client->ops->watermarks(client, topic, partition, low, high);
}

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                              */

static eddy_err settings_acks(const eddy_config *config, eddy_acks *acks)
{
    const char *v = config ? eddy_config_get(config, "acks") : NULL;
    *acks = EDDY_ACKS_ALL;
    if (!v || strcmp(v, "all") == 0 || strcmp(v, "-1") == 0)
        return EDDY_OK;
    if (strcmp(v, "1") == 0 || strcmp(v, "0") == 0) {
        *acks = EDDY_ACKS_LEADER;
        return EDDY_OK;
    }
    return eddy__fail(EDDY_ERR_CONFIG, "config acks: '%s' is not one of all, -1, 1, 0", v);
}

static eddy_err producer_settings(const eddy_config *config, eddy__producer_settings *s)
{
    eddy_err err = settings_acks(config, &s->acks);
    if (err == EDDY_OK)
        err = eddy_config_get_i64(config, "linger.ms", LINGER_MS_DEFAULT, 0, LINGER_MS_MAX,
                                  &s->linger_ms);
    if (err == EDDY_OK)
        err = eddy_config_get_i64(config, "batch.size", BATCH_BYTES_DEFAULT, 1, BATCH_BYTES_MAX,
                                  &s->batch_bytes);
    if (err == EDDY_OK)
        err = eddy_config_get_i64(config, "queue.buffering.max.messages", QUEUE_RECORDS_DEFAULT, 1,
                                  QUEUE_RECORDS_MAX, &s->queue_records_max);
    return err;
}

static eddy_err consumer_settings(const eddy_config *config, eddy__consumer_settings *s)
{
    s->offset_reset = EDDY__RESET_LATEST;
    s->auto_commit = 0;
    const char *v = config ? eddy_config_get(config, "auto.offset.reset") : NULL;
    if (v && strcmp(v, "earliest") == 0)
        s->offset_reset = EDDY__RESET_EARLIEST;
    else if (v && strcmp(v, "none") == 0)
        s->offset_reset = EDDY__RESET_NONE;
    else if (v && strcmp(v, "latest") != 0)
        return eddy__fail(EDDY_ERR_CONFIG,
                          "config auto.offset.reset: '%s' is not one of earliest, latest, none", v);
    v = config ? eddy_config_get(config, "enable.auto.commit") : NULL;
    if (v && strcasecmp(v, "true") == 0)
        s->auto_commit = 1;
    else if (v && strcasecmp(v, "false") != 0)
        return eddy__fail(EDDY_ERR_CONFIG,
                          "config enable.auto.commit: '%s' is not one of true, false", v);
    return eddy_config_get_i64(config, "auto.commit.interval.ms", AUTO_COMMIT_INTERVAL_MS_DEFAULT,
                               0, AUTO_COMMIT_INTERVAL_MS_MAX, &s->auto_commit_interval_ms);
}

/* ------------------------------------------------------------------------------------------ */
/* Producer                                                                                   */

eddy_err eddy__producer_new(eddy__client *client, const eddy_config *config, eddy__delivery_cb cb,
                            void *opaque, eddy__producer **out)
{
    if (!client || !out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "producer: NULL %s",
                          client ? "out" : "client");
    *out = NULL;
    eddy__producer_settings settings;
    eddy_err err = producer_settings(config, &settings);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "producer");
    eddy__producer *p = NULL;
    err = client->ops->producer_new(client, &settings, config, &p);
    if (err != EDDY_OK)
        return err;
    EDDY_ASSERT(p && p->ops);
    p->client = client;
    p->settings = settings;
    p->cb = cb;
    p->opaque = opaque;
    *out = p;
    return EDDY_OK;
}

eddy_err eddy__producer_send(eddy__producer *p, const char *topic, int32_t partition,
                             const eddy_record *record, void *record_opaque)
{
    if (!topic || !record)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "send: %s is NULL",
                          topic ? "record" : "topic");
    if (partition < -1)
        return eddy__fail(EDDY_ERR_UNKNOWN_PARTITION, "send: topic '%s' has no partition %d", topic,
                          (int)partition);
    if (record->header_count > EDDY_RECORD_HEADERS_MAX ||
        (record->header_count > 0 && !record->headers))
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "send: topic '%s': %zu headers (at most %d, and not NULL)", topic,
                          record->header_count, EDDY_RECORD_HEADERS_MAX);
    return p->ops->send(p, topic, partition, record, record_opaque);
}

int eddy__producer_poll(eddy__producer *p, int timeout_ms)
{
    if (p->in_callback)
        return eddy__fail(EDDY_ERR_STATE, "producer poll called from a delivery callback");
    return p->ops->poll(p, timeout_ms);
}

eddy_err eddy__producer_flush(eddy__producer *p, int timeout_ms)
{
    if (p->in_callback)
        return eddy__fail(EDDY_ERR_STATE, "producer flush called from a delivery callback");
    return p->ops->flush(p, timeout_ms);
}

size_t eddy__producer_outstanding(const eddy__producer *p)
{
    return p->ops->outstanding(p);
}

void eddy__producer_destroy(eddy__producer *p)
{
    if (!p)
        return;
    EDDY_ASSERT(!p->in_callback); /* destroying a producer from its own callback */
    p->ops->destroy(p);
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer                                                                                   */

eddy_err eddy__consumer_new(eddy__client *client, const char *group_id, const eddy_config *config,
                            eddy__consumer **out)
{
    if (!client || !out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "consumer: NULL %s",
                          client ? "out" : "client");
    *out = NULL;
    eddy__consumer_settings settings;
    eddy_err err = consumer_settings(config, &settings);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "consumer");
    char *group = NULL;
    if (group_id && !(group = eddy__strdup(group_id)))
        return eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory");
    eddy__consumer *c = NULL;
    err = client->ops->consumer_new(client, group_id, &settings, config, &c);
    if (err != EDDY_OK) {
        eddy__free(group);
        return err;
    }
    EDDY_ASSERT(c && c->ops);
    c->client = client;
    c->group_id = group;
    c->settings = settings;
    c->mode = EDDY__CONSUMER_IDLE;
    *out = c;
    return EDDY_OK;
}

void eddy__consumer_notify(eddy__consumer *c, eddy__rebalance_event event,
                           const eddy_topic_partition *partitions, size_t count)
{
    if (!c->cb || count == 0)
        return;
    int nested = c->in_callback;
    c->in_callback = 1;
    c->cb(c, event, partitions, count, c->opaque);
    c->in_callback = nested;
}

/* Checks common to every consumer call: not closed, and not from a rebalance callback when
 * `callback_ok` is 0. */
static eddy_err consumer_usable(const eddy__consumer *c, const char *what, int callback_ok)
{
    if (c->closed)
        return eddy__fail(EDDY_ERR_STATE, "consumer %s: the consumer is closed", what);
    if (!callback_ok && c->in_callback)
        return eddy__fail(EDDY_ERR_STATE, "consumer %s called from a rebalance callback", what);
    return EDDY_OK;
}

static eddy_err consumer_group_needed(const eddy__consumer *c, const char *what)
{
    if (!c->group_id)
        return eddy__fail(EDDY_ERR_STATE, "consumer %s: the consumer has no group id", what);
    return EDDY_OK;
}

static eddy_err partition_check(const char *what, const char *topic, int32_t partition)
{
    if (!topic)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "%s: topic is NULL", what);
    if (partition < 0)
        return eddy__fail(EDDY_ERR_UNKNOWN_PARTITION, "%s: topic '%s' has no partition %d", what,
                          topic, (int)partition);
    return EDDY_OK;
}

eddy_err eddy__consumer_subscribe(eddy__consumer *c, const char *const *topics, size_t count,
                                  eddy__rebalance_cb cb, void *opaque)
{
    eddy_err err = consumer_usable(c, "subscribe", 0);
    if (err == EDDY_OK)
        err = consumer_group_needed(c, "subscribe");
    if (err == EDDY_OK && c->mode == EDDY__CONSUMER_MANUAL)
        err = eddy__fail(EDDY_ERR_STATE, "subscribe: the consumer has a manual assignment");
    if (err == EDDY_OK && (!topics || count == 0 || count > EDDY_SUBSCRIPTION_TOPICS_MAX))
        err =
            eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "subscribe: %zu topics; a subscription has 1-%d",
                       count, EDDY_SUBSCRIPTION_TOPICS_MAX);
    for (size_t i = 0; err == EDDY_OK && i < count; i++)
        err = topic_check("subscribe", topics[i]);
    if (err != EDDY_OK)
        return err;
    /* The callback is in place before the first rebalance can run. */
    eddy__rebalance_cb old_cb = c->cb;
    void *old_opaque = c->opaque;
    c->cb = cb;
    c->opaque = opaque;
    err = c->ops->subscribe(c, topics, count);
    if (err != EDDY_OK) {
        c->cb = old_cb;
        c->opaque = old_opaque;
        return err;
    }
    c->mode = EDDY__CONSUMER_SUBSCRIBED;
    return EDDY_OK;
}

eddy_err eddy__consumer_unsubscribe(eddy__consumer *c)
{
    eddy_err err = consumer_usable(c, "unsubscribe", 0);
    if (err != EDDY_OK || c->mode != EDDY__CONSUMER_SUBSCRIBED)
        return err;
    err = c->ops->unsubscribe(c);
    c->mode = EDDY__CONSUMER_IDLE;
    return err;
}

eddy_err eddy__consumer_assign(eddy__consumer *c, const eddy__topic_partition_offset *partitions,
                               size_t count)
{
    eddy_err err = consumer_usable(c, "assign", 0);
    if (err == EDDY_OK && c->mode == EDDY__CONSUMER_SUBSCRIBED)
        err = eddy__fail(EDDY_ERR_STATE, "assign: the consumer is subscribed to group '%s'",
                         c->group_id);
    if (err == EDDY_OK && count > 0 && !partitions)
        err = eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "assign: %zu partitions at NULL", count);
    for (size_t i = 0; err == EDDY_OK && i < count; i++) {
        const eddy__topic_partition_offset *tp = &partitions[i];
        err = partition_check("assign", tp->topic, tp->partition);
        if (err == EDDY_OK && tp->offset < 0 && tp->offset != EDDY_OFFSET_BEGINNING &&
            tp->offset != EDDY_OFFSET_END && tp->offset != EDDY_OFFSET_STORED &&
            tp->offset != EDDY__OFFSET_INVALID)
            err = eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                             "assign: topic '%s' partition %d: bad offset %" PRId64, tp->topic,
                             (int)tp->partition, tp->offset);
        for (size_t j = 0; err == EDDY_OK && j < i; j++)
            if (partitions[j].partition == tp->partition &&
                strcmp(partitions[j].topic, tp->topic) == 0)
                err = eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                                 "assign: topic '%s' partition %d is listed twice", tp->topic,
                                 (int)tp->partition);
    }
    if (err != EDDY_OK)
        return err;
    err = c->ops->assign(c, partitions, count);
    if (err == EDDY_OK)
        c->mode = count > 0 ? EDDY__CONSUMER_MANUAL : EDDY__CONSUMER_IDLE;
    return err;
}

eddy_err eddy__consumer_unassign(eddy__consumer *c)
{
    return eddy__consumer_assign(c, NULL, 0);
}

eddy_err eddy__consumer_assignment(eddy__consumer *c, const eddy_topic_partition **partitions,
                                   size_t *count)
{
    eddy_err err = consumer_usable(c, "assignment", 1);
    return err != EDDY_OK ? err : c->ops->assignment(c, partitions, count);
}

eddy_err eddy__consumer_poll(eddy__consumer *c, int timeout_ms, eddy_record *record)
{
    eddy_err err = consumer_usable(c, "poll", 0);
    if (err == EDDY_OK && !record)
        err = eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "consumer poll: record is NULL");
    return err != EDDY_OK ? err : c->ops->poll(c, timeout_ms, record);
}

eddy_err eddy__consumer_seek(eddy__consumer *c, const char *topic, int32_t partition,
                             int64_t offset)
{
    eddy_err err = consumer_usable(c, "seek", 1);
    if (err == EDDY_OK)
        err = partition_check("seek", topic, partition);
    if (err == EDDY_OK && offset < 0 && offset != EDDY_OFFSET_BEGINNING &&
        offset != EDDY_OFFSET_END)
        err = eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                         "seek: topic '%s' partition %d: bad offset %" PRId64, topic,
                         (int)partition, offset);
    return err != EDDY_OK ? err : c->ops->seek(c, topic, partition, offset);
}

eddy_err eddy__consumer_position(eddy__consumer *c, const char *topic, int32_t partition,
                                 int64_t *offset)
{
    eddy_err err = consumer_usable(c, "position", 1);
    if (err == EDDY_OK)
        err = partition_check("position", topic, partition);
    return err != EDDY_OK ? err : c->ops->position(c, topic, partition, offset);
}

eddy_err eddy__consumer_lag(eddy__consumer *c, const char *topic, int32_t partition, int64_t *lag)
{
    eddy_err err = consumer_usable(c, "lag", 1);
    if (err == EDDY_OK)
        err = partition_check("lag", topic, partition);
    return err != EDDY_OK ? err : c->ops->lag(c, topic, partition, lag);
}

eddy_err eddy__consumer_member_id(eddy__consumer *c, char *buf, size_t size)
{
    if (size > 0)
        buf[0] = '\0';
    eddy_err err = consumer_usable(c, "member_id", 1);
    if (err == EDDY_OK && size > 0)
        c->ops->member_id(c, buf, size);
    return err;
}

static eddy_err consumer_pause_resume(eddy__consumer *c, const eddy_topic_partition *partitions,
                                      size_t count, int pause)
{
    const char *what = pause ? "pause" : "resume";
    eddy_err err = consumer_usable(c, what, 1);
    if (err == EDDY_OK && count > 0 && !partitions)
        err = eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "%s: %zu partitions at NULL", what, count);
    for (size_t i = 0; err == EDDY_OK && i < count; i++)
        err = partition_check(what, partitions[i].topic, partitions[i].partition);
    return err != EDDY_OK ? err : c->ops->pause(c, partitions, count, pause);
}

eddy_err eddy__consumer_pause(eddy__consumer *c, const eddy_topic_partition *partitions,
                              size_t count)
{
    return consumer_pause_resume(c, partitions, count, 1);
}

eddy_err eddy__consumer_resume(eddy__consumer *c, const eddy_topic_partition *partitions,
                               size_t count)
{
    return consumer_pause_resume(c, partitions, count, 0);
}

eddy_err eddy__consumer_commit(eddy__consumer *c, const eddy__topic_partition_offset *offsets,
                               size_t count)
{
    eddy_err err = consumer_usable(c, "commit", 1);
    if (err == EDDY_OK)
        err = consumer_group_needed(c, "commit");
    if (err == EDDY_OK && count > 0 && !offsets)
        err = eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "commit: %zu offsets at NULL", count);
    for (size_t i = 0; err == EDDY_OK && i < count; i++) {
        err = partition_check("commit", offsets[i].topic, offsets[i].partition);
        if (err == EDDY_OK && offsets[i].offset < 0)
            err = eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                             "commit: topic '%s' partition %d: bad offset %" PRId64,
                             offsets[i].topic, (int)offsets[i].partition, offsets[i].offset);
    }
    return err != EDDY_OK ? err : c->ops->commit(c, offsets, count);
}

eddy_err eddy__consumer_committed(eddy__consumer *c, const char *topic, int32_t partition,
                                  int64_t *offset)
{
    eddy_err err = consumer_usable(c, "committed", 1);
    if (err == EDDY_OK)
        err = consumer_group_needed(c, "committed");
    if (err == EDDY_OK)
        err = partition_check("committed", topic, partition);
    return err != EDDY_OK ? err : c->ops->committed(c, topic, partition, offset);
}

eddy_err eddy__consumer_close(eddy__consumer *c)
{
    eddy_err err = consumer_usable(c, "close", 0);
    if (err != EDDY_OK)
        return err;
    err = c->ops->close(c);
    c->closed = 1;
    c->mode = EDDY__CONSUMER_IDLE;
    return err;
}

void eddy__consumer_destroy(eddy__consumer *c)
{
    if (!c)
        return;
    EDDY_ASSERT(!c->in_callback); /* destroying a consumer from its own rebalance callback */
    if (!c->closed && eddy__consumer_close(c) != EDDY_OK)
        EDDY_WARN("client", "closing consumer of group '%s': %s",
                  c->group_id ? c->group_id : "(none)", eddy_last_error());
    char *group = c->group_id;
    c->ops->destroy(c);
    eddy__free(group);
}
