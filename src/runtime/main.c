/* eddy_main(): the standard command line of a stream-processing program (include/eddy/app.h).
 *
 * A program builds its topology and hands it here with its default configuration; this file
 * parses the flags, builds the final configuration and runs the application until SIGINT or
 * SIGTERM:
 *
 *     defaults ─> --config FILE ... ─> --set / --data / --bootstrap-servers, in argv order
 *                                          │
 *          --describe / --dot: print the topology, exit 0
 *          --print-topics: print the topics it uses, exit 0
 *          otherwise: eddy_app_new ─> eddy_app_start ─> wait ─> eddy_app_close ─> exit 0 / 1
 *
 * Messages follow the `eddy` command line's conventions (docs/cli.md): errors are one line
 * "<program>: <what was wrong>" on stderr, where <program> is the basename of argv[0]; exit
 * status 0 on success, 1 when the application failed or could not start, 2 for a usage error.
 *
 * Signals: SIGINT and SIGTERM only set a flag, which the waiting loop polls together with the
 * application's state (every MAIN_POLL_INTERVAL_MS). The previous handlers come back before
 * the final close, so a second Ctrl-C during a long shutdown ends the process at once; that
 * is safe, because the runtime is at-least-once (a crash repeats records, never loses one).
 * The flag is one per process: eddy_main() runs one application at a time. */
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eddy/app.h"
#include "eddy/logging.h"

enum {
    MAIN_EXIT_OK = 0,
    MAIN_EXIT_FAILURE = 1,
    MAIN_EXIT_USAGE = 2,
};

/* How long the waiting loop sleeps between looks at the stop flag and the state: short enough
 * that Ctrl-C feels immediate, long enough to cost nothing. */
#define MAIN_POLL_INTERVAL_MS 100

typedef enum main_flag {
    MAIN_FLAG_CONFIG,
    MAIN_FLAG_SET,
    MAIN_FLAG_DATA,
    MAIN_FLAG_BOOTSTRAP_SERVERS,
    MAIN_FLAG_DESCRIBE,
    MAIN_FLAG_DOT,
    MAIN_FLAG_PRINT_TOPICS,
    MAIN_FLAG_HELP,
} main_flag;

typedef struct main_flag_spec {
    const char *name; /* with its leading "--" */
    main_flag flag;
    const char *value_name; /* NULL: the flag takes no value */
    const char *help;
} main_flag_spec;

static const main_flag_spec MAIN_FLAGS[] = {
    {"--config", MAIN_FLAG_CONFIG, "FILE", "read a properties file (Kafka Streams keys)"},
    {"--set", MAIN_FLAG_SET, "KEY=VALUE", "set one key (repeatable; applied after --config)"},
    {"--data", MAIN_FLAG_DATA, "DIR", "the embedded log's directory (log.dir; ./eddy-data)"},
    {"--bootstrap-servers", MAIN_FLAG_BOOTSTRAP_SERVERS, "HOST:PORT",
     "use Kafka (bootstrap.servers; HOST:PORT[,...])"},
    {"--describe", MAIN_FLAG_DESCRIBE, NULL, "print the topology as Kafka Streams does, exit"},
    {"--dot", MAIN_FLAG_DOT, NULL, "print the topology as Graphviz DOT, exit"},
    {"--print-topics", MAIN_FLAG_PRINT_TOPICS, NULL,
     "print the topics it uses (name partitions role configs), exit"},
    {"--help", MAIN_FLAG_HELP, NULL, "print this help (also -h)"},
};

enum { MAIN_FLAG_COUNT = sizeof(MAIN_FLAGS) / sizeof(MAIN_FLAGS[0]) };

/* What the first pass over argv found, besides the configuration flags. */
typedef struct main_options {
    bool help;
    bool describe;
    bool dot;
    bool print_topics;
} main_options;

static volatile sig_atomic_t main_stop_signal;

/* ---- Messages ----------------------------------------------------------------------------- */

static const char *main_program_name(int argc, char **argv)
{
    if (argc < 1 || argv[0] == NULL || argv[0][0] == '\0')
        return "eddy-app";
    const char *slash = strrchr(argv[0], '/');
    return slash && slash[1] != '\0' ? slash + 1 : argv[0];
}

