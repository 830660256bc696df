/* Inside a task: the types and helpers shared by the operator files of src/runtime (task.c
 * holds the stateless, aggregation, table and join operators; other files add more). Only the
 * runtime includes this header.
 *
 * A record in flight is an eddy__flow: the record plus, for a table change, its old value.
 * An operator is `eddy_err op(eddy__task *task, uint32_t node, const eddy__flow *in)`; it
 * passes its output on with eddy__forward_children() before returning. Callbacks get an
 * eddy_ctx made with eddy__ctx_init(); what they emit with eddy_result() lands in ctx.value. */
#ifndef EDDY_RUNTIME_TASK_INTERNAL_H
#define EDDY_RUNTIME_TASK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/task.h"

#define TASK_ERROR_MAX 1024
#define CTX_INLINE_BYTES 128

enum { CHANGE_FLAG_OLD = 0, CHANGE_FLAG_NEW = 1, CHANGE_FLAG_BOTH = 2 };

typedef struct eddy__flow {
    eddy_record rec; /* key and value (the new value of a change) */
    eddy_slice old;  /* the old value of a change; null for stream records */
    bool change;     /* a table change (a repartition sink writes the flag byte) */
} eddy__flow;

typedef struct punctuation {
    uint32_t node;
    int64_t interval_ms;
    int64_t next_ms;
    eddy_punctuation_type type;
    eddy_punctuate_fn fn;
    void *state;
} punctuation;

/* What one task keeps for a stream-stream join between records (ops_join.c); zero until the
 * node first runs (`started` then set). A WINDOWED node keeps its window store's Kafka
 * observedStreamTime and seqnum; a JOINTHIS node keeps the time tracker both join sides share
 * (Kafka's KStreamImplJoin.TimeTracker). */
typedef struct eddy__join_state {
    bool started;
    uint32_t peer_plus_one; /* JOINTHIS/OTHER: the other side's join node + 1 (0: not found yet) */
    uint32_t sequence;      /* WINDOWED: the next sequence number of its store's records */
    int64_t observed_ms;    /* WINDOWED: the largest timestamp put into its store (-1: none) */
    int64_t expired_ms;     /* WINDOWED: the bound of the store's last physical expiry */
    int64_t stream_time_ms; /* JOINTHIS: the largest timestamp either side processed (-1) */
    int64_t min_time_ms;    /* JOINTHIS: Kafka's TimeTracker.minTime (INT64_MAX: unknown) */
} eddy__join_state;

typedef struct eddy__node_state {
    void *processor_state; /* PROCESS: what init made */
    bool initialized;
    bool send_old;         /* a descendant needs old values (Kafka's enableSendingOldValues) */
    bool carries_changes;  /* SOURCE: reads a repartition topic of table changes */
    bool deferred;         /* its store's cache forwards its changes (eddy__task_store_flushed) */
    int64_t observed_ms;   /* windowed aggregations, suppress: Kafka's observedStreamTime */
    int64_t expiry_due_ms; /* windowed aggregations: the observed time that starts the next
                            * expiry interval, so the next expiry runs (0: not known yet) */
    eddy__join_state join; /* stream-stream join nodes (ops_join.c) */
    uint64_t dropped_records; /* foreign-key join nodes (ops_fk.c): records they dropped */
} eddy__node_state;

struct eddy__task {
    const eddy__task_host *host;
    const eddy__topology *topology;
    uint32_t subtopology;
    int32_t partition;
    char id[32];
    eddy__node_state *nodes; /* by node index (only this sub-topology's are used) */
    eddy_kv_store **stores;  /* by store index; NULL where not this task's */
    char **topic_names;      /* by topic index: the full name */
    int64_t stream_time;
    punctuation *punctuations;
    uint32_t punctuation_count, punctuation_capacity;
    bool failed;
    char error[TASK_ERROR_MAX];
    eddy__task_stats stats;
    const char *last_topic; /* the previous record's topic string, and its source node */
    uint32_t last_source;
    uint32_t flushed_store, flushed_at; /* the last store flushed, and its owner's position */
};

/* The context of one callback call. */
typedef enum eddy__ctx_mode {
    EDDY__CTX_FORWARD,       /* eddy_forward / eddy_forward_value pass records to the children */
    EDDY__CTX_CAPTURE_PAIR,  /* eddy_forward captures one key and value (table group-by mapper) */
    EDDY__CTX_CAPTURE_VALUE, /* eddy_forward_value captures one value (table map-values) */
    EDDY__CTX_RESULT,        /* eddy_result captures one result */
    EDDY__CTX_INIT,          /* a processor's init: stores and schedule only */
} eddy__ctx_mode;

typedef struct eddy__capture {
    uint8_t inline_bytes[CTX_INLINE_BYTES];
    uint8_t *heap;
    size_t heap_capacity;
    eddy_slice slice; /* the captured bytes (null when none) */
    bool set;
} eddy__capture;

struct eddy_ctx {
    eddy__task *task;
    uint32_t node;
    const eddy__flow *in; /* the record the callback was given */
    eddy__ctx_mode mode;
    bool change; /* forwarding keeps the change flag (table operators) */
    eddy__capture key, value;
    eddy_err err; /* the first error a ctx function met */
};

/* ---- Helpers (task.c) ---- */

/* Makes c empty (no bytes captured) without clearing its inline bytes, which `= {0}` would do
 * (168 bytes, several times per record in the windowed operators). */
