/* Consumer groups of the embedded log, internal interface: the range assignor, the committed-
 * offsets file codec, and the shared group state, exposed for tests and fuzz targets. The
 * public face (consumers, eddy_log_group_*) is in include/eddy/log.h; the on-disk layout and
 * the protocol are described at the top of group.c and in docs/log-format.md. */
#ifndef EDDY_LOG_GROUP_H
#define EDDY_LOG_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "eddy/log.h"

/* A member id: "eddy-<pid>-<n>" and its NUL fit easily. */
#define EDDY_GROUP_MEMBER_ID_MAX 64

/* ---------------------------------------------------------------------------------------- */
/* Range assignment (Kafka's RangeAssignor)                                                 */

/* For one topic with `partitions` partitions and the `count` members subscribed to it, writes
 * into owner[p] (0 <= p < partitions) the index into member_ids of partition p's member. Members
 * are ordered by strcmp of their ids (equal ids by index); in that order each gets
 * partitions / count partitions, the first partitions % count one more, in contiguous ranges.
 * count == 0 leaves every owner[p] at -1. */
void eddy__group_range_assign(int32_t partitions, const char *const *member_ids, size_t count,
                              int32_t *owner);

/* The same, for one member only: member `self` (an index into member_ids) gets partitions
 * [*first, *first + *n). */
void eddy__group_range_of(int32_t partitions, const char *const *member_ids, size_t count,
                          size_t self, int32_t *first, int32_t *n);

/* ---------------------------------------------------------------------------------------- */
/* Committed offsets file (DATA/groups/<group>/offsets)                                       */

typedef struct eddy__group_offset {
    const char *topic; /* points into the parsed buffer or the caller's strings */
    int32_t partition;
    int64_t offset; /* the next offset to read, as Kafka's committed offsets */
} eddy__group_offset;

typedef struct eddy__group_offsets {
    eddy__group_offset *entries; /* sorted by topic (strcmp), then partition; no duplicates */
    size_t count;
    size_t cap;
    char *text; /* the file's bytes, NUL-terminated in place; topics point into it */
} eddy__group_offsets;

/* Parses a whole offsets file. Takes ownership of `text` (allocated with eddy__malloc, with one
 * spare byte after len), also on failure. EDDY_ERR_CORRUPT (message names `what`, the line and
 * the problem) for anything malformed, EDDY_ERR_FORMAT_VERSION for a newer format. */
eddy_err eddy__group_offsets_parse(char *text, size_t len, const char *what,
                                   eddy__group_offsets *out);

/* Encodes the offsets as a file image (eddy__malloc'd, *len bytes). */
eddy_err eddy__group_offsets_format(const eddy__group_offsets *offsets, char **text, size_t *len);

/* Frees the entries and text; the struct is zeroed. */
void eddy__group_offsets_free(eddy__group_offsets *offsets);

/* ---------------------------------------------------------------------------------------- */
/* Shared state, for tests that simulate crashes                                            */

typedef struct eddy__group eddy__group;

/* Opens (creating with create != 0) the group's directory and shared state. */
eddy_err eddy__group_open(eddy_log *log, const char *group, int create, eddy__group **out);
void eddy__group_close(eddy__group *group);

/* Takes and releases the group's membership mutex (the process-shared robust mutex in the
 * state file). A test takes it and dies to leave it owner-dead. */
eddy_err eddy__group_lock(eddy__group *group);
void eddy__group_unlock(eddy__group *group);

#endif
