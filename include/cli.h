// cli.h: shared command-line plumbing for the onecycle commands.
#ifndef ONECYCLE_CLI_H
#define ONECYCLE_CLI_H
#include "common.h"
#include "config.h"

#define ONECYCLE_VERSION "0.1.0"

extern const char cli_usage[];

// The options several commands share. A command names the ones it takes (CliSpec.shared);
// any other option, shared or not, is a usage error naming the command.
enum {
    CLI_SET = 1 << 0,       // --set section.key=value (also -s, --set=...), repeatable
    CLI_OUT = 1 << 1,       // --out DIR
    CLI_CSV = 1 << 2,       // --csv FILE
    CLI_PNG = 1 << 3,       // --png FILE
    CLI_X = 1 << 4,         // --x iterations|epochs
    CLI_THREADS = 1 << 5,   // --threads N
    CLI_SEED = 1 << 6,      // --seed N
    CLI_FORCE = 1 << 7,     // --force
    CLI_RESUME = 1 << 8,    // --resume CKPT
    CLI_INIT_FROM = 1 << 9, // --init-from CKPT
    CLI_DATA = 1 << 10,     // --data DIR
    CLI_MORE_ARGS = 1 << 11, // not an option: positional arguments past max_args, any number,
                             // go to own_fn with name NULL (predict's images)
};

#define CLI_MAX_ARGS 64

typedef struct CliArgs {
    const char *args[CLI_MAX_ARGS]; // positional arguments (CONFIG, CKPT, LOG.csv ...)
    int nargs;
    const char *config;             // args[0] or NULL: the CONFIG of the commands that take one
    const char *out, *csv, *png, *x;
    const char *resume, *init_from, *data;
    const char *sets[64]; // --set section.key=value, in order
    int nsets, force, threads, threads_given;
    long seed;
    int seed_given;
} CliArgs;

// A command's own option: name ("--iters") and whether it takes a value.
typedef struct CliOption {
    const char *name;
    int has_value;
} CliOption;

// What a command accepts: the shared options, its own (a table ending in {NULL}, handed with
// their value, NULL for a flag, to own_fn, which returns ERR_OK or a usage error's status),
// and at most max_args positional arguments (with CLI_MORE_ARGS, any further ones go to
// own_fn with name NULL).
typedef struct CliSpec {
    const char *command; // for messages: "info has no option '--data'"
    unsigned shared;     // CLI_* bits
    const CliOption *own;
    int (*own_fn)(void *ctx, const char *name, const char *value);
    void *ctx;
    int max_args;
} CliSpec;

// Every config section with its keys.
const ConfigSection *cli_schema(void);
// Parses argv (the arguments after the command name) by spec. Any option the command does
// not take is a usage error (message printed, returns ERR_INPUT), as is a missing value or
// a surplus argument.
int cli_parse(CliArgs *a, const CliSpec *spec, int argc, char **argv);
// Whether any argument is --help or -h: the command prints its usage (exit 0) instead.
int cli_asks_help(int argc, char **argv);
// Loads a->config over the schema and applies --set, --threads, --seed in that order.
int cli_load_config(Config *c, const CliArgs *a, Err *e);
// Loads the config stored in a checkpoint (verified) over the schema: the one way train
// --resume and eval get a run's config.
int cli_load_checkpoint_config(Config *c, const char *ckpt, Err *e);
// The startup line on stderr: "onecycle VERSION: OpenBLAS core ..., N threads".
struct CpuInfo;
void cli_print_header(const struct CpuInfo *ci, int threads);
// Prints "onecycle: MESSAGE" and returns the exit status for e.
int cli_fail(const Err *e);
// Prints the usage lines of one command (every block of cli_usage that starts with it) to
// f (FILE*); returns 0 when cli_usage has no such command.
int cli_command_help(const char *cmd, void *f);
// "unknown command 'X'; did you mean 'Y'?" (when one is close) and the usage; ERR_INPUT.
int cli_unknown_command(const char *cmd);
// Prints "onecycle: " + fmt(arg) and the usage; returns ERR_INPUT.
int cli_usage_error(const char *fmt, const char *arg);
// The command a usage error points to ("see: onecycle CMD --help"); main sets it.
void cli_set_command(const char *cmd);
void cli_see_help(void); // prints that line to stderr
// From here SIGINT and SIGTERM (and SIGUSR1 under mpirun, which forwards it to every rank)
// only set the flag returned: "stop after this step and save" for train and lr-find.
// Every signal does the same, the second as the first, so a stop request sent twice (a
// terminal's Ctrl-C and a script's forwarded one) never kills a save under way; SIGKILL
// (or Ctrl-\, SIGQUIT) still ends the process at once.
const volatile int *cli_catch_stop_signals(void);

// The trained model of a checkpoint, for eval, export and predict: its embedded config into
// c (over cli_schema), then m created for batches up to max_batch with the saved weights.
// ERR_INPUT for a missing, corrupt or mismatched checkpoint; on error m is left freed.
typedef struct ResNet ResNet;
int cli_load_model(ResNet *m, const char *ckpt, int max_batch, Config *c, Err *e);

#endif
