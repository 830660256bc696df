/* The development Kafka cluster (include/eddy/dev_kafka.h): librdkafka's in-memory mock
 * cluster run in this process, a registry of the topics created through it, and a control
 * channel through which other processes create topics and inject faults.
 *
 * Why a control channel: the mock answers no CreateTopics and its fault injection is callable
 * only inside the process that owns it, yet tests and users run the cluster in one process
 * (`eddy dev kafka`) and everything else in others.
 *
 * The channel is a Linux abstract-namespace unix socket per broker, named
 * "eddy-dev-kafka:<port>" after that broker's TCP port: a client that knows any bootstrap
 * address finds it without a file, and the kernel removes the name when the process dies, so
 * a crashed cluster leaves nothing stale. Only processes of the same user are served: the
 * socket has no file permissions, so the peer's credentials are checked instead.
 *
 * Protocol, one request per connection:
 *
 *   client: REQUEST LINE '\n'        at most EDDY_DEV_KAFKA_LINE_MAX bytes
 *   server: REPLY LINE '\n'          "ok[ ...]", "exists" or "error MESSAGE"; then closes
 *
 * Requests: create-topic NAME PARTITIONS | topics | broker-down ID | broker-up ID |
 * leader TOPIC PARTITION ID | request-errors API_KEY COUNT ERROR_CODE. A request that does not
 * parse gets an "error" reply naming what was wrong; the server never trusts the line.
 *
 * Threads: the mock runs its own threads; one control thread here accepts connections and
 * serves them one at a time, each bounded by a deadline, so a silent client delays others by
 * at most that long. The registry is guarded by one mutex.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"
#include "eddy/dev_kafka.h"

#define DEV_MODULE "dev-kafka"

/* The abstract socket name's prefix; the broker's port follows. */
#define DEV_SOCKET_PREFIX "eddy-dev-kafka:"

/* How long the server waits for a request line, and a client for its reply: long enough for
 * the mock to create a topic of EDDY_DEV_KAFKA_PARTITIONS_MAX partitions on a loaded machine,
 * short enough that a stuck peer does not hang a test. */
#define DEV_SERVER_READ_TIMEOUT_MS 2000
#define DEV_CLIENT_TIMEOUT_MS 5000

/* Most errors one request-errors call pushes: bounds the array allocated for it. */
#define DEV_REQUEST_ERRORS_MAX 1000

/* Words in a request: "request-errors API_KEY COUNT ERROR_CODE" has the most, 4; one more
 * lets the parser notice an extra word. */
#define DEV_REQUEST_WORDS_MAX 5

typedef struct dev_topic {
    char *name;
    int32_t partitions;
} dev_topic;

struct eddy_dev_kafka {
    rd_kafka_t *handle; /* the dummy producer the mock needs for its bookkeeping */
    rd_kafka_mock_cluster_t *mock;
    char *bootstrap;
    int brokers;

    pthread_mutex_t lock; /* guards topics and the event callback */
    dev_topic *topics;
    size_t topic_count;
    eddy_dev_kafka_event_fn event_fn;
    void *event_opaque;

    int listen_fds[EDDY_DEV_KAFKA_BROKERS_MAX];
    int listen_count;
    int wake_fds[2]; /* stop writes a byte; the control thread polls the read end */
    pthread_t thread;
    bool thread_started;
};

/* ------------------------------------------------------------------------------------------ */
/* Validation                                                                                 */

/* Kafka's rule for topic names, as eddy's log applies it. */
static bool topic_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > EDDY_TOPIC_NAME_MAX || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

static eddy_err check_topic(const char *name, int32_t partitions)
{
    if (name == NULL || !topic_name_valid(name)) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "invalid topic name '%.64s': use 1-249 characters of [a-zA-Z0-9._-], "
                          "not '.' or '..'",
                          name ? name : "(null)");
    }
    if (partitions < 1 || partitions > EDDY_DEV_KAFKA_PARTITIONS_MAX) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "topic '%s': invalid partition count %d (expected 1..%d)", name,
                          (int)partitions, EDDY_DEV_KAFKA_PARTITIONS_MAX);
    }
    return EDDY_OK;
}

static eddy_err check_broker(const eddy_dev_kafka *dk, int32_t broker_id)
{
    if (dk == NULL) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "dev kafka: no cluster");
    }
    if (broker_id < 1 || broker_id > dk->brokers) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "no broker %d (the brokers are 1..%d)",
                          (int)broker_id, dk->brokers);
    }
    return EDDY_OK;
}

/* Parses a whole decimal integer in [min, max]; digits only, an optional leading '-'. */
static bool parse_int(const char *text, long long min, long long max, long long *out)
{
    const char *digits = text[0] == '-' ? text + 1 : text;
    if (digits[0] < '0' || digits[0] > '9') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max) {
        return false;
    }
    *out = value;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Events and the registry                                                                    */

