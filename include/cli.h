// cli.h: shared command-line plumbing for the onecycle commands.
#ifndef ONECYCLE_CLI_H
#define ONECYCLE_CLI_H
#include "common.h"
#include "config.h"

extern const char cli_usage[];

// Options shared by the commands that take a CONFIG (train, info, schedule, lr-find).
typedef struct CliArgs {
    const char *config, *out, *csv, *png, *x;
    const char *resume, *init_from, *data; // --resume CKPT, --init-from CKPT, --data DIR
    const char *sets[64]; // --set section.key=value, in order
    int nsets, force, threads, threads_given;
    long seed;
    int seed_given;
} CliArgs;

// Every config section with its keys.
const ConfigSection *cli_schema(void);
// Parses CONFIG, --set, --out, --csv, --png, --x, --threads, --seed, --force, --resume,
// --init-from, --data. CONFIG may be omitted only with --resume (the checkpoint has it).
// Unknown options are usage errors (message printed, returns ERR_INPUT).
int cli_parse(CliArgs *a, int argc, char **argv);
// Loads a->config over the schema and applies --set, --threads, --seed in that order.
int cli_load_config(Config *c, const CliArgs *a, Err *e);
// Prints "onecycle: MESSAGE" and returns the exit status for e.
int cli_fail(const Err *e);
// Prints the usage lines of one command (every block of cli_usage that starts with it) to
// f (FILE*); returns 0 when cli_usage has no such command.
int cli_command_help(const char *cmd, void *f);
// "unknown command 'X'; did you mean 'Y'?" (when one is close) and the usage; ERR_INPUT.
int cli_unknown_command(const char *cmd);
// Prints "onecycle: " + fmt(arg) and the usage; returns ERR_INPUT.
int cli_usage_error(const char *fmt, const char *arg);

// The trained model of a checkpoint, for eval, export and predict: its embedded config into
// c (over cli_schema), then m created for batches up to max_batch with the saved weights.
// ERR_INPUT for a missing, corrupt or mismatched checkpoint; on error m is left freed.
typedef struct ResNet ResNet;
int cli_load_model(ResNet *m, const char *ckpt, int max_batch, Config *c, Err *e);

#endif
