/* Instance metadata (metadata.c): which instance of an application hosts which tasks, shared
 * through a compacted topic on the application's own log, so that it works alike on the
 * embedded log and on Kafka. For the runtime only (app.c). */
#ifndef EDDY_RUNTIME_METADATA_H
#define EDDY_RUNTIME_METADATA_H

#include <stddef.h>

#include "client/client.h"
#include "eddy/common.h"
#include "eddy/config.h"

typedef struct eddy__metadata eddy__metadata;

/* The topic's name: "<application.id>-eddy-instances" into buf. */
void eddy__metadata_topic(const char *application_id, char *buf, size_t size);

/* The metadata topic's configuration (compacted); the caller destroys it. NULL: no memory. */
eddy_config *eddy__metadata_topic_config(void);

/* Starts sharing this instance's tasks as `server` (application.server, host:port) with
 * `threads` stream threads, on `client` (which must outlive it): reads the topic (created by
 * the caller) from its start on a thread of its own and publishes whenever a thread's tasks
 * change. Returns EDDY_OK; client errors. */
eddy_err eddy__metadata_start(eddy__client *client, const char *application_id, const char *server,
                              int threads, eddy__metadata **out);

/* Sets the active task ids ("<sub-topology>_<partition>") of stream thread `thread`; the
 * metadata thread publishes the instance's union soon after. Any thread. */
void eddy__metadata_set_tasks(eddy__metadata *m, int thread, const char *const *task_ids,
                              size_t count);

/* Sets the standby task ids this instance holds; published with the active ones. Any thread. */
void eddy__metadata_set_standbys(eddy__metadata *m, const char *const *task_ids, size_t count);

/* The servers holding standbys of `task_id`, comma-separated ("" none), for eddy__free(). */
eddy_err eddy__metadata_standbys(eddy__metadata *m, const char *task_id, char **servers);

/* Sets stream thread `thread`'s group member id ("" while it is none); published with the
 * tasks, for standby placement. An id with a comma or a space is published as "". Any thread. */
void eddy__metadata_set_member(eddy__metadata *m, int thread, const char *member_id);

/* The live instances' servers and (members not NULL) their stream threads' member ids,
 * comma-separated ("" while unknown), in the same order: arrays of `count` strings, each and the
 * arrays freed with eddy__free(). */
eddy_err eddy__metadata_servers(eddy__metadata *m, char ***servers, char ***members, size_t *count);

/* The server hosting `task_id` as the latest record on the topic says (the newest claim wins),
 * copied into a string the caller frees with eddy__free(); NULL when no instance claims it.
 * Any thread. Returns EDDY_OK or EDDY_ERR_NO_MEMORY. */
eddy_err eddy__metadata_owner(eddy__metadata *m, const char *task_id, char **server);

/* Every live instance, one line each, "<server> active=<task>,... standby=<task>,...
 * members=<id>,..." in server
 * order, into a string the caller frees with eddy__free(). Any thread. */
eddy_err eddy__metadata_describe(eddy__metadata *m, char **text);

/* Waits until this instance's latest tasks are published and read back (for tests and for a
 * caller that wants the answers to include them), at most timeout_ms. EDDY_OK or
 * EDDY_ERR_TIMED_OUT. */
eddy_err eddy__metadata_sync(eddy__metadata *m, int timeout_ms);

/* Publishes this instance's departure (a tombstone), stops the thread and frees. NULL: no-op. */
void eddy__metadata_stop(eddy__metadata *m);

#endif