static void emit_event(eddy_dev_kafka *dk, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Formats a change's description and hands it to the callback, outside the lock. */
static void emit_event(eddy_dev_kafka *dk, const char *fmt, ...)
{
    char message[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    pthread_mutex_lock(&dk->lock);
    eddy_dev_kafka_event_fn fn = dk->event_fn;
    void *opaque = dk->event_opaque;
    pthread_mutex_unlock(&dk->lock);
    EDDY_INFO(DEV_MODULE, "%s", message);
    if (fn != NULL) {
        fn(message, opaque);
    }
}

/* The registry entry for @p name, or NULL. Called with dk->lock held. */
static const dev_topic *find_topic(const eddy_dev_kafka *dk, const char *name)
{
    for (size_t i = 0; i < dk->topic_count; i++) {
        if (strcmp(dk->topics[i].name, name) == 0) {
            return &dk->topics[i];
        }
    }
    return NULL;
}

/* Creates the topic in the mock and records it. Called with dk->lock held, so that two
 * creations of one name cannot both succeed. */
static eddy_err create_locked(eddy_dev_kafka *dk, const char *name, int32_t partitions)
{
    if (find_topic(dk, name) != NULL) {
        return eddy__fail(EDDY_ERR_EXISTS, "topic '%s' already exists", name);
    }
    if (dk->topic_count >= EDDY_DEV_KAFKA_TOPICS_MAX) {
        return eddy__fail(EDDY_ERR_TOO_LARGE, "topic '%s': the cluster already has %d topics", name,
                          EDDY_DEV_KAFKA_TOPICS_MAX);
    }
    /* Allocate the registry entry before the mock call: a topic in the mock that the registry
     * lacks could never be listed, while a failed mock call only leaves spare capacity. The
     * registry grows one entry at a time: creating topics is rare and the registry small. */
    dev_topic *grown = eddy__realloc(dk->topics, (dk->topic_count + 1) * sizeof(*grown));
    if (grown == NULL) {
        return eddy__fail(EDDY_ERR_NO_MEMORY, "topic '%s': out of memory", name);
    }
    dk->topics = grown;
    char *copy = eddy__strdup(name);
    if (copy == NULL) {
        return eddy__fail(EDDY_ERR_NO_MEMORY, "topic '%s': out of memory", name);
    }
    int replication = dk->brokers < 3 ? dk->brokers : 3;
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(dk->mock, name, partitions, replication);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        eddy__free(copy);
    }
    if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        /* The mock made it itself, when a client's Metadata request named it. */
        return eddy__fail(EDDY_ERR_EXISTS,
                          "topic '%s' already exists (auto-created by the mock cluster, with 4 "
                          "partitions, when a client asked for it before it was created)",
                          name);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return eddy__fail(EDDY_ERR_IO, "topic '%s': the mock cluster refused it: %s", name,
                          rd_kafka_err2str(err));
    }
    dk->topics[dk->topic_count++] = (dev_topic){copy, partitions};
    return EDDY_OK;
}

eddy_err eddy_dev_kafka_create_topic(eddy_dev_kafka *dk, const char *name, int32_t partitions)
{
    if (dk == NULL) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "dev kafka: no cluster");
    }
    eddy_err err = check_topic(name, partitions);
    if (err != EDDY_OK) {
        return err;
    }
    pthread_mutex_lock(&dk->lock);
    err = create_locked(dk, name, partitions);
    pthread_mutex_unlock(&dk->lock);
    if (err == EDDY_OK) {
        emit_event(dk, "created topic '%s' with %d partition%s", name, (int)partitions,
                   partitions == 1 ? "" : "s");
    }
    return err;
}

/* ------------------------------------------------------------------------------------------ */
/* Faults                                                                                     */

eddy_err eddy_dev_kafka_broker_down(eddy_dev_kafka *dk, int32_t broker_id)
{
    eddy_err err = check_broker(dk, broker_id);
    if (err != EDDY_OK) {
        return err;
    }
    rd_kafka_resp_err_t kerr = rd_kafka_mock_broker_set_down(dk->mock, broker_id);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return eddy__fail(EDDY_ERR_IO, "broker %d: cannot take it down: %s", (int)broker_id,
                          rd_kafka_err2str(kerr));
    }
    emit_event(dk, "broker %d down", (int)broker_id);
    return EDDY_OK;
}

