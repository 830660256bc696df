/**
 * @file serde.h
 * @brief Serdes: what the bytes of a record's key and value mean, and typed access to them.
 *
 * At topic boundaries a record's key and value are byte slices (::eddy_slice). A serde
 * (serializer/deserializer, as in Kafka) names their format. eddy's built-in serdes write
 * exactly the bytes of Kafka's own serializers, so a topic written by a Java Kafka Streams
 * application with `Serdes.Long()` reads here with eddy_serde_int64(), and the other way round:
 *
 * | serde               | bytes                                 | Kafka                |
 * |---------------------|---------------------------------------|----------------------|
 * | eddy_serde_bytes()  | any bytes, as they are                | `Serdes.ByteArray()` |
 * | eddy_serde_string() | UTF-8 text, no terminator             | `Serdes.String()`    |
 * | eddy_serde_int32()  | 4 bytes, two's complement, big-endian | `Serdes.Integer()`   |
 * | eddy_serde_int64()  | 8 bytes, two's complement, big-endian | `Serdes.Long()`      |
 * | eddy_serde_double() | 8 bytes, IEEE 754 binary64, big-endian| `Serdes.Double()`    |
 * | eddy_serde_json()   | one JSON value, UTF-8 (jansson)       | Connect's JSON serde |
 *
 * A serde is a descriptor, not a converter: the runtime calls eddy_serde_check() on the bytes
 * it reads from a topic (as Kafka Streams deserializes them), and callbacks read typed values
 * with the codecs below (eddy_int64_decode(), eddy_json_decode(), ...) instead of parsing
 * bytes by hand. docs/serdes.md has the byte formats and examples.
 *
 * **Null.** A slice with data == NULL is null: a null key, or a null value (a tombstone). As in
 * Kafka, null is not a format: every serde accepts it and keeps it null (Kafka's deserializers
 * return null for null data), and eddy_serde_check() never fails on it. A null slice has no
 * typed value, so every typed decoder returns ::EDDY_ERR_NOT_FOUND for it; test
 * `slice.data == NULL` first where null is expected (tombstones in a table, null keys).
 * What null *means* (a deletion in a table; a record an aggregation skips) is the DSL's
 * business, as in Kafka Streams, not the serde's.
 *
 * **Errors.** Bytes that are not in a serde's format give ::EDDY_ERR_SERIALIZATION with a
 * message naming the serde and the problem, e.g. "int64 serde: 3 bytes, expected 8"
 * (eddy_last_error()).
 *
 * **Threads.** Built-in serdes and all codecs may be used from any number of threads at once.
 */
#ifndef EDDY_SERDE_H
#define EDDY_SERDE_H

#include "eddy/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** jansson's JSON value. eddy's header does not include <jansson.h>; a program that uses the
 *  JSON codecs includes <jansson.h> itself (and links jansson, which eddy links already). */
struct json_t;

/** A serde descriptor: a name and a validity check for bytes. Opaque. */
typedef struct eddy_serde eddy_serde;

/* ------------------------------------------------------------------------------------------ */
/* Memory                                                                                     */

/* eddy_free(), which frees what these functions hand out, is declared in eddy/common.h. */

/* ------------------------------------------------------------------------------------------ */
/* Serdes                                                                                     */

/** Raw bytes, passed through untouched; every byte string is valid. Static; never freed. */
EDDY_EXPORT const eddy_serde *eddy_serde_bytes(void);

/**
 * UTF-8 text without a terminator. Every byte string is valid: Kafka's StringDeserializer does
 * not validate (it decodes malformed UTF-8 to U+FFFD rather than failing), and eddy accepts
 * what Kafka accepts. Static; never freed.
 */
EDDY_EXPORT const eddy_serde *eddy_serde_string(void);

/** A 32-bit signed integer: exactly 4 bytes, big-endian two's complement, as Kafka's
 *  IntegerSerializer. Static; never freed. */
EDDY_EXPORT const eddy_serde *eddy_serde_int32(void);

/** A 64-bit signed integer: exactly 8 bytes, big-endian two's complement, as Kafka's
 *  LongSerializer. Static; never freed. */
EDDY_EXPORT const eddy_serde *eddy_serde_int64(void);

