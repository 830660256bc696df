/* Tests for src/core/config.c: set/get, sorted iteration, validation of known keys with
 * messages naming key and value, integer reads with ranges, and properties files (comments,
 * blank lines, both separators, bad lines named by file and line, all-or-nothing loading). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread barriers, fork, setenv, sigaction */
#endif

#include "test.h"

#include "eddy/config.h"

static const char *write_file(const char *name, const char *contents)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s", test_tmpdir(), name);
    FILE *file = fopen(path, "w");
    EXPECT_TRUE(file != NULL);
    fputs(contents, file);
    fclose(file);
    return path;
}

TEST(config_set_get_and_overwrite)
{
    eddy_config *config = eddy_config_new();
    EXPECT_TRUE(config != NULL);
    EXPECT_EQ(eddy_config_count(config), 0);
    EXPECT_TRUE(eddy_config_get(config, "retention.ms") == NULL);
    EXPECT_OK(eddy_config_set(config, "retention.ms", "1000"));
    EXPECT_STREQ(eddy_config_get(config, "retention.ms"), "1000");
    EXPECT_OK(eddy_config_set(config, "retention.ms", "-1"));
    EXPECT_STREQ(eddy_config_get(config, "retention.ms"), "-1");
    EXPECT_EQ(eddy_config_count(config), 1);
    eddy_config_destroy(config);
    eddy_config_destroy(NULL);
}

TEST(config_copies_keys_and_values)
{
    eddy_config *config = eddy_config_new();
    char key[] = "application.id";
    char value[] = "orders";
    EXPECT_OK(eddy_config_set(config, key, value));
    key[0] = 'X';
    value[0] = 'X';
    EXPECT_STREQ(eddy_config_get(config, "application.id"), "orders");
    eddy_config_destroy(config);
}

TEST(config_iterates_in_sorted_order)
{
    eddy_config *config = eddy_config_new();
    const char *keys[] = {"m", "b", "z", "a", "q", "c", "y"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        EXPECT_OK(eddy_config_set(config, keys[i], keys[i]));
    /* Many more than the first allocation, to cover growth. */
    char many[32];
    for (int i = 0; i < 100; i++) {
        snprintf(many, sizeof(many), "k%03d", 99 - i);
        EXPECT_OK(eddy_config_set(config, many, "v"));
    }
    EXPECT_EQ(eddy_config_count(config), 107);
    const char *previous = "";
    for (size_t i = 0; i < eddy_config_count(config); i++) {
        const char *key, *value;
        eddy_config_at(config, i, &key, &value);
        EXPECT_TRUE(strcmp(previous, key) < 0);
        EXPECT_STREQ(eddy_config_get(config, key), value);
        previous = key;
    }
    const char *first;
    eddy_config_at(config, 0, &first, NULL);
    EXPECT_STREQ(first, "a");
    eddy_config_destroy(config);
}

TEST(config_unknown_keys_are_kept)
{
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "bootstrap.servers", "localhost:9092"));
    EXPECT_OK(eddy_config_set(config, "my.app.thing", "anything at all"));
    EXPECT_OK(eddy_config_set(config, "empty.value", ""));
    EXPECT_STREQ(eddy_config_get(config, "my.app.thing"), "anything at all");
    EXPECT_STREQ(eddy_config_get(config, "empty.value"), "");
    eddy_config_destroy(config);
}

TEST(config_rejects_bad_arguments)
{
    eddy_config *config = eddy_config_new();
    EXPECT_ERR(eddy_config_set(config, "", "x"), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_config_set(config, NULL, "x"), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_config_set(config, "k", NULL), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_config_set(NULL, "k", "v"), EDDY_ERR_INVALID_ARGUMENT);
    char *huge = malloc(5000);
    memset(huge, 'v', 4999);
    huge[4999] = '\0';
    EXPECT_ERR(eddy_config_set(config, "k", huge), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "config k: the value is longer than 4096 bytes");
    free(huge);
    EXPECT_EQ(eddy_config_count(config), 0);
    eddy_config_destroy(config);
}

/* Sets key=value, expecting EDDY_ERR_CONFIG with exactly `message`, and the key left as it was. */
static void expect_rejected(const char *key, const char *value, const char *message)
{
    eddy_config *config = eddy_config_new();
    EXPECT_ERR(eddy_config_set(config, key, value), EDDY_ERR_CONFIG);
    EXPECT_STREQ(eddy_last_error(), message);
    EXPECT_TRUE(eddy_config_get(config, key) == NULL);
    eddy_config_destroy(config);
}

