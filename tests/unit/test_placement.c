/* Tests for src/runtime/placement.c: standbys go where the group's range assignor moves a task
 * when an instance leaves. The reference is the embedded log's own range assignor
 * (eddy__group_range_assign), applied to the members that remain. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/group.h"
#include "runtime/placement.h"
#include "test.h"

#define MAX_INSTANCES 6
#define MAX_MEMBERS 3

typedef struct cluster {
    size_t count;
    char ids[MAX_INSTANCES][MAX_MEMBERS][16];
    const char *id_ptrs[MAX_INSTANCES][MAX_MEMBERS];
    char servers[MAX_INSTANCES][16];
    eddy__placement_instance in[MAX_INSTANCES];
} cluster;

static void cluster_add(cluster *c, size_t members, const char *const *ids)
{
    size_t i = c->count++;
    snprintf(c->servers[i], sizeof c->servers[i], "host-%zu:80", i);
    for (size_t m = 0; m < members; m++) {
        snprintf(c->ids[i][m], sizeof c->ids[i][m], "%s", ids[m]);
        c->id_ptrs[i][m] = c->ids[i][m];
    }
    c->in[i] = (eddy__placement_instance){c->servers[i], c->id_ptrs[i], members};
}

/* The instance the reference assignor gives `partition` to, without instance `gone` (SIZE_MAX:
 * none gone). */
static size_t owner_without(const cluster *c, size_t gone, int32_t partition, int32_t partitions)
{
    const char *ids[MAX_INSTANCES * MAX_MEMBERS];
    size_t of[MAX_INSTANCES * MAX_MEMBERS], n = 0;
    for (size_t i = 0; i < c->count; i++)
        for (size_t m = 0; i != gone && m < c->in[i].member_count; m++) {
            ids[n] = c->in[i].members[m];
            of[n++] = i;
        }
    int32_t owner[64];
    eddy__group_range_assign(partitions, ids, n, owner);
    return owner[partition] < 0 ? SIZE_MAX : of[owner[partition]];
}

TEST(the_first_standby_is_where_the_task_goes_when_its_owner_dies)
{
    cluster c = {0};
    cluster_add(&c, 1, (const char *[]){"m-a"});
    cluster_add(&c, 1, (const char *[]){"m-b"});
    cluster_add(&c, 1, (const char *[]){"m-c"});
    /* All three: a 0, b 1, c 2. Without a: b 0-1, c 2. Without b: a 0-1, c 2. Without c: a 0-1,
     * b 2. */
    size_t expect[3] = {1, 0, 1};
    for (int32_t p = 0; p < 3; p++) {
        size_t out[2];
        char task[16];
        snprintf(task, sizeof task, "0_%d", (int)p);
        EXPECT_EQ(eddy__standby_placement(c.in, 3, (size_t)p, task, p, 3, 1, out), 1);
        EXPECT_EQ(out[0], expect[p]);
        /* With two replicas the other instance follows. */
        EXPECT_EQ(eddy__standby_placement(c.in, 3, (size_t)p, task, p, 3, 2, out), 2);
        EXPECT_EQ(out[0], expect[p]);
        EXPECT_TRUE(out[1] != (size_t)p && out[1] != expect[p]);
    }
}

static void random_id(char *buf, size_t size, unsigned *seed)
{
    snprintf(buf, size, "rd-%08x", (unsigned)rand_r(seed));
}

/* Random groups: the first standby is always the owner's heir; with one member per instance,
 * any single instance's departure moves the task only to its first standby. */
TEST(random_groups_match_the_range_assignor)
{
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        cluster c = {0};
        size_t instances = 2 + (size_t)rand_r(&seed) % (MAX_INSTANCES - 1);
        bool single = round % 2 == 0;
        for (size_t i = 0; i < instances; i++) {
            char ids[MAX_MEMBERS][16];
            const char *ptrs[MAX_MEMBERS];
            size_t members = single ? 1 : 1 + (size_t)rand_r(&seed) % MAX_MEMBERS;
            for (size_t m = 0; m < members; m++) {
                random_id(ids[m], sizeof ids[m], &seed);
                ptrs[m] = ids[m];
            }
            cluster_add(&c, members, ptrs);
        }
        int32_t partitions = 1 + rand_r(&seed) % 24;
        for (int32_t p = 0; p < partitions; p++) {
            size_t owner = owner_without(&c, SIZE_MAX, p, partitions);
            size_t out[MAX_INSTANCES];
            size_t n =
                eddy__standby_placement(c.in, c.count, owner, "1_0", p, partitions, c.count, out);
            EXPECT_EQ(n, c.count - 1);
            for (size_t i = 0; i < n; i++) {
                EXPECT_NE(out[i], owner);
                for (size_t j = 0; j < i; j++)
                    EXPECT_NE(out[i], out[j]);
            }
            size_t heir = owner_without(&c, owner, p, partitions);
            EXPECT_EQ(out[0], heir);
            for (size_t gone = 0; single && gone < c.count; gone++) {
                size_t to = owner_without(&c, gone, p, partitions);
                if (to != owner && to != out[0])
                    eddy_test_fail(__FILE__, __LINE__,
                                   "round %d: partition %d of %d moves to %zu without %zu, not "
                                   "to its owner %zu or first standby %zu",
                                   round, (int)p, (int)partitions, to, gone, owner, out[0]);
            }
        }
    }
}

/* An instance whose member ids are not known yet makes the assignment unpredictable: rendezvous
 * hashing places the standbys, the same whatever the order of the instances. */
TEST(unknown_members_fall_back_to_hashing_in_any_order)
{
    cluster c = {0};
    cluster_add(&c, 1, (const char *[]){"m-a"});
    cluster_add(&c, 0, NULL);
    cluster_add(&c, 1, (const char *[]){"m-c"});
    cluster_add(&c, 1, (const char *[]){"m-d"});
    size_t out[3];
    EXPECT_EQ(eddy__standby_placement(c.in, 4, 0, "0_5", 5, 8, 2, out), 2);
    EXPECT_NE(out[0], 0);
    EXPECT_NE(out[1], 0);
    EXPECT_NE(out[0], out[1]);
    const char *first = c.servers[out[0]], *second = c.servers[out[1]];
    /* Reversed order: the same servers. */
    eddy__placement_instance reversed[4];
    for (size_t i = 0; i < 4; i++)
        reversed[i] = c.in[3 - i];
    size_t rev[3];
    EXPECT_EQ(eddy__standby_placement(reversed, 4, 3, "0_5", 5, 8, 2, rev), 2);
    EXPECT_STREQ(reversed[rev[0]].server, first);
    EXPECT_STREQ(reversed[rev[1]].server, second);
    /* More replicas than other instances: every other instance, once. */
    EXPECT_EQ(eddy__standby_placement(c.in, 4, 0, "0_5", 5, 8, 7, out), 3);
}