/** A double: exactly 8 bytes, the IEEE 754 binary64 bit pattern big-endian, as Kafka's
 *  DoubleSerializer. Static; never freed. */
EDDY_EXPORT const eddy_serde *eddy_serde_double(void);

/**
 * One JSON value (an object, array, string, number, true, false or null) in UTF-8, parsed
 * with jansson; nothing but whitespace may follow it. Valid bytes are those
 * eddy_json_decode() accepts. Static; never freed.
 */
EDDY_EXPORT const eddy_serde *eddy_serde_json(void);

/** The serde's name: "bytes", "string", "int32", "int64", "double", "json", or a custom
 *  serde's name. Valid as long as the serde. */
EDDY_EXPORT const char *eddy_serde_name(const eddy_serde *serde);

/**
 * Checks that @p bytes are valid for @p serde, exactly as its deserializer would accept them.
 * A null slice (data == NULL) is always valid. This is what the runtime calls on every key and
 * value it reads from a topic; for JSON it parses the value (and frees it again).
 * @return EDDY_OK; EDDY_ERR_SERIALIZATION when the bytes are not in the serde's format, with a
 *         message "<name> serde: <problem>"; EDDY_ERR_NO_MEMORY when the check ran out of
 *         memory (JSON); for a custom serde, whatever negative code its check returned.
 */
EDDY_EXPORT eddy_err eddy_serde_check(const eddy_serde *serde, eddy_slice bytes);

/**
 * A custom serde's check: returns EDDY_OK when @p bytes (never a null slice) are valid;
 * otherwise a negative ::eddy_err (normally ::EDDY_ERR_SERIALIZATION) after writing what is
 * wrong, NUL-terminated, into @p errstr (@p errstr_size bytes, at least 256). eddy prefixes the
 * message with "<name> serde: ". It may be called from several threads at once.
 */
typedef eddy_err (*eddy_serde_check_fn)(eddy_slice bytes, char *errstr, size_t errstr_size,
                                        void *opaque);

/**
 * Makes a custom serde.
 * @param name its name, used in messages; copied. Must be non-empty.
 * @param check the validity check; NULL accepts every byte string (as eddy_serde_bytes()).
 * @param opaque passed to @p check; borrowed: it must outlive the serde.
 * @param out receives the serde; free it with eddy_serde_destroy() once nothing uses it.
 * @return EDDY_OK; EDDY_ERR_INVALID_ARGUMENT for a NULL or empty name; EDDY_ERR_NO_MEMORY
 *         (*out is then NULL).
 */
EDDY_EXPORT eddy_err eddy_serde_new(const char *name, eddy_serde_check_fn check, void *opaque,
                                    eddy_serde **out);

/** Frees a serde made by eddy_serde_new(). NULL and the built-in serdes are no-ops. */
EDDY_EXPORT void eddy_serde_destroy(eddy_serde *serde);

/* ------------------------------------------------------------------------------------------ */
/* Typed codecs                                                                               */
/*                                                                                            */
/* Encoders write into a caller's buffer and cannot fail. Decoders read a borrowed slice; on  */
/* any failure they set *out to 0 (or NULL) and return:                                       */
/*   EDDY_ERR_NOT_FOUND      for a null slice (null key, tombstone): it has no typed value;   */
/*   EDDY_ERR_SERIALIZATION  for bytes not in the format (message as eddy_serde_check()).    */

/** Writes @p value as Kafka's IntegerSerializer does: 4 bytes, big-endian. */
EDDY_EXPORT void eddy_int32_encode(int32_t value, uint8_t out[4]);

/** Reads 4 big-endian bytes. @return EDDY_OK; EDDY_ERR_NOT_FOUND (null);
 *  EDDY_ERR_SERIALIZATION when @p bytes are not exactly 4 bytes. */
EDDY_EXPORT eddy_err eddy_int32_decode(eddy_slice bytes, int32_t *out);

/** Writes @p value as Kafka's LongSerializer does: 8 bytes, big-endian. */
EDDY_EXPORT void eddy_int64_encode(int64_t value, uint8_t out[8]);

/** Reads 8 big-endian bytes. @return EDDY_OK; EDDY_ERR_NOT_FOUND (null);
 *  EDDY_ERR_SERIALIZATION when @p bytes are not exactly 8 bytes. */