eddy_err eddy_dev_kafka_broker_up(eddy_dev_kafka *dk, int32_t broker_id)
{
    eddy_err err = check_broker(dk, broker_id);
    if (err != EDDY_OK) {
        return err;
    }
    rd_kafka_resp_err_t kerr = rd_kafka_mock_broker_set_up(dk->mock, broker_id);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return eddy__fail(EDDY_ERR_IO, "broker %d: cannot bring it up: %s", (int)broker_id,
                          rd_kafka_err2str(kerr));
    }
    emit_event(dk, "broker %d up", (int)broker_id);
    return EDDY_OK;
}

eddy_err eddy_dev_kafka_set_leader(eddy_dev_kafka *dk, const char *topic, int32_t partition,
                                   int32_t broker_id)
{
    if (broker_id != -1) {
        eddy_err err = check_broker(dk, broker_id);
        if (err != EDDY_OK) {
            return err;
        }
    }
    if (dk == NULL || topic == NULL) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "set leader: no cluster or no topic");
    }
    /* Checked against the registry because the mock creates any topic it does not know. */
    pthread_mutex_lock(&dk->lock);
    const dev_topic *known = find_topic(dk, topic);
    int32_t partitions = known ? known->partitions : 0;
    pthread_mutex_unlock(&dk->lock);
    if (known == NULL) {
        return eddy__fail(EDDY_ERR_UNKNOWN_TOPIC,
                          "topic '%.64s' was not created through this cluster", topic);
    }
    if (partition < 0 || partition >= partitions) {
        return eddy__fail(EDDY_ERR_UNKNOWN_PARTITION, "topic '%s': no partition %d (it has %d)",
                          topic, (int)partition, (int)partitions);
    }
    rd_kafka_resp_err_t kerr =
        rd_kafka_mock_partition_set_leader(dk->mock, topic, partition, broker_id);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return eddy__fail(EDDY_ERR_IO, "topic '%s' partition %d: cannot set leader %d: %s", topic,
                          (int)partition, (int)broker_id, rd_kafka_err2str(kerr));
    }
    if (broker_id == -1) {
        emit_event(dk, "topic '%s' partition %d: no leader now", topic, (int)partition);
    } else {
        emit_event(dk, "topic '%s' partition %d: leader is now broker %d", topic, (int)partition,
                   (int)broker_id);
    }
    return EDDY_OK;
}

/* A code librdkafka knows: it names unknown ones "ERR_<n>?", and the ranges have gaps. */
static bool error_code_valid(int32_t code)
{
    bool internal = code > RD_KAFKA_RESP_ERR__BEGIN && code < RD_KAFKA_RESP_ERR__END;
    bool kafka = code == RD_KAFKA_RESP_ERR_UNKNOWN ||
                 (code > RD_KAFKA_RESP_ERR_NO_ERROR && code < RD_KAFKA_RESP_ERR_END_ALL);
    return (internal || kafka) && strchr(rd_kafka_err2name((rd_kafka_resp_err_t)code), '?') == NULL;
}

/* An error code given as a number or as librdkafka's name for it ("NOT_LEADER_FOR_PARTITION",
 * "_TRANSPORT"), so that users need not look numbers up. */
static bool parse_error_code(const char *text, long long *out)
{
    if (parse_int(text, INT32_MIN, INT32_MAX, out)) {
        return true;
    }
    for (int code = RD_KAFKA_RESP_ERR__BEGIN + 1; code < RD_KAFKA_RESP_ERR_END_ALL; code++) {
        if (error_code_valid(code) &&
            strcmp(rd_kafka_err2name((rd_kafka_resp_err_t)code), text) == 0) {
            *out = code;
            return true;
        }
    }
    return false;
}

eddy_err eddy_dev_kafka_push_request_errors(eddy_dev_kafka *dk, int16_t api_key, int count,
                                            int32_t error_code)
{
    if (dk == NULL || api_key < 0 || count < 1 || count > DEV_REQUEST_ERRORS_MAX) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "request errors: invalid API key %d or count %d (expected 0..32767 "
                          "and 1..%d)",
                          (int)api_key, count, DEV_REQUEST_ERRORS_MAX);
    }
    if (!error_code_valid(error_code)) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "request errors: %d is not a Kafka or librdkafka error code",
                          (int)error_code);
    }
    rd_kafka_resp_err_t *errors = eddy__malloc((size_t)count * sizeof(*errors));
    if (errors == NULL) {
        return eddy__fail(EDDY_ERR_NO_MEMORY, "request errors: out of memory");
    }
    for (int i = 0; i < count; i++) {
        errors[i] = (rd_kafka_resp_err_t)error_code;
    }
    rd_kafka_mock_push_request_errors_array(dk->mock, api_key, (size_t)count, errors);
    eddy__free(errors);
    const char *name = rd_kafka_err2name((rd_kafka_resp_err_t)error_code);
    if (count == 1) {
        emit_event(dk, "the next request with API key %d fails with %s (%d)", (int)api_key, name,
                   (int)error_code);
    } else {
        emit_event(dk, "the next %d requests with API key %d fail with %s (%d)", count,
                   (int)api_key, name, (int)error_code);
    }
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Requests: one line in, one line out                                                        */