TEST(config_validates_integer_keys)
{
    expect_rejected("retention.ms", "abc", "config retention.ms: 'abc' is not an integer");
    expect_rejected("retention.ms", "", "config retention.ms: '' is not an integer");
    expect_rejected("retention.ms", "12x", "config retention.ms: '12x' is not an integer");
    expect_rejected("retention.ms", " 12", "config retention.ms: ' 12' is not an integer");
    expect_rejected("retention.ms", "1.5", "config retention.ms: '1.5' is not an integer");
    expect_rejected("retention.ms", "-2", "config retention.ms: '-2' is out of range (minimum -1)");
    expect_rejected("retention.bytes", "-5",
                    "config retention.bytes: '-5' is out of range (minimum -1)");
    expect_rejected("retention.ms", "99999999999999999999",
                    "config retention.ms: '99999999999999999999' is out of range (minimum -1)");
    expect_rejected("segment.bytes", "1023",
                    "config segment.bytes: '1023' is out of range (1024 to 2147483647)");
    expect_rejected("segment.bytes", "2147483648",
                    "config segment.bytes: '2147483648' is out of range (1024 to 2147483647)");
    expect_rejected("segment.ms", "0", "config segment.ms: '0' is out of range (minimum 1)");
    expect_rejected("delete.retention.ms", "-1",
                    "config delete.retention.ms: '-1' is out of range (minimum 0)");
    expect_rejected("index.interval.bytes", "-1",
                    "config index.interval.bytes: '-1' is out of range (minimum 0)");
    expect_rejected("session.timeout.ms", "0",
                    "config session.timeout.ms: '0' is out of range (minimum 1)");
    expect_rejected("commit.interval.ms", "-1",
                    "config commit.interval.ms: '-1' is out of range (minimum 0)");
    expect_rejected("num.stream.threads", "0",
                    "config num.stream.threads: '0' is out of range (minimum 1)");

    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "retention.ms", "-1"));
    EXPECT_OK(eddy_config_set(config, "retention.bytes", "+100"));
    EXPECT_OK(eddy_config_set(config, "segment.bytes", "1024"));
    EXPECT_OK(eddy_config_set(config, "segment.bytes", "2147483647"));
    EXPECT_OK(eddy_config_set(config, "segment.ms", "1"));
    EXPECT_OK(eddy_config_set(config, "delete.retention.ms", "0"));
    EXPECT_OK(eddy_config_set(config, "index.interval.bytes", "4096"));
    EXPECT_OK(eddy_config_set(config, "session.timeout.ms", "45000"));
    EXPECT_OK(eddy_config_set(config, "commit.interval.ms", "0"));
    EXPECT_OK(eddy_config_set(config, "num.stream.threads", "4"));
    EXPECT_OK(eddy_config_set(config, "retention.ms", "9223372036854775807"));
    eddy_config_destroy(config);
}

TEST(config_validates_choice_keys)
{
    expect_rejected("cleanup.policy", "bogus",
                    "config cleanup.policy: 'bogus' is not one of delete, compact, "
                    "compact,delete, delete,compact");
    expect_rejected("message.timestamp.type", "createtime",
                    "config message.timestamp.type: 'createtime' is not one of CreateTime, "
                    "LogAppendTime");
    expect_rejected("auto.offset.reset", "smallest",
                    "config auto.offset.reset: 'smallest' is not one of earliest, latest, none");
    expect_rejected("enable.auto.commit", "yes",
                    "config enable.auto.commit: 'yes' is not one of true, false");
    expect_rejected("acks", "2", "config acks: '2' is not one of all, -1, 1, 0");

    eddy_config *config = eddy_config_new();
    const char *policies[] = {"delete", "compact", "compact,delete", "delete,compact"};
    for (int i = 0; i < 4; i++)
        EXPECT_OK(eddy_config_set(config, "cleanup.policy", policies[i]));
    EXPECT_OK(eddy_config_set(config, "message.timestamp.type", "CreateTime"));
    EXPECT_OK(eddy_config_set(config, "message.timestamp.type", "LogAppendTime"));
    EXPECT_OK(eddy_config_set(config, "auto.offset.reset", "earliest"));
    EXPECT_OK(eddy_config_set(config, "auto.offset.reset", "latest"));
    EXPECT_OK(eddy_config_set(config, "auto.offset.reset", "none"));
    EXPECT_OK(eddy_config_set(config, "enable.auto.commit", "true"));
    EXPECT_OK(eddy_config_set(config, "enable.auto.commit", "FALSE"));
    const char *acks[] = {"all", "-1", "1", "0"};
    for (int i = 0; i < 4; i++)
        EXPECT_OK(eddy_config_set(config, "acks", acks[i]));
    eddy_config_destroy(config);
}

