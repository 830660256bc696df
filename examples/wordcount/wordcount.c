/* wordcount: Kafka Streams' WordCountDemo in eddy.
 *
 * Reads lines of text from topic text-lines, splits them into lower-cased words, counts each
 * word in the state store "counts" and writes every new count, as decimal text, to
 * word-counts:
 *
 *     text-lines ─flat-map─> (word, word) ─group-by-key─> count "counts" ─> word-counts
 *
 * README.md shows how to run it on the embedded log. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <eddy/app.h>

/* A run of more word bytes than this is not a word (a hash, base64) and is not counted. */
#define WORD_BYTES_MAX 256

/* Emits (word, word) for every word of the line. A word is a run of ASCII letters and digits
 * and non-ASCII (UTF-8) bytes; ASCII letters are lower-cased. */
static void split_words(eddy_ctx *ctx, const eddy_record *line, void *opaque)
{
    (void)opaque;
    const unsigned char *text = line->value.data;
    char word[WORD_BYTES_MAX];
    size_t len = 0;
    bool too_long = false;
    for (size_t i = 0; i <= line->value.len; i++) {
        unsigned char c = i < line->value.len ? text[i] : ' ';
        bool in_word =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
        if (in_word) {
            too_long |= len == sizeof(word);
            if (!too_long)
                word[len++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            continue;
        }
        if (len > 0 && !too_long) {
            eddy_slice w = {word, len};
            eddy_forward(ctx, w, w);
        }
        len = 0;
        too_long = false;
    }
}

/* The int64 count as decimal text. */
static void count_to_text(eddy_ctx *ctx, const eddy_record *record, void *opaque)
{
    (void)opaque;
    int64_t count;
    char text[24];
    if (eddy_int64_decode(record->value, &count) != EDDY_OK) {
        eddy_forward_value(ctx, record->value); /* null: a deleted count stays deleted */
        return;
    }
    snprintf(text, sizeof(text), "%" PRId64, count);
    eddy_forward_value_str(ctx, text);
}

int main(int argc, char **argv)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_config *defaults = eddy_config_new();
    if (!builder || !defaults) {
        fprintf(stderr, "wordcount: out of memory\n");
        return 1;
    }
    eddy_config_set(defaults, "application.id", "wordcount");
    /* Its own topics, made at start when missing (4 partitions each). */
    eddy_config_set(defaults, "eddy.create.topics", "text-lines:4,word-counts:4");

    eddy_stream *lines =
        eddy_stream_from(builder, "text-lines", eddy_serde_string(), eddy_serde_string());
    eddy_table *counts =
        eddy_count(eddy_group_by_key(eddy_flat_map(lines, split_words, NULL)), "counts");
    eddy_to(eddy_map_values(eddy_to_stream(counts), count_to_text, NULL), "word-counts");

    int rc = eddy_main(argc, argv, builder, defaults);
    eddy_config_destroy(defaults);
    eddy_builder_destroy(builder);
    return rc;
}
