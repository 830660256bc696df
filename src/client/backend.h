/* What a client backend implements, for client.c and the backends only (the runtime includes
 * client.h alone). client.c checks arguments and configuration, then calls through the
 * backend's operation tables; a backend allocates its objects with the common part below as
 * their first member. A backend is its files (src/client/embedded.c; src/kafka/) and one line in
 * eddy__client_new(). */
#ifndef EDDY_CLIENT_BACKEND_H
#define EDDY_CLIENT_BACKEND_H

#include "client/client.h"

/* Settings read from configuration by client.c, so that every backend refuses the same bad
 * values with the same messages. */
typedef struct eddy__producer_settings {
    eddy_acks acks;
    int64_t linger_ms;
    int64_t batch_bytes;
    int64_t queue_records_max;
} eddy__producer_settings;

enum { EDDY__RESET_EARLIEST, EDDY__RESET_LATEST, EDDY__RESET_NONE };

typedef struct eddy__consumer_settings {
    int offset_reset; /* EDDY__RESET_* */
    int auto_commit;
    int64_t auto_commit_interval_ms;
} eddy__consumer_settings;

typedef struct eddy__client_ops {
    const char *name;
    void (*destroy)(eddy__client *client);
    /* Plain create: EDDY_ERR_EXISTS when the topic exists (client.c adds IF_NOT_EXISTS). */
    eddy_err (*topic_create)(eddy__client *client, const char *topic, int32_t partitions,
                             const eddy_config *topic_config);
    eddy_err (*topic_delete)(eddy__client *client, const char *topic);
    eddy_err (*topic_partitions)(eddy__client *client, const char *topic, int32_t *partitions);
    /* Names and the array allocated with core/alloc.h (eddy__client_names_free frees them). */
    eddy_err (*topic_list)(eddy__client *client, char ***names, size_t *count);
    eddy_err (*watermarks)(eddy__client *client, const char *topic, int32_t partition, int64_t *low,
                           int64_t *high);
    /* Allocate the backend's object (zeroed common part, ops set); client.c fills the rest of
     * the common part after success. `config` may be NULL; backends may read their own keys. */
    eddy_err (*producer_new)(eddy__client *client, const eddy__producer_settings *settings,
                             const eddy_config *config, eddy__producer **out);
    eddy_err (*consumer_new)(eddy__client *client, const char *group_id,
                             const eddy__consumer_settings *settings, const eddy_config *config,
                             eddy__consumer **out);
} eddy__client_ops;

typedef struct eddy__producer_ops {
    eddy_err (*send)(eddy__producer *producer, const char *topic, int32_t partition,
                     const eddy_record *record, void *record_opaque);
    int (*poll)(eddy__producer *producer, int timeout_ms);
    eddy_err (*flush)(eddy__producer *producer, int timeout_ms);
    size_t (*outstanding)(const eddy__producer *producer);
    void (*destroy)(eddy__producer *producer);
} eddy__producer_ops;

typedef struct eddy__consumer_ops {
    eddy_err (*subscribe)(eddy__consumer *consumer, const char *const *topics, size_t count);
    eddy_err (*unsubscribe)(eddy__consumer *consumer);
    eddy_err (*assign)(eddy__consumer *consumer, const eddy__topic_partition_offset *partitions,
                       size_t count);
    eddy_err (*assignment)(eddy__consumer *consumer, const eddy_topic_partition **partitions,
                           size_t *count);
    eddy_err (*poll)(eddy__consumer *consumer, int timeout_ms, eddy_record *record);
    eddy_err (*seek)(eddy__consumer *consumer, const char *topic, int32_t partition,
                     int64_t offset);
    eddy_err (*position)(eddy__consumer *consumer, const char *topic, int32_t partition,
                         int64_t *offset);
    /* -1 when unknown; see eddy__consumer_lag. */
    eddy_err (*lag)(eddy__consumer *consumer, const char *topic, int32_t partition, int64_t *lag);
    /* "" when not a member; see eddy__consumer_member_id. */
    void (*member_id)(eddy__consumer *consumer, char *buf, size_t size);
    /* pause != 0: pause; 0: resume. */
    eddy_err (*pause)(eddy__consumer *consumer, const eddy_topic_partition *partitions,
                      size_t count, int pause);
    eddy_err (*commit)(eddy__consumer *consumer, const eddy__topic_partition_offset *offsets,
                       size_t count);
    eddy_err (*committed)(eddy__consumer *consumer, const char *topic, int32_t partition,
                          int64_t *offset);
    eddy_err (*close)(eddy__consumer *consumer);
    void (*destroy)(eddy__consumer *consumer);
} eddy__consumer_ops;

/* The common first member of every backend's client, producer and consumer. */
struct eddy__client {
    const eddy__client_ops *ops;
};

struct eddy__producer {
    const eddy__producer_ops *ops;
    eddy__client *client;
    eddy__producer_settings settings;
    eddy__delivery_cb cb;
    void *opaque;
    int in_callback; /* serving delivery reports: poll, flush and destroy are refused */
};

enum { EDDY__CONSUMER_IDLE, EDDY__CONSUMER_SUBSCRIBED, EDDY__CONSUMER_MANUAL };

struct eddy__consumer {
    const eddy__consumer_ops *ops;
    eddy__client *client;
    char *group_id; /* NULL: none */
    eddy__consumer_settings settings;
    eddy__rebalance_cb cb;
    void *opaque;
    int mode;        /* EDDY__CONSUMER_*: kept by the backend */
    int in_callback; /* inside a rebalance callback: poll, subscribe, assign, close refused */
    int closed;
};

/* Calls the application's rebalance callback (when set and count > 0), marking the consumer as
 * inside it. For backends. */
void eddy__consumer_notify(eddy__consumer *consumer, eddy__rebalance_event event,
                           const eddy_topic_partition *partitions, size_t count);

/* The embedded log backend (embedded.c): `dir` is created when missing. */
eddy_err eddy__embedded_client_new(const char *dir, eddy__client **out);

/* The Kafka backend (src/kafka/), over librdkafka: `config` has bootstrap.servers set; its
 * librdkafka properties pass through to every handle the client makes (docs/kafka.md). */
eddy_err eddy__kafka_client_new(const eddy_config *config, eddy__client **out);

/* Whether the Kafka backend reads `key`, a librdkafka property: EDDY_OK when librdkafka knows it
 * and takes `value`; EDDY_ERR_CONFIG naming key and value when it refuses the value or eddy
 * sets the property itself; EDDY_ERR_NOT_FOUND when it is no librdkafka property (or one of
 * eddy's own keys). */
eddy_err eddy__kafka_property_check(const char *key, const char *value);

#endif
