/*
 * eddy log verify: every batch's CRC and structure and every index entry, through
 * eddy_log_verify(). Each problem is printed to stdout as the library words it (naming the
 * file and byte position or offset); the command then exits 1 with one line on stderr. A clean
 * log prints one "ok:" line and exits 0.
 */
#include "cli.h"

typedef struct verify_totals {
    size_t topics;
    int64_t partitions;
    int64_t segments;
    int64_t bytes;
} verify_totals;

static void print_problem(const char *problem, void *opaque)
{
    (void)opaque;
    printf("%s\n", problem);
}

/* Adds @p topic's partitions, segments and bytes to the totals. */
static int count_topic(eddy_log *log, const char *topic, verify_totals *totals)
{
    int32_t partitions = 0;
    int status = cli_topic_partitions(log, topic, &partitions);
    for (int32_t p = 0; p < partitions && status == CLI_EXIT_OK; p++) {
        int64_t bytes = 0;
        int32_t segments = 0;
        eddy_err err = eddy_log_partition_info(log, topic, p, NULL, NULL, &bytes, &segments);
        if (err != EDDY_OK) {
            return cli_library_error(err, topic);
        }
        totals->segments += segments;
        totals->bytes += bytes;
    }
    totals->topics++;
    totals->partitions += partitions;
    return status;
}

static int count_all(eddy_log *log, const char *topic, verify_totals *totals)
{
    if (topic != NULL) {
        return count_topic(log, topic, totals);
    }
    char **names = NULL;
    size_t count = 0;
    eddy_err err = eddy_log_topic_list(log, &names, &count);
    if (err != EDDY_OK) {
        return cli_library_error(err, eddy_log_dir(log));
    }
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < count && status == CLI_EXIT_OK; i++) {
        status = count_topic(log, names[i], totals);
    }
    eddy_log_names_free(names, count);
    return status;
}

static int run_verify(eddy_log *log, const char *topic)
{
    verify_totals totals = {0};
    int status = count_all(log, topic, &totals);
    if (status != CLI_EXIT_OK) {
        return status;
    }
    int64_t problems = 0;
    eddy_err err = eddy_log_verify(log, topic, print_problem, NULL, &problems);
    fflush(stdout);
    if (err != EDDY_OK) {
        return cli_library_error(err, topic ? topic : eddy_log_dir(log));
    }
    if (problems > 0) {
        cli_error("verify found %lld problem%s in %s", (long long)problems,
                  problems == 1 ? "" : "s", topic ? topic : eddy_log_dir(log));
        return CLI_EXIT_RUNTIME;
    }
    printf("ok: %zu topic%s, %lld partitions, %lld segments, %lld bytes verified\n", totals.topics,
           totals.topics == 1 ? "" : "s", (long long)totals.partitions, (long long)totals.segments,
           (long long)totals.bytes);
    return CLI_EXIT_OK;
}

int cli_log_verify(cli_global *global, int argc, char **argv)
{
    const cli_command command = {
        "log verify",
        "[TOPIC]",
        "Check every batch's CRC and structure and every index entry.",
        "Checks TOPIC, or every topic. Prints each problem found (file and position) to\n"
        "stdout and exits 1; prints 'ok: ...' and exits 0 when the log is clean.\n",
        NULL,
        0,
        0,
        1};
    cli_list operands = {0};
    int status = cli_parse_or_exit(&command, global, argc, argv, &operands);
    if (status < 0 && global->kafka) {
        status = cli_usage_error(&command, "log verify checks the embedded log: use --data DIR, "
                                           "not --brokers or EDDY_BROKERS");
    } else if (status < 0) {
        eddy_log *log = NULL;
        status = cli_log_open(global, false, &log);
        if (status == CLI_EXIT_OK) {
            status = run_verify(log, operands.count > 0 ? operands.items[0] : NULL);
        }
        eddy_log_close(log);
    }
    cli_list_free(&operands);
    return status;
}
