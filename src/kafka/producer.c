/* The Kafka backend's producer: one librdkafka producer handle.
 *
 * librdkafka batches, writes and retries on its own threads; what the seam asks of it:
 *   - idempotence (enable.idempotence=true with acks=all, the default), so that retries do not
 *     duplicate or reorder records within a partition;
 *   - partitioner=murmur2_random: murmur2 of the key as Java's default partitioner and the
 *     embedded log compute it (null keys: librdkafka's sticky partitioning);
 *   - acks, linger.ms, batch.size and queue.buffering.max.messages from the settings client.c
 *     read and checked;
 *   - the record copied (RD_KAFKA_MSG_F_COPY), with its headers and timestamp;
 *   - delivery reports only on the caller's thread: librdkafka calls the delivery callback
 *     from rd_kafka_poll() and rd_kafka_flush(), which only the seam's poll and flush call.
 * A topic is looked up once, in a metadata request for all topics, before the first record to
 * it is accepted: an unknown topic is refused at once, as on the embedded log, instead of being
 * named in a Metadata request that some brokers (and librdkafka's mock cluster) answer by
 * creating it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"
#include "kafka/kafka.h"

/* A topic this producer has sent to, with its partition count when last looked up. */
typedef struct known_topic {
    char *name;
    int32_t partitions;
} known_topic;

typedef struct kafka_producer {
    eddy__producer base;
    rd_kafka_t *rk;
    known_topic *topics;
    size_t topic_count, topic_cap;
    size_t last;        /* the topic sent to last: most sends go where the previous one went */
    int served;         /* delivery reports served by the current poll or flush */
    eddy_err flush_err; /* the first failure reported since the last flush */
    char flush_message[EDDY_ERROR_MESSAGE_MAX];
} kafka_producer;

/* ------------------------------------------------------------------------------------------ */
/* Delivery reports                                                                           */

/* librdkafka's delivery report callback, called from rd_kafka_poll() and rd_kafka_flush(), so
 * on the thread that called the seam's poll or flush. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_producer *p = opaque;
    const char *topic = rd_kafka_topic_name(m->rkt);
    eddy_err err = eddy__kafka_err(m->err);
    if (err != EDDY_OK) {
        eddy__fail(err, "delivery to topic '%s' partition %d: %s", topic, (int)m->partition,
                   rd_kafka_err2str(m->err));
        if (p->flush_err == EDDY_OK) {
            p->flush_err = err;
            snprintf(p->flush_message, sizeof(p->flush_message), "%s", eddy_last_error());
        }
    }
    p->served++;
    if (!p->base.cb)
        return;
    eddy__delivery d = {topic, m->partition, err == EDDY_OK ? m->offset : -1, err, m->_private};
    p->base.in_callback = 1;
    p->base.cb(&p->base, &d, p->base.opaque);
    p->base.in_callback = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Topics                                                                                     */

/* The topic's partition count, looked up (all topics' metadata) the first time and again when
 * `refresh` is set (a partition beyond the count: the topic may have grown). */
