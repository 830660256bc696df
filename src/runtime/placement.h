/* Where the standby replicas of a task go (placement.c): the instances a task moves to when one
 * instance leaves the group, predicted from the group's range assignor. Pure functions over the
 * instance metadata; no I/O. */
#ifndef EDDY_RUNTIME_PLACEMENT_H
#define EDDY_RUNTIME_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

/* One live instance as its metadata describes it: its application.server and the group member
 * ids of its stream threads (none known yet: member_count 0). Borrowed strings. */
typedef struct eddy__placement_instance {
    const char *server;
    const char *const *members;
    size_t member_count;
} eddy__placement_instance;

/* The instances that should hold standbys of a task (partition `partition` of a sub-topology
 * with `partitions` partitions, id `task_id`) whose active copy runs on instances[owner], best
 * first, into out (at most `replicas` indices, never `owner`); returns how many.
 *
 * The order: first the instance the range assignor gives the task when the owner leaves (its
 * "heir"), then the instances it would move to when any other single instance leaves (range
 * assignment is not sticky: a task can move between survivors), then the remaining instances
 * by rendezvous hashing of (task_id, server), which also serves instances whose member ids are
 * not known. Every instance computes the same answer from the same metadata. */
size_t eddy__standby_placement(const eddy__placement_instance *instances, size_t count,
                               size_t owner, const char *task_id, int32_t partition,
                               int32_t partitions, size_t replicas, size_t *out);

#endif
