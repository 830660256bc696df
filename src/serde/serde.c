/* Serde descriptors (the built-ins and custom ones), the validity check the runtime runs on
 * every key and value it reads, and the fixed-width and string codecs.
 *
 * Byte formats follow Kafka's serializers exactly (apache/kafka,
 * clients/src/main/java/org/apache/kafka/common/serialization/):
 *
 *   IntegerSerializer   (byte)(v >>> 24), (v >>> 16), (v >>> 8), v      4 bytes, big-endian
 *   LongSerializer      (byte)(v >>> 56), ... (v >>> 8), v              8 bytes, big-endian
 *   DoubleSerializer    bits = Double.doubleToLongBits(v), then as Long 8 bytes, big-endian
 *   Integer/Long/DoubleDeserializer: null -> null; length != 4 (8) -> SerializationException
 *   StringDeserializer  new String(data, "UTF8"): never fails, malformed UTF-8 -> U+FFFD
 *
 *   int32 1      00 00 00 01                int64 -1   ff ff ff ff ff ff ff ff
 *   double 1.0   3f f0 00 00 00 00 00 00    NaN        7f f8 00 00 00 00 00 00 (canonical)
 *
 * doubleToLongBits (not doubleToRawLongBits) collapses every NaN to 0x7ff8000000000000, so
 * eddy_double_encode does too; the deserializer's longBitsToDouble keeps the bits it reads, so
 * eddy_double_decode does too.
 *
 * A serde is an immutable descriptor: a name and a check callback. The built-ins are static
 * objects, so they are shared by every thread without locking and are never freed. */
#include "eddy/serde.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"
#include "serde/serde_internal.h"

struct eddy_serde {
    const char *name;
    eddy_serde_check_fn check; /* NULL: every byte string is valid */
    void *opaque;
    int builtin; /* a static object: eddy_serde_destroy leaves it alone */
};

/* ------------------------------------------------------------------------------------------ */
/* Built-in checks                                                                            */

/* The one check of the fixed-width serdes: exactly `opaque` bytes (4 or 8), as Kafka's
 * Integer/Long/DoubleDeserializer demand. */
static eddy_err serde_check_fixed_width(eddy_slice bytes, char *errstr, size_t errstr_size,
                                        void *opaque)
{
    size_t expected = *(const size_t *)opaque;
    if (bytes.len == expected)
        return EDDY_OK;
    snprintf(errstr, errstr_size, "%zu byte%s, expected %zu", bytes.len, bytes.len == 1 ? "" : "s",
             expected);
    return EDDY_ERR_SERIALIZATION;
}

static const size_t serde_width_4 = 4;
static const size_t serde_width_8 = 8;

static const eddy_serde serde_bytes = {"bytes", NULL, NULL, 1};
static const eddy_serde serde_string = {"string", NULL, NULL, 1};
static const eddy_serde serde_int32 = {"int32", serde_check_fixed_width, (void *)&serde_width_4, 1};
static const eddy_serde serde_int64 = {"int64", serde_check_fixed_width, (void *)&serde_width_8, 1};
static const eddy_serde serde_double = {"double", serde_check_fixed_width, (void *)&serde_width_8,
                                        1};
static const eddy_serde serde_json = {"json", eddy__serde_json_check, NULL, 1};

const eddy_serde *eddy_serde_bytes(void)
{
    return &serde_bytes;
}

const eddy_serde *eddy_serde_string(void)
{
    return &serde_string;
}

const eddy_serde *eddy_serde_int32(void)
{
    return &serde_int32;
}

const eddy_serde *eddy_serde_int64(void)
{
    return &serde_int64;
}

const eddy_serde *eddy_serde_double(void)
{
    return &serde_double;
}

const eddy_serde *eddy_serde_json(void)
{
    return &serde_json;
}

const char *eddy_serde_name(const eddy_serde *serde)
{
    EDDY_ASSERT(serde != NULL);
    return serde->name;
}

/* ------------------------------------------------------------------------------------------ */
/* Checking                                                                                   */

eddy_err eddy_serde_check(const eddy_serde *serde, eddy_slice bytes)
{
    EDDY_ASSERT(serde != NULL);
    /* Null is not a format: every deserializer hands null back as null. */
    if (bytes.data == NULL || serde->check == NULL)
        return EDDY_OK;
    char errstr[EDDY_ERROR_MESSAGE_MAX];
    errstr[0] = '\0';
    eddy_err err = serde->check(bytes, errstr, sizeof(errstr), serde->opaque);
    if (err == EDDY_OK)
        return EDDY_OK;
    /* A custom check returning a positive number is a caller's bug, but still a rejection. */
    if (err > 0)
        err = EDDY_ERR_SERIALIZATION;
    errstr[sizeof(errstr) - 1] = '\0';
    return eddy__fail(err, "%s serde: %s", serde->name,
                      errstr[0] ? errstr : "invalid bytes (the check gave no reason)");
}

eddy_err eddy__serde_null(const char *name)
{
    return eddy__fail(EDDY_ERR_NOT_FOUND,
                      "%s serde: null (a null key or a tombstone) has no %s value", name, name);
}

