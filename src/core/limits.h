/* All of eddy's limits in one place, each with the reason for its value. */
#ifndef EDDY_CORE_LIMITS_H
#define EDDY_CORE_LIMITS_H

/* Topic names: Kafka's own limit (249) and alphabet [a-zA-Z0-9._-], so names move to Kafka. */
#define EDDY_TOPIC_NAME_MAX 249

/* Group ids become directory names; keep them within one path component. */
#define EDDY_GROUP_NAME_MAX 249

/* Partitions per topic: each is a directory with open files and a shared mapping; 10,000 keeps
 * a topic's file handles within ordinary ulimits when opened lazily. */
#define EDDY_PARTITIONS_MAX 10000

/* One RecordBatch on disk: Kafka's default message.max.bytes is ~1 MiB; we allow 16 MiB so a
 * large batch of small records fits, and refuse anything larger as corrupt before allocating. */
#define EDDY_BATCH_BYTES_MAX (16u * 1024u * 1024u)

/* Records in one batch: bounds the offsets one append takes and the decode loop. */
#define EDDY_BATCH_RECORDS_MAX 1000000

/* Headers per record: bounds decoding of untrusted bytes. */
#define EDDY_RECORD_HEADERS_MAX 1024

/* Largest segment file: positions in the offset index are 32-bit, as in Kafka. */
#define EDDY_SEGMENT_BYTES_MAX (2147483647LL)

/* Smallest segment: below this, rolling dominates the work. */
#define EDDY_SEGMENT_BYTES_MIN 1024

/* Members of one consumer group on one machine: slots in the group's shared state file. */
#define EDDY_GROUP_MEMBERS_MAX 64

/* Topics one consumer may subscribe to. */
#define EDDY_SUBSCRIPTION_TOPICS_MAX 64

/* Distinct topics one group's members may subscribe to, together: each is an entry with an
 * owner byte per partition in the group's shared state file (10 KB each, in a sparse file). */
#define EDDY_GROUP_TOPICS_MAX 256

/* Largest committed-offsets file read: one line per partition (~30 bytes); 64 MiB holds over
 * two million partitions, far beyond any group, and is checked before allocating. */
#define EDDY_GROUP_OFFSETS_BYTES_MAX (64u * 1024u * 1024u)

/* Producer and consumer settings (client seam), shared by config validation and the client:
 * linger.ms and auto.commit.interval.ms have librdkafka's ranges; a producer batch must fit one
 * RecordBatch with room for its header; the queue bound keeps a stalled producer's memory
 * finite. */
#define EDDY_PRODUCER_LINGER_MS_MAX 900000
#define EDDY_PRODUCER_BATCH_BYTES_MAX ((int64_t)EDDY_BATCH_BYTES_MAX - 1024)
#define EDDY_PRODUCER_QUEUE_RECORDS_MAX 10000000
#define EDDY_AUTO_COMMIT_INTERVAL_MS_MAX 86400000

/* Processors in one topology: more is a generated-code bug, not a service; the bound keeps
 * every loop over the graph, and the 10-digit name counter, far from overflow. */
#define EDDY_TOPOLOGY_NODES_MAX 100000
/* Processor and store names: Kafka's Named.MAX_NAME_LENGTH. */
#define EDDY_TOPOLOGY_NAME_MAX 249
/* Topics one source may read. */
#define EDDY_TOPOLOGY_SOURCE_TOPICS_MAX 1024
/* Stores one user processor may be connected to. */
#define EDDY_TOPOLOGY_PROCESSOR_STORES_MAX 1024

/* Length of a properties-file line and of a config value. */
#define EDDY_CONFIG_LINE_MAX 4096

/* Length of the thread-local error message. */
#define EDDY_ERROR_MESSAGE_MAX 512

/* Length of one formatted log message: a line a person reads; longer ones are truncated rather
 * than allocated, so logging works when memory has run out. */
#define EDDY_LOG_MESSAGE_MAX 1024

/* State store names become directory names (RocksDB) and part of changelog topic names
 * (<application.id>-<store>-changelog); Kafka Streams allows [a-zA-Z0-9._-] and Kafka's topic
 * limit bounds the whole, so a name alone can be no longer than a topic name. */
#define EDDY_STORE_NAME_MAX 249

/* A state store's keys and values: each entry must fit in one changelog record, so in one batch
 * (EDDY_BATCH_BYTES_MAX); the memory store keeps their lengths in 32-bit fields. */
#define EDDY_KV_KEY_BYTES_MAX (16u * 1024u * 1024u)
#define EDDY_KV_VALUE_BYTES_MAX (16u * 1024u * 1024u)

#endif
