/* Tests of the serdes (src/serde/): Kafka's exact byte layouts against hand-written bytes,
 * round trips at the edges of every type, checks with their messages, null slices, canonical
 * JSON, custom serdes, and allocation failures (eddy's and jansson's) that must return errors,
 * never wrong values, and leak nothing. */
#include "test.h"

#include <float.h>
#include <jansson.h>
#include <math.h>

#include "core/alloc.h"
#include "eddy/serde.h"
#include "serde/serde_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */

static const eddy_slice null_slice = {NULL, 0};

static eddy_slice bytes_of(const void *data, size_t len)
{
    eddy_slice slice = {data, len};
    return slice;
}

/* "00 00 00 01": bytes as lower-case hex pairs, so that a wrong layout prints readably. */
static const char *hex(const uint8_t *bytes, size_t len)
{
    static char text[4][256];
    static int next;
    char *out = text[next++ % 4];
    size_t at = 0;
    for (size_t i = 0; i < len && at + 4 < sizeof(text[0]); i++)
        at += (size_t)snprintf(out + at, sizeof(text[0]) - at, i ? " %02x" : "%02x", bytes[i]);
    out[at] = '\0';
    return out;
}

static uint64_t double_bits(double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof(bits));
    return bits;
}

static double double_from_bits(uint64_t bits)
{
    double value;
    memcpy(&value, &bits, sizeof(value));
    return value;
}

static const char *int32_hex(int32_t value)
{
    uint8_t out[4];
    eddy_int32_encode(value, out);
    return hex(out, 4);
}

static const char *int64_hex(int64_t value)
{
    uint8_t out[8];
    eddy_int64_encode(value, out);
    return hex(out, 8);
}

static const char *double_hex(double value)
{
    uint8_t out[8];
    eddy_double_encode(value, out);
    return hex(out, 8);
}

/* Encodes a JSON value and returns the text (a static copy), failing the test on error. */
static const char *json_text(const json_t *value)
{
    static char text[4096];
    char *out;
    size_t len;
    EXPECT_OK(eddy_json_encode(value, &out, &len));
    EXPECT_TRUE(out != NULL);
    EXPECT_EQ(strlen(out), len);
    EXPECT_TRUE(len < sizeof(text));
    memcpy(text, out, len + 1);
    eddy_free(out);
    return text;
}

/* Decodes text as JSON-serde bytes and re-encodes it: the canonical form. */
static const char *json_canonical(const char *text)
{
    json_t *value;
    EXPECT_OK(eddy_json_decode(eddy_string_slice(text), &value));
    const char *canonical = json_text(value);
    json_decref(value);
    return canonical;
}

/* ------------------------------------------------------------------------------------------ */
/* Descriptors                                                                                */

TEST(builtin_serdes_have_kafka_names_and_are_static)
{
    EXPECT_STREQ(eddy_serde_name(eddy_serde_bytes()), "bytes");
    EXPECT_STREQ(eddy_serde_name(eddy_serde_string()), "string");
    EXPECT_STREQ(eddy_serde_name(eddy_serde_int32()), "int32");
    EXPECT_STREQ(eddy_serde_name(eddy_serde_int64()), "int64");
    EXPECT_STREQ(eddy_serde_name(eddy_serde_double()), "double");
    EXPECT_STREQ(eddy_serde_name(eddy_serde_json()), "json");
    /* The same object every time, so serdes can be compared by pointer. */
    EXPECT_TRUE(eddy_serde_int64() == eddy_serde_int64());
    EXPECT_TRUE(eddy_serde_int64() != eddy_serde_double());
    /* Destroying a built-in is a no-op, as is destroying NULL. */
    eddy_serde_destroy((eddy_serde *)eddy_serde_json());
    eddy_serde_destroy(NULL);
    EXPECT_STREQ(eddy_serde_name(eddy_serde_json()), "json");
    EXPECT_STREQ(eddy_err_name(EDDY_ERR_SERIALIZATION), "EDDY_ERR_SERIALIZATION");
    EXPECT_STREQ(eddy_strerror(EDDY_ERR_SERIALIZATION), "serialization error");
    EXPECT_EQ(EDDY_ERR_SERIALIZATION, -20);
}

/* ------------------------------------------------------------------------------------------ */
/* int32                                                                                      */

TEST(int32_bytes_are_kafkas)
{
    EXPECT_STREQ(int32_hex(0), "00 00 00 00");
    EXPECT_STREQ(int32_hex(1), "00 00 00 01");
    EXPECT_STREQ(int32_hex(-1), "ff ff ff ff");
    EXPECT_STREQ(int32_hex(256), "00 00 01 00");
    EXPECT_STREQ(int32_hex(0x01020304), "01 02 03 04");
    EXPECT_STREQ(int32_hex(INT32_MAX), "7f ff ff ff");
    EXPECT_STREQ(int32_hex(INT32_MIN), "80 00 00 00");
    EXPECT_STREQ(int32_hex(-2), "ff ff ff fe");

    static const uint8_t minus_300[] = {0xff, 0xff, 0xfe, 0xd4};
    int32_t value;
    EXPECT_OK(eddy_int32_decode(bytes_of(minus_300, 4), &value));
    EXPECT_EQ(value, -300);
}

