/* The embedded log's internal interfaces, shared by its files:
 *
 *   topic.c      the eddy_log handle, the data directory, topics and their metadata
 *   partition.c  one partition: shared state, cross-process append, group commit, recovery
 *   segment.c    segment files, their offset and time indexes, names and listing
 *   reader.c     reading one partition; offset lookup by time
 *   notify.c     cross-process wake-ups (notify.h)
 *   cleaner.c    retention, compaction, verification
 *   group.c      consumers and consumer groups
 *   batch.c      the RecordBatch v2 codec (batch.h)
 *
 * Layout of a data directory (docs/log-format.md):
 *
 *   DATA/eddy.format                  "eddy-log-format 1": refuses newer versions
 *   DATA/.eddy/notify                 shared wake-up counter
 *   DATA/topics/<topic>/topic.properties   partitions=N and the topic's config keys
 *   DATA/topics/<topic>/<p>/state     the partition's shared state (mapped by every process)
 *   DATA/topics/<topic>/<p>/<base>.log, .index, .timeindex   segments (base: 20 digits)
 *   DATA/groups/<group>/...           consumer groups (group.c)
 */
#ifndef EDDY_LOG_INTERNAL_H
#define EDDY_LOG_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "eddy/log.h"
#include "log/batch.h"

#define EDDY_LOG_FORMAT_FILE "eddy.format"
#define EDDY_LOG_FORMAT_VERSION 1
#define EDDY_PATH_MAX 4096

/* A topic's settings as the partition code uses them (parsed once from topic.properties). */
typedef struct eddy__topic_settings {
    int64_t segment_bytes;        /* segment.bytes, default 1 GiB */
    int64_t segment_ms;           /* segment.ms, default 7 days */
    int64_t index_interval_bytes; /* index.interval.bytes, default 4096 */
    int64_t retention_ms;         /* retention.ms, default 7 days; -1 forever */
    int64_t retention_bytes;      /* retention.bytes, default -1 */
    int64_t delete_retention_ms;  /* delete.retention.ms, default 1 day */
    bool cleanup_delete;          /* cleanup.policy has delete */
    bool cleanup_compact;         /* cleanup.policy has compact */
    bool log_append_time;         /* message.timestamp.type=LogAppendTime */
} eddy__topic_settings;

/* Reads settings from a topic config (Kafka defaults for unset keys). */
eddy_err eddy__topic_settings_from_config(const eddy_config *config, eddy__topic_settings *out);

/* ---- The shared state of a partition (the mapped file <p>/state) -------------------------
 * Every process that opens the partition maps this page. The mutexes are process-shared and
 * robust: when a holder dies the next locker gets EOWNERDEAD and repairs (partition.c). */
#define EDDY_PARTITION_STATE_MAGIC 0x65646479u /* "eddy" */
#define EDDY_PARTITION_STATE_VERSION 1
#define EDDY_PARTITION_STATE_SIZE 4096

typedef struct eddy__partition_state {
    uint32_t magic;
    uint32_t version;
    pthread_mutex_t append_lock; /* serialises appends, rolls and segment deletion */
    pthread_mutex_t sync_lock;   /* serialises fdatasync for group commit */
    pthread_mutex_t clean_lock;  /* one cleaner (retention/compaction) at a time */
    _Atomic int64_t end_offset;      /* log end offset: the next append's base offset */
    _Atomic int64_t start_offset;    /* log start offset */
    _Atomic int64_t active_base;     /* base offset of the active (last) segment */
    _Atomic int64_t active_size;     /* bytes of complete batches in the active segment */
    _Atomic int64_t active_created_ms;   /* when the active segment was created (segment.ms) */
    _Atomic int64_t active_max_timestamp; /* largest record timestamp in the active segment */
    _Atomic int64_t index_last_position;  /* position of the last offset-index entry, -1 none */
    _Atomic int64_t timeindex_last_timestamp; /* timestamp of the last time-index entry */
    _Atomic int64_t index_bytes;     /* sizes of the active segment's index files, so appends */
    _Atomic int64_t timeindex_bytes; /* add entries without asking the file system */
    _Atomic int64_t durable_offset;  /* every offset below this is covered by an fdatasync */
    _Atomic int64_t recovery_base;   /* recovery point: segment base ... */
    _Atomic int64_t recovery_position; /* ... and position up to which the segment is durable */
    _Atomic uint32_t deleted;        /* set when the topic is deleted: handles must reopen */
    _Atomic uint32_t segments_generation; /* bumped when segments are deleted or rewritten */
} eddy__partition_state;

/* A process's handle on one partition. Created on first use and kept until eddy_log_close(). */
typedef struct eddy__partition {
    struct eddy_log *log;
    char *topic;
    int32_t id;
    char dir[EDDY_PATH_MAX];
    eddy__topic_settings settings;
    int state_fd;                  /* holds an OFD read lock while open */
    eddy__partition_state *state;  /* the shared mapping */
    /* Guarded by state->append_lock: */
    int active_fd;                 /* this process's fd on the active segment */
    int64_t active_fd_base;        /* which segment active_fd is */
    int index_fd, timeindex_fd;    /* its indexes */
    /* Guarded by state->sync_lock: */
    int sync_fd;
    int64_t sync_fd_base;
    _Atomic bool fatal;            /* an fdatasync failed: refuse everything */
} eddy__partition;

/* ---- The eddy_log handle ------------------------------------------------------------------- */
typedef struct eddy__notify_page {
    _Atomic uint32_t seq;
    _Atomic uint32_t waiters;
} eddy__notify_page;