/* A reply under construction; grows up to EDDY_DEV_KAFKA_REPLY_MAX. */
typedef struct reply_buf {
    char *data;
    size_t len;
    size_t cap;
} reply_buf;

static void reply_append(reply_buf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends formatted text; on exhaustion (no memory, or the reply limit) the reply keeps what
 * fits, which only a `topics` reply of a full registry could reach. */
static void reply_append(reply_buf *r, const char *fmt, ...)
{
    char piece[512];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(piece, sizeof(piece), fmt, args);
    va_end(args);
    size_t len = n < 0 ? 0 : ((size_t)n < sizeof(piece) ? (size_t)n : sizeof(piece) - 1);
    if (r->len + len + 2 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        while (cap < r->len + len + 2) {
            cap *= 2;
        }
        if (cap > EDDY_DEV_KAFKA_REPLY_MAX) {
            cap = EDDY_DEV_KAFKA_REPLY_MAX;
        }
        char *grown = cap > r->cap ? eddy__realloc(r->data, cap) : NULL;
        if (grown == NULL) {
            return;
        }
        r->data = grown;
        r->cap = cap;
        if (r->len + len + 2 > r->cap) {
            return;
        }
    }
    memcpy(r->data + r->len, piece, len);
    r->len += len;
    r->data[r->len] = '\0';
}

/* The reply for an eddy_err: ok, exists, or error with the last-error message. */
static void reply_result(reply_buf *r, eddy_err err)
{
    if (err == EDDY_OK) {
        reply_append(r, "ok");
    } else if (err == EDDY_ERR_EXISTS) {
        reply_append(r, "exists");
    } else {
        reply_append(r, "error %s", eddy_last_error());
    }
}

static void handle_topics(eddy_dev_kafka *dk, reply_buf *r)
{
    reply_append(r, "ok");
    pthread_mutex_lock(&dk->lock);
    for (size_t i = 0; i < dk->topic_count; i++) {
        reply_append(r, " %s:%d", dk->topics[i].name, (int)dk->topics[i].partitions);
    }
    pthread_mutex_unlock(&dk->lock);
}

/* Each request: its name, its operands, its grammar for error messages. */
typedef enum request_kind {
    REQUEST_CREATE_TOPIC,
    REQUEST_TOPICS,
    REQUEST_BROKER_DOWN,
    REQUEST_BROKER_UP,
    REQUEST_LEADER,
    REQUEST_REQUEST_ERRORS,
} request_kind;

static const struct {
    const char *name;
    int operands;
    const char *grammar;
} REQUESTS[] = {
    [REQUEST_CREATE_TOPIC] = {"create-topic", 2, "create-topic NAME PARTITIONS"},
    [REQUEST_TOPICS] = {"topics", 0, "topics"},
    [REQUEST_BROKER_DOWN] = {"broker-down", 1, "broker-down BROKER_ID"},
    [REQUEST_BROKER_UP] = {"broker-up", 1, "broker-up BROKER_ID"},
    [REQUEST_LEADER] = {"leader", 3, "leader TOPIC PARTITION BROKER_ID"},
    [REQUEST_REQUEST_ERRORS] = {"request-errors", 3, "request-errors API_KEY COUNT ERROR_CODE"},
};

enum { REQUEST_COUNT = sizeof(REQUESTS) / sizeof(REQUESTS[0]) };

/* Runs a parsed request whose operand count is right; numbers are checked here. */
static void run_request(eddy_dev_kafka *dk, request_kind kind, char **words, reply_buf *r)
{
    long long a = 0, b = 0, c = 0;
    switch (kind) {
    case REQUEST_CREATE_TOPIC:
        if (!parse_int(words[2], 1, EDDY_DEV_KAFKA_PARTITIONS_MAX, &a)) {
            reply_append(r, "error invalid partition count '%.32s' (expected 1..%d)", words[2],
                         EDDY_DEV_KAFKA_PARTITIONS_MAX);
            return;
        }
        reply_result(r, eddy_dev_kafka_create_topic(dk, words[1], (int32_t)a));
        return;
    case REQUEST_TOPICS:
        handle_topics(dk, r);
        return;
    case REQUEST_BROKER_DOWN:
    case REQUEST_BROKER_UP:
        if (!parse_int(words[1], -1, INT32_MAX, &a)) {
            reply_append(r, "error invalid broker id '%.32s'", words[1]);
            return;
        }
        reply_result(r, kind == REQUEST_BROKER_DOWN ? eddy_dev_kafka_broker_down(dk, (int32_t)a)
                                                    : eddy_dev_kafka_broker_up(dk, (int32_t)a));
        return;
    case REQUEST_LEADER:
        if (!parse_int(words[2], 0, INT32_MAX, &a) || !parse_int(words[3], -1, INT32_MAX, &b)) {
            reply_append(r, "error invalid partition '%.32s' or broker id '%.32s'", words[2],
                         words[3]);
            return;
        }
        reply_result(r, eddy_dev_kafka_set_leader(dk, words[1], (int32_t)a, (int32_t)b));
        return;
    case REQUEST_REQUEST_ERRORS:
        if (!parse_int(words[1], 0, INT16_MAX, &a) ||
            !parse_int(words[2], 1, DEV_REQUEST_ERRORS_MAX, &b) ||
            !parse_error_code(words[3], &c)) {
            reply_append(r,
                         "error invalid API key '%.32s', count '%.32s' or error code '%.32s' "
                         "(expected 0..32767, 1..%d, an error code or its name)",
                         words[1], words[2], words[3], DEV_REQUEST_ERRORS_MAX);
            return;
        }
        reply_result(r, eddy_dev_kafka_push_request_errors(dk, (int16_t)a, (int)b, (int32_t)c));
        return;
    }
}

/* Splits @p line in place at spaces and tabs; false when it has too many words. */
static bool split_words(char *line, char **words, int *count)
{
    *count = 0;
    char *save = NULL;
    for (char *word = strtok_r(line, " \t", &save); word != NULL;
         word = strtok_r(NULL, " \t", &save)) {
        if (*count == DEV_REQUEST_WORDS_MAX) {
            return false;
        }
        words[(*count)++] = word;
    }
    return true;
}

/* Answers one request line (NUL-terminated, without its newline; modified in place). */
static void handle_line(eddy_dev_kafka *dk, char *line, reply_buf *r)
{
    char *words[DEV_REQUEST_WORDS_MAX];
    int count = 0;
    if (!split_words(line, words, &count) || count == 0) {
        reply_append(r, "error %s request", count == 0 ? "empty" : "over-long");
        return;
    }
    for (int k = 0; k < REQUEST_COUNT; k++) {
        if (strcmp(words[0], REQUESTS[k].name) != 0) {
            continue;
        }
        if (count - 1 != REQUESTS[k].operands) {
            reply_append(r, "error '%s' takes %d operand%s: %s", REQUESTS[k].name,
                         REQUESTS[k].operands, REQUESTS[k].operands == 1 ? "" : "s",
                         REQUESTS[k].grammar);
            return;
        }
        run_request(dk, (request_kind)k, words, r);
        return;
    }
    reply_append(r,
                 "error unknown request '%.32s' (expected create-topic, topics, broker-down, "
                 "broker-up, leader or request-errors)",
                 words[0]);
}

/* ------------------------------------------------------------------------------------------ */
/* The control server                                                                         */

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Fills a sockaddr_un with the abstract name for @p port; returns its length. */
static socklen_t control_address(int port, struct sockaddr_un *address)
{
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    /* sun_path[0] stays NUL: the abstract namespace. The name is not NUL-terminated. */
    int n = snprintf(address->sun_path + 1, sizeof(address->sun_path) - 1, "%s%d",
                     DEV_SOCKET_PREFIX, port);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* Reads one request line from @p fd into @p line (NUL-terminated, newline and a trailing
 * carriage return removed), waiting at most DEV_SERVER_READ_TIMEOUT_MS and returning early
 * when stop is requested. Returns an error message, or NULL on success. */
static const char *read_request(const eddy_dev_kafka *dk, int fd, char *line, size_t cap)
{
    size_t len = 0;
    int64_t deadline = monotonic_ms() + DEV_SERVER_READ_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - monotonic_ms();
        struct pollfd fds[2] = {{fd, POLLIN, 0}, {dk->wake_fds[0], POLLIN, 0}};
        if (left <= 0 || poll(fds, 2, (int)left) == 0) {
            return "no request line within the time limit";
        }
        if (fds[1].revents != 0) {
            return "the cluster is stopping";
        }
        ssize_t n = recv(fd, line + len, cap - 1 - len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* the client ended its line with the connection */
        }
        char *newline = memchr(line + len, '\n', (size_t)n);
        len += (size_t)n;
        if (newline != NULL) {
            len = (size_t)(newline - line);
            break;
        }
        if (len == cap - 1) {
            return "request line too long";
        }
    }
    line[len] = '\0';
    if (len > 0 && line[len - 1] == '\r') {
        line[len - 1] = '\0';
    }
    return NULL;
}

/* Control characters in a reply (from a malformed request quoted back) would break the line
 * protocol; they become '?'. */
static void sanitize(char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
            text[i] = '?';
        }
    }
}