TEST(config_failed_set_keeps_the_old_value)
{
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "cleanup.policy", "compact"));
    EXPECT_ERR(eddy_config_set(config, "cleanup.policy", "bogus"), EDDY_ERR_CONFIG);
    EXPECT_STREQ(eddy_config_get(config, "cleanup.policy"), "compact");
    eddy_config_destroy(config);
}

TEST(config_set_pair)
{
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set_pair(config, "retention.ms=5000"));
    EXPECT_STREQ(eddy_config_get(config, "retention.ms"), "5000");
    EXPECT_OK(eddy_config_set_pair(config, " bootstrap.servers = a:9092,b:9092 "));
    EXPECT_STREQ(eddy_config_get(config, "bootstrap.servers"), "a:9092,b:9092");
    EXPECT_OK(eddy_config_set_pair(config, "x=y=z"));
    EXPECT_STREQ(eddy_config_get(config, "x"), "y=z");
    EXPECT_ERR(eddy_config_set_pair(config, "no-equals"), EDDY_ERR_CONFIG);
    EXPECT_STREQ(eddy_last_error(), "config: 'no-equals' is not key=value");
    EXPECT_ERR(eddy_config_set_pair(config, "=5"), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "empty key");
    EXPECT_ERR(eddy_config_set_pair(config, "retention.ms=abc"), EDDY_ERR_CONFIG);
    EXPECT_STREQ(eddy_last_error(), "config retention.ms: 'abc' is not an integer");
    eddy_config_destroy(config);
}

TEST(config_copy_is_deep)
{
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "a", "1"));
    EXPECT_OK(eddy_config_set(config, "b", "2"));
    eddy_config *copy = eddy_config_copy(config);
    EXPECT_TRUE(copy != NULL);
    EXPECT_OK(eddy_config_set(config, "a", "changed"));
    eddy_config_destroy(config);
    EXPECT_EQ(eddy_config_count(copy), 2);
    EXPECT_STREQ(eddy_config_get(copy, "a"), "1");
    EXPECT_STREQ(eddy_config_get(copy, "b"), "2");
    eddy_config_destroy(copy);
    EXPECT_TRUE(eddy_config_copy(NULL) == NULL);
}

TEST(config_get_i64_defaults_and_ranges)
{
    eddy_config *config = eddy_config_new();
    int64_t value = 0;
    EXPECT_OK(eddy_config_get_i64(config, "custom.delay.ms", 5, 0, 1000, &value));
    EXPECT_EQ(value, 5);
    EXPECT_OK(eddy_config_set(config, "custom.delay.ms", "250"));
    EXPECT_OK(eddy_config_get_i64(config, "custom.delay.ms", 5, 0, 1000, &value));
    EXPECT_EQ(value, 250);

    value = 77;
    EXPECT_ERR(eddy_config_get_i64(config, "custom.delay.ms", 5, 0, 100, &value), EDDY_ERR_CONFIG);
    EXPECT_STREQ(eddy_last_error(), "config custom.delay.ms: '250' is out of range (0 to 100)");
    EXPECT_EQ(value, 77); /* untouched on failure */
    EXPECT_ERR(eddy_config_get_i64(config, "custom.delay.ms", 5, 251, INT64_MAX, &value),
               EDDY_ERR_CONFIG);
    EXPECT_STREQ(eddy_last_error(), "config custom.delay.ms: '250' is out of range (minimum 251)");

    EXPECT_OK(eddy_config_set(config, "custom.delay.ms", "soon"));
    EXPECT_ERR(eddy_config_get_i64(config, "custom.delay.ms", 5, 0, 1000, &value), EDDY_ERR_CONFIG);
    EXPECT_STREQ(eddy_last_error(), "config custom.delay.ms: 'soon' is not an integer");

    EXPECT_OK(eddy_config_set(config, "big", "-9223372036854775808"));
    EXPECT_OK(eddy_config_get_i64(config, "big", 0, INT64_MIN, INT64_MAX, &value));
    EXPECT_TRUE(value == INT64_MIN);
    EXPECT_ERR(eddy_config_get_i64(config, "big", 0, 10, 5, &value), EDDY_ERR_INVALID_ARGUMENT);
    eddy_config_destroy(config);
}

