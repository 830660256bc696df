/* The Kafka backend's admin calls: topics, partitions and watermarks.
 *
 * Metadata is only ever asked for all topics. A Metadata request naming a topic makes a broker
 * with auto-creation on create it (librdkafka's mock cluster always does, with 4 partitions), so
 * a check whether a topic exists would create it; the watermark request, which names its topic,
 * is only sent once the topic is known to exist.
 *
 * Topics are created with CreateTopics (partitions, the client's replication.factor, the topic
 * configuration passed as it is) and deleted with DeleteTopics. Both go to the controller. A
 * broker that answers neither, as librdkafka's mock cluster (it names a controller that is not
 * one of its brokers, and librdkafka waits for that controller until the request times out), is
 * asked through `eddy dev kafka`'s control channel instead (eddy/dev_kafka.h); failing that, the
 * error says which topic to create by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"
#include "eddy/dev_kafka.h"
#include "kafka/kafka.h"

/* Kafka's legal topic names (its Topic.validate): 1 to 249 characters of [a-zA-Z0-9._-]. */
#define TOPIC_NAME_MAX 249

/* How often a new or deleted topic's metadata is looked at while waiting for it to show. */
#define TOPIC_SETTLE_POLL_MS 50

/* ------------------------------------------------------------------------------------------ */
/* Metadata                                                                                   */

static eddy_err metadata_all(rd_kafka_t *rk, const struct rd_kafka_metadata **md)
{
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, md, KAFKA_REQUEST_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return eddy__kafka_fail(err, "metadata request");
    return EDDY_OK;
}

/* The topic's entry, or NULL when the cluster has none (or says it has none). */
static const rd_kafka_metadata_topic_t *metadata_topic(const struct rd_kafka_metadata *md,
                                                       const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0)
            return md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? NULL
                                                                                : &md->topics[i];
    return NULL;
}

eddy_err eddy__kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int32_t *partitions)
{
    const struct rd_kafka_metadata *md = NULL;
    eddy_err err = metadata_all(rk, &md);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "topic '%s'", topic);
    const rd_kafka_metadata_topic_t *t = metadata_topic(md, topic);
    if (t)
        *partitions = t->partition_cnt;
    rd_kafka_metadata_destroy(md);
    if (!t)
        return eddy__fail(EDDY_ERR_UNKNOWN_TOPIC, "topic '%s' does not exist", topic);
    return EDDY_OK;
}

eddy_err eddy__kafka_partition_check(rd_kafka_t *rk, const char *what, const char *topic,
                                     int32_t partition)
{
    int32_t partitions = 0;
    eddy_err err = eddy__kafka_topic_partitions(rk, topic, &partitions);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "%s", what);
    if (partition >= partitions)
        return eddy__fail(EDDY_ERR_UNKNOWN_PARTITION,
                          "%s: topic '%s' has no partition %d (it has %d)", what, topic,
                          (int)partition, (int)partitions);
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Admin                                                                                      */

static kafka_client *client_of(eddy__client *client)
{
    return (kafka_client *)client;
}

/* librdkafka queues the admin handle's errors for a poll nobody else makes. */
static rd_kafka_t *admin_handle(eddy__client *client)
{
    rd_kafka_t *rk = client_of(client)->admin;
    rd_kafka_poll(rk, 0);
    return rk;
}

eddy_err eddy__kafka_admin_partitions(eddy__client *client, const char *topic, int32_t *partitions)
{
    return eddy__kafka_topic_partitions(admin_handle(client), topic, partitions);
}

static int name_compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Kafka's own topics (__consumer_offsets, __transaction_state) are left out, as the embedded
 * log has none. */
eddy_err eddy__kafka_topic_list(eddy__client *client, char ***names, size_t *count)
{
    const struct rd_kafka_metadata *md = NULL;
    eddy_err err = metadata_all(admin_handle(client), &md);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "topic list");
    char **list = eddy__calloc((size_t)md->topic_cnt + 1, sizeof(*list));
    size_t n = 0;
    int short_of_memory = !list;
    for (int i = 0; list && i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || strncmp(t->topic, "__", 2) == 0)
            continue;
        if (!(list[n] = eddy__strdup(t->topic))) {
            short_of_memory = 1;
            break;
        }
        n++;
    }
    rd_kafka_metadata_destroy(md);
    if (short_of_memory) {
        eddy__client_names_free(list, n);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "topic list: out of memory");
    }
    qsort(list, n, sizeof(*list), name_compare);
    *names = list;
    *count = n;
    return EDDY_OK;
}

eddy_err eddy__kafka_watermarks(eddy__client *client, const char *topic, int32_t partition,
                                int64_t *low, int64_t *high)
{
    rd_kafka_t *rk = admin_handle(client);
    /* Checked first: the watermark request names the topic, which would create it. */
    eddy_err err = eddy__kafka_partition_check(rk, "watermarks", topic, partition);
    if (err != EDDY_OK)
        return err;
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t kerr =
        rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, KAFKA_REQUEST_TIMEOUT_MS);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char context[320];
        snprintf(context, sizeof(context), "watermarks of topic '%s' partition %d", topic,
                 (int)partition);
        return eddy__kafka_fail(kerr, context);
    }
    if (low)
        *low = lo;
    if (high)
        *high = hi;
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* CreateTopics and DeleteTopics                                                              */