static eddy_err topic_known(kafka_producer *p, const char *topic, int refresh, int32_t *partitions)
{
    size_t at = p->topic_count;
    if (p->last < p->topic_count && strcmp(p->topics[p->last].name, topic) == 0)
        at = p->last;
    for (size_t i = 0; at == p->topic_count && i < p->topic_count; i++)
        if (strcmp(p->topics[i].name, topic) == 0)
            at = i;
    if (at < p->topic_count && !refresh) {
        p->last = at;
        *partitions = p->topics[at].partitions;
        return EDDY_OK;
    }
    int32_t count = 0;
    eddy_err err = eddy__kafka_topic_partitions(p->rk, topic, &count);
    if (err != EDDY_OK)
        return err;
    if (at == p->topic_count) {
        if (p->topic_count == p->topic_cap) {
            size_t cap = p->topic_cap ? 2 * p->topic_cap : 8;
            known_topic *grown = eddy__realloc(p->topics, cap * sizeof(*grown));
            if (!grown)
                return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory for topic '%s'", topic);
            p->topics = grown;
            p->topic_cap = cap;
        }
        if (!(p->topics[at].name = eddy__strdup(topic)))
            return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory for topic '%s'", topic);
        p->topic_count++;
    }
    p->topics[at].partitions = count;
    p->last = at;
    *partitions = count;
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Operations                                                                                 */

/* The record's headers as librdkafka's (NULL for none); the caller owns them until
 * rd_kafka_producev() accepts the record. */
static rd_kafka_headers_t *headers_of(const eddy_record *r)
{
    if (r->header_count == 0)
        return NULL;
    rd_kafka_headers_t *headers = rd_kafka_headers_new(r->header_count);
    for (size_t i = 0; i < r->header_count; i++) {
        const eddy_header *h = &r->headers[i];
        rd_kafka_header_add(headers, h->key.data ? h->key.data : "", (ssize_t)h->key.len,
                            h->value.data, h->value.data ? (ssize_t)h->value.len : 0);
    }
    return headers;
}

static eddy_err send_refused(kafka_producer *p, rd_kafka_resp_err_t kerr, const char *topic,
                             int32_t partition)
{
    switch (kerr) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return eddy__fail(EDDY_ERR_BUSY,
                          "send: topic '%s': %d records await delivery reports "
                          "(queue.buffering.max.messages); poll the producer",
                          topic, rd_kafka_outq_len(p->rk));
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return eddy__fail(EDDY_ERR_TOO_LARGE,
                          "send: topic '%s': the record is larger than message.max.bytes", topic);
    case RD_KAFKA_RESP_ERR__FATAL: {
        char reason[256];
        rd_kafka_fatal_error(p->rk, reason, sizeof(reason));
        return eddy__fail(EDDY_ERR_FATAL, "send: topic '%s': the producer failed: %s", topic,
                          reason);
    }
    default: {
        char context[320];
        snprintf(context, sizeof(context), "send: topic '%s' partition %d", topic, (int)partition);
        return eddy__kafka_fail(kerr, context);
    }
    }
}

static eddy_err producer_send(eddy__producer *base, const char *topic, int32_t partition,
                              const eddy_record *r, void *record_opaque)
{
    kafka_producer *p = (kafka_producer *)base;
    int32_t partitions = 0;
    eddy_err err = topic_known(p, topic, 0, &partitions);
    if (err == EDDY_OK && partition >= partitions)
        err = topic_known(p, topic, 1, &partitions);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "send");
    if (partition >= partitions)
        return eddy__fail(EDDY_ERR_UNKNOWN_PARTITION,
                          "send: topic '%s' has no partition %d (it has %d)", topic, (int)partition,
                          (int)partitions);
    /* An empty value is a pointer and length 0, which librdkafka keeps without copying: it
     * must not point at the caller's memory. */
    static const char empty[1] = "";
    const void *value = r->value.data && r->value.len == 0 ? empty : r->value.data;
    rd_kafka_headers_t *headers = headers_of(r);
    rd_kafka_resp_err_t kerr =
        rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
                          RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                          RD_KAFKA_V_KEY(r->key.data, r->key.data ? r->key.len : 0),
                          RD_KAFKA_V_VALUE((void *)value, value ? r->value.len : 0),
                          RD_KAFKA_V_TIMESTAMP(r->timestamp_ms >= 0 ? r->timestamp_ms : 0),
                          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(record_opaque),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR)
        return EDDY_OK;
    if (headers)
        rd_kafka_headers_destroy(headers); /* not taken: the record was refused */
    return send_refused(p, kerr, topic, partition);
}

static int producer_poll(eddy__producer *base, int timeout_ms)
{
    kafka_producer *p = (kafka_producer *)base;
    p->served = 0;
    /* Nothing outstanding: nothing to wait for, as on the embedded log. */
    rd_kafka_poll(p->rk, rd_kafka_outq_len(p->rk) > 0 ? timeout_ms : 0);
    return p->served;
}

static eddy_err producer_flush(eddy__producer *base, int timeout_ms)
{
    kafka_producer *p = (kafka_producer *)base;
    rd_kafka_resp_err_t kerr = rd_kafka_flush(p->rk, timeout_ms);
    eddy_err err = p->flush_err;
    p->flush_err = EDDY_OK;
    if (err != EDDY_OK)
        return eddy__fail(err, "%s", p->flush_message);
    if (kerr == RD_KAFKA_RESP_ERR__TIMED_OUT)
        return eddy__fail(EDDY_ERR_TIMED_OUT, "flush: %d records still unreported after %d ms",
                          rd_kafka_outq_len(p->rk), timeout_ms);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return eddy__kafka_fail(kerr, "flush");
    return EDDY_OK;
}