/* The library's message for a failed call; its code's text when it left none. */
static const char *main_error_text(eddy_err err)
{
    const char *detail = eddy_last_error();
    return detail[0] != '\0' ? detail : eddy_strerror(err);
}

static int main_fail(const char *program, const char *message)
{
    fprintf(stderr, "%s: %s\n", program, message);
    return MAIN_EXIT_FAILURE;
}

static int main_usage_error(const char *program, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static int main_usage_error(const char *program, const char *format, ...)
{
    char message[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    fprintf(stderr, "%s: %s (see '%s --help')\n", program, message, program);
    return MAIN_EXIT_USAGE;
}

static void main_print_usage(const char *program, FILE *out)
{
    fprintf(out,
            "Usage:\n"
            "  %s [--config FILE] [--set KEY=VALUE ...] [--data DIR]\n"
            "  %s --describe | --dot | --print-topics | --help\n\n"
            "Runs the stream-processing application until SIGINT or SIGTERM (Ctrl-C), then\n"
            "closes it with a final commit.\n\nFlags:\n",
            program, program);
    for (size_t i = 0; i < MAIN_FLAG_COUNT; i++) {
        char left[48];
        snprintf(left, sizeof(left), "%s%s%s", MAIN_FLAGS[i].name,
                 MAIN_FLAGS[i].value_name ? " " : "",
                 MAIN_FLAGS[i].value_name ? MAIN_FLAGS[i].value_name : "");
        fprintf(out, "  %-31s %s\n", left, MAIN_FLAGS[i].help);
    }
    fprintf(out, "\nFlags take the forms --name VALUE and --name=VALUE. Configuration is applied\n"
                 "in order: the program's defaults, the --config files, then --set, --data and\n"
                 "--bootstrap-servers as given.\n\n"
                 "Exit status: 0 after a clean shutdown, 1 when the application failed or could\n"
                 "not start, 2 for a usage error.\n");
}

/* ---- Parsing ------------------------------------------------------------------------------ */

/* Reads the flag at argv[*index] ("--name", "--name=VALUE" or "--name VALUE"; "-h") and its
 * value, and moves *index past them. Returns 0, or MAIN_EXIT_USAGE after printing why not. */
static int main_next_flag(const char *program, int argc, char **argv, int *index,
                          const main_flag_spec **spec, const char **value)
{
    const char *word = argv[*index];
    *index += 1;
    *value = NULL;
    if (strcmp(word, "-h") == 0)
        word = "--help";
    if (word[0] != '-')
        return main_usage_error(program, "unexpected argument '%s'", word);
    const char *equals = strchr(word, '=');
    size_t name_len = equals ? (size_t)(equals - word) : strlen(word);
    for (size_t i = 0; i < MAIN_FLAG_COUNT; i++) {
        const main_flag_spec *candidate = &MAIN_FLAGS[i];
        if (strlen(candidate->name) != name_len || strncmp(candidate->name, word, name_len) != 0)
            continue;
        *spec = candidate;
        if (candidate->value_name == NULL) {
            if (equals)
                return main_usage_error(program, "flag '%s' takes no value", candidate->name);
            return 0;
        }
        if (equals) {
            *value = equals + 1;
        } else if (*index < argc) {
            *value = argv[*index];
            *index += 1;
        } else {
            return main_usage_error(program, "flag '%s' needs a value (%s)", candidate->name,
                                    candidate->value_name);
        }
        if ((*value)[0] == '\0')
            return main_usage_error(program, "flag '%s' needs a non-empty value (%s)",
                                    candidate->name, candidate->value_name);
        return 0;
    }
    return main_usage_error(program, "unknown flag '%.*s'", (int)name_len, word);
}

/* The first pass: checks every flag's form and notes the modes. Stops at --help, so that help
 * is printed even when a later word is wrong. Returns 0 or MAIN_EXIT_USAGE. */
static int main_parse(const char *program, int argc, char **argv, main_options *options)
{
    memset(options, 0, sizeof(*options));
    int index = 1;
    while (index < argc) {
        const main_flag_spec *spec = NULL;
        const char *value;
        int rc = main_next_flag(program, argc, argv, &index, &spec, &value);
        if (rc != 0)
            return rc;
        if (spec->flag == MAIN_FLAG_SET && strchr(value, '=') == NULL)
            return main_usage_error(program, "invalid --set '%s' (expected KEY=VALUE)", value);
        if (spec->flag == MAIN_FLAG_HELP) {
            options->help = true;
            return 0;
        }
        options->describe |= spec->flag == MAIN_FLAG_DESCRIBE;
        options->dot |= spec->flag == MAIN_FLAG_DOT;
        options->print_topics |= spec->flag == MAIN_FLAG_PRINT_TOPICS;
    }
    if (options->describe + options->dot + options->print_topics > 1)
        return main_usage_error(program,
                                "--describe, --dot and --print-topics cannot be given together");
    return 0;
}

/* Applies one configuration flag of the second pass. Returns 0, or an exit code after printing
 * the error: a malformed value is a usage error, a config file that cannot be read a failure. */
static int main_apply_flag(const char *program, eddy_config *config, const main_flag_spec *spec,
                           const char *value)
{
    eddy_err err = EDDY_OK;
    switch (spec->flag) {
    case MAIN_FLAG_CONFIG:
        /* The library's messages name the file (and the line). */
        err = eddy_config_load_file(config, value);
        if (err == EDDY_OK)
            return 0;
        main_fail(program, main_error_text(err));
        return err == EDDY_ERR_CONFIG ? MAIN_EXIT_USAGE : MAIN_EXIT_FAILURE;
    case MAIN_FLAG_SET:
        err = eddy_config_set_pair(config, value);
        break;
    case MAIN_FLAG_DATA:
        err = eddy_config_set(config, "log.dir", value);
        break;
    case MAIN_FLAG_BOOTSTRAP_SERVERS:
        err = eddy_config_set(config, "bootstrap.servers", value);
        break;
    default:
        return 0;
    }
    if (err == EDDY_OK)
        return 0;
    if (err != EDDY_ERR_CONFIG)
        return main_fail(program, main_error_text(err));
    fprintf(stderr, "%s: %s '%s': %s\n", program, spec->name, value, main_error_text(err));
    return MAIN_EXIT_USAGE;
}

/* The second pass: @p defaults, then every --config file, then the other configuration flags
 * in argv order. argv was checked by main_parse(). Returns 0 or an exit code. */
static int main_build_config(const char *program, int argc, char **argv,
                             const eddy_config *defaults, eddy_config **out)
{
    *out = defaults ? eddy_config_copy(defaults) : eddy_config_new();
    if (*out == NULL)
        return main_fail(program, "out of memory (copying the configuration)");
    for (int pass = 0; pass < 2; pass++) {
        int index = 1;
        while (index < argc) {
            const main_flag_spec *spec = NULL;
            const char *value;
            int rc = main_next_flag(program, argc, argv, &index, &spec, &value);
            if (rc == 0 && (spec->flag == MAIN_FLAG_CONFIG) == (pass == 0))
                rc = main_apply_flag(program, *out, spec, value);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* ---- Describing --------------------------------------------------------------------------- */

static int main_describe(const char *program, eddy_builder *builder, bool dot)
{
    char *text = NULL;
    eddy_err err =
        dot ? eddy_builder_describe_dot(builder, &text) : eddy_builder_describe(builder, &text);
    if (err != EDDY_OK)
        return main_fail(program, main_error_text(err));
    size_t len = strlen(text);
    fputs(text, stdout);
    if (len == 0 || text[len - 1] != '\n')
        fputc('\n', stdout);
    eddy_free(text);
    if (fflush(stdout) != 0)
        return main_fail(program, "cannot write the description to stdout");
    return MAIN_EXIT_OK;
}

/* Prints the topics the application uses (eddy_app_topics), for operators who create them by
 * hand. Connects to the log to read the input topics' partition counts. */
static int main_print_topics(const char *program, eddy_builder *builder, const eddy_config *config)
{
    eddy_app *app = NULL;
    char *text = NULL;
    eddy_err err = eddy_app_new(builder, config, &app);
    if (err == EDDY_OK)
        err = eddy_app_topics(app, &text);
    eddy_app_destroy(app);
    if (err != EDDY_OK)
        return main_fail(program, main_error_text(err));
    fputs(text, stdout);
    eddy_free(text);
    if (fflush(stdout) != 0)
        return main_fail(program, "cannot write the topics to stdout");
    return MAIN_EXIT_OK;
}

/* ---- Running ------------------------------------------------------------------------------ */

static void main_on_signal(int signal_number)
{
    main_stop_signal = signal_number;
}

typedef struct main_signals {
    struct sigaction previous_interrupt;
    struct sigaction previous_terminate;
} main_signals;

static int main_signals_install(const char *program, main_signals *saved)
{
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = main_on_signal;
    sigemptyset(&action.sa_mask);
    main_stop_signal = 0;
    if (sigaction(SIGINT, &action, &saved->previous_interrupt) != 0)
        return main_fail(program, "cannot install the SIGINT handler");
    if (sigaction(SIGTERM, &action, &saved->previous_terminate) != 0) {
        sigaction(SIGINT, &saved->previous_interrupt, NULL);
        return main_fail(program, "cannot install the SIGTERM handler");
    }
    return 0;
}

static void main_signals_restore(const main_signals *saved)
{
    sigaction(SIGINT, &saved->previous_interrupt, NULL);
    sigaction(SIGTERM, &saved->previous_terminate, NULL);
}

/* Waits until a stop signal arrives or the application stops by itself (a thread failed). */
static void main_wait(const eddy_app *app)
{
    const struct timespec interval = {0, MAIN_POLL_INTERVAL_MS * 1000000L};
    for (;;) {
        eddy_app_state state = eddy_app_state_get(app);
        if (main_stop_signal != 0 || state == EDDY_APP_ERROR || state == EDDY_APP_NOT_RUNNING)
            return;
        nanosleep(&interval, NULL); /* EINTR (a signal) just means: look again now */
    }
}

/* Closes the running application and says how it ended. */
static int main_stop(const char *program, eddy_app *app)
{
    eddy_err err = eddy_app_close(app);
    if (eddy_app_state_get(app) == EDDY_APP_ERROR) {
        const char *message = eddy_app_error(app);
        return main_fail(program, message[0] != '\0' ? message : "the application failed");
    }
    if (err != EDDY_OK)
        return main_fail(program, main_error_text(err));
    fprintf(stderr, "%s: stopped\n", program);
    return MAIN_EXIT_OK;
}

static int main_run(const char *program, eddy_builder *builder, const eddy_config *config)
{
    eddy_app *app = NULL;
    eddy_err err = eddy_app_new(builder, config, &app);
    if (err != EDDY_OK)
        return main_fail(program, main_error_text(err));
    /* A running service says what it does (state changes, tasks, restoration progress), as
     * Kafka Streams logs at INFO; EDDY_LOG_LEVEL still decides when set. */
    if (!getenv("EDDY_LOG_LEVEL"))
        eddy_logging_set_level(EDDY_LOG_INFO);
    main_signals saved;
    int rc = main_signals_install(program, &saved);
    if (rc != 0) {
        eddy_app_destroy(app);
        return rc;
    }
    err = eddy_app_start(app);
    if (err != EDDY_OK) {
        rc = main_fail(program, main_error_text(err));
        main_signals_restore(&saved);
    } else {
        const char *application_id = eddy_config_get(config, "application.id");
        fprintf(stderr, "%s: running (application.id=%s); Ctrl-C to stop\n", program,
                application_id ? application_id : "");
        main_wait(app);
        main_signals_restore(&saved);
        rc = main_stop(program, app);
    }
    eddy_app_destroy(app);
    return rc;
}

int eddy_main(int argc, char **argv, eddy_builder *builder, const eddy_config *defaults)
{
    const char *program = main_program_name(argc, argv);
    if (builder == NULL)
        return main_fail(program, "eddy_main: the builder is NULL");
    main_options options;
    int rc = main_parse(program, argc, argv, &options);
    if (rc != 0)
        return rc;
    if (options.help) {
        main_print_usage(program, stdout);
        return MAIN_EXIT_OK;
    }
    eddy_config *config = NULL;
    rc = main_build_config(program, argc, argv, defaults, &config);
    if (rc == 0) {
        if (options.describe || options.dot)
            rc = main_describe(program, builder, options.dot);
        else if (options.print_topics)
            rc = main_print_topics(program, builder, config);
        else
            rc = main_run(program, builder, config);
    }
    eddy_config_destroy(config);
    return rc;
}
