/* The development Kafka cluster (eddy/dev_kafka.h), checked with a real librdkafka client:
 * topics get the partition counts asked for (seen through a Metadata request for all topics,
 * since one naming a topic would make the mock create it), topics are created through the
 * control channel as another process would, a producer rides through a broker going down and
 * up and through injected request errors, leaders move, and malformed control requests are
 * answered with errors while the server carries on. Local: needs no Kafka (with EDDY_TEST_KAFKA
 * set, under make test-kafka, the binary says it is skipped and passes). */
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "core/alloc.h"
#include "eddy/eddy.h"
#include "test.h"
#include "test_log.inc"

/* These tests are of the development cluster itself: EDDY_TEST_KAFKA's broker (make test-kafka)
 * has nothing to do with them. */
TEST_KAFKA_MOCK_ONLY("tests of eddy dev kafka itself")

static void quiet_log(const rd_kafka_t *rk, int level, const char *facility, const char *buf)
{
    (void)rk, (void)level, (void)facility, (void)buf;
}

typedef struct deliveries {
    atomic_int ok;
    atomic_int failed;
} deliveries;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque)
{
    (void)rk;
    deliveries *d = opaque;
    atomic_fetch_add(message->err == RD_KAFKA_RESP_ERR_NO_ERROR ? &d->ok : &d->failed, 1);
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        eddy_test_fail(__FILE__, __LINE__, "conf %s=%s: %s", name, value, errstr);
    }
}

/* An idempotent acks=all producer that retries for long enough to outlast every fault here. */
static rd_kafka_t *producer_new(const char *bootstrap, deliveries *d)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "enable.idempotence", "true");
    set(conf, "linger.ms", "5");
    set(conf, "message.timeout.ms", "30000");
    set(conf, "partitioner", "murmur2_random");
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, d);
    char errstr[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        eddy_test_fail(__FILE__, __LINE__, "rd_kafka_new: %s", errstr);
    }
    return rk;
}

static void produce(rd_kafka_t *rk, const char *topic, int32_t partition, int count)
{
    for (int i = 0; i < count; i++) {
        char value[32];
        int len = snprintf(value, sizeof(value), "value-%d", i);
        rd_kafka_resp_err_t err =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_VALUE(value, (size_t)len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    }
}

/* Partition count and leader of partition 0 of @p topic, from a Metadata request for ALL
 * topics (naming one topic would make the mock create it). -1 when the topic is absent. */
static int topic_partitions(rd_kafka_t *rk, const char *topic, int32_t partition, int32_t *leader)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    int count = -1;
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) == 0) {
            count = md->topics[i].partition_cnt;
            for (int p = 0; leader && p < md->topics[i].partition_cnt; p++) {
                if (md->topics[i].partitions[p].id == partition) {
                    *leader = md->topics[i].partitions[p].leader;
                }
            }
        }
    }
    rd_kafka_metadata_destroy(md);
    return count;
}

static int64_t high_watermark(rd_kafka_t *rk, const char *topic, int32_t partition)
{
    int64_t low = -1, high = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, 10000);
    EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    return high;
}

