/*
 * eddy topic produce: one record per line of stdin.
 *
 * Lines are read with getline (any length; the last line may lack its newline) and copied into
 * one pending buffer. eddy_log_append() writes one partition, while keys and round robin spread
 * lines over many; so at a flush the pending records are ordered by (partition, line) and each
 * partition's run is appended in batches of at most PRODUCE_BATCH_RECORDS_MAX records and
 * PRODUCE_BATCH_BYTES_MAX bytes. The pending buffer holds that much per "lane" (one lane per
 * partition, at most PRODUCE_LANES_MAX), so that records spread over partitions still make
 * full batches: with acks=all each append costs an fdatasync. Order within a partition is the
 * order of the lines.
 *
 * Placement: -p pins every record to one partition; otherwise a keyed record goes where
 * Kafka's default partitioner puts it (murmur2, eddy_log_partition_for_key), and a record
 * without a key goes round robin, starting at a partition picked from the process id and time.
 *
 * A line without the --key-delim delimiter stops the command: the lines before it are
 * produced, the line and everything after it are not, and the error names the line number and
 * how many records were produced.
 *
 * Reading and splitting lines (cli_produce_stdin) is shared with the Kafka backend
 * (kafka_produce.c): it hands each record to a cli_produce_sink, here the batching producer
 * below.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* A batch is appended at this many records or bytes of keys and values: large enough that the
 * per-append cost (an fdatasync with acks=all) is shared by many records, small enough to stay
 * far below the library's 16 MiB batch limit. */
#define PRODUCE_BATCH_RECORDS_MAX 1000
#define PRODUCE_BATCH_BYTES_MAX (256 * 1024)
/* Partitions whose batches fill at once; bounds the pending buffer (16,000 records, 4 MiB). */
#define PRODUCE_LANES_MAX 16

/* One line waiting to be appended: where its key and value sit in the batch's bytes. */
typedef struct pending_record {
    size_t key_offset;
    size_t key_len;
    size_t value_offset;
    size_t value_len;
    int32_t partition;
    bool has_key;
    bool null_value;
} pending_record;

typedef struct producer {
    eddy_log *log;
    const cli_produce_options *options;
    int32_t partitions;
    int32_t round_robin; /* next partition for a record without a key */
    eddy_acks acks;
    char *bytes; /* keys and values of the batch */
    size_t bytes_len;
    size_t bytes_capacity;
    size_t pending_records_max; /* PRODUCE_BATCH_RECORDS_MAX per lane */
    size_t pending_bytes_max;   /* PRODUCE_BATCH_BYTES_MAX per lane */
    pending_record *pending;    /* pending_records_max entries */
    uint32_t *order;            /* pending_records_max entries: pending sorted by partition */
    eddy_record records[PRODUCE_BATCH_RECORDS_MAX];
    size_t pending_count;
    uint64_t produced;
} producer;

typedef struct produce_args {
    const char *key;
    const char *key_delim;
    const char *partition;
    const char *acks;
    const char *timestamp;
    bool tombstone;
    cli_list headers;
    cli_list operands;
} produce_args;

/* Copies @p len bytes into the batch buffer and returns where they start. */
static size_t batch_copy(producer *p, const char *bytes, size_t len)
{
    if (p->bytes_len + len > p->bytes_capacity) {
        size_t capacity = p->bytes_capacity ? p->bytes_capacity : p->pending_bytes_max;
        while (capacity < p->bytes_len + len) {
            capacity *= 2;
        }
        p->bytes = cli_realloc(p->bytes, capacity);
        p->bytes_capacity = capacity;
    }
    size_t offset = p->bytes_len;
    if (len > 0) {
        memcpy(p->bytes + offset, bytes, len);
    }
    p->bytes_len += len;
    return offset;
}

static const pending_record *sort_base;

/* Orders pending records by partition, then by line: a stable grouping. */
static int compare_pending(const void *a, const void *b)
{
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
    int32_t pa = sort_base[ia].partition, pb = sort_base[ib].partition;
    if (pa != pb) {
        return pa < pb ? -1 : 1;
    }
    return ia < ib ? -1 : ia > ib;
}

static eddy_slice batch_slice(const producer *p, size_t offset, size_t len, bool present)
{
    /* A present but empty key or value still needs a non-NULL pointer: NULL means null. */
    return present ? (eddy_slice){p->bytes ? p->bytes + offset : "", len} : (eddy_slice){NULL, 0};
}