EDDY_EXPORT eddy_err eddy_int64_decode(eddy_slice bytes, int64_t *out);

/**
 * Writes @p value as Kafka's DoubleSerializer does: the binary64 bits, 8 bytes, big-endian.
 * Like Java's Double.doubleToLongBits(), which that serializer uses, every NaN is written as
 * the canonical NaN 7f f8 00 00 00 00 00 00, so equal values give equal bytes. -0.0,
 * infinities and subnormals keep their exact bits.
 */
EDDY_EXPORT void eddy_double_encode(double value, uint8_t out[8]);

/** Reads 8 big-endian bytes as binary64, keeping the exact bits (a NaN keeps its payload, as
 *  Java's Double.longBitsToDouble()). @return EDDY_OK; EDDY_ERR_NOT_FOUND (null);
 *  EDDY_ERR_SERIALIZATION when @p bytes are not exactly 8 bytes. */
EDDY_EXPORT eddy_err eddy_double_decode(eddy_slice bytes, double *out);

/**
 * A slice over the C string @p s, without its terminator, for the string serde: what Kafka's
 * StringSerializer writes for the same text. NULL gives a null slice. Borrowed: valid as long
 * as @p s.
 */
EDDY_EXPORT eddy_slice eddy_string_slice(const char *s);

/**
 * Copies string-serde bytes into a new NUL-terminated C string. Every byte string is accepted
 * (as Kafka's StringDeserializer); bytes holding a NUL are copied whole, but C string functions
 * will see only the text before it: use @p bytes.len as the length.
 * @param out receives the copy; free it with eddy_free().
 * @return EDDY_OK; EDDY_ERR_NOT_FOUND (null); EDDY_ERR_NO_MEMORY.
 */
EDDY_EXPORT eddy_err eddy_string_dup(eddy_slice bytes, char **out);

/**
 * Parses JSON-serde bytes (one JSON value of any type; UTF-8; nothing but whitespace after
 * it) with jansson. Programs using this include <jansson.h>. The value is allocated by jansson
 * with its allocator. jansson 2.14 does not report its own allocation failures reliably (it
 * may call them syntax errors, or drop a byte of a string and succeed), so when eddy is loaded
 * it puts a watcher in front of jansson's allocator that calls the allocator jansson had and
 * notes failures; frees are untouched. A program that calls json_set_alloc_funcs() itself
 * replaces the watcher, and eddy then relies on jansson's own reports.
 * Unlike Java's Jackson, jansson rejects integers outside int64 and numbers beyond double's
 * range, and "\u0000" inside object keys; such bytes fail here and in eddy_serde_check().
 * @param out receives a new reference; the caller releases it with json_decref().
 * @return EDDY_OK; EDDY_ERR_NOT_FOUND (null); EDDY_ERR_SERIALIZATION when the bytes are not
 *         JSON, with jansson's line, column and reason, e.g. for `{"a":1` "json serde:
 *         invalid JSON at line 1, column 6 (byte 6): '}' expected near end of file";
 *         EDDY_ERR_NO_MEMORY.
 */
EDDY_EXPORT eddy_err eddy_json_decode(eddy_slice bytes, struct json_t **out);

/**
 * Writes @p value as JSON-serde bytes: compact (no spaces) with object keys sorted
 * (jansson's JSON_COMPACT | JSON_SORT_KEYS), so equal values give equal bytes, which matters
 * for keys (partitioning, stores) and for comparing changelog values.
 * @param value any JSON value; NULL writes null, as Kafka's serializers do for a null object:
 *        *out = NULL and *len = 0, so that `(eddy_slice){*out, *len}` is a null slice.
 * @param out receives the bytes, NUL-terminated (the NUL is not counted in *len); free them
 *        with eddy_free().
 * @param len receives the length in bytes.
 * @return EDDY_OK; EDDY_ERR_SERIALIZATION when jansson cannot write the value (a string that
 *         is not UTF-8, a value containing itself); EDDY_ERR_NO_MEMORY. On failure *out is
 *         NULL and *len is 0.
 */
EDDY_EXPORT eddy_err eddy_json_encode(const struct json_t *value, char **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