/* Flushes, checks every record was delivered, destroys. */
static void producer_close(rd_kafka_t *rk, deliveries *d, int expected)
{
    EXPECT_EQ(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(atomic_load(&d->failed), 0);
    EXPECT_EQ(atomic_load(&d->ok), expected);
    rd_kafka_destroy(rk);
}

TEST(topics_get_their_partition_counts)
{
    eddy_dev_kafka *dk = NULL;
    EXPECT_OK(eddy_dev_kafka_start(3, &dk));
    const char *bootstrap = eddy_dev_kafka_bootstrap(dk);
    EXPECT_CONTAINS(bootstrap, "127.0.0.1:");
    EXPECT_OK(eddy_dev_kafka_create_topic(dk, "orders", 3));
    EXPECT_OK(eddy_dev_kafka_create_topic(dk, "payments", 1));
    EXPECT_OK(eddy_dev_kafka_create_topic(dk, "wide", 64));
    EXPECT_ERR(eddy_dev_kafka_create_topic(dk, "orders", 3), EDDY_ERR_EXISTS);
    EXPECT_ERR(eddy_dev_kafka_create_topic(dk, "orders", 5), EDDY_ERR_EXISTS);
    EXPECT_ERR(eddy_dev_kafka_create_topic(dk, "zero", 0), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_create_topic(dk, "many", 10001), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_create_topic(dk, "bad/name", 1), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "bad/name");
    EXPECT_ERR(eddy_dev_kafka_create_topic(dk, "..", 1), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_create_topic(dk, "", 1), EDDY_ERR_INVALID_ARGUMENT);

    deliveries d = {0};
    rd_kafka_t *rk = producer_new(bootstrap, &d);
    EXPECT_EQ(topic_partitions(rk, "orders", 0, NULL), 3);
    EXPECT_EQ(topic_partitions(rk, "payments", 0, NULL), 1);
    EXPECT_EQ(topic_partitions(rk, "wide", 0, NULL), 64);
    EXPECT_EQ(topic_partitions(rk, "zero", 0, NULL), -1); /* refused ones were never made */
    produce(rk, "orders", 2, 10);
    producer_close(rk, &d, 10);

    char reply[EDDY_DEV_KAFKA_REPLY_MAX];
    EXPECT_OK(eddy_dev_kafka_request_at(bootstrap, "topics", reply, sizeof(reply)));
    EXPECT_STREQ(reply, "ok orders:3 payments:1 wide:64");
    eddy_dev_kafka_stop(dk);
}

TEST(create_topic_at_goes_through_the_control_channel)
{
    eddy_dev_kafka *dk = NULL;
    EXPECT_OK(eddy_dev_kafka_start(3, &dk));
    const char *bootstrap = eddy_dev_kafka_bootstrap(dk);
    EXPECT_OK(eddy_dev_kafka_create_topic_at(bootstrap, "remote", 4));
    EXPECT_ERR(eddy_dev_kafka_create_topic_at(bootstrap, "remote", 4), EDDY_ERR_EXISTS);
    EXPECT_ERR(eddy_dev_kafka_create_topic_at(bootstrap, "remote", 2), EDDY_ERR_EXISTS);
    EXPECT_ERR(eddy_dev_kafka_create_topic_at(bootstrap, "bad name", 1), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_create_topic_at(bootstrap, "ok", 0), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_create_topic_at(bootstrap, NULL, 1), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_create_topic_at(NULL, "ok", 1), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_create_topic_at("", "ok", 1), EDDY_ERR_INVALID_ARGUMENT);

    /* Any one broker's address reaches the channel, with "localhost" or a scheme. */
    const char *last = strrchr(bootstrap, ',') + 1;
    const char *port = strrchr(last, ':') + 1;
    char address[64];
    snprintf(address, sizeof(address), "localhost:%s", port);
    EXPECT_OK(eddy_dev_kafka_create_topic_at(address, "by-localhost", 2));
    snprintf(address, sizeof(address), "kafka.example.com:9092,PLAINTEXT://127.0.0.1:%s", port);
    EXPECT_OK(eddy_dev_kafka_create_topic_at(address, "by-scheme", 5));

    /* Where no dev cluster listens: NOT_FOUND, whatever the address looks like. */
    EXPECT_ERR(eddy_dev_kafka_create_topic_at("127.0.0.1:1", "x", 1), EDDY_ERR_NOT_FOUND);
    EXPECT_CONTAINS(eddy_last_error(), "127.0.0.1:1");
    EXPECT_ERR(eddy_dev_kafka_create_topic_at("kafka.example.com:9092", "x", 1),
               EDDY_ERR_NOT_FOUND);
    EXPECT_ERR(eddy_dev_kafka_create_topic_at("127.0.0.1:99999,127.0.0.1:,:5,nonsense", "x", 1),
               EDDY_ERR_NOT_FOUND);

    deliveries d = {0};
    rd_kafka_t *rk = producer_new(bootstrap, &d);
    EXPECT_EQ(topic_partitions(rk, "remote", 0, NULL), 4);
    EXPECT_EQ(topic_partitions(rk, "by-localhost", 0, NULL), 2);
    EXPECT_EQ(topic_partitions(rk, "by-scheme", 0, NULL), 5);
    producer_close(rk, &d, 0);
    eddy_dev_kafka_stop(dk);

    /* Once stopped, the channel is gone. */
    EXPECT_ERR(eddy_dev_kafka_create_topic_at(address, "late", 1), EDDY_ERR_NOT_FOUND);
}

/* Measured: the mock creates a 4-partition topic for any Metadata request naming an unknown
 * topic, and then refuses to create it again; the error says why. */
TEST(auto_created_topic_is_reported_as_existing)
{
    eddy_dev_kafka *dk = NULL;
    EXPECT_OK(eddy_dev_kafka_start(1, &dk));
    deliveries d = {0};
    rd_kafka_t *rk = producer_new(eddy_dev_kafka_bootstrap(dk), &d);
    rd_kafka_topic_t *named = rd_kafka_topic_new(rk, "asked-for", NULL);
    const struct rd_kafka_metadata *md = NULL;
    EXPECT_EQ(rd_kafka_metadata(rk, 0, named, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(named);
    EXPECT_EQ(topic_partitions(rk, "asked-for", 0, NULL), 4);
    EXPECT_ERR(eddy_dev_kafka_create_topic(dk, "asked-for", 2), EDDY_ERR_EXISTS);
    EXPECT_CONTAINS(eddy_last_error(), "auto-created");
    producer_close(rk, &d, 0);
    eddy_dev_kafka_stop(dk);
}

TEST(producer_rides_through_broker_down_and_up)
{
    eddy_dev_kafka *dk = NULL;
    EXPECT_OK(eddy_dev_kafka_start(1, &dk));
    EXPECT_OK(eddy_dev_kafka_create_topic(dk, "t", 1));
    deliveries d = {0};
    rd_kafka_t *rk = producer_new(eddy_dev_kafka_bootstrap(dk), &d);
    produce(rk, "t", 0, 100);
    EXPECT_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(atomic_load(&d.ok), 100);

    EXPECT_OK(eddy_dev_kafka_broker_down(dk, 1));
    produce(rk, "t", 0, 100);
    rd_kafka_flush(rk, 1000); /* nothing can be delivered while the only broker is down */
    EXPECT_EQ(atomic_load(&d.ok), 100);
    EXPECT_OK(eddy_dev_kafka_broker_up(dk, 1));
    EXPECT_EQ(rd_kafka_flush(rk, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(high_watermark(rk, "t", 0), 200);

    EXPECT_ERR(eddy_dev_kafka_broker_down(dk, 0), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_broker_down(dk, 2), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_broker_up(dk, -1), EDDY_ERR_INVALID_ARGUMENT);
    producer_close(rk, &d, 200);
    eddy_dev_kafka_stop(dk);
}

TEST(request_errors_and_leader_moves_are_ridden_through)
{
    eddy_dev_kafka *dk = NULL;
    EXPECT_OK(eddy_dev_kafka_start(3, &dk));
    EXPECT_OK(eddy_dev_kafka_create_topic(dk, "moves", 2));
    deliveries d = {0};
    rd_kafka_t *rk = producer_new(eddy_dev_kafka_bootstrap(dk), &d);

    EXPECT_OK(eddy_dev_kafka_set_leader(dk, "moves", 0, 2));
    int32_t leader = 0;
    EXPECT_EQ(topic_partitions(rk, "moves", 0, &leader), 2);
    EXPECT_EQ(leader, 2);
    EXPECT_ERR(eddy_dev_kafka_set_leader(dk, "moves", 2, 1), EDDY_ERR_UNKNOWN_PARTITION);
    EXPECT_ERR(eddy_dev_kafka_set_leader(dk, "moves", -1, 1), EDDY_ERR_UNKNOWN_PARTITION);
    EXPECT_ERR(eddy_dev_kafka_set_leader(dk, "moves", 0, 4), EDDY_ERR_INVALID_ARGUMENT);
    /* The mock would silently create this topic; the registry refuses instead. */
    EXPECT_ERR(eddy_dev_kafka_set_leader(dk, "unknown", 0, 1), EDDY_ERR_UNKNOWN_TOPIC);
    EXPECT_EQ(topic_partitions(rk, "unknown", 0, NULL), -1);

    produce(rk, "moves", 0, 50);
    EXPECT_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    /* Produce (API key 0) fails: retriable errors, then a dropped connection. */
    EXPECT_OK(eddy_dev_kafka_push_request_errors(dk, 0, 3, 6 /* NOT_LEADER_FOR_PARTITION */));
    produce(rk, "moves", 0, 50);
    EXPECT_EQ(rd_kafka_flush(rk, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_OK(eddy_dev_kafka_set_leader(dk, "moves", 0, 3));
    EXPECT_OK(eddy_dev_kafka_push_request_errors(dk, 0, 2, RD_KAFKA_RESP_ERR__TRANSPORT));
    produce(rk, "moves", 0, 50);
    EXPECT_EQ(rd_kafka_flush(rk, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(high_watermark(rk, "moves", 0), 150);

    EXPECT_ERR(eddy_dev_kafka_push_request_errors(dk, -1, 1, 6), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_push_request_errors(dk, 0, 0, 6), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_push_request_errors(dk, 0, 1001, 6), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_push_request_errors(dk, 0, 1, 0), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_push_request_errors(dk, 0, 1, -100), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_push_request_errors(dk, 0, 1, 100000), EDDY_ERR_INVALID_ARGUMENT);
    producer_close(rk, &d, 150);
    eddy_dev_kafka_stop(dk);
}

/* Sends raw bytes to the control channel of @p dk and reads the reply until the server closes
 * the connection, so a reply of more than one line would be seen. */
static void raw_exchange(const eddy_dev_kafka *dk, const void *bytes, size_t len, char *reply,
                         size_t cap)
{
    const char *bootstrap = eddy_dev_kafka_bootstrap(dk);
    int port = atoi(strchr(bootstrap, ':') + 1); /* the first broker's */
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    int n = snprintf(address.sun_path + 1, sizeof(address.sun_path) - 1, "eddy-dev-kafka:%d", port);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_TRUE(fd >= 0);
    socklen_t length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    EXPECT_EQ(connect(fd, (struct sockaddr *)&address, length), 0);
    if (len > 0) {
        EXPECT_EQ(send(fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
        shutdown(fd, SHUT_WR); /* so a request without a newline ends */
    }
    size_t got = 0;
    for (ssize_t r; got < cap - 1 && (r = recv(fd, reply + got, cap - 1 - got, 0)) > 0;) {
        got += (size_t)r;
    }
    reply[got] = '\0';
    close(fd);
}

static void expect_error_reply(const eddy_dev_kafka *dk, const char *request, const char *part)
{
    char reply[1024];
    raw_exchange(dk, request, strlen(request), reply, sizeof(reply));
    if (strncmp(reply, "error ", 6) != 0 || strchr(reply, '\n') != reply + strlen(reply) - 1 ||
        strstr(reply, part) == NULL) {
        eddy_test_fail(__FILE__, __LINE__, "request \"%s\": reply \"%s\", expected \"error ...%s\"",
                       request, reply, part);
    }
}

TEST(malformed_control_requests_get_error_replies)
{
    eddy_dev_kafka *dk = NULL;
    EXPECT_OK(eddy_dev_kafka_start(2, &dk));
    EXPECT_OK(eddy_dev_kafka_create_topic(dk, "t", 2));
    expect_error_reply(dk, "\n", "empty");
    expect_error_reply(dk, "   \t \r\n", "empty");
    expect_error_reply(dk, "nonsense\n", "unknown request 'nonsense'");
    expect_error_reply(dk, "create-topic\n", "create-topic NAME PARTITIONS");
    expect_error_reply(dk, "create-topic a\n", "create-topic NAME PARTITIONS");
    expect_error_reply(dk, "create-topic a 1 extra\n", "create-topic NAME PARTITIONS");
    expect_error_reply(dk, "create-topic a b\n", "partition count 'b'");
    expect_error_reply(dk, "create-topic a 0\n", "partition count '0'");
    expect_error_reply(dk, "create-topic a -3\n", "partition count '-3'");
    expect_error_reply(dk, "create-topic a 10001\n", "partition count");
    expect_error_reply(dk, "create-topic a 99999999999999999999\n", "partition count");
    expect_error_reply(dk, "create-topic bad/name 1\n", "invalid topic name");
    expect_error_reply(dk, "a b c d e f g h\n", "over-long");
    expect_error_reply(dk, "broker-down x\n", "broker id 'x'");
    expect_error_reply(dk, "broker-down 3\n", "no broker 3");
    expect_error_reply(dk, "broker-up 0\n", "no broker 0");
    expect_error_reply(dk, "leader t 0\n", "leader TOPIC PARTITION BROKER_ID");
    expect_error_reply(dk, "leader t 5 1\n", "no partition 5");
    expect_error_reply(dk, "leader nope 0 1\n", "not created");
    expect_error_reply(dk, "request-errors 0 0 6\n", "count '0'");
    expect_error_reply(dk, "request-errors 0 1 NOT_A_CODE\n", "error code 'NOT_A_CODE'");
    expect_error_reply(dk, "request-errors 0 1 -100\n", "not a Kafka");
    expect_error_reply(dk, "request-errors 70000 1 6\n", "API key '70000'");
    /* Control bytes quoted back are replaced, so the reply stays one line. */
    expect_error_reply(dk, "bad\x01\x1bname\n", "unknown request 'bad??name'");
    expect_error_reply(dk, "create-topic a\rb 1\n", "invalid topic name 'a?b'");
    /* A line without a newline, ended by the connection, is still one request. */
    expect_error_reply(dk, "nonsense", "unknown request");

    /* Longer than a line may be: refused without reading on. */
    size_t long_len = EDDY_DEV_KAFKA_LINE_MAX + 100;
    char *long_line = malloc(long_len);
    memset(long_line, 'x', long_len);
    long_line[long_len - 1] = '\n';
    char reply[1024];
    raw_exchange(dk, long_line, long_len, reply, sizeof(reply));
    free(long_line);
    EXPECT_STREQ(reply, "error request line too long\n");

    /* A silent client is cut off after the server's read deadline (2 s). */
    raw_exchange(dk, NULL, 0, reply, sizeof(reply));
    EXPECT_STREQ(reply, "error no request line within the time limit\n");

    /* Named error codes work, and the server still answers after all that. */
    raw_exchange(dk, "request-errors 1 1 _TRANSPORT\n", 30, reply, sizeof(reply));
    EXPECT_STREQ(reply, "ok\n");
    raw_exchange(dk, "create-topic fine 3\r\n", 21, reply, sizeof(reply));
    EXPECT_STREQ(reply, "ok\n");
    raw_exchange(dk, "create-topic fine 3\n", 20, reply, sizeof(reply));
    EXPECT_STREQ(reply, "exists\n");
    raw_exchange(dk, "topics\n", 7, reply, sizeof(reply));
    EXPECT_STREQ(reply, "ok t:2 fine:3\n");

    /* The client refuses requests that are not one line. */
    char small[8];
    const char *bootstrap = eddy_dev_kafka_bootstrap(dk);
    EXPECT_ERR(eddy_dev_kafka_request_at(bootstrap, "", small, sizeof(small)),
               EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_request_at(bootstrap, "topics\ntopics", small, sizeof(small)),
               EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_request_at(bootstrap, "topics", small, 0), EDDY_ERR_INVALID_ARGUMENT);
    /* A reply longer than the caller's buffer is truncated, NUL-terminated. */
    EXPECT_OK(eddy_dev_kafka_request_at(bootstrap, "topics", small, sizeof(small)));
    EXPECT_STREQ(small, "ok t:2 ");
    eddy_dev_kafka_stop(dk);
}

static void count_event(const char *message, void *opaque)
{
    EXPECT_TRUE(message[0] != '\0');
    atomic_fetch_add((atomic_int *)opaque, 1);
}

TEST(start_stop_events_and_memory)
{
    eddy_dev_kafka_stop(NULL);
    eddy_dev_kafka *dk = NULL;
    EXPECT_ERR(eddy_dev_kafka_start(0, &dk), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_dev_kafka_start(EDDY_DEV_KAFKA_BROKERS_MAX + 1, &dk),
               EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_TRUE(dk == NULL);

    int64_t live_before = eddy__alloc_live_bytes();
    /* Two clusters at once: each has its own ports and channel. */
    eddy_dev_kafka *other = NULL;
    EXPECT_OK(eddy_dev_kafka_start(EDDY_DEV_KAFKA_BROKERS_MAX, &dk));
    EXPECT_OK(eddy_dev_kafka_start(1, &other));
    atomic_int events = 0;
    eddy_dev_kafka_set_event_callback(dk, count_event, &events);
    EXPECT_OK(eddy_dev_kafka_create_topic_at(eddy_dev_kafka_bootstrap(dk), "mine", 1));
    EXPECT_OK(eddy_dev_kafka_create_topic_at(eddy_dev_kafka_bootstrap(other), "mine", 1));
    EXPECT_OK(eddy_dev_kafka_broker_down(dk, 9));
    EXPECT_OK(eddy_dev_kafka_broker_up(dk, 9));
    EXPECT_EQ(atomic_load(&events), 3);
    eddy_dev_kafka_stop(other);
    eddy_dev_kafka_stop(dk);
    EXPECT_EQ(eddy__alloc_live_bytes(), live_before);
}