/* Appends the records of one partition: order[first .. first + count). */
static eddy_err append_run(producer *p, size_t first, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const pending_record *r = &p->pending[p->order[first + i]];
        p->records[i] = (eddy_record){
            .key = batch_slice(p, r->key_offset, r->key_len, r->has_key),
            .value = batch_slice(p, r->value_offset, r->value_len, !r->null_value),
            .headers = p->options->headers,
            .header_count = p->options->header_count,
            .timestamp_ms = p->options->timestamp_ms,
        };
    }
    int32_t partition = p->pending[p->order[first]].partition;
    eddy_err err = eddy_log_append(p->log, p->options->topic, partition, p->records, count, p->acks,
                                   NULL, NULL);
    if (err == EDDY_OK) {
        p->produced += count;
    }
    return err;
}

/* The end of the batch that starts at order[first]: same partition, within the limits. */
static size_t batch_end(const producer *p, size_t first)
{
    int32_t partition = p->pending[p->order[first]].partition;
    size_t bytes = 0;
    size_t end = first;
    while (end < p->pending_count && end - first < PRODUCE_BATCH_RECORDS_MAX) {
        const pending_record *r = &p->pending[p->order[end]];
        if (r->partition != partition ||
            (end > first && bytes + r->key_len + r->value_len > PRODUCE_BATCH_BYTES_MAX)) {
            break;
        }
        bytes += r->key_len + r->value_len;
        end++;
    }
    return end;
}

/* Appends every pending record: each partition's records in order, in bounded batches. */
static int producer_flush(void *opaque)
{
    producer *p = opaque;
    for (size_t i = 0; i < p->pending_count; i++) {
        p->order[i] = (uint32_t)i;
    }
    sort_base = p->pending;
    qsort(p->order, p->pending_count, sizeof(p->order[0]), compare_pending);
    size_t first = 0;
    while (first < p->pending_count) {
        size_t end = batch_end(p, first);
        eddy_err err = append_run(p, first, end - first);
        if (err != EDDY_OK) {
            cli_error("%s (%llu records produced to %s before this error)",
                      eddy_last_error()[0] ? eddy_last_error() : eddy_strerror(err),
                      (unsigned long long)p->produced, p->options->topic);
            return CLI_EXIT_RUNTIME;
        }
        first = end;
    }
    p->pending_count = 0;
    p->bytes_len = 0;
    return CLI_EXIT_OK;
}

static int32_t choose_partition(producer *p, const pending_record *r)
{
    if (p->options->partition >= 0) {
        return p->options->partition;
    }
    if (r->has_key) {
        eddy_slice key = batch_slice(p, r->key_offset, r->key_len, true);
        return eddy_log_partition_for_key(key, p->partitions);
    }
    int32_t partition = p->round_robin;
    p->round_robin = (p->round_robin + 1) % p->partitions;
    return partition;
}