static size_t producer_outstanding(const eddy__producer *base)
{
    const kafka_producer *p = (const kafka_producer *)base;
    int n = rd_kafka_outq_len(p->rk);
    return n > 0 ? (size_t)n : 0;
}

/* Unwritten records are purged, and their reports dropped: nobody polls again. */
static void producer_destroy(eddy__producer *base)
{
    kafka_producer *p = (kafka_producer *)base;
    int left = rd_kafka_outq_len(p->rk);
    if (left > 0)
        EDDY_WARN(KAFKA_MODULE, "producer destroyed with %d records unwritten or unreported", left);
    p->base.cb = NULL;
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(p->rk);
    for (size_t i = 0; i < p->topic_count; i++)
        eddy__free(p->topics[i].name);
    eddy__free(p->topics);
    eddy__free(p);
}

static const eddy__producer_ops kafka_producer_ops = {
    .send = producer_send,
    .poll = producer_poll,
    .flush = producer_flush,
    .outstanding = producer_outstanding,
    .destroy = producer_destroy,
};

/* ------------------------------------------------------------------------------------------ */
/* Construction                                                                               */

/* The producer's librdkafka configuration: the client's, idempotence by default (it needs
 * acks=all, so acks=1 or 0 turn it off unless configured), the producer configuration's own
 * librdkafka properties, then what the seam settled. */
static eddy_err producer_conf(rd_kafka_conf_t *conf, const eddy__producer_settings *s,
                              const eddy_config *config)
{
    const char *what = "producer";
    const char *acks = "all";
    if (s->acks != EDDY_ACKS_ALL)
        acks = strcmp(eddy_config_get(config, "acks"), "0") == 0 ? "0" : "1";
    char linger[24], batch[24], queue[24];
    snprintf(linger, sizeof(linger), "%" PRId64, s->linger_ms);
    snprintf(batch, sizeof(batch), "%" PRId64, s->batch_bytes);
    snprintf(queue, sizeof(queue), "%" PRId64, s->queue_records_max);
    eddy_err err = eddy__kafka_conf_set(conf, "enable.idempotence",
                                        s->acks == EDDY_ACKS_ALL ? "true" : "false", what);
    if (err == EDDY_OK)
        err = eddy__kafka_conf_apply(conf, config, what);
    const char *const fixed[] = {"partitioner",
                                 "murmur2_random",
                                 "acks",
                                 acks,
                                 "linger.ms",
                                 linger,
                                 "batch.size",
                                 batch,
                                 "queue.buffering.max.messages",
                                 queue,
                                 NULL};
    for (size_t i = 0; err == EDDY_OK && fixed[i]; i += 2)
        err = eddy__kafka_conf_set(conf, fixed[i], fixed[i + 1], what);
    return err;
}

eddy_err eddy__kafka_producer_new(eddy__client *client, const eddy__producer_settings *settings,
                                  const eddy_config *config, eddy__producer **out)
{
    kafka_producer *p = eddy__calloc(1, sizeof(*p));
    if (!p)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "producer: out of memory");
    rd_kafka_conf_t *conf = eddy__kafka_conf_dup((kafka_client *)client);
    eddy_err err = conf ? producer_conf(conf, settings, config) : EDDY_ERR_NO_MEMORY;
    if (err == EDDY_OK) {
        char errstr[512];
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_error_cb(conf, eddy__kafka_on_error);
        rd_kafka_conf_set_opaque(conf, p);
        p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (p->rk)
            conf = NULL; /* the handle owns it now */
        else
            err = eddy__fail(EDDY_ERR_CONFIG, "producer: librdkafka refuses the configuration: %s",
                             errstr);
    }
    if (err != EDDY_OK) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        eddy__free(p);
        return err;
    }
    p->base.ops = &kafka_producer_ops;
    *out = &p->base;
    return EDDY_OK;
}
