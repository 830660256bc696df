/*
 * Output: the buffered record writer of `topic consume` and the aligned tables of the other
 * commands.
 *
 * The record writer buffers into one block and hands it to write(2) when full, so that printing
 * a record costs a few memcpy calls, not a stdio call per field. Tables are small: their cells
 * are kept until the whole table is known, then printed with each column as wide as its widest
 * cell.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void cli_out_init(cli_out *out, int fd, size_t capacity)
{
    *out = (cli_out){.fd = fd, .data = cli_alloc(capacity), .capacity = capacity};
}

void cli_out_free(cli_out *out)
{
    free(out->data);
    out->data = NULL;
}

/* Writes all of [bytes, bytes + len), retrying short writes and EINTR. */
static void write_all(cli_out *out, const char *bytes, size_t len)
{
    while (len > 0 && out->error == 0) {
        ssize_t n = write(out->fd, bytes, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            out->error = errno;
            return;
        }
        bytes += n;
        len -= (size_t)n;
    }
}

bool cli_out_flush(cli_out *out)
{
    write_all(out, out->data, out->len);
    out->len = 0;
    return out->error == 0;
}

void cli_out_write(cli_out *out, const void *bytes, size_t len)
{
    if (out->len + len > out->capacity) {
        cli_out_flush(out);
        if (len > out->capacity) {
            write_all(out, bytes, len);
            return;
        }
    }
    memcpy(out->data + out->len, bytes, len);
    out->len += len;
}

void cli_out_byte(cli_out *out, char byte)
{
    if (out->len == out->capacity) {
        cli_out_flush(out);
    }
    out->data[out->len++] = byte;
}

void cli_out_i64(cli_out *out, int64_t value)
{
    char digits[24];
    size_t n = sizeof(digits);
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[--n] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (value < 0) {
        digits[--n] = '-';
    }
    cli_out_write(out, digits + n, sizeof(digits) - n);
}

/* ------------------------------------------------------------------------------------------ */

void cli_table_init(cli_table *table, size_t columns, const char *const *headers)
{
    assert(columns >= 1 && columns <= CLI_TABLE_COLUMNS_MAX);
    *table = (cli_table){.columns = columns};
    for (size_t i = 0; i < columns; i++) {
        cli_table_cell(table, "%s", headers[i]);
    }
}

void cli_table_cell(cli_table *table, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int len = vsnprintf(NULL, 0, format, args);
    va_end(args);
    char *cell = cli_alloc(len > 0 ? (size_t)len + 1 : 1);
    va_start(args, format);
    vsnprintf(cell, len > 0 ? (size_t)len + 1 : 1, format, args);
    va_end(args);
    if (table->count == table->capacity) {
        table->capacity = table->capacity ? table->capacity * 2 : 32;
        table->cells = cli_realloc(table->cells, table->capacity * sizeof(*table->cells));
    }
    table->cells[table->count++] = cell;
}

void cli_table_print(const cli_table *table, FILE *out)
{
    size_t widths[CLI_TABLE_COLUMNS_MAX] = {0};
    for (size_t i = 0; i < table->count; i++) {
        size_t len = strlen(table->cells[i]);
        size_t column = i % table->columns;
        if (len > widths[column]) {
            widths[column] = len;
        }
    }
    for (size_t i = 0; i < table->count; i++) {
        size_t column = i % table->columns;
        bool last = column + 1 == table->columns || i + 1 == table->count;
        if (last) {
            fprintf(out, "%s\n", table->cells[i]);
        } else {
            /* Two spaces between columns; the last column is not padded. */
            fprintf(out, "%-*s  ", (int)widths[column], table->cells[i]);
        }
    }
}

void cli_table_free(cli_table *table)
{
    for (size_t i = 0; i < table->count; i++) {
        free(table->cells[i]);
    }
    free(table->cells);
    *table = (cli_table){0};
}

void cli_section(FILE *out, const char *title)
{
    size_t len = strlen(title);
    fprintf(out, "%s\n", title);
    for (size_t i = 0; i < len; i++) {
        fputc('=', out);
    }
    fputc('\n', out);
}
