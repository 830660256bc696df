/* Faults: a full disk (injected, and real on a small tmpfs), a failing fdatasync, and
 * allocation failures. Whatever fails, nothing acknowledged before is lost, the log stays
 * readable, and a failed fsync is never retried into an acknowledgement. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fault.h"
#include "eddy/log.h"
#include "test.h"

static eddy_err append_value(eddy_log *log, const char *value, eddy_acks acks, int64_t *offset)
{
    eddy_record r = {.key = {"k", 1}, .value = {value, strlen(value)}, .timestamp_ms = -1};
    return eddy_log_append(log, "t", 0, &r, 1, acks, offset, NULL);
}

/* Reads the whole partition, checking offsets are dense from 0; returns the count. */
static int64_t count_records(eddy_log *log)
{
    eddy_log_reader *r;
    EXPECT_OK(eddy_log_reader_new(log, "t", 0, EDDY_OFFSET_BEGINNING, &r));
    eddy_record rec;
    int64_t n = 0;
    eddy_err err;
    while ((err = eddy_log_reader_next(r, 0, &rec)) == EDDY_OK) {
        EXPECT_EQ(rec.offset, n);
        n++;
    }
    EXPECT_ERR(err, EDDY_ERR_TIMED_OUT);
    eddy_log_reader_destroy(r);
    return n;
}

TEST(injected_disk_full_fails_the_append_and_keeps_the_log)
{
    const char *dir = test_tmpdir();
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, EDDY_LOG_CREATE, &log));
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, NULL));
    for (int i = 0; i < 10; i++)
        EXPECT_OK(append_value(log, "acknowledged", EDDY_ACKS_ALL, NULL));
    eddy__fault_set(EDDY_FAULT_WRITE, 1, ENOSPC, 0);
    EXPECT_ERR(append_value(log, "lost", EDDY_ACKS_ALL, NULL), EDDY_ERR_NO_SPACE);
    EXPECT_CONTAINS(eddy_last_error(), "00000000000000000000.log");
    EXPECT_EQ(count_records(log), 10);
    /* The half-written batch was cut: the next append gets the next offset and reads back. */
    int64_t offset;
    EXPECT_OK(append_value(log, "after", EDDY_ACKS_ALL, &offset));
    EXPECT_EQ(offset, 10);
    EXPECT_EQ(count_records(log), 11);
    int64_t problems;
    EXPECT_OK(eddy_log_verify(log, "t", NULL, NULL, &problems));
    EXPECT_EQ(problems, 0);
    eddy_log_close(log);
    EXPECT_OK(eddy_log_open(dir, 0, &log));
    EXPECT_EQ(count_records(log), 11);
    eddy_log_close(log);
}

TEST(failed_fdatasync_is_fatal_for_the_handle_never_acknowledged)
{
    const char *dir = test_tmpdir();
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, EDDY_LOG_CREATE, &log));
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, NULL));
    EXPECT_OK(append_value(log, "one", EDDY_ACKS_ALL, NULL));
    eddy__fault_set(EDDY_FAULT_FSYNC, 1, EIO, 0);
    EXPECT_ERR(append_value(log, "two", EDDY_ACKS_ALL, NULL), EDDY_ERR_FATAL);
    EXPECT_CONTAINS(eddy_last_error(), "fdatasync");
    /* The fault is gone, but the handle must not retry and then acknowledge. */
    EXPECT_ERR(append_value(log, "three", EDDY_ACKS_ALL, NULL), EDDY_ERR_FATAL);
    EXPECT_ERR(append_value(log, "four", EDDY_ACKS_LEADER, NULL), EDDY_ERR_FATAL);
    eddy_log_close(log);
    /* A fresh handle works again; the earlier record is intact. */
    EXPECT_OK(eddy_log_open(dir, 0, &log));
    int64_t offset;
    EXPECT_OK(append_value(log, "five", EDDY_ACKS_ALL, &offset));
    EXPECT_GE(offset, 1);
    EXPECT_EQ(count_records(log), offset + 1);
    eddy_log_close(log);
}

TEST(allocation_failures_return_errors_without_crashing)
{
    const char *dir = test_tmpdir();
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, EDDY_LOG_CREATE, &log));
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, NULL));
    EXPECT_OK(append_value(log, "one", EDDY_ACKS_LEADER, NULL));
    eddy_log_close(log);
    /* Fail the nth allocation of a whole open-append-read-close cycle for every n until the
     * cycle completes untouched: each failure must surface as an error, never a crash. */
    uint64_t n;
    for (n = 1; n < 400; n++) {
        uint64_t failures_before = eddy__alloc_failures_injected();
        eddy__alloc_fail_after(n, 0);
        eddy_log *l = NULL;
        eddy_err err = eddy_log_open(dir, 0, &l);
        if (err == EDDY_OK) {
            eddy_log_reader *r = NULL;
            append_value(l, "more", EDDY_ACKS_LEADER, NULL);
            if (eddy_log_reader_new(l, "t", 0, 0, &r) == EDDY_OK) {
                eddy_record rec;
                while (eddy_log_reader_next(r, 0, &rec) == EDDY_OK) {
                }
            }
            eddy_log_reader_destroy(r);
            eddy_log_close(l);
        } else {
            EXPECT_TRUE(err == EDDY_ERR_NO_MEMORY || err == EDDY_ERR_CORRUPT ||
                        err == EDDY_ERR_IO);
        }
        int injected = eddy__alloc_failures_injected() > failures_before;
        eddy__alloc_fail_after(0, 0);
        if (!injected)
            break;
    }
    EXPECT_GE(n, 5); /* the cycle does allocate: several failures were injected */
    EXPECT_TRUE(n < 400);
    EXPECT_OK(eddy_log_open(dir, 0, &log));
    EXPECT_GE(count_records(log), 1);
    int64_t problems;
    EXPECT_OK(eddy_log_verify(log, "t", NULL, NULL, &problems));
    EXPECT_EQ(problems, 0);
    eddy_log_close(log);
}

/* A real full disk: a 512 KiB tmpfs in a private mount namespace. Skipped (with a message)
 * where mount namespaces are not permitted. */
TEST(real_disk_full_on_tmpfs)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/small", test_tmpdir());
    EXPECT_EQ(mkdir(dir, 0755), 0);
    if (unshare(CLONE_NEWNS) != 0 && (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)) {
        printf("    skipped: cannot create a mount namespace (%s)\n", strerror(errno));
        return;
    }
    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    if (mount("tmpfs", dir, "tmpfs", 0, "size=512k") != 0) {
        printf("    skipped: cannot mount a tmpfs (%s)\n", strerror(errno));
        return;
    }
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, EDDY_LOG_CREATE, &log));
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, NULL));
    char value[1000];
    memset(value, 'x', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    int64_t acked = 0;
    eddy_err err;
    while ((err = append_value(log, value, EDDY_ACKS_ALL, NULL)) == EDDY_OK)
        acked++;
    EXPECT_ERR(err, EDDY_ERR_NO_SPACE);
    EXPECT_CONTAINS(eddy_last_error(), "No space left on device");
    EXPECT_GE(acked, 100);
    EXPECT_EQ(count_records(log), acked);
    eddy_log_close(log);
    EXPECT_OK(eddy_log_open(dir, 0, &log));
    EXPECT_EQ(count_records(log), acked);
    int64_t problems;
    EXPECT_OK(eddy_log_verify(log, "t", NULL, NULL, &problems));
    EXPECT_EQ(problems, 0);
    eddy_log_close(log);
    umount(dir);
}