TEST(config_load_file)
{
    const char *path = write_file("app.properties", "# orders service\n"
                                                    "\n"
                                                    "   ! another comment style\n"
                                                    "application.id=orders\n"
                                                    "  retention.ms =  60000  \n"
                                                    "bootstrap.servers: localhost:9092\n"
                                                    "cleanup.policy=compact,delete\r\n"
                                                    "url=http://host:80/x\n"
                                                    "empty=\n"
                                                    "last.line.without.newline=yes");
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "kept", "from before"));
    EXPECT_OK(eddy_config_load_file(config, path));
    EXPECT_STREQ(eddy_config_get(config, "application.id"), "orders");
    EXPECT_STREQ(eddy_config_get(config, "retention.ms"), "60000");
    EXPECT_STREQ(eddy_config_get(config, "bootstrap.servers"), "localhost:9092");
    EXPECT_STREQ(eddy_config_get(config, "cleanup.policy"), "compact,delete");
    EXPECT_STREQ(eddy_config_get(config, "url"), "http://host:80/x");
    EXPECT_STREQ(eddy_config_get(config, "empty"), "");
    EXPECT_STREQ(eddy_config_get(config, "last.line.without.newline"), "yes");
    EXPECT_STREQ(eddy_config_get(config, "kept"), "from before");
    EXPECT_EQ(eddy_config_count(config), 8);
    eddy_config_destroy(config);
}

/* Loads `contents`, expecting `code` with a message containing `message`, and config intact. */
static void expect_load_fails(const char *contents, eddy_err code, const char *message)
{
    const char *path = write_file("bad.properties", contents);
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "retention.ms", "1"));
    EXPECT_ERR(eddy_config_load_file(config, path), code);
    EXPECT_CONTAINS(eddy_last_error(), path);
    EXPECT_CONTAINS(eddy_last_error(), message);
    /* All or nothing: neither earlier good lines nor anything else were applied. */
    EXPECT_EQ(eddy_config_count(config), 1);
    EXPECT_STREQ(eddy_config_get(config, "retention.ms"), "1");
    eddy_config_destroy(config);
}

TEST(config_load_file_rejects_bad_lines_naming_the_line)
{
    expect_load_fails("a=1\n# fine\nthis line has no separator\nb=2\n", EDDY_ERR_CONFIG,
                      "bad.properties:3: expected key=value, got 'this line has no separator'");
    expect_load_fails("a=1\nretention.ms=abc\n", EDDY_ERR_CONFIG,
                      "bad.properties:2: config retention.ms: 'abc' is not an integer");
    expect_load_fails("\n\n\n\ncleanup.policy = bogus\n", EDDY_ERR_CONFIG,
                      "bad.properties:5: config cleanup.policy: 'bogus' is not one of delete, "
                      "compact, compact,delete");
    expect_load_fails("a=1\n=2\n", EDDY_ERR_CONFIG, "bad.properties:2: empty key");
    expect_load_fails("a=one \\\n  two\n", EDDY_ERR_CONFIG,
                      "bad.properties:1: line continuations are not supported");
}

TEST(config_load_file_rejects_long_lines_and_nul_bytes)
{
    char *contents = malloc(6000);
    strcpy(contents, "a=1\nkey=");
    size_t len = strlen(contents);
    memset(contents + len, 'v', 5000);
    strcpy(contents + len + 5000, "\n");
    expect_load_fails(contents, EDDY_ERR_CONFIG, "bad.properties:2: line is longer than 4096");
    free(contents);

    const char *path = write_file("nul.properties", "");
    FILE *file = fopen(path, "w");
    fwrite("a=1\nb=x\0y\n", 1, 11, file);
    fclose(file);
    eddy_config *config = eddy_config_new();
    EXPECT_ERR(eddy_config_load_file(config, path), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "nul.properties:2: line contains a NUL byte");
    EXPECT_EQ(eddy_config_count(config), 0);
    eddy_config_destroy(config);
}

TEST(config_load_missing_file_is_io_error)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/does-not-exist.properties", test_tmpdir());
    eddy_config *config = eddy_config_new();
    EXPECT_ERR(eddy_config_load_file(config, path), EDDY_ERR_IO);
    EXPECT_CONTAINS(eddy_last_error(), "does-not-exist.properties");
    EXPECT_CONTAINS(eddy_last_error(), "No such file or directory");
    EXPECT_ERR(eddy_config_load_file(config, test_tmpdir()), EDDY_ERR_IO); /* a directory */
    eddy_config_destroy(config);
}
