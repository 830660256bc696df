/*
 * The --format mini-language of `eddy topic consume`.
 *
 * A format is compiled once into a list of operations (literal text, or one field of the
 * record), so that printing a record walks that list and copies bytes, with no parsing per
 * record.
 *
 *   %k key        %K key length (-1 when null)       %p partition   %t timestamp (ms)
 *   %v value      %V value length (-1 when null)     %o offset      %T topic
 *   %h headers as KEY=VALUE,KEY=VALUE                %H header count
 *   %% a percent sign
 *   \n newline    \t tab    \r carriage return    \\ backslash    \xNN the byte 0xNN
 *
 * A null key or value prints as nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef enum format_op_kind {
    FORMAT_LITERAL,
    FORMAT_KEY,
    FORMAT_VALUE,
    FORMAT_KEY_LENGTH,
    FORMAT_VALUE_LENGTH,
    FORMAT_PARTITION,
    FORMAT_OFFSET,
    FORMAT_TIMESTAMP,
    FORMAT_TOPIC,
    FORMAT_HEADERS,
    FORMAT_HEADER_COUNT,
} format_op_kind;

typedef struct format_op {
    format_op_kind kind;
    size_t literal_offset; /* FORMAT_LITERAL: the text is literals[offset .. offset + len) */
    size_t literal_len;
} format_op;

struct cli_format {
    format_op *ops;
    size_t count;
    char *literals;
    size_t literals_len;
};

static const struct {
    char directive;
    format_op_kind kind;
} DIRECTIVES[] = {
    {'k', FORMAT_KEY},          {'v', FORMAT_VALUE},     {'K', FORMAT_KEY_LENGTH},
    {'V', FORMAT_VALUE_LENGTH}, {'p', FORMAT_PARTITION}, {'o', FORMAT_OFFSET},
    {'t', FORMAT_TIMESTAMP},    {'T', FORMAT_TOPIC},     {'h', FORMAT_HEADERS},
    {'H', FORMAT_HEADER_COUNT},
};

/* Adds one literal byte, extending the literal operation at the end of the list. */
static void push_literal(cli_format *format, char byte)
{
    format->literals[format->literals_len] = byte;
    format_op *last = format->count > 0 ? &format->ops[format->count - 1] : NULL;
    if (last == NULL || last->kind != FORMAT_LITERAL) {
        format->ops[format->count++] = (format_op){FORMAT_LITERAL, format->literals_len, 0};
        last = &format->ops[format->count - 1];
    }
    last->literal_len++;
    format->literals_len++;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Reads the escape at text[*i] (a backslash); false when it is not one we know. */
static bool compile_escape(cli_format *format, const char *text, size_t *i)
{
    char c = text[*i + 1];
    if (c == 'n' || c == 't' || c == 'r' || c == '\\') {
        push_literal(format, c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : '\\');
        *i += 2;
        return true;
    }
    if (c == 'x' && text[*i + 2] != '\0' && hex_digit(text[*i + 2]) >= 0 &&
        hex_digit(text[*i + 3]) >= 0) {
        push_literal(format, (char)(hex_digit(text[*i + 2]) * 16 + hex_digit(text[*i + 3])));
        *i += 4;
        return true;
    }
    return false;
}

/* Reads the directive at text[*i] (a percent sign); false when it is not one we know. */
static bool compile_directive(cli_format *format, const char *text, size_t *i)
{
    char c = text[*i + 1];
    if (c == '%') {
        push_literal(format, '%');
        *i += 2;
        return true;
    }
    for (size_t d = 0; d < sizeof(DIRECTIVES) / sizeof(DIRECTIVES[0]); d++) {
        if (DIRECTIVES[d].directive == c) {
            format->ops[format->count++] = (format_op){DIRECTIVES[d].kind, 0, 0};
            *i += 2;
            return true;
        }
    }
    return false;
}

cli_format *cli_format_compile(const char *text, char *error, size_t error_size)
{
    size_t len = strlen(text);
    cli_format *format = cli_alloc(sizeof(*format));
    /* Each character yields at most one operation and one literal byte. */
    *format = (cli_format){.ops = cli_alloc((len + 1) * sizeof(format_op)),
                           .literals = cli_alloc(len + 1)};
    size_t i = 0;
    while (i < len) {
        bool ok = true;
        if (text[i] == '%') {
            ok = compile_directive(format, text, &i);
        } else if (text[i] == '\\') {
            ok = compile_escape(format, text, &i);
        } else {
            push_literal(format, text[i++]);
        }
        if (!ok) {
            snprintf(error, error_size, "format '%s': unknown %s '%.*s' at position %zu", text,
                     text[i] == '%' ? "directive" : "escape", text[i + 1] ? 2 : 1, text + i, i + 1);
            cli_format_free(format);
            return NULL;
        }
    }
    return format;
}

void cli_format_free(cli_format *format)
{
    if (format != NULL) {
        free(format->ops);
        free(format->literals);
        free(format);
    }
}

static void write_slice(cli_out *out, eddy_slice slice)
{
    if (slice.data != NULL) {
        cli_out_write(out, slice.data, slice.len);
    }
}

static void write_headers(cli_out *out, const eddy_record *record)
{
    for (size_t h = 0; h < record->header_count; h++) {
        if (h > 0) {
            cli_out_byte(out, ',');
        }
        write_slice(out, record->headers[h].key);
        cli_out_byte(out, '=');
        write_slice(out, record->headers[h].value);
    }
}

static int64_t slice_length(eddy_slice slice)
{
    return slice.data == NULL ? -1 : (int64_t)slice.len;
}

void cli_format_record(const cli_format *format, const eddy_record *record, cli_out *out)
{
    for (size_t i = 0; i < format->count; i++) {
        const format_op *op = &format->ops[i];
        switch (op->kind) {
        case FORMAT_LITERAL:
            cli_out_write(out, format->literals + op->literal_offset, op->literal_len);
            break;
        case FORMAT_KEY:
            write_slice(out, record->key);
            break;
        case FORMAT_VALUE:
            write_slice(out, record->value);
            break;
        case FORMAT_KEY_LENGTH:
            cli_out_i64(out, slice_length(record->key));
            break;
        case FORMAT_VALUE_LENGTH:
            cli_out_i64(out, slice_length(record->value));
            break;
        case FORMAT_PARTITION:
            cli_out_i64(out, record->partition);
            break;
        case FORMAT_OFFSET:
            cli_out_i64(out, record->offset);
            break;
        case FORMAT_TIMESTAMP:
            cli_out_i64(out, record->timestamp_ms);
            break;
        case FORMAT_TOPIC:
            if (record->topic != NULL) {
                cli_out_write(out, record->topic, strlen(record->topic));
            }
            break;
        case FORMAT_HEADERS:
            write_headers(out, record);
            break;
        case FORMAT_HEADER_COUNT:
            cli_out_i64(out, (int64_t)record->header_count);
            break;
        }
    }
}
