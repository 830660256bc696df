/*
 * The command line's argument parser: table-driven, written by hand.
 *
 * Each command declares a table of cli_option (short name, long name, kind, target); the
 * parser walks argv once and stores each value through its option's target. Accepted forms:
 *
 *   --name value   --name=value   -n value   -nvalue   -abc (several short flags)
 *   --             (every word after it is an operand)
 *   -              (an operand: conventionally stdin)
 *
 * A value is taken verbatim even when it starts with '-' ("-o -5" means offset -5). The global
 * options (--data, --verbose, --help, and --brokers, -X, --timeout-ms for Kafka) are accepted
 * by every command, before or after its operands.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { CLI_GLOBAL_OPTION_COUNT = 6 };

/* The global options, bound to @p global. */
static void global_options(cli_global *global, cli_option options[CLI_GLOBAL_OPTION_COUNT])
{
    options[0] = (cli_option){0,
                              "data",
                              CLI_OPTION_VALUE,
                              "DIR",
                              "data directory (default $EDDY_DATA, else ./eddy-data)",
                              &global->data_option};
    options[1] = (cli_option){'v',
                              "verbose",
                              CLI_OPTION_FLAG,
                              NULL,
                              "print the library's log messages to stderr",
                              &global->verbose};
    options[2] = (cli_option){'h', "help", CLI_OPTION_FLAG, NULL, "print this help", &global->help};
    options[3] = (cli_option){0,
                              "brokers",
                              CLI_OPTION_VALUE,
                              "HOST:PORT,...",
                              "talk to Kafka at these brokers (default $EDDY_BROKERS)",
                              &global->brokers_option};
    options[4] = (cli_option){'X',
                              NULL,
                              CLI_OPTION_LIST,
                              "KEY=VALUE",
                              "a librdkafka property (-X brokers=HOST:PORT: --brokers)",
                              &global->kafka_properties};
    options[5] = (cli_option){0,
                              "timeout-ms",
                              CLI_OPTION_VALUE,
                              "MS",
                              "Kafka: longest wait for the brokers (default 10000)",
                              &global->timeout_option};
}

void cli_list_push(cli_list *list, const char *item)
{
    if (list->count == list->capacity) {
        list->capacity = list->capacity ? list->capacity * 2 : 8;
        list->items = cli_realloc(list->items, list->capacity * sizeof(*list->items));
    }
    list->items[list->count++] = item;
}

void cli_list_free(cli_list *list)
{
    free(list->items);
    *list = (cli_list){0};
}

/* The parser's state: the tables searched and the words being read. */
typedef struct parser {
    const cli_command *command; /* NULL while parsing global options only */
    const cli_option *tables[2];
    size_t sizes[2];
    int argc;
    char **argv;
    int index;
} parser;

/* Prints a usage error for the parser's command (or for eddy itself). */
static void parser_error(const parser *p, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void parser_error(const parser *p, const char *format, ...)
{
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    if (p->command != NULL) {
        cli_error("%s (see 'eddy %s --help')", message, p->command->path);
    } else {
        cli_error("%s (see 'eddy --help')", message);
    }
}

static const cli_option *find_long(const parser *p, const char *name, size_t name_len)
{
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < p->sizes[t]; i++) {
            const char *long_name = p->tables[t][i].long_name;
            if (long_name != NULL && strlen(long_name) == name_len &&
                memcmp(long_name, name, name_len) == 0) {
                return &p->tables[t][i];
            }
        }
    }
    return NULL;
}

static const cli_option *find_short(const parser *p, char name)
{
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < p->sizes[t]; i++) {
            if (p->tables[t][i].short_name == name) {
                return &p->tables[t][i];
            }
        }
    }
    return NULL;
}

static void store(const cli_option *option, const char *value)
{
    switch (option->kind) {
    case CLI_OPTION_FLAG:
        *(bool *)option->target = true;
        break;
    case CLI_OPTION_VALUE:
        *(const char **)option->target = value;
        break;
    case CLI_OPTION_LIST:
        cli_list_push((cli_list *)option->target, value);
        break;
    }
}

/* Takes the next word as @p option's value; @p shown is the flag as the user wrote it. */
static bool take_next_value(parser *p, const cli_option *option, const char *shown)
{
    if (p->index + 1 >= p->argc) {
        parser_error(p, "flag '%s' needs a value (%s)", shown, option->value_name);
        return false;
    }
    p->index++;
    store(option, p->argv[p->index]);
    return true;
}