/* Whether the cluster names one of its brokers as controller. The mock cluster names broker 0,
 * which it does not have (measured on librdkafka 2.0.2); admin requests then wait for it until
 * they time out, so they are not sent at all. */
static int controller_known(rd_kafka_t *rk)
{
    int32_t id = rd_kafka_controllerid(rk, KAFKA_REQUEST_TIMEOUT_MS);
    const struct rd_kafka_metadata *md = NULL;
    if (id < 0 || rd_kafka_metadata(rk, 1, NULL, &md, KAFKA_REQUEST_TIMEOUT_MS) != 0)
        return id >= 0; /* no metadata: let the request itself find out */
    int found = 0;
    for (int i = 0; i < md->broker_cnt; i++)
        found |= md->brokers[i].id == id;
    rd_kafka_metadata_destroy(md);
    return found;
}

/* Waits (bounded) until the topic shows in metadata (`present`) or is gone from it: a broker
 * answers CreateTopics and DeleteTopics before every broker's metadata says so. */
static void topic_settle(rd_kafka_t *rk, const char *topic, int present)
{
    int64_t deadline = eddy__monotonic_ns() + (int64_t)KAFKA_ADMIN_TIMEOUT_MS * 1000000;
    for (;;) {
        int32_t partitions = 0;
        eddy_err err = eddy__kafka_topic_partitions(rk, topic, &partitions);
        if ((err == EDDY_OK) == present || eddy__monotonic_ns() >= deadline)
            return;
        eddy__sleep_ms(TOPIC_SETTLE_POLL_MS);
    }
}

/* Sends one admin request built by the caller and waits for its result event (NULL when none
 * came, which librdkafka's own timeouts should prevent). */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *queue)
{
    return rd_kafka_queue_poll(queue, KAFKA_ADMIN_TIMEOUT_MS + KAFKA_REQUEST_TIMEOUT_MS);
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
    char errstr[256];
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(rk, op);
    if (options) {
        rd_kafka_AdminOptions_set_request_timeout(options, KAFKA_ADMIN_TIMEOUT_MS, errstr,
                                                  sizeof(errstr));
        rd_kafka_AdminOptions_set_operation_timeout(options, KAFKA_ADMIN_TIMEOUT_MS, errstr,
                                                    sizeof(errstr));
    }
    return options;
}

/* The outcome of a CreateTopics or DeleteTopics event for its one topic. `*unsupported` is set
 * when the broker did not answer the request at all. */
static eddy_err admin_outcome(kafka_client *c, rd_kafka_event_t *ev, const char *what,
                              const char *topic, int *unsupported)
{
    if (!ev)
        return eddy__fail(EDDY_ERR_TIMED_OUT, "%s '%s': no answer from %s", what, topic,
                          c->bootstrap);
    rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
    const rd_kafka_topic_result_t **results = NULL;
    size_t count = 0;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && rd_kafka_event_CreateTopics_result(ev))
        results =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &count);
    else if (err == RD_KAFKA_RESP_ERR_NO_ERROR && rd_kafka_event_DeleteTopics_result(ev))
        results =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &count);
    const char *reason = rd_kafka_event_error_string(ev);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && count == 1) {
        err = rd_kafka_topic_result_error(results[0]);
        reason = rd_kafka_topic_result_error_string(results[0]);
    }
    if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
        err == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION) {
        *unsupported = 1;
        return EDDY_OK;
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return EDDY_OK;
    if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return eddy__fail(EDDY_ERR_EXISTS, "topic '%s' already exists", topic);
    return eddy__fail(eddy__kafka_err(err), "%s '%s' at %s: %s", what, topic, c->bootstrap,
                      reason ? reason : rd_kafka_err2str(err));
}

static eddy_err create_topics(kafka_client *c, const char *topic, int32_t partitions,
                              const eddy_config *topic_config, int *unsupported)
{
    if (atomic_load(&c->no_create_topics) || !controller_known(c->admin)) {
        *unsupported = 1;
        return EDDY_OK;
    }
    char errstr[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, partitions, c->replication_factor, errstr, sizeof(errstr));
    if (!nt)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "create topic '%s': %s", topic, errstr);
    /* Topic configuration passes as it is: the broker checks it (INVALID_CONFIG). */
    size_t count = topic_config ? eddy_config_count(topic_config) : 0;
    for (size_t i = 0; i < count; i++) {
        const char *key, *value;
        eddy_config_at(topic_config, i, &key, &value);
        rd_kafka_NewTopic_set_config(nt, key, value);
    }
    rd_kafka_AdminOptions_t *options = admin_options(c->admin, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(c->admin);
    rd_kafka_CreateTopics(c->admin, &nt, 1, options, queue);
    rd_kafka_event_t *ev = admin_wait(queue);
    eddy_err err = admin_outcome(c, ev, "create topic", topic, unsupported);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(queue);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_NewTopic_destroy(nt);
    if (*unsupported)
        atomic_store(&c->no_create_topics, 1);
    else if (err == EDDY_OK)
        topic_settle(c->admin, topic, 1);
    return err;
}