static inline void eddy__capture_init(eddy__capture *c)
{
    c->heap = NULL;
    c->heap_capacity = 0;
    c->slice = (eddy_slice){0};
    c->set = false;
}

/* Copies s into c (inline when small); null stays null. EDDY_ERR_NO_MEMORY. */
eddy_err eddy__capture_set(eddy__capture *c, eddy_slice s);
void eddy__capture_free(eddy__capture *c);

/* A context for calling one callback of `node` on `in` (NULL for init and punctuation). Free
 * its captures with eddy__ctx_done(). */
void eddy__ctx_init(eddy_ctx *ctx, eddy__task *task, uint32_t node, const eddy__flow *in,
                    eddy__ctx_mode mode);
void eddy__ctx_done(eddy_ctx *ctx);

const eddy__node *eddy__node_at(const eddy__task *task, uint32_t node);

/* Fails the task with a message naming it and the record (may be NULL) that caused `err`. */
eddy_err eddy__task_fail(eddy__task *task, const eddy_record *rec, eddy_err err, const char *what);

/* Runs every child of `node` on `out`, in order; stops at the first error. */
eddy_err eddy__forward_children(eddy__task *task, uint32_t node, const eddy__flow *out);

/* `in` with another key, value and old value. */
eddy__flow eddy__flow_with(const eddy__flow *in, eddy_slice key, eddy_slice value, eddy_slice old,
                           bool change);

eddy_slice eddy__str_slice(const char *s);

/* Reads `key` into `copy` (null when absent): the store's bytes may move at the next write. */
eddy_err eddy__store_get_copy(eddy_kv_store *store, eddy_slice key, eddy__capture *copy);

/* Puts `value`, or deletes the key when it is null. */
eddy_err eddy__store_write(eddy_kv_store *store, eddy_slice key, eddy_slice value);

/* The value a table's getter gives for in's key (Kafka's KTableValueGetter): `store`'s value,
 * then the unmaterialized filters and map-values between the store and `table_node`. Null in
 * `into` when absent or filtered out. */
eddy_err eddy__table_get(eddy__task *task, uint32_t table_node, uint32_t store,
                         const eddy__flow *in, eddy__capture *into);

/* ---- Operators in other files ---- */

/* ops_window.c: windowed aggregations (time, sliding, session) and suppression. */
eddy_err eddy__op_window_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in);
eddy_err eddy__op_sliding_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in);
eddy_err eddy__op_session_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in);
eddy_err eddy__op_suppress(eddy__task *task, uint32_t node, const eddy__flow *in);
/* A sliding-window store value's aggregate and latest record timestamp (null stays null;
 * EDDY_ERR_CORRUPT when shorter than the timestamp): for forwarding cached changes. */
eddy_err eddy__sliding_value(eddy_slice stored, eddy_slice *agg, int64_t *time_ms);

/* ops_join.c: stream-stream joins (the WINDOWED node and both join sides), table-table joins
 * and cogroup aggregation. */
eddy_err eddy__op_stream_join_window(eddy__task *task, uint32_t node, const eddy__flow *in);
eddy_err eddy__op_stream_join(eddy__task *task, uint32_t node, const eddy__flow *in);
eddy_err eddy__op_table_join(eddy__task *task, uint32_t node, const eddy__flow *in);
eddy_err eddy__op_cogroup_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in);

/* ops_fk.c: the foreign-key table-table join's operators (see topology.h's EDDY__OP_FK_*). */
eddy_err eddy__op_fk_subscription_send(eddy__task *task, uint32_t node, const eddy__flow *in);
eddy_err eddy__op_fk_subscription_receive(eddy__task *task, uint32_t node, const eddy__flow *in);
eddy_err eddy__op_fk_subscription_join(eddy__task *task, uint32_t node, const eddy__flow *in);
eddy_err eddy__op_fk_foreign_join(eddy__task *task, uint32_t node, const eddy__flow *in);
eddy_err eddy__op_fk_response_join(eddy__task *task, uint32_t node, const eddy__flow *in);
/* Whether a table feeding `child` must send old values because `child` sends a foreign-key
 * join's subscriptions (it withdraws the old foreign key's). */
bool eddy__fk_needs_old(const eddy__topology *topology, uint32_t child);
/* MurmurHash3 x64-128 of `data` (Kafka's Murmur3.hash128 with `seed`): out[0] is h1, out[1]
 * h2. The foreign-key join hashes left values with it (seed 104729). */
void eddy__murmur3_128(const void *data, size_t len, uint32_t seed, uint64_t out[2]);

/* Whether a table feeding `child` must send old values because `child` is a table-table join
 * side that reads them (Kafka's KTableImpl.doJoin: the left table of left and outer joins, the
 * right table of outer joins). */
bool eddy__table_join_needs_old(const eddy__topology *topology, uint32_t child);

/* The store to expire `store`'s old windows through (the host's expiry view, else the store). */
eddy_kv_store *eddy__task_expiry_store(eddy__task *task, uint32_t store);

/* Counts a record dropped by the task (late, unreadable, skipped): `counter` is one of
 * task->stats' fields; the host's dropped-records total grows too. */
void eddy__task_count_dropped(eddy__task *task, uint64_t *counter);

/* Runs one node on `in` (dispatching on its operator). */
eddy_err eddy__run_node(eddy__task *task, uint32_t node, const eddy__flow *in);

#endif