/* Shows a delimiter in an error message with its control characters escaped. */
static void describe_delimiter(const char *delimiter, size_t len, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < size; i++) {
        unsigned char c = (unsigned char)delimiter[i];
        if (c == '\t') {
            n += (size_t)snprintf(out + n, size - n, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
}

/* Queues one record, flushing first when the batch is full. */
static int producer_add(void *opaque, const eddy_record *record)
{
    producer *p = opaque;
    size_t key_len = record->key.len, value_len = record->value.len;
    if (p->pending_count == p->pending_records_max ||
        (p->pending_count > 0 && p->bytes_len + key_len + value_len > p->pending_bytes_max)) {
        int status = producer_flush(p);
        if (status != CLI_EXIT_OK) {
            return status;
        }
    }
    pending_record *r = &p->pending[p->pending_count];
    *r = (pending_record){.has_key = record->key.data != NULL,
                          .null_value = record->value.data == NULL};
    r->key_offset = batch_copy(p, record->key.data, key_len);
    r->key_len = key_len;
    r->value_offset = batch_copy(p, record->value.data, value_len);
    r->value_len = value_len;
    r->partition = choose_partition(p, r);
    p->pending_count++;
    return CLI_EXIT_OK;
}

static uint64_t producer_produced(const void *opaque)
{
    return ((const producer *)opaque)->produced;
}

/* Splits one line into key and value and hands the record to the sink. */
static int produce_line(const cli_produce_options *o, const cli_produce_sink *sink,
                        const char *line, size_t len, uint64_t line_number)
{
    const char *key = o->fixed_key;
    size_t key_len = key ? strlen(key) : 0;
    const char *value = line;
    size_t value_len = len;
    if (o->delimiter != NULL) {
        const char *at = memmem(line, len, o->delimiter, o->delimiter_len);
        if (at == NULL) {
            int status = sink->flush(sink->opaque);
            if (status != CLI_EXIT_OK) {
                return status;
            }
            char shown[64];
            describe_delimiter(o->delimiter, o->delimiter_len, shown, sizeof(shown));
            cli_error("stdin line %llu has no key delimiter '%s' (%llu records produced to %s "
                      "before it; nothing from this line on)",
                      (unsigned long long)line_number, shown,
                      (unsigned long long)sink->produced(sink->opaque), o->topic);
            return CLI_EXIT_RUNTIME;
        }
        key = line;
        key_len = (size_t)(at - line);
        value = at + o->delimiter_len;
        value_len = len - key_len - o->delimiter_len;
    }
    /* A present but empty key or value still needs a non-NULL pointer: NULL means null. */
    eddy_record record = {
        .key = {key, key_len},
        .value = o->tombstone && value_len == 0 ? (eddy_slice){NULL, 0}
                                                : (eddy_slice){value ? value : "", value_len},
        .headers = o->headers,
        .header_count = o->header_count,
        .timestamp_ms = o->timestamp_ms,
        .offset = -1,
        .partition = o->partition,
        .topic = o->topic,
    };
    return sink->add(sink->opaque, &record);
}

int cli_produce_stdin(const cli_produce_options *options, const cli_produce_sink *sink)
{
    char *line = NULL;
    size_t capacity = 0;
    uint64_t line_number = 0;
    int status = CLI_EXIT_OK;
    ssize_t len;
    while (status == CLI_EXIT_OK && (len = getline(&line, &capacity, stdin)) >= 0) {
        line_number++;
        size_t n = (size_t)len;
        if (n > 0 && line[n - 1] == '\n') {
            n--;
        }
        status = produce_line(options, sink, line, n, line_number);
    }
    if (status == CLI_EXIT_OK && ferror(stdin)) {
        int saved = errno;
        status = sink->flush(sink->opaque);
        if (status == CLI_EXIT_OK) {
            cli_error("reading stdin: %s (%llu records produced to %s before it)", strerror(saved),
                      (unsigned long long)sink->produced(sink->opaque), options->topic);
            status = CLI_EXIT_RUNTIME;
        }
    }
    if (status == CLI_EXIT_OK) {
        status = sink->flush(sink->opaque);
    }
    free(line);
    if (status == CLI_EXIT_OK) {
        uint64_t produced = sink->produced(sink->opaque);
        printf("Produced %llu record%s to %s.\n", (unsigned long long)produced,
               produced == 1 ? "" : "s", options->topic);
    }
    return status;
}

/* Turns "\t", "\r" and "\\" in a --key-delim value into the characters they name. */
static char *unescape_delimiter(const char *text, size_t *len)
{
    char *out = cli_alloc(strlen(text) + 1);
    size_t n = 0;
    for (const char *c = text; *c != '\0'; c++) {
        if (c[0] == '\\' && (c[1] == 't' || c[1] == 'r' || c[1] == '\\')) {
            out[n++] = c[1] == 't' ? '\t' : c[1] == 'r' ? '\r' : '\\';
            c++;
        } else {
            out[n++] = *c;
        }
    }
    out[n] = '\0';
    *len = n;
    return out;
}

/* Parses -H KEY=VALUE flags into a header array (freed by the caller). */
static int parse_headers(const cli_command *command, const cli_list *flags,
                         cli_produce_options *options, eddy_header **headers)
{
    *headers = cli_alloc(flags->count * sizeof(**headers));
    for (size_t i = 0; i < flags->count; i++) {
        const char *text = flags->items[i];
        const char *equals = strchr(text, '=');
        if (equals == NULL || equals == text) {
            return cli_usage_error(command, "-H '%s': expected KEY=VALUE", text);
        }
        (*headers)[i] =
            (eddy_header){{text, (size_t)(equals - text)}, {equals + 1, strlen(equals + 1)}};
    }
    options->headers = *headers;
    options->header_count = flags->count;
    return CLI_EXIT_OK;
}

/* Checks the flags, which need neither a data directory nor a broker. */
static int parse_produce_flags(const cli_command *command, const produce_args *args,
                               cli_produce_options *options, eddy_header **headers)
{
    int64_t partition = -1;
    if (args->partition != NULL && !cli_parse_i64(args->partition, 0, INT32_MAX, &partition)) {
        return cli_usage_error(command, "invalid partition '%s' for -p (expected 0 or more)",
                               args->partition);
    }
    options->partition = (int32_t)partition;
    options->acks_all = true;
    if (args->acks != NULL && strcmp(args->acks, "1") == 0) {
        options->acks_all = false;
    } else if (args->acks != NULL && strcmp(args->acks, "all") != 0 &&
               strcmp(args->acks, "-1") != 0) {
        return cli_usage_error(command, "invalid --acks '%s' (expected all or 1)", args->acks);
    }
    options->timestamp_ms = -1;
    if (args->timestamp != NULL &&
        !cli_parse_i64(args->timestamp, 0, INT64_MAX, &options->timestamp_ms)) {
        return cli_usage_error(command, "invalid --timestamp '%s' (expected Unix milliseconds)",
                               args->timestamp);
    }
    if (args->key != NULL && args->key_delim != NULL) {
        return cli_usage_error(command, "-k and --key-delim cannot be used together");
    }
    if (args->key_delim != NULL && args->key_delim[0] == '\0') {
        return cli_usage_error(command, "--key-delim must not be empty");
    }
    options->fixed_key = args->key;
    options->tombstone = args->tombstone;
    options->topic = args->operands.count > 0 ? args->operands.items[0] : "";
    return parse_headers(command, &args->headers, options, headers);
}

/* The embedded backend: the batching producer on the data directory. */
static int run_produce(cli_global *global, const cli_produce_options *options, producer *p)
{
    p->options = options;
    p->acks = options->acks_all ? EDDY_ACKS_ALL : EDDY_ACKS_LEADER;
    int status = cli_log_open(global, false, &p->log);
    if (status == CLI_EXIT_OK) {
        status = cli_topic_partitions(p->log, options->topic, &p->partitions);
    }
    if (status == CLI_EXIT_OK && options->partition >= p->partitions) {
        status = cli_partition_error(options->topic, options->partition, p->partitions);
    }
    if (status != CLI_EXIT_OK) {
        return status;
    }
    size_t lanes = options->partition >= 0             ? 1
                   : p->partitions < PRODUCE_LANES_MAX ? (size_t)p->partitions
                                                       : PRODUCE_LANES_MAX;
    p->pending_records_max = lanes * PRODUCE_BATCH_RECORDS_MAX;
    p->pending_bytes_max = lanes * PRODUCE_BATCH_BYTES_MAX;
    p->pending = cli_alloc(p->pending_records_max * sizeof(*p->pending));
    p->order = cli_alloc(p->pending_records_max * sizeof(*p->order));
    p->round_robin =
        (int32_t)(((uint64_t)getpid() + (uint64_t)time(NULL)) % (uint64_t)p->partitions);
    const cli_produce_sink sink = {producer_add, producer_flush, producer_produced, p};
    return cli_produce_stdin(options, &sink);
}

int cli_topic_produce(cli_global *global, int argc, char **argv)
{
    produce_args args = {0};
    const cli_option options[] = {
        {'k', "key", CLI_OPTION_VALUE, "KEY", "the key of every record", &args.key},
        {0, "key-delim", CLI_OPTION_VALUE, "DELIM",
         "split each line at the first DELIM into KEY and VALUE (\\t = tab)", &args.key_delim},
        {'p', "partition", CLI_OPTION_VALUE, "N", "produce every record to partition N",
         &args.partition},
        {0, "acks", CLI_OPTION_VALUE, "all|1",
         "all (default): return after fdatasync; 1: after the write", &args.acks},
        {'H', "header", CLI_OPTION_LIST, "KEY=VALUE", "a header on every record", &args.headers},
        {'Z', "tombstone", CLI_OPTION_FLAG, NULL, "an empty value becomes a null (tombstone)",
         &args.tombstone},
        {0, "timestamp", CLI_OPTION_VALUE, "UNIX_MS",
         "the timestamp of every record (default: now)", &args.timestamp},
    };
    const cli_command command = {
        "topic produce",
        "NAME",
        "Produce records read from stdin, one record per line.",
        "The newline is not part of the record. Without -p, a record with a key goes to the\n"
        "partition Kafka's default partitioner picks (murmur2); records without a key go round\n"
        "robin (with --brokers: librdkafka's murmur2_random, keyless records at random). With\n"
        "--key-delim, a line without the delimiter stops the command with exit status 1:\n"
        "lines before it are produced, it and the lines after it are not. With --brokers,\n"
        "acks=all and idempotence are the defaults (-X overrides), and only records the\n"
        "brokers acknowledged count as produced.\n"
        "On success prints 'Produced N records to NAME.' to stdout.\n",
        options,
        7,
        1,
        1};
    producer *p = cli_alloc(sizeof(*p));
    *p = (producer){0};
    cli_produce_options produce = {0};
    eddy_header *headers = NULL;
    char *delimiter = NULL;
    int status = cli_parse_or_exit(&command, global, argc, argv, &args.operands);
    if (status < 0) {
        status = parse_produce_flags(&command, &args, &produce, &headers);
        if (status == CLI_EXIT_OK && args.key_delim != NULL) {
            delimiter = unescape_delimiter(args.key_delim, &produce.delimiter_len);
            produce.delimiter = delimiter;
        }
        if (status == CLI_EXIT_OK) {
            status = global->kafka ? cli_kafka_produce(global, &produce)
                                   : run_produce(global, &produce, p);
        }
    }
    eddy_log_close(p->log);
    free(delimiter);
    free(headers);
    free(p->bytes);
    free(p->pending);
    free(p->order);
    free(p);
    cli_list_free(&args.headers);
    cli_list_free(&args.operands);
    return status;
}