TEST(int32_round_trips_at_the_edges)
{
    const int32_t values[] = {0,     1,         -1,        127,           128,
                              -128,  -129,      255,       256,           65535,
                              65536, INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        uint8_t out[4];
        eddy_int32_encode(values[i], out);
        int32_t back = 12345;
        EXPECT_OK(eddy_int32_decode(bytes_of(out, 4), &back));
        EXPECT_EQ(back, values[i]);
        EXPECT_OK(eddy_serde_check(eddy_serde_int32(), bytes_of(out, 4)));
    }
    /* Every single-bit value, both signs. */
    for (int bit = 0; bit < 32; bit++) {
        int32_t v = (int32_t)(UINT32_C(1) << bit);
        uint8_t out[4];
        eddy_int32_encode(v, out);
        int32_t back;
        EXPECT_OK(eddy_int32_decode(bytes_of(out, 4), &back));
        EXPECT_EQ(back, v);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* int64                                                                                      */

TEST(int64_bytes_are_kafkas)
{
    EXPECT_STREQ(int64_hex(0), "00 00 00 00 00 00 00 00");
    EXPECT_STREQ(int64_hex(1), "00 00 00 00 00 00 00 01");
    EXPECT_STREQ(int64_hex(-1), "ff ff ff ff ff ff ff ff");
    EXPECT_STREQ(int64_hex(INT64_C(0x0102030405060708)), "01 02 03 04 05 06 07 08");
    EXPECT_STREQ(int64_hex(INT64_MAX), "7f ff ff ff ff ff ff ff");
    EXPECT_STREQ(int64_hex(INT64_MIN), "80 00 00 00 00 00 00 00");
    EXPECT_STREQ(int64_hex(INT64_C(1) << 32), "00 00 00 01 00 00 00 00");
    /* A timestamp in milliseconds, as Kafka Streams stores them. */
    EXPECT_STREQ(int64_hex(INT64_C(1700000000000)), "00 00 01 8b cf e5 68 00");
}

TEST(int64_round_trips_at_the_edges)
{
    const int64_t values[] = {0,
                              1,
                              -1,
                              INT64_MAX,
                              INT64_MIN,
                              INT64_MAX - 1,
                              INT64_MIN + 1,
                              INT32_MAX,
                              INT32_MIN,
                              (int64_t)INT32_MAX + 1,
                              (int64_t)INT32_MIN - 1,
                              INT64_C(0x00ff00ff00ff00ff)};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        uint8_t out[8];
        eddy_int64_encode(values[i], out);
        int64_t back = 12345;
        EXPECT_OK(eddy_int64_decode(bytes_of(out, 8), &back));
        EXPECT_EQ(back, values[i]);
        EXPECT_OK(eddy_serde_check(eddy_serde_int64(), bytes_of(out, 8)));
    }
    for (int bit = 0; bit < 64; bit++) {
        int64_t v = (int64_t)(UINT64_C(1) << bit);
        uint8_t out[8];
        eddy_int64_encode(v, out);
        int64_t back;
        EXPECT_OK(eddy_int64_decode(bytes_of(out, 8), &back));
        EXPECT_EQ(back, v);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* double                                                                                     */

TEST(double_bytes_are_kafkas)
{
    EXPECT_STREQ(double_hex(1.0), "3f f0 00 00 00 00 00 00");
    EXPECT_STREQ(double_hex(-2.0), "c0 00 00 00 00 00 00 00");
    EXPECT_STREQ(double_hex(0.1), "3f b9 99 99 99 99 99 9a");
    EXPECT_STREQ(double_hex(0.0), "00 00 00 00 00 00 00 00");
    EXPECT_STREQ(double_hex(-0.0), "80 00 00 00 00 00 00 00");
    EXPECT_STREQ(double_hex(INFINITY), "7f f0 00 00 00 00 00 00");
    EXPECT_STREQ(double_hex(-INFINITY), "ff f0 00 00 00 00 00 00");
    EXPECT_STREQ(double_hex(DBL_MAX), "7f ef ff ff ff ff ff ff");
    EXPECT_STREQ(double_hex(DBL_MIN), "00 10 00 00 00 00 00 00");
    /* Subnormals keep their bits: the smallest, and the largest. */
    EXPECT_STREQ(double_hex(double_from_bits(1)), "00 00 00 00 00 00 00 01");
    EXPECT_STREQ(double_hex(double_from_bits(UINT64_C(0x000fffffffffffff))),
                 "00 0f ff ff ff ff ff ff");
}

TEST(double_nan_is_written_canonically_as_java_does)
{
    /* Double.doubleToLongBits maps every NaN, whatever its sign and payload, to 0x7ff8...0. */
    EXPECT_STREQ(double_hex(NAN), "7f f8 00 00 00 00 00 00");
    EXPECT_STREQ(double_hex(-NAN), "7f f8 00 00 00 00 00 00");
    EXPECT_STREQ(double_hex(double_from_bits(UINT64_C(0x7ff0000000000001))),
                 "7f f8 00 00 00 00 00 00");
    EXPECT_STREQ(double_hex(double_from_bits(UINT64_C(0xfff8dead0000beef))),
                 "7f f8 00 00 00 00 00 00");
    /* Reading keeps the bits (Double.longBitsToDouble): a NaN's payload survives decoding. */
    static const uint8_t payload_nan[] = {0x7f, 0xf8, 0xde, 0xad, 0x00, 0x00, 0xbe, 0xef};
    double value;
    EXPECT_OK(eddy_double_decode(bytes_of(payload_nan, 8), &value));
    EXPECT_TRUE(isnan(value));
    EXPECT_EQ(double_bits(value), UINT64_C(0x7ff8dead0000beef));
    static const uint8_t negative_nan[] = {0xff, 0xf8, 0, 0, 0, 0, 0, 1};
    EXPECT_OK(eddy_double_decode(bytes_of(negative_nan, 8), &value));
    EXPECT_TRUE(isnan(value));
    EXPECT_EQ(double_bits(value), UINT64_C(0xfff8000000000001));
}

TEST(double_round_trips_keep_exact_bits)
{
    const double values[] = {0.0,
                             -0.0,
                             1.0,
                             -1.0,
                             0.1,
                             M_PI,
                             1e308,
                             -1e-308,
                             DBL_MAX,
                             -DBL_MAX,
                             DBL_MIN,
                             DBL_EPSILON,
                             INFINITY,
                             -INFINITY,
                             double_from_bits(1),
                             double_from_bits(UINT64_C(0x8000000000000001)),
                             double_from_bits(UINT64_C(0x000fffffffffffff)),
                             9007199254740993.0};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        uint8_t out[8];
        eddy_double_encode(values[i], out);
        double back = 42.0;
        EXPECT_OK(eddy_double_decode(bytes_of(out, 8), &back));
        EXPECT_EQ(double_bits(back), double_bits(values[i]));
        EXPECT_OK(eddy_serde_check(eddy_serde_double(), bytes_of(out, 8)));
    }
    /* -0.0 and 0.0 compare equal but are different bytes, as in Java. */
    uint8_t out[8];
    double back;
    eddy_double_encode(-0.0, out);
    EXPECT_OK(eddy_double_decode(bytes_of(out, 8), &back));
    EXPECT_TRUE(signbit(back));
    /* A NaN round-trips as a NaN (the canonical one). */
    eddy_double_encode(NAN, out);
    EXPECT_OK(eddy_double_decode(bytes_of(out, 8), &back));
    EXPECT_TRUE(isnan(back));
    EXPECT_EQ(double_bits(back), UINT64_C(0x7ff8000000000000));
}

/* ------------------------------------------------------------------------------------------ */
/* Checks and their messages                                                                  */

TEST(fixed_width_checks_name_the_serde_and_the_length)
{
    static const uint8_t nine[9] = {0};
    EXPECT_ERR(eddy_serde_check(eddy_serde_int64(), bytes_of(nine, 3)), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(), "int64 serde: 3 bytes, expected 8");
    EXPECT_ERR(eddy_serde_check(eddy_serde_int32(), bytes_of(nine, 1)), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(), "int32 serde: 1 byte, expected 4");
    EXPECT_ERR(eddy_serde_check(eddy_serde_int32(), bytes_of(nine, 8)), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(), "int32 serde: 8 bytes, expected 4");
    EXPECT_ERR(eddy_serde_check(eddy_serde_double(), bytes_of(nine, 9)), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(), "double serde: 9 bytes, expected 8");
    /* An empty value is not null: it has 0 bytes, and 0 is not 4. */
    EXPECT_ERR(eddy_serde_check(eddy_serde_int32(), bytes_of("", 0)), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(), "int32 serde: 0 bytes, expected 4");
    EXPECT_ERR(eddy_serde_check(eddy_serde_double(), bytes_of(nine, 4)), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(), "double serde: 4 bytes, expected 8");
}

TEST(decoders_reject_wrong_lengths_with_the_checks_message_and_zero_out)
{
    static const uint8_t bytes[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    int32_t i32 = 7;
    EXPECT_ERR(eddy_int32_decode(bytes_of(bytes, 5), &i32), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(), "int32 serde: 5 bytes, expected 4");
    EXPECT_EQ(i32, 0);
    int64_t i64 = 7;
    EXPECT_ERR(eddy_int64_decode(bytes_of(bytes, 4), &i64), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(), "int64 serde: 4 bytes, expected 8");
    EXPECT_EQ(i64, 0);
    double d = 7.0;
    EXPECT_ERR(eddy_double_decode(bytes_of(bytes, 9), &d), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(), "double serde: 9 bytes, expected 8");
    EXPECT_EQ(double_bits(d), 0);
}

TEST(null_slices_are_valid_for_every_serde_and_have_no_typed_value)
{
    const eddy_serde *serdes[] = {eddy_serde_bytes(), eddy_serde_string(), eddy_serde_int32(),
                                  eddy_serde_int64(), eddy_serde_double(), eddy_serde_json()};
    for (size_t i = 0; i < sizeof(serdes) / sizeof(serdes[0]); i++)
        EXPECT_OK(eddy_serde_check(serdes[i], null_slice));

    int32_t i32 = 7;
    EXPECT_ERR(eddy_int32_decode(null_slice, &i32), EDDY_ERR_NOT_FOUND);
    EXPECT_STREQ(eddy_last_error(),
                 "int32 serde: null (a null key or a tombstone) has no int32 value");
    EXPECT_EQ(i32, 0);
    int64_t i64 = 7;
    EXPECT_ERR(eddy_int64_decode(null_slice, &i64), EDDY_ERR_NOT_FOUND);
    EXPECT_CONTAINS(eddy_last_error(), "int64 serde: null");
    EXPECT_EQ(i64, 0);
    double d = 7.0;
    EXPECT_ERR(eddy_double_decode(null_slice, &d), EDDY_ERR_NOT_FOUND);
    EXPECT_CONTAINS(eddy_last_error(), "double serde: null");
    EXPECT_EQ(double_bits(d), 0);
    char *s = (char *)"x";
    EXPECT_ERR(eddy_string_dup(null_slice, &s), EDDY_ERR_NOT_FOUND);
    EXPECT_CONTAINS(eddy_last_error(), "string serde: null");
    EXPECT_TRUE(s == NULL);
    json_t *j = json_true();
    EXPECT_ERR(eddy_json_decode(null_slice, &j), EDDY_ERR_NOT_FOUND);
    EXPECT_CONTAINS(eddy_last_error(), "json serde: null");
    EXPECT_TRUE(j == NULL);
}

TEST(bytes_and_string_accept_any_bytes)
{
    /* Kafka's StringDeserializer does not validate UTF-8 (malformed input decodes to U+FFFD),
     * so neither does eddy's string serde. */
    static const uint8_t not_utf8[] = {0xff, 0xfe, 0x00, 0xc0, 0x80, 'a'};
    EXPECT_OK(eddy_serde_check(eddy_serde_string(), bytes_of(not_utf8, sizeof(not_utf8))));
    EXPECT_OK(eddy_serde_check(eddy_serde_string(), bytes_of("", 0)));
    EXPECT_OK(eddy_serde_check(eddy_serde_bytes(), bytes_of(not_utf8, sizeof(not_utf8))));
    EXPECT_OK(eddy_serde_check(eddy_serde_bytes(), bytes_of("", 0)));
}

/* ------------------------------------------------------------------------------------------ */
/* Strings                                                                                    */

TEST(string_slice_and_dup_round_trip)
{
    int64_t before = eddy__alloc_live_bytes();
    eddy_slice slice = eddy_string_slice("h\xc3\xa9llo");
    EXPECT_EQ(slice.len, 6);
    char *copy;
    EXPECT_OK(eddy_string_dup(slice, &copy));
    EXPECT_STREQ(copy, "h\xc3\xa9llo");
    eddy_free(copy);

    /* NULL is a null slice; "" an empty one, which is a value and copies to "". */
    eddy_slice none = eddy_string_slice(NULL);
    EXPECT_TRUE(none.data == NULL);
    EXPECT_EQ(none.len, 0);
    eddy_slice empty = eddy_string_slice("");
    EXPECT_TRUE(empty.data != NULL);
    EXPECT_EQ(empty.len, 0);
    EXPECT_OK(eddy_string_dup(empty, &copy));
    EXPECT_STREQ(copy, "");
    eddy_free(copy);

    /* Bytes with a NUL inside are copied whole and terminated after the last byte. */
    EXPECT_OK(eddy_string_dup(bytes_of("a\0b", 3), &copy));
    EXPECT_MEMEQ(copy, 4, "a\0b\0", 4);
    eddy_free(copy);
    eddy_free(NULL);
    EXPECT_EQ(eddy__alloc_live_bytes(), before);
}

/* ------------------------------------------------------------------------------------------ */
/* JSON                                                                                       */

TEST(json_decode_reads_any_json_value)
{
    json_t *value;
    EXPECT_OK(
        eddy_json_decode(eddy_string_slice(" {\"id\": 7, \"items\": [\"a\", 2.5]} \n"), &value));
    EXPECT_TRUE(json_is_object(value));
    EXPECT_EQ(json_integer_value(json_object_get(value, "id")), 7);
    json_t *items = json_object_get(value, "items");
    EXPECT_EQ(json_array_size(items), 2);
    EXPECT_STREQ(json_string_value(json_array_get(items, 0)), "a");
    EXPECT_TRUE(json_real_value(json_array_get(items, 1)) == 2.5);
    json_decref(value);

    /* Scalars are JSON values too (Kafka Connect's JSON serde reads any JsonNode). */
    EXPECT_OK(eddy_json_decode(eddy_string_slice("42"), &value));
    EXPECT_EQ(json_integer_value(value), 42);
    json_decref(value);
    EXPECT_OK(eddy_json_decode(eddy_string_slice("\"x\""), &value));
    EXPECT_STREQ(json_string_value(value), "x");
    json_decref(value);
    /* The JSON text null is a JSON null value, unlike a null slice. */
    EXPECT_OK(eddy_json_decode(eddy_string_slice("null"), &value));
    EXPECT_TRUE(json_is_null(value));
    json_decref(value);
    /* "\u0000" inside a string is kept (Jackson accepts it). */
    EXPECT_OK(eddy_json_decode(eddy_string_slice("\"a\\u0000b\""), &value));
    EXPECT_EQ(json_string_length(value), 3);
    EXPECT_MEMEQ(json_string_value(value), 3, "a\0b", 3);
    json_decref(value);
    /* Extremes of int64 are exact. */
    EXPECT_OK(
        eddy_json_decode(eddy_string_slice("[-9223372036854775808,9223372036854775807]"), &value));
    EXPECT_EQ(json_integer_value(json_array_get(value, 0)), INT64_MIN);
    EXPECT_EQ(json_integer_value(json_array_get(value, 1)), INT64_MAX);
    json_decref(value);

    const char *valid[] = {"{}",
                           "[]",
                           "true",
                           "false",
                           "-0",
                           "1e10",
                           "\"\xe2\x82\xac\"",
                           "\t[ 1 , { \"a\" : null } ]\r\n"};
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        EXPECT_OK(eddy_serde_check(eddy_serde_json(), eddy_string_slice(valid[i])));
}

TEST(json_check_rejects_malformed_bytes_with_position_and_reason)
{
    EXPECT_ERR(eddy_serde_check(eddy_serde_json(), eddy_string_slice("{\"a\":1")),
               EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(),
                 "json serde: invalid JSON at line 1, column 6 (byte 6): '}' expected near end "
                 "of file");

    struct {
        const char *text;
        size_t len;
        const char *reason;
    } cases[] = {
        {"", 0, "json serde: invalid JSON at line 1"},
        {"   ", 3, "json serde: invalid JSON at line 1"},
        {"{} x", 4, "end of file expected"},
        {"{\"a\" 1}", 7, "':' expected"},
        {"[1,]", 4, "unexpected token"},
        {"{'a':1}", 7, "string or '}' expected"},
        {"\"\xff\"", 3, "unable to decode byte 0xff"},
        {"[1]\0", 4, "json serde: invalid JSON"},
        {"nul", 3, "invalid token"},
        {"99999999999999999999", 20, "too big integer"},
        {"1e400", 5, "real number overflow"},
        {"{\"a\\u0000b\":1}", 15, "NUL byte in object key not supported"},
        {"{\"a\":1}\n{\"b\":2}", 15, "end of file expected"},
        {"\n\n  [1 2]", 9, "line 3"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eddy_slice bytes = bytes_of(cases[i].text, cases[i].len);
        EXPECT_ERR(eddy_serde_check(eddy_serde_json(), bytes), EDDY_ERR_SERIALIZATION);
        EXPECT_CONTAINS(eddy_last_error(), "json serde: invalid JSON at line ");
        EXPECT_CONTAINS(eddy_last_error(), cases[i].reason);
        /* The decoder fails the same way, with the same message. */
        char check_message[512];
        snprintf(check_message, sizeof(check_message), "%s", eddy_last_error());
        json_t *value = json_true();
        EXPECT_ERR(eddy_json_decode(bytes, &value), EDDY_ERR_SERIALIZATION);
        EXPECT_TRUE(value == NULL);
        EXPECT_STREQ(eddy_last_error(), check_message);
    }
}

TEST(json_nesting_is_bounded)
{
    /* Deeper than jansson's JSON_PARSER_MAX_DEPTH (2048): an error, not a stack overflow. */
    enum { depth = 100000 };
    char *deep = malloc(2 * depth);
    EXPECT_TRUE(deep != NULL);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    EXPECT_ERR(eddy_serde_check(eddy_serde_json(), bytes_of(deep, 2 * depth)),
               EDDY_ERR_SERIALIZATION);
    EXPECT_CONTAINS(eddy_last_error(), "json serde: invalid JSON");
    EXPECT_CONTAINS(eddy_last_error(), "depth");
    /* Within the bound it parses. */
    EXPECT_OK(eddy_serde_check(eddy_serde_json(), bytes_of(deep + depth - 100, 200)));
    free(deep);
}

TEST(json_encode_is_compact_with_sorted_keys)
{
    int64_t before = eddy__alloc_live_bytes();
    EXPECT_STREQ(
        json_canonical("{ \"b\" : 2,\n \"a\" : [ 1 , true, null ],\"c\":{\"z\":0,\"y\":\"\"} }"),
        "{\"a\":[1,true,null],\"b\":2,\"c\":{\"y\":\"\",\"z\":0}}");
    /* The same value built in two orders gives the same bytes. */
    json_t *one = json_pack("{s:i, s:s, s:b}", "zeta", 1, "alpha", "x", "mid", 1);
    json_t *two = json_pack("{s:b, s:s, s:i}", "mid", 1, "alpha", "x", "zeta", 1);
    EXPECT_TRUE(one != NULL && two != NULL);
    char *out_one, *out_two;
    size_t len_one, len_two;
    EXPECT_OK(eddy_json_encode(one, &out_one, &len_one));
    EXPECT_OK(eddy_json_encode(two, &out_two, &len_two));
    EXPECT_MEMEQ(out_one, len_one, out_two, len_two);
    EXPECT_STREQ(out_one, "{\"alpha\":\"x\",\"mid\":true,\"zeta\":1}");
    eddy_free(out_one);
    eddy_free(out_two);
    json_decref(one);
    json_decref(two);

    /* Scalars, UTF-8 kept as is (not \u-escaped), NUL and control characters escaped. */
    EXPECT_STREQ(json_canonical("7"), "7");
    EXPECT_STREQ(json_canonical("\"caf\xc3\xa9\""), "\"caf\xc3\xa9\"");
    EXPECT_STREQ(json_canonical("\"a\\u0000b\\n\""), "\"a\\u0000b\\n\"");
    EXPECT_STREQ(json_canonical("null"), "null");
    EXPECT_STREQ(json_canonical("[ ]"), "[]");
    EXPECT_STREQ(json_canonical("-9223372036854775808"), "-9223372036854775808");
    /* Re-encoding canonical bytes is the identity. */
    const char *canonical = "{\"a\":{\"b\":[1,2.5,\"c\"]},\"d\":false}";
    EXPECT_STREQ(json_canonical(canonical), canonical);
    EXPECT_EQ(eddy__alloc_live_bytes(), before);
}

TEST(json_encode_of_null_is_a_null_slice)
{
    char *out = (char *)"x";
    size_t len = 99;
    EXPECT_OK(eddy_json_encode(NULL, &out, &len));
    EXPECT_TRUE(out == NULL);
    EXPECT_EQ(len, 0);
    eddy_slice slice = {out, len};
    EXPECT_OK(eddy_serde_check(eddy_serde_json(), slice));
}

TEST(json_encode_refuses_a_string_that_is_not_utf8)
{
    int64_t before = eddy__alloc_live_bytes();
    json_t *value = json_pack("{s:o}", "k", json_stringn_nocheck("\xff\xfe", 2));
    EXPECT_TRUE(value != NULL);
    char *out = (char *)"x";
    size_t len = 99;
    EXPECT_ERR(eddy_json_encode(value, &out, &len), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(),
                 "json serde: jansson cannot write the value (a string that is not valid UTF-8, "
                 "or a value that contains itself)");
    EXPECT_TRUE(out == NULL);
    EXPECT_EQ(len, 0);
    json_decref(value);
    EXPECT_EQ(eddy__alloc_live_bytes(), before);
}

/* ------------------------------------------------------------------------------------------ */
/* Custom serdes                                                                              */

typedef struct prefix_check {
    const char *prefix;
    int calls;
} prefix_check;

/* Valid when the bytes start with the prefix in opaque; counts its calls. */
static eddy_err check_prefix(eddy_slice bytes, char *errstr, size_t errstr_size, void *opaque)
{
    prefix_check *state = opaque;
    state->calls++;
    EXPECT_TRUE(bytes.data != NULL);
    EXPECT_GE(errstr_size, 256);
    size_t n = strlen(state->prefix);
    if (bytes.len >= n && memcmp(bytes.data, state->prefix, n) == 0)
        return EDDY_OK;
    snprintf(errstr, errstr_size, "%zu bytes without the prefix '%s'", bytes.len, state->prefix);
    return EDDY_ERR_SERIALIZATION;
}

static eddy_err check_out_of_memory(eddy_slice bytes, char *errstr, size_t errstr_size,
                                    void *opaque)
{
    (void)bytes;
    (void)opaque;
    snprintf(errstr, errstr_size, "no room to look");
    return EDDY_ERR_NO_MEMORY;
}

static eddy_err check_silent_rejection(eddy_slice bytes, char *errstr, size_t errstr_size,
                                       void *opaque)
{
    (void)bytes;
    (void)errstr;
    (void)errstr_size;
    (void)opaque;
    return 1; /* a buggy check: positive and no message; still a rejection */
}

TEST(custom_serde_checks_with_its_callback_and_name)
{
    int64_t before = eddy__alloc_live_bytes();
    prefix_check state = {"v1:", 0};
    eddy_serde *serde;
    EXPECT_OK(eddy_serde_new("versioned", check_prefix, &state, &serde));
    EXPECT_STREQ(eddy_serde_name(serde), "versioned");
    EXPECT_OK(eddy_serde_check(serde, eddy_string_slice("v1:hello")));
    EXPECT_EQ(state.calls, 1);
    EXPECT_ERR(eddy_serde_check(serde, eddy_string_slice("v2:hello")), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(), "versioned serde: 8 bytes without the prefix 'v1:'");
    EXPECT_EQ(state.calls, 2);
    /* Null never reaches the callback. */
    EXPECT_OK(eddy_serde_check(serde, null_slice));
    EXPECT_EQ(state.calls, 2);
    eddy_serde_destroy(serde);

    /* No check: every byte string is valid. */
    EXPECT_OK(eddy_serde_new("opaque-blob", NULL, NULL, &serde));
    EXPECT_OK(eddy_serde_check(serde, bytes_of("\xff", 1)));
    eddy_serde_destroy(serde);

    /* A check's own error code passes through; a bad one is still a rejection. */
    EXPECT_OK(eddy_serde_new("hungry", check_out_of_memory, NULL, &serde));
    EXPECT_ERR(eddy_serde_check(serde, bytes_of("x", 1)), EDDY_ERR_NO_MEMORY);
    EXPECT_STREQ(eddy_last_error(), "hungry serde: no room to look");
    eddy_serde_destroy(serde);
    EXPECT_OK(eddy_serde_new("quiet", check_silent_rejection, NULL, &serde));
    EXPECT_ERR(eddy_serde_check(serde, bytes_of("x", 1)), EDDY_ERR_SERIALIZATION);
    EXPECT_STREQ(eddy_last_error(), "quiet serde: invalid bytes (the check gave no reason)");
    eddy_serde_destroy(serde);
    EXPECT_EQ(eddy__alloc_live_bytes(), before);
}

TEST(custom_serde_copies_its_name_and_rejects_empty_names)
{
    char name[] = "mutable";
    eddy_serde *serde;
    EXPECT_OK(eddy_serde_new(name, NULL, NULL, &serde));
    name[0] = 'X';
    EXPECT_STREQ(eddy_serde_name(serde), "mutable");
    eddy_serde_destroy(serde);

    serde = (eddy_serde *)1;
    EXPECT_ERR(eddy_serde_new("", NULL, NULL, &serde), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_STREQ(eddy_last_error(), "custom serde: the name is empty");
    EXPECT_TRUE(serde == NULL);
    EXPECT_ERR(eddy_serde_new(NULL, NULL, NULL, &serde), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_STREQ(eddy_last_error(), "custom serde: the name is NULL");
}

/* ------------------------------------------------------------------------------------------ */
/* Allocation failures                                                                        */

/* Runs op with the nth allocation failing, for n = 1, 2, ... until a run completes with no
 * failure injected: then every allocation point has been failed once. Each failing run must
 * return EDDY_ERR_NO_MEMORY and leave live bytes where they were. Returns the count of runs
 * that failed. */
static int fail_each_allocation(eddy_err (*op)(void), int persistent)
{
    for (uint64_t n = 1;; n++) {
        EXPECT_LE(n, 10000);
        int64_t before = eddy__alloc_live_bytes();
        eddy__alloc_fail_after(n, persistent);
        eddy_err err = op();
        uint64_t injected = eddy__alloc_failures_injected();
        eddy__alloc_fail_after(0, 0);
        if (injected == 0) {
            EXPECT_OK(err);
            return (int)n - 1;
        }
        EXPECT_ERR(err, EDDY_ERR_NO_MEMORY);
        EXPECT_EQ(eddy__alloc_live_bytes(), before);
    }
}

static eddy_err op_serde_new(void)
{
    eddy_serde *serde = (eddy_serde *)1;
    eddy_err err = eddy_serde_new("custom", NULL, NULL, &serde);
    if (err != EDDY_OK) {
        EXPECT_TRUE(serde == NULL);
        EXPECT_CONTAINS(eddy_last_error(), "serde 'custom': out of memory");
        return err;
    }
    eddy_serde_destroy(serde);
    return EDDY_OK;
}

static eddy_err op_string_dup(void)
{
    char *copy = (char *)"x";
    eddy_err err = eddy_string_dup(eddy_string_slice("some text"), &copy);
    if (err != EDDY_OK) {
        EXPECT_TRUE(copy == NULL);
        EXPECT_STREQ(eddy_last_error(), "string serde: out of memory copying 9 bytes");
        return err;
    }
    EXPECT_STREQ(copy, "some text");
    eddy_free(copy);
    return EDDY_OK;
}

static json_t *big_value;

/* Encodes a value of some kilobytes, so that the output buffer grows several times. */
static eddy_err op_json_encode(void)
{
    char *out = (char *)"x";
    size_t len = 99;
    eddy_err err = eddy_json_encode(big_value, &out, &len);
    if (err != EDDY_OK) {
        EXPECT_TRUE(out == NULL);
        EXPECT_EQ(len, 0);
        EXPECT_CONTAINS(eddy_last_error(), "json serde: out of memory writing a value");
        return err;
    }
    EXPECT_EQ(strlen(out), len);
    EXPECT_GE(len, 8000);
    eddy_free(out);
    return EDDY_OK;
}

TEST(allocation_failures_return_no_memory_without_leaks)
{
    EXPECT_EQ(fail_each_allocation(op_serde_new, 0), 2);
    EXPECT_EQ(fail_each_allocation(op_serde_new, 1), 2);
    EXPECT_EQ(fail_each_allocation(op_string_dup, 0), 1);
    EXPECT_EQ(fail_each_allocation(op_string_dup, 1), 1);

    big_value = json_array();
    for (int i = 0; i < 400; i++)
        EXPECT_EQ(json_array_append_new(big_value, json_pack("{s:i,s:s}", "n", i, "s", "abcdef")),
                  0);
    /* Buffer growth by doubling from 64 bytes: several reallocations, each failed in turn. */
    EXPECT_GE(fail_each_allocation(op_json_encode, 0), 5);
    EXPECT_GE(fail_each_allocation(op_json_encode, 1), 5);
    json_decref(big_value);
}

/* jansson's allocations, failed through the hook behind eddy's watcher (serde_internal.h):
 * allocation number jansson_fail_at (from 1) fails; with jansson_fail_persistent, every later
 * one too. jansson_failed counts the failures. */
static int jansson_allocations;
static int jansson_fail_at;
static int jansson_fail_persistent;
static int jansson_failed;

static void *jansson_failing_malloc(size_t size)
{
    int call = ++jansson_allocations;
    if (jansson_fail_at > 0 &&
        (call == jansson_fail_at || (jansson_fail_persistent && call > jansson_fail_at))) {
        jansson_failed++;
        return NULL;
    }
    return malloc(size);
}

static void jansson_fail(int at, int persistent)
{
    jansson_allocations = 0;
    jansson_failed = 0;
    jansson_fail_at = at;
    jansson_fail_persistent = persistent;
    eddy__serde_json_set_malloc(at > 0 ? jansson_failing_malloc : NULL);
}

static const char jansson_text[] = "{\"a\":[1,2,{\"b\":\"cdefghijklmnopqrstuvwxyz\"}],\"c\":\"d\"}";

TEST(jansson_allocation_failures_are_no_memory_never_bad_data)
{
    /* jansson alone reports a failed string copy as a syntax error, and a failed token-buffer
     * growth not at all (the string comes back a character short). Whichever allocation
     * fails, eddy must say out of memory, and otherwise give exactly the value. */
    for (int at = 1;; at++) {
        EXPECT_LE(at, 1000);
        jansson_fail(at, 0);
        json_t *value = json_true();
        eddy_err err = eddy_json_decode(eddy_string_slice(jansson_text), &value);
        int failed = jansson_failed;
        jansson_fail(0, 0);
        if (failed == 0) {
            /* Every allocation point has been failed once. */
            EXPECT_OK(err);
            EXPECT_STREQ(json_text(value), jansson_text);
            json_decref(value);
            EXPECT_GE(at, 10);
            break;
        }
        EXPECT_ERR(err, EDDY_ERR_NO_MEMORY);
        EXPECT_STREQ(eddy_last_error(), "json serde: out of memory parsing 52 bytes");
        EXPECT_TRUE(value == NULL);
        jansson_fail(at, 0);
        err = eddy_serde_check(eddy_serde_json(), eddy_string_slice(jansson_text));
        jansson_fail(0, 0);
        EXPECT_ERR(err, EDDY_ERR_NO_MEMORY);
    }
    /* Running out for good, from the first allocation or part-way. */
    for (int at = 1; at < 20; at++) {
        jansson_fail(at, 1);
        json_t *value = json_true();
        eddy_err err = eddy_json_decode(eddy_string_slice(jansson_text), &value);
        jansson_fail(0, 0);
        EXPECT_ERR(err, EDDY_ERR_NO_MEMORY);
        EXPECT_TRUE(value == NULL);
    }
}

TEST(jansson_allocation_failures_while_encoding_are_no_memory)
{
    json_t *value;
    EXPECT_OK(eddy_json_decode(eddy_string_slice(jansson_text), &value));
    int64_t before = eddy__alloc_live_bytes();
    for (int at = 1;; at++) {
        EXPECT_LE(at, 1000);
        jansson_fail(at, 0);
        char *out = (char *)"x";
        size_t len = 99;
        eddy_err err = eddy_json_encode(value, &out, &len);
        int failed = jansson_failed;
        jansson_fail(0, 0);
        if (failed == 0) {
            EXPECT_OK(err);
            EXPECT_STREQ(out, jansson_text);
            eddy_free(out);
            EXPECT_GE(at, 2); /* the sorted key lists, at least */
            break;
        }
        EXPECT_ERR(err, EDDY_ERR_NO_MEMORY);
        EXPECT_TRUE(out == NULL);
        EXPECT_EQ(len, 0);
        EXPECT_EQ(eddy__alloc_live_bytes(), before);
    }
    json_decref(value);
}