/* ------------------------------------------------------------------------------------------ */
/* Custom serdes                                                                              */

eddy_err eddy_serde_new(const char *name, eddy_serde_check_fn check, void *opaque, eddy_serde **out)
{
    EDDY_ASSERT(out != NULL);
    *out = NULL;
    if (name == NULL || name[0] == '\0')
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "custom serde: the name is %s",
                          name ? "empty" : "NULL");
    eddy_serde *serde = eddy__calloc(1, sizeof(*serde));
    if (!serde)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "serde '%s': out of memory", name);
    char *name_copy = eddy__strdup(name);
    if (!name_copy) {
        eddy__free(serde);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "serde '%s': out of memory copying the name", name);
    }
    serde->name = name_copy;
    serde->check = check;
    serde->opaque = opaque;
    serde->builtin = 0;
    *out = serde;
    return EDDY_OK;
}

void eddy_serde_destroy(eddy_serde *serde)
{
    if (!serde || serde->builtin)
        return;
    eddy__free((char *)serde->name);
    eddy__free(serde);
}

/* ------------------------------------------------------------------------------------------ */
/* Memory handed to callers                                                                   */


/* ------------------------------------------------------------------------------------------ */
/* Fixed-width codecs                                                                         */

/* Shared by the three fixed-width decoders: null and length checks with the serde's messages,
 * then a pointer to the bytes. */
static eddy_err serde_fixed_bytes(const eddy_serde *serde, eddy_slice bytes, const uint8_t **data)
{
    *data = NULL;
    if (bytes.data == NULL)
        return eddy__serde_null(serde->name);
    eddy_err err = eddy_serde_check(serde, bytes);
    if (err != EDDY_OK)
        return err;
    *data = bytes.data;
    return EDDY_OK;
}

void eddy_int32_encode(int32_t value, uint8_t out[4])
{
    EDDY_ASSERT(out != NULL);
    eddy__be32_put(out, (uint32_t)value);
}

eddy_err eddy_int32_decode(eddy_slice bytes, int32_t *out)
{
    EDDY_ASSERT(out != NULL);
    *out = 0;
    const uint8_t *data;
    eddy_err err = serde_fixed_bytes(&serde_int32, bytes, &data);
    if (err != EDDY_OK)
        return err;
    /* Converting an out-of-range uint32_t to int32_t is implementation-defined in C11; memcpy
     * of the two's complement bits is exact (int32_t is two's complement by definition). */
    uint32_t bits = eddy__be32_get(data);
    memcpy(out, &bits, sizeof(*out));
    return EDDY_OK;
}

void eddy_int64_encode(int64_t value, uint8_t out[8])
{
    EDDY_ASSERT(out != NULL);
    eddy__be64_put(out, (uint64_t)value);
}

eddy_err eddy_int64_decode(eddy_slice bytes, int64_t *out)
{
    EDDY_ASSERT(out != NULL);
    *out = 0;
    const uint8_t *data;
    eddy_err err = serde_fixed_bytes(&serde_int64, bytes, &data);
    if (err != EDDY_OK)
        return err;
    uint64_t bits = eddy__be64_get(data);
    memcpy(out, &bits, sizeof(*out));
    return EDDY_OK;
}

_Static_assert(sizeof(double) == 8, "double must be IEEE 754 binary64");

/* Java's doubleToLongBits result for every NaN. */
#define SERDE_CANONICAL_NAN_BITS UINT64_C(0x7ff8000000000000)

void eddy_double_encode(double value, uint8_t out[8])
{
    EDDY_ASSERT(out != NULL);
    uint64_t bits;
    if (value != value)
        bits = SERDE_CANONICAL_NAN_BITS;
    else
        memcpy(&bits, &value, sizeof(bits));
    eddy__be64_put(out, bits);
}

eddy_err eddy_double_decode(eddy_slice bytes, double *out)
{
    EDDY_ASSERT(out != NULL);
    *out = 0.0;
    const uint8_t *data;
    eddy_err err = serde_fixed_bytes(&serde_double, bytes, &data);
    if (err != EDDY_OK)
        return err;
    uint64_t bits = eddy__be64_get(data);
    memcpy(out, &bits, sizeof(*out));
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Strings                                                                                    */

eddy_slice eddy_string_slice(const char *s)
{
    eddy_slice slice = {s, s ? strlen(s) : 0};
    return slice;
}

eddy_err eddy_string_dup(eddy_slice bytes, char **out)
{
    EDDY_ASSERT(out != NULL);
    *out = NULL;
    if (bytes.data == NULL)
        return eddy__serde_null(serde_string.name);
    if (bytes.len == SIZE_MAX)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "string serde: %zu bytes cannot be copied",
                          bytes.len);
    char *copy = eddy__malloc(bytes.len + 1);
    if (!copy)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "string serde: out of memory copying %zu bytes",
                          bytes.len);
    /* memcpy, not strndup: the bytes may hold a NUL, and are copied whole. */
    memcpy(copy, bytes.data, bytes.len);
    copy[bytes.len] = '\0';
    *out = copy;
    return EDDY_OK;
}
