/* Tests for src/core/hash.c against values published by Kafka and librdkafka (not computed
 * here): murmur2 must match the Java client bit for bit, or keys land in other partitions. */
#include "test.h"

#include "core/hash.h"

static int32_t murmur2_of(const char *key)
{
    return eddy__murmur2(key, strlen(key));
}

TEST(murmur2_matches_kafka_utils_test)
{
    /* apache/kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java,
     * testMurmur2: the values Java's Utils.murmur2 returns for these keys' bytes. */
    EXPECT_EQ(murmur2_of("21"), -973932308);
    EXPECT_EQ(murmur2_of("foobar"), -790332482);
    EXPECT_EQ(murmur2_of("a-little-bit-long-string"), -985981536);
    EXPECT_EQ(murmur2_of("a-little-bit-longer-string"), -1486304829);
    EXPECT_EQ(murmur2_of("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
    EXPECT_EQ(murmur2_of("abc"), 479470107);
}

TEST(murmur2_matches_librdkafka_unit_test)
{
    /* confluentinc/librdkafka src/rdmurmur2.c, unittest_murmur2 ("java_murmur2_results"),
     * including keys at every alignment (the string pointers advanced by 1..3). */
    static const char short_key[] = "1234";
    static const char long_key[] = "PreAmbleWillBeRemoved,ThePrePartThatIs";
    EXPECT_EQ(murmur2_of("kafka"), (int32_t)0xd067cf64);
    EXPECT_EQ(murmur2_of("giberish123456789"), (int32_t)0x8f552b0c);
    EXPECT_EQ(murmur2_of(short_key), (int32_t)0x9fc97b14);
    EXPECT_EQ(murmur2_of(short_key + 1), (int32_t)0xe7c009ca);
    EXPECT_EQ(murmur2_of(short_key + 2), (int32_t)0x873930da);
    EXPECT_EQ(murmur2_of(short_key + 3), (int32_t)0x5a4b5ca1);
    EXPECT_EQ(murmur2_of(long_key), (int32_t)0x78424f1c);
    EXPECT_EQ(murmur2_of(long_key + 1), (int32_t)0x4a62b377);
    EXPECT_EQ(murmur2_of(long_key + 2), (int32_t)0xe0e4e09e);
    EXPECT_EQ(murmur2_of(long_key + 3), (int32_t)0x62b8b43f);
    EXPECT_EQ(murmur2_of(""), (int32_t)0x106e08d9);
    EXPECT_EQ(eddy__murmur2(NULL, 0), (int32_t)0x106e08d9);
}

TEST(partition_for_key_matches_librdkafka_partitioner_test)
{
    /* confluentinc/librdkafka tests/0048-partitioner.c, do_test_partitioners, "murmur2":
     * expected partitions are (murmur2 & 0x7fffffff) % partition_cnt, with these constants
     * (from tests/java/Murmur2Cli) and partition counts 17 and 7. */
    static const char unaligned[] = "123456";
    static const struct {
        const char *key;
        uint32_t positive_hash;
    } cases[] = {
        {"", 0x106e08d9},
        {unaligned + 1, 0x058d780f},
        {"this is another string with more length to it perhaps", 0x4f7703da},
        {"hejsan", 0x5ec19395},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *key = cases[i].key;
        EXPECT_EQ(eddy__partition_for_key(key, strlen(key), 17), cases[i].positive_hash % 17);
        EXPECT_EQ(eddy__partition_for_key(key, strlen(key), 7), cases[i].positive_hash % 7);
    }
}

TEST(partition_for_key_clears_the_sign_bit_like_java)
{
    /* Java's toPositive(x) is x & 0x7fffffff, not abs(x): for the negative hash of "21"
     * (-973932308, from Kafka's UtilsTest) the two give different partitions. */
    int32_t hash = -973932308;
    int32_t to_positive = hash & 0x7fffffff;
    EXPECT_EQ(to_positive, 1173551340);
    EXPECT_EQ(eddy__partition_for_key("21", 2, 10), to_positive % 10);
    EXPECT_NE(eddy__partition_for_key("21", 2, 10), (-hash) % 10);
    EXPECT_EQ(eddy__partition_for_key("21", 2, 1), 0);
    for (int32_t partitions = 1; partitions < 200; partitions++) {
        int32_t p = eddy__partition_for_key("foobar", 6, partitions);
        EXPECT_TRUE(p >= 0 && p < partitions);
    }
}

TEST(fnv1a64_matches_reference_vectors)
{
    /* FNV-1a 64 test vectors from the FNV reference (Fowler/Noll/Vo,
     * isthe.com/chongo/tech/comp/fnv). */
    EXPECT_TRUE(eddy__hash64("", 0) == 0xcbf29ce484222325ull);
    EXPECT_TRUE(eddy__hash64("a", 1) == 0xaf63dc4c8601ec8cull);
    EXPECT_TRUE(eddy__hash64("foobar", 6) == 0x85944171f73967e8ull);
    EXPECT_TRUE(eddy__hash64(NULL, 0) == 0xcbf29ce484222325ull);
}
