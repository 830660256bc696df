/* Standby placement (placement.h).
 *
 * Kafka Streams places standbys with its own sticky, standby-aware assignor. eddy's runtime
 * uses the plain range assignor of the log's consumer groups (librdkafka's on Kafka, the
 * embedded log's own), which sorts the members by member id and gives each a consecutive range
 * of every topic's partitions. Since the instances publish their threads' member ids in the
 * instance metadata, any instance can replay that assignment with one instance removed and see
 * where each task would go: a standby there means the task restores only its changelog's tail
 * when that instance dies. With one stream thread per instance a task has a single such
 * destination besides its owner (removing any one member shifts a partition's range rank by at
 * most one), so num.standby.replicas=1 covers every single failure. */
#include "runtime/placement.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"

typedef struct member_ref {
    const char *id;
    size_t instance;
} member_ref;

static int member_compare(const void *a, const void *b)
{
    const member_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c != 0 ? c : (x->instance > y->instance) - (x->instance < y->instance);
}

/* The rank (in member order) of the member the range assignor gives `partition` of `partitions`
 * among `members` members: the first `extra` members get each + 1 partitions, the rest each. */
static size_t range_rank_of(int32_t partition, int32_t partitions, size_t members)
{
    int32_t k = (int32_t)members, each = partitions / k, extra = partitions % k;
    int32_t wide = extra * (each + 1);
    if (partition < wide)
        return (size_t)(partition / (each + 1));
    return (size_t)(extra + (partition - wide) / each);
}

/* The instance the task goes to when instance `gone` leaves, from all members in member order
 * (`sorted`, n of them, `gone`'s among them: skipping them is the order without it). SIZE_MAX:
 * no member is left. */
static size_t destination_without(const member_ref *sorted, size_t n, size_t gone_members,
                                  size_t gone, int32_t partition, int32_t partitions)
{
    if (n == gone_members)
        return SIZE_MAX;
    size_t rank = range_rank_of(partition, partitions, n - gone_members);
    for (size_t i = 0; i < n; i++)
        if (sorted[i].instance != gone && rank-- == 0)
            return sorted[i].instance;
    return SIZE_MAX; /* not reached: rank < n - gone_members */
}

static bool chosen(const size_t *out, size_t n, size_t instance)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] == instance)
            return true;
    return false;
}

static uint64_t rendezvous(const char *task_id, const char *server)
{
    char buf[600];
    int len = snprintf(buf, sizeof buf, "%s|%s", task_id, server);
    return eddy__hash64(buf, len < (int)sizeof buf ? (size_t)len : sizeof buf - 1);
}

/* Appends the instances not chosen yet, highest rendezvous hash first, until `replicas`. */
static size_t fill_by_hash(const eddy__placement_instance *in, size_t count, size_t owner,
                           const char *task_id, size_t replicas, size_t *out, size_t n)
{
    while (n < replicas) {
        size_t best = SIZE_MAX;
        uint64_t best_hash = 0;
        for (size_t i = 0; i < count; i++) {
            if (i == owner || chosen(out, n, i))
                continue;
            uint64_t h = rendezvous(task_id, in[i].server);
            if (best == SIZE_MAX || h > best_hash ||
                (h == best_hash && strcmp(in[i].server, in[best].server) < 0)) {
                best = i;
                best_hash = h;
            }
        }
        if (best == SIZE_MAX)
            break;
        out[n++] = best;
    }
    return n;
}

/* The instance indices into order[], sorted by server: every instance computes the placement
 * from its own copy of the metadata, whose order may differ. */
static void server_order(const eddy__placement_instance *in, size_t count, size_t *order)
{
    for (size_t i = 0; i < count; i++) {
        size_t j = i;
        for (; j > 0 && strcmp(in[order[j - 1]].server, in[i].server) > 0; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
}

/* The instances whose member ids are not known yet: how many, and the last one. While one is
 * unknown, only its own departure can be replayed (the others' needs its members). */
static size_t members_unknown(const eddy__placement_instance *in, size_t count, size_t *members,
                              size_t *unknown)
{
    size_t n = 0;
    *members = 0;
    for (size_t i = 0; i < count; i++) {
        *members += in[i].member_count;
        if (in[i].member_count == 0) {
            *unknown = i;
            n++;
        }
    }
    return n;
}

size_t eddy__standby_placement(const eddy__placement_instance *in, size_t count, size_t owner,
                               const char *task_id, int32_t partition, int32_t partitions,
                               size_t replicas, size_t *out)
{
    size_t n = 0, members = 0, unknown = SIZE_MAX;
    size_t unknowns = members_unknown(in, count, &members, &unknown);
    bool predictable = unknowns <= 1 && members > 0 && partition >= 0 && partition < partitions;
    member_ref *sorted = predictable ? eddy__malloc(members * sizeof *sorted) : NULL;
    size_t *order = sorted ? eddy__malloc(count * sizeof *order) : NULL;
    if (order) {
        size_t k = 0;
        for (size_t i = 0; i < count; i++)
            for (size_t m = 0; m < in[i].member_count; m++)
                sorted[k++] = (member_ref){in[i].members[m], i};
        qsort(sorted, members, sizeof *sorted, member_compare);
        server_order(in, count, order);
        /* The owner's failure first: that is where the task goes when its instance dies. */
        for (size_t j = 0; j <= count && n < replicas; j++) {
            size_t gone = j == 0 ? owner : order[j - 1];
            if ((j > 0 && gone == owner) || (unknowns == 1 && gone != unknown))
                continue;
            size_t to = destination_without(sorted, members, in[gone].member_count, gone, partition,
                                            partitions);
            if (to != SIZE_MAX && to != owner && !chosen(out, n, to))
                out[n++] = to;
        }
    }
    eddy__free(sorted);
    eddy__free(order);
    return fill_by_hash(in, count, owner, task_id, replicas, out, n);
}