/* "--name", "--name=value" or "--name value". */
static bool parse_long(parser *p, const char *word)
{
    const char *name = word + 2;
    const char *equals = strchr(name, '=');
    size_t name_len = equals ? (size_t)(equals - name) : strlen(name);
    const cli_option *option = find_long(p, name, name_len);
    if (option == NULL) {
        parser_error(p, "unknown flag '%s'", word);
        return false;
    }
    if (option->kind == CLI_OPTION_FLAG) {
        if (equals != NULL) {
            parser_error(p, "flag '%.*s' takes no value", (int)(equals - word), word);
            return false;
        }
        store(option, NULL);
        return true;
    }
    if (equals != NULL) {
        store(option, equals + 1);
        return true;
    }
    return take_next_value(p, option, word);
}

/* "-x", "-xVALUE", "-x VALUE", or several flags "-xyz". */
static bool parse_short(parser *p, const char *word)
{
    for (const char *c = word + 1; *c != '\0'; c++) {
        const cli_option *option = find_short(p, *c);
        if (option == NULL) {
            parser_error(p, "unknown flag '-%c'", *c);
            return false;
        }
        if (option->kind == CLI_OPTION_FLAG) {
            store(option, NULL);
            continue;
        }
        if (c[1] != '\0') {
            store(option, c + 1);
            return true;
        }
        char shown[3] = {'-', *c, '\0'};
        return take_next_value(p, option, shown);
    }
    return true;
}

static bool is_flag_word(const char *word)
{
    return word[0] == '-' && word[1] != '\0';
}

bool cli_args_parse_globals(cli_global *global, int argc, char **argv, int *index)
{
    cli_option globals[CLI_GLOBAL_OPTION_COUNT];
    global_options(global, globals);
    parser p = {NULL, {globals, NULL}, {CLI_GLOBAL_OPTION_COUNT, 0}, argc, argv, *index};
    for (; p.index < argc && is_flag_word(argv[p.index]); p.index++) {
        const char *word = argv[p.index];
        if (strcmp(word, "--") == 0 || strcmp(word, "--version") == 0) {
            break; /* left for the caller */
        }
        bool ok = word[1] == '-' ? parse_long(&p, word) : parse_short(&p, word);
        if (!ok) {
            return false;
        }
    }
    *index = p.index;
    return true;
}

/* Checks the operand count against the command's grammar. */
static bool check_positionals(const cli_command *command, const cli_list *positionals)
{
    if (positionals->count < command->positional_min) {
        cli_error("'eddy %s' needs %s (see 'eddy %s --help')", command->path, command->usage,
                  command->path);
        return false;
    }
    if (positionals->count > command->positional_max) {
        const char *extra = positionals->items[command->positional_max];
        cli_error("unexpected argument '%s' for 'eddy %s' (see 'eddy %s --help')", extra,
                  command->path, command->path);
        return false;
    }
    return true;
}

cli_parse_result cli_args_parse(const cli_command *command, cli_global *global, int argc,
                                char **argv, cli_list *positionals)
{
    cli_option globals[CLI_GLOBAL_OPTION_COUNT];
    global_options(global, globals);
    parser p = {command,
                {command->options, globals},
                {command->option_count, CLI_GLOBAL_OPTION_COUNT},
                argc,
                argv,
                0};
    bool operands_only = false;
    for (; p.index < argc; p.index++) {
        const char *word = argv[p.index];
        if (operands_only || !is_flag_word(word)) {
            cli_list_push(positionals, word);
        } else if (strcmp(word, "--") == 0) {
            operands_only = true;
        } else if (!(word[1] == '-' ? parse_long(&p, word) : parse_short(&p, word))) {
            return CLI_PARSE_EXIT_USAGE;
        }
    }
    if (global->help) {
        cli_command_help(command, stdout);
        return CLI_PARSE_EXIT_OK;
    }
    return check_positionals(command, positionals) ? CLI_PARSE_RUN : CLI_PARSE_EXIT_USAGE;
}

/* The names librdkafka and kcat accept for the bootstrap servers. */
static bool is_brokers_key(const char *pair)
{
    static const char *const keys[] = {"brokers=", "bootstrap.servers=", "metadata.broker.list="};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strncmp(pair, keys[i], strlen(keys[i])) == 0) {
            return true;
        }
    }
    return false;
}

/* Chooses the backend and checks the global options that only make sense with one of them.
 * Brokers named on the command line mean Kafka (and --data with them is a usage error); else
 * --data means the embedded log; else $EDDY_BROKERS, when set, means Kafka. */