static eddy_err delete_topics(kafka_client *c, const char *topic, int *unsupported)
{
    if (atomic_load(&c->no_delete_topics) || !controller_known(c->admin)) {
        *unsupported = 1;
        return EDDY_OK;
    }
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_AdminOptions_t *options = admin_options(c->admin, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(c->admin);
    rd_kafka_DeleteTopics(c->admin, &dt, 1, options, queue);
    rd_kafka_event_t *ev = admin_wait(queue);
    eddy_err err = admin_outcome(c, ev, "delete topic", topic, unsupported);
    if (err == EDDY_ERR_UNKNOWN_TOPIC)
        err = eddy__fail(EDDY_ERR_UNKNOWN_TOPIC, "topic '%s' does not exist", topic);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(queue);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_DeleteTopic_destroy(dt);
    if (*unsupported)
        atomic_store(&c->no_delete_topics, 1);
    else if (err == EDDY_OK)
        topic_settle(c->admin, topic, 0);
    return err;
}

static int topic_name_valid(const char *topic)
{
    size_t len = strlen(topic);
    return len > 0 && len <= TOPIC_NAME_MAX && strcmp(topic, ".") != 0 &&
           strcmp(topic, "..") != 0 &&
           strspn(topic, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
               len;
}

/* A broker that creates no topics: `eddy dev kafka`'s control channel, else an error that says
 * what to create by hand. */
static eddy_err create_elsewhere(kafka_client *c, const char *topic, int32_t partitions)
{
    eddy_err err = eddy_dev_kafka_create_topic_at(c->bootstrap, topic, partitions);
    if (err == EDDY_OK) {
        EDDY_DEBUG(KAFKA_MODULE,
                   "topic '%s' (%d partitions) created through the development "
                   "cluster's control channel",
                   topic, (int)partitions);
        return EDDY_OK;
    }
    if (err == EDDY_ERR_EXISTS)
        return eddy__fail(EDDY_ERR_EXISTS, "topic '%s' already exists", topic);
    if (err != EDDY_ERR_NOT_FOUND)
        return eddy__fail_context(err, "create topic '%s' through the development cluster", topic);
    return eddy__fail(EDDY_ERR_STATE,
                      "broker at %s does not create topics (CreateTopics unsupported): create "
                      "topic '%s' with %d partitions by hand",
                      c->bootstrap, topic, (int)partitions);
}

eddy_err eddy__kafka_topic_create(eddy__client *client, const char *topic, int32_t partitions,
                                  const eddy_config *topic_config)
{
    kafka_client *c = client_of(client);
    if (!topic_name_valid(topic))
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "create topic '%s': a topic name is 1-%d characters of [a-zA-Z0-9._-], "
                          "not '.' or '..'",
                          topic, TOPIC_NAME_MAX);
    if (partitions < 1)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "create topic '%s': %d partitions", topic,
                          (int)partitions);
    int32_t existing = 0;
    eddy_err err = eddy__kafka_topic_partitions(admin_handle(client), topic, &existing);
    if (err == EDDY_OK)
        return eddy__fail(EDDY_ERR_EXISTS, "topic '%s' already exists", topic);
    if (err != EDDY_ERR_UNKNOWN_TOPIC)
        return eddy__fail_context(err, "create topic");
    int unsupported = 0;
    err = create_topics(c, topic, partitions, topic_config, &unsupported);
    if (unsupported)
        return create_elsewhere(c, topic, partitions);
    if (err == EDDY_ERR_TIMED_OUT) {
        /* A development cluster lets CreateTopics time out when librdkafka believes in its
         * controller after all: its channel, when it answers, creates the topic. */
        char message[EDDY_ERROR_MESSAGE_MAX];
        snprintf(message, sizeof(message), "%s", eddy_last_error());
        if (eddy_dev_kafka_create_topic_at(c->bootstrap, topic, partitions) == EDDY_OK) {
            atomic_store(&c->no_create_topics, 1);
            return EDDY_OK;
        }
        return eddy__fail(err, "%s", message);
    }
    return err;
}

eddy_err eddy__kafka_topic_delete(eddy__client *client, const char *topic)
{
    kafka_client *c = client_of(client);
    int32_t existing = 0;
    eddy_err err = eddy__kafka_topic_partitions(admin_handle(client), topic, &existing);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "delete topic");
    int unsupported = 0;
    err = delete_topics(c, topic, &unsupported);
    if (unsupported)
        return eddy__fail(EDDY_ERR_STATE,
                          "broker at %s does not delete topics (DeleteTopics unsupported): "
                          "delete topic '%s' by hand",
                          c->bootstrap, topic);
    return err;
}