/* Only the cluster's own user may control it: the socket itself has no permissions. */
static bool peer_allowed(int fd)
{
    struct ucred credentials;
    socklen_t size = sizeof(credentials);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) {
        return false;
    }
    return credentials.uid == geteuid();
}

static void serve_connection(eddy_dev_kafka *dk, int fd)
{
    char line[EDDY_DEV_KAFKA_LINE_MAX + 1];
    reply_buf reply = {0};
    const char *problem = peer_allowed(fd) ? read_request(dk, fd, line, sizeof(line))
                                           : "permission denied: another user's cluster";
    if (problem != NULL) {
        reply_append(&reply, "error %s", problem);
    } else {
        handle_line(dk, line, &reply);
    }
    if (reply.data != NULL) {
        sanitize(reply.data, reply.len);
        reply.data[reply.len++] = '\n'; /* reply_append keeps room for it */
        struct timeval timeout = {DEV_SERVER_READ_TIMEOUT_MS / 1000, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
        for (size_t sent = 0; sent < reply.len;) {
            ssize_t n = send(fd, reply.data + sent, reply.len - sent, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break; /* the client went away: nothing to tell it */
            }
            sent += (size_t)n;
        }
    }
    eddy__free(reply.data);
}

static void *control_thread(void *arg)
{
    eddy_dev_kafka *dk = arg;
    struct pollfd fds[EDDY_DEV_KAFKA_BROKERS_MAX + 1];
    for (;;) {
        fds[0] = (struct pollfd){dk->wake_fds[0], POLLIN, 0};
        for (int i = 0; i < dk->listen_count; i++) {
            fds[i + 1] = (struct pollfd){dk->listen_fds[i], POLLIN, 0};
        }
        if (poll(fds, (nfds_t)dk->listen_count + 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            EDDY_ERROR(DEV_MODULE, "control channel: poll failed: %s", strerror(errno));
            return NULL;
        }
        if (fds[0].revents != 0) {
            return NULL;
        }
        for (int i = 0; i < dk->listen_count; i++) {
            if (fds[i + 1].revents == 0) {
                continue;
            }
            int fd = accept4(dk->listen_fds[i], NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                serve_connection(dk, fd);
                close(fd);
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Start and stop                                                                             */

/* librdkafka's log lines (of the dummy handle and the mock) go to eddy's log at debug level:
 * the mock reports every client disconnect, which is noise for a development cluster. */
static void rdkafka_log(const rd_kafka_t *rk, int level, const char *facility, const char *buf)
{
    (void)rk;
    EDDY_DEBUG(DEV_MODULE, "librdkafka %d %s: %s", level, facility, buf);
}

static eddy_err create_mock(eddy_dev_kafka *dk, int brokers)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL) {
        return eddy__fail(EDDY_ERR_NO_MEMORY, "dev kafka: out of memory");
    }
    rd_kafka_conf_set_log_cb(conf, rdkafka_log);
    if (rd_kafka_conf_set(conf, "client.id", "eddy-dev-kafka", errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return eddy__fail(EDDY_ERR_IO, "dev kafka: %s", errstr);
    }
    dk->handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (dk->handle == NULL) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new takes conf only on success */
        return eddy__fail(EDDY_ERR_IO, "dev kafka: cannot create a librdkafka handle: %s", errstr);
    }
    dk->mock = rd_kafka_mock_cluster_new(dk->handle, brokers);
    if (dk->mock == NULL) {
        return eddy__fail(EDDY_ERR_IO, "dev kafka: librdkafka could not start a mock cluster");
    }
    dk->bootstrap = eddy__strdup(rd_kafka_mock_cluster_bootstraps(dk->mock));
    if (dk->bootstrap == NULL) {
        return eddy__fail(EDDY_ERR_NO_MEMORY, "dev kafka: out of memory");
    }
    return EDDY_OK;
}

/* Binds one listening socket per broker port in the bootstrap list. */
static eddy_err open_control(eddy_dev_kafka *dk)
{
    const char *cursor = dk->bootstrap;
    while (cursor != NULL && *cursor != '\0' && dk->listen_count < EDDY_DEV_KAFKA_BROKERS_MAX) {
        const char *comma = strchr(cursor, ',');
        const char *colon = memrchr(cursor, ':', comma ? (size_t)(comma - cursor) : strlen(cursor));
        int port = colon ? atoi(colon + 1) : 0;
        cursor = comma ? comma + 1 : NULL;
        if (port <= 0) {
            return eddy__fail(EDDY_ERR_IO, "dev kafka: unexpected bootstrap address '%s'",
                              dk->bootstrap);
        }
        struct sockaddr_un address;
        socklen_t length = control_address(port, &address);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return eddy__fail_errno(errno, "dev kafka: control socket");
        }
        if (bind(fd, (struct sockaddr *)&address, length) != 0 || listen(fd, 16) != 0) {
            int saved = errno;
            close(fd);
            return eddy__fail(saved == EADDRINUSE ? EDDY_ERR_EXISTS : EDDY_ERR_IO,
                              "dev kafka: control socket for port %d: %s", port, strerror(saved));
        }
        dk->listen_fds[dk->listen_count++] = fd;
    }
    if (pipe2(dk->wake_fds, O_CLOEXEC) != 0) {
        dk->wake_fds[0] = dk->wake_fds[1] = -1;
        return eddy__fail_errno(errno, "dev kafka: control pipe");
    }
    return EDDY_OK;
}

eddy_err eddy_dev_kafka_start(int brokers, eddy_dev_kafka **out)
{
    if (out == NULL || brokers < 1 || brokers > EDDY_DEV_KAFKA_BROKERS_MAX) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "dev kafka: invalid broker count %d (expected 1..%d)", brokers,
                          EDDY_DEV_KAFKA_BROKERS_MAX);
    }
    *out = NULL;
    eddy_dev_kafka *dk = eddy__calloc(1, sizeof(*dk));
    if (dk == NULL) {
        return eddy__fail(EDDY_ERR_NO_MEMORY, "dev kafka: out of memory");
    }
    dk->brokers = brokers;
    dk->wake_fds[0] = dk->wake_fds[1] = -1;
    pthread_mutex_init(&dk->lock, NULL);
    eddy_err err = create_mock(dk, brokers);
    if (err == EDDY_OK) {
        err = open_control(dk);
    }
    if (err == EDDY_OK) {
        int rc = pthread_create(&dk->thread, NULL, control_thread, dk);
        if (rc != 0) {
            err = eddy__fail_errno(rc, "dev kafka: control thread");
        }
        dk->thread_started = rc == 0;
    }
    if (err != EDDY_OK) {
        eddy_dev_kafka_stop(dk);
        return err;
    }
    EDDY_INFO(DEV_MODULE, "mock cluster of %d broker%s at %s", brokers, brokers == 1 ? "" : "s",
              dk->bootstrap);
    *out = dk;
    return EDDY_OK;
}

void eddy_dev_kafka_stop(eddy_dev_kafka *dk)
{
    if (dk == NULL) {
        return;
    }
    if (dk->thread_started) {
        char byte = 1;
        while (write(dk->wake_fds[1], &byte, 1) < 0 && errno == EINTR) {
        }
        pthread_join(dk->thread, NULL);
    }
    for (int i = 0; i < dk->listen_count; i++) {
        close(dk->listen_fds[i]);
    }
    for (int i = 0; i < 2; i++) {
        if (dk->wake_fds[i] >= 0) {
            close(dk->wake_fds[i]);
        }
    }
    if (dk->mock != NULL) {
        rd_kafka_mock_cluster_destroy(dk->mock);
    }
    if (dk->handle != NULL) {
        rd_kafka_destroy(dk->handle);
    }
    for (size_t i = 0; i < dk->topic_count; i++) {
        eddy__free(dk->topics[i].name);
    }
    eddy__free(dk->topics);
    eddy__free(dk->bootstrap);
    pthread_mutex_destroy(&dk->lock);
    eddy__free(dk);
}

const char *eddy_dev_kafka_bootstrap(const eddy_dev_kafka *dk)
{
    return dk ? dk->bootstrap : NULL;
}

void eddy_dev_kafka_set_event_callback(eddy_dev_kafka *dk, eddy_dev_kafka_event_fn fn, void *opaque)
{
    if (dk == NULL) {
        return;
    }
    pthread_mutex_lock(&dk->lock);
    dk->event_fn = fn;
    dk->event_opaque = opaque;
    pthread_mutex_unlock(&dk->lock);
}

/* ------------------------------------------------------------------------------------------ */
/* The client side                                                                            */

/* Sends @p line and a newline on @p fd and reads one reply line into @p reply. */
static eddy_err exchange(int fd, const char *line, char *reply, size_t reply_cap, int port)
{
    struct timeval timeout = {DEV_CLIENT_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    size_t line_len = strlen(line);
    struct iovec parts[2] = {{(void *)line, line_len}, {"\n", 1}};
    struct msghdr message = {.msg_iov = parts, .msg_iovlen = 2};
    /* The request is at most EDDY_DEV_KAFKA_LINE_MAX bytes, well within a unix socket's
     * buffer, so one sendmsg either sends it all or fails. */
    ssize_t sent = sendmsg(fd, &message, MSG_NOSIGNAL);
    if (sent != (ssize_t)line_len + 1) {
        return eddy__fail_errno(errno ? errno : EIO, "dev kafka control channel at port %d", port);
    }
    size_t len = 0;
    while (len < reply_cap - 1) {
        ssize_t n = recv(fd, reply + len, reply_cap - 1 - len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return eddy__fail(
                errno == EAGAIN || errno == EWOULDBLOCK ? EDDY_ERR_TIMED_OUT : EDDY_ERR_IO,
                "dev kafka control channel at port %d: no reply: %s", port, strerror(errno));
        }
        if (n == 0) {
            return eddy__fail(EDDY_ERR_IO,
                              "dev kafka control channel at port %d: closed before replying", port);
        }
        char *newline = memchr(reply + len, '\n', (size_t)n);
        len += (size_t)n;
        if (newline != NULL) {
            len = (size_t)(newline - reply);
            break;
        }
    }
    reply[len] = '\0';
    return EDDY_OK;
}

/* The port of one bootstrap entry "[scheme://]HOST:PORT" whose host is this machine, or 0. */
static int local_port(const char *entry, size_t len)
{
    const char *scheme = memmem(entry, len, "://", 3);
    if (scheme != NULL) {
        len -= (size_t)(scheme + 3 - entry);
        entry = scheme + 3;
    }
    const char *colon = memrchr(entry, ':', len);
    if (colon == NULL) {
        return 0;
    }
    size_t host_len = (size_t)(colon - entry);
    bool local = (host_len == 9 && memcmp(entry, "localhost", 9) == 0) ||
                 (host_len == 9 && memcmp(entry, "127.0.0.1", 9) == 0);
    char digits[8];
    size_t digits_len = len - host_len - 1;
    if (!local || digits_len == 0 || digits_len >= sizeof(digits)) {
        return 0;
    }
    memcpy(digits, colon + 1, digits_len);
    digits[digits_len] = '\0';
    long long port = 0;
    return parse_int(digits, 1, 65535, &port) ? (int)port : 0;
}

/* Connects to the control channel for @p port: a descriptor, or -1 when none listens. */
static int connect_control(int port)
{
    struct sockaddr_un address;
    socklen_t length = control_address(port, &address);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&address, length) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

eddy_err eddy_dev_kafka_request_at(const char *bootstrap, const char *line, char *reply,
                                   size_t reply_cap)
{
    if (bootstrap == NULL || bootstrap[0] == '\0') {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "dev kafka: no bootstrap address given");
    }
    if (line == NULL || line[0] == '\0' || strlen(line) >= EDDY_DEV_KAFKA_LINE_MAX ||
        strchr(line, '\n') != NULL || reply == NULL || reply_cap == 0) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "dev kafka: a request is one non-empty line of at most %d bytes",
                          EDDY_DEV_KAFKA_LINE_MAX - 1);
    }
    reply[0] = '\0';
    for (const char *entry = bootstrap; entry != NULL;) {
        const char *comma = strchr(entry, ',');
        size_t len = comma ? (size_t)(comma - entry) : strlen(entry);
        int port = local_port(entry, len);
        entry = comma ? comma + 1 : NULL;
        int fd = port > 0 ? connect_control(port) : -1;
        if (fd >= 0) {
            eddy_err err = exchange(fd, line, reply, reply_cap, port);
            close(fd);
            return err;
        }
    }
    return eddy__fail(EDDY_ERR_NOT_FOUND,
                      "no development Kafka cluster (eddy dev kafka) answers at '%.200s'",
                      bootstrap);
}

eddy_err eddy_dev_kafka_create_topic_at(const char *bootstrap, const char *topic,
                                        int32_t partitions)
{
    eddy_err err = check_topic(topic, partitions);
    if (err != EDDY_OK) {
        return err;
    }
    char line[EDDY_TOPIC_NAME_MAX + 64];
    snprintf(line, sizeof(line), "create-topic %s %d", topic, (int)partitions);
    char reply[EDDY_DEV_KAFKA_LINE_MAX];
    err = eddy_dev_kafka_request_at(bootstrap, line, reply, sizeof(reply));
    if (err != EDDY_OK) {
        return err;
    }
    if (strcmp(reply, "ok") == 0) {
        return EDDY_OK;
    }
    if (strcmp(reply, "exists") == 0) {
        return eddy__fail(EDDY_ERR_EXISTS, "topic '%s' already exists", topic);
    }
    if (strncmp(reply, "error ", 6) == 0) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "%s", reply + 6);
    }
    return eddy__fail(EDDY_ERR_IO, "dev kafka: unexpected reply '%.200s'", reply);
}