static int resolve_globals(const cli_command *command, cli_global *global)
{
    const char *env_data = getenv("EDDY_DATA");
    const char *env_brokers = getenv("EDDY_BROKERS");
    global->data_dir = global->data_option       ? global->data_option
                       : env_data && env_data[0] ? env_data
                                                 : CLI_DATA_DIR_DEFAULT;
    bool brokers_given = global->brokers_option != NULL;
    for (size_t i = 0; i < global->kafka_properties.count; i++) {
        const char *pair = global->kafka_properties.items[i];
        const char *equals = strchr(pair, '=');
        if (equals == NULL || equals == pair) {
            return cli_usage_error(command, "-X '%s': expected KEY=VALUE", pair);
        }
        brokers_given |= is_brokers_key(pair);
    }
    if (global->data_option != NULL && brokers_given) {
        return cli_usage_error(command, "--data (the embedded log) and --brokers (Kafka) cannot "
                                        "be used together");
    }
    global->brokers = global->brokers_option;
    if (global->brokers == NULL && global->data_option == NULL && env_brokers && env_brokers[0]) {
        global->brokers = env_brokers;
    }
    global->kafka = brokers_given || global->brokers != NULL;
    if (!global->kafka && (global->kafka_properties.count > 0 || global->timeout_option)) {
        return cli_usage_error(command, "%s needs --brokers HOST:PORT (or EDDY_BROKERS)",
                               global->timeout_option ? "--timeout-ms" : "-X");
    }
    if (global->brokers_option != NULL && global->brokers_option[0] == '\0') {
        return cli_usage_error(command, "--brokers: the broker list is empty");
    }
    int64_t timeout_ms = CLI_KAFKA_TIMEOUT_MS_DEFAULT;
    if (global->timeout_option != NULL &&
        !cli_parse_i64(global->timeout_option, 1, 3600000, &timeout_ms)) {
        return cli_usage_error(command, "invalid --timeout-ms '%s' (expected 1..3600000)",
                               global->timeout_option);
    }
    global->timeout_ms = (int)timeout_ms;
    return CLI_EXIT_OK;
}

int cli_parse_or_exit(const cli_command *command, cli_global *global, int argc, char **argv,
                      cli_list *positionals)
{
    switch (cli_args_parse(command, global, argc, argv, positionals)) {
    case CLI_PARSE_RUN:
        if (resolve_globals(command, global) != CLI_EXIT_OK) {
            return CLI_EXIT_USAGE;
        }
        cli_logging_setup(global);
        return -1;
    case CLI_PARSE_EXIT_OK:
        return CLI_EXIT_OK;
    case CLI_PARSE_EXIT_USAGE:
        break;
    }
    return CLI_EXIT_USAGE;
}

/* One help line: "  -p, --partitions PARTITIONS   help". */
static void print_option(const cli_option *option, FILE *out)
{
    char left[64];
    int n = 0;
    if (option->short_name != 0) {
        n = snprintf(left, sizeof(left), "-%c%s", option->short_name,
                     option->long_name ? ", " : "");
    } else {
        n = snprintf(left, sizeof(left), "    ");
    }
    if (option->long_name != NULL && n >= 0 && (size_t)n < sizeof(left)) {
        n += snprintf(left + n, sizeof(left) - (size_t)n, "--%s", option->long_name);
    }
    if (option->value_name != NULL && n >= 0 && (size_t)n < sizeof(left)) {
        snprintf(left + n, sizeof(left) - (size_t)n, " %s", option->value_name);
    }
    fprintf(out, "  %-28s %s%s\n", left, option->help,
            option->kind == CLI_OPTION_LIST ? " (repeatable)" : "");
}

/* Whether the command has its own option of a global option's name (the command's is the one
 * parsed, so the global one is not listed in its help). */
static bool shadowed(const cli_command *command, const cli_option *global)
{
    for (size_t i = 0; i < command->option_count; i++) {
        const cli_option *own = &command->options[i];
        if (own->long_name != NULL && global->long_name != NULL &&
            strcmp(own->long_name, global->long_name) == 0) {
            return true;
        }
    }
    return false;
}

void cli_command_help(const cli_command *command, FILE *out)
{
    fprintf(out, "%s\n\nUsage:\n  eddy %s%s%s [flags]\n", command->summary, command->path,
            command->usage[0] ? " " : "", command->usage);
    if (command->option_count > 0) {
        fprintf(out, "\nFlags:\n");
        for (size_t i = 0; i < command->option_count; i++) {
            print_option(&command->options[i], out);
        }
    }
    cli_global unused = {0};
    cli_option globals[CLI_GLOBAL_OPTION_COUNT];
    global_options(&unused, globals);
    fprintf(out, "\nGlobal flags:\n");
    for (size_t i = 0; i < CLI_GLOBAL_OPTION_COUNT; i++) {
        if (!shadowed(command, &globals[i])) {
            print_option(&globals[i], out);
        }
    }
    if (command->details != NULL) {
        fprintf(out, "\n%s", command->details);
    }
}