/* A cached topic: its partition count, for choosing partitions by key without a file read. */
typedef struct eddy__topic_entry {
    char *name;
    int32_t partitions;
} eddy__topic_entry;

struct eddy_log {
    char dir[EDDY_PATH_MAX];
    eddy__notify_page *notify;
    pthread_mutex_t lock; /* guards the caches below */
    eddy__partition **partitions; /* open partition handles */
    size_t partitions_count;
    size_t partitions_cap;
    eddy__partition **retired; /* handles of deleted topics, freed at close */
    size_t retired_count;
    eddy__topic_entry *topics;
    size_t topics_count;
    _Atomic uint32_t round_robin; /* next partition for records with a null key */
};

/* The cached handle for (topic, partition), opening it on first use. The pointer stays valid
 * until eddy_log_close(). EDDY_ERR_UNKNOWN_TOPIC / EDDY_ERR_UNKNOWN_PARTITION. */
eddy_err eddy__log_partition(eddy_log *log, const char *topic, int32_t partition,
                             eddy__partition **out);

/* Path helpers: DATA/topics/<topic> and DATA/topics/<topic>/<p>. */
void eddy__topic_dir(const eddy_log *log, const char *topic, char *buf, size_t size);

/* Reads a topic's partition count and config (caller destroys the config; it may be NULL). */
eddy_err eddy__topic_read_meta(const eddy_log *log, const char *topic, int32_t *partitions,
                               eddy_config **config);

/* The names in a directory, sorted, skipping "." and ".." and names starting with '+'
 * (entries being created or deleted); a missing directory gives none. Free with eddy_log_names_free(). */
eddy_err eddy__list_dir_names(const char *dir, char ***names, size_t *count);

/* Validates a topic name by Kafka's rules; the message names the topic. */
eddy_err eddy__topic_name_check(const char *topic);

/* ---- partition.c ---------------------------------------------------------------------------- */
eddy_err eddy__partition_open(eddy_log *log, const char *topic, int32_t partition,
                              eddy__partition **out);
void eddy__partition_close(eddy__partition *p);

/* Appends one encoded batch (baseOffset patched here). */
eddy_err eddy__partition_append(eddy__partition *p, eddy__buf *batch, int32_t record_count,
                                int64_t max_timestamp, eddy_acks acks, int64_t *base_offset);

/* Reads a consistent (active segment base, its readable size) pair. */
void eddy__partition_active(const eddy__partition *p, int64_t *base, int64_t *size);

/* Forces the next append to start a new segment. */
eddy_err eddy__partition_roll(eddy__partition *p);

/* Locks the append lock, repairing after a dead holder. Returns EDDY_OK or an error. */
eddy_err eddy__partition_lock(eddy__partition *p);
void eddy__partition_unlock(eddy__partition *p);

/* ---- segment.c ------------------------------------------------------------------------------ */
/* "<dir>/<20-digit base><ext>" */
void eddy__segment_path(const char *dir, int64_t base, const char *ext, char *buf, size_t size);

/* The sorted base offsets of the segments (.log files) in a partition directory. The caller
 * frees *bases with eddy__free. */
eddy_err eddy__segment_list(const char *dir, int64_t **bases, size_t *count);

/* Offset index: 8-byte entries (relative offset u32 BE, position u32 BE). */
#define EDDY_INDEX_ENTRY_SIZE 8
/* Time index: 12-byte entries (timestamp i64 BE, relative offset u32 BE). */
#define EDDY_TIMEINDEX_ENTRY_SIZE 12

/* The position of the last index entry whose offset <= target (0 when none). Index files are
 * hints: callers validate the batch found there. */
eddy_err eddy__index_lookup(const char *index_path, int64_t base, int64_t target,
                            int64_t *position);

/* The offset of the last time-index entry whose timestamp < target (base when none): every
 * record before that offset has a timestamp below target. */
eddy_err eddy__timeindex_lookup(const char *path, int64_t base, int64_t target_ms,
                                int64_t *offset);

/* The last time-index entry (the segment's max timestamp once closed); EDDY_ERR_NOT_FOUND when
 * the index is empty. */
eddy_err eddy__timeindex_last(const char *path, int64_t *timestamp_ms, int64_t *offset);

/* Walks the batches of a mapped segment from `position` up to `size`: for each well-formed,
 * CRC-valid batch calls cb (non-zero: stop before this batch, as if it were bad). Stops at the first bad or incomplete batch:
 * *valid_end receives the position after the last good batch, and the return is EDDY_OK when
 * the walk reached `size` exactly, EDDY_ERR_END for a torn tail, EDDY_ERR_CORRUPT otherwise. */
typedef int (*eddy__batch_visit)(const uint8_t *batch, const eddy__batch_header *h,
                                 int64_t position, void *opaque);
eddy_err eddy__segment_walk(const uint8_t *data, int64_t size, int64_t position,
                            eddy__batch_visit cb, void *opaque, int64_t *valid_end);

/* Maps a segment file read-only with `reserve` bytes of address space (at least its size) so
 * that a growing active segment needs no remapping. *size receives the file size, *mapped the
 * length to pass to eddy__segment_unmap. An empty file with no reserve maps nothing (NULL). */
eddy_err eddy__segment_map(const char *path, int64_t reserve, const uint8_t **data,
                           int64_t *size, int64_t *mapped);
void eddy__segment_unmap(const uint8_t *data, int64_t mapped);

/* fsyncs a directory (after creating, renaming or removing entries in it). */
eddy_err eddy__fsync_dir(const char *dir);

#endif
