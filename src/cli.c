// cli.c: what every command shares: the config schema, option parsing, config loading
// with --set overrides, and error printing.
#include "cli.h"
#include "dist.h"
#include "checkpoint.h"
#include "cpu.h"
#include "dataset.h"
#include "optim.h"
#include "resnet.h"
#include "schedule.h"
#include "train.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ConfigSection schema_table[] = {
    {"data", dataset_config_keys},   {"model", resnet_config_keys},       {"train", train_config_keys},
    {"optim", optim_config_keys},  {"schedule", schedule_config_keys}, {NULL, NULL},
};

const char cli_usage[] =
    "usage: onecycle COMMAND ...\n"
    "  train CONFIG [--set section.key=value]... [--out DIR] [--force] [--threads N] [--seed N]\n"
    "        [--init-from CKPT]\n"
    "      train and evaluate; writes DIR/log.csv, DIR/config.cfg, DIR/schedule.{csv,png},\n"
    "      DIR/checkpoint.ckpt; --init-from starts from a checkpoint's weights (new schedule)\n"
    "  train --resume DIR/checkpoint.ckpt [--threads N] [--data DIR] [--out DIR2 [--force]]\n"
    "      continue an interrupted run exactly where it stopped, in DIR (or in DIR2); --data:\n"
    "      the data directory, where the run's relative data.dir does not lead from here\n"
    "  eval CKPT [--data DIR] [--threads N] [--out DIR [--force]]\n"
    "      test accuracy and loss of a checkpoint, how many test images it scored, per-class\n"
    "      accuracy and the confusion matrix; --out writes them as per_class.csv, confusion.csv\n"
    "      and confusion.png\n"
    "  info CONFIG [--set ...]            model summary (including 'parameters: N') and run plan\n"
    "  schedule CONFIG [--set ...] [--csv FILE] [--png FILE.png|FILE.svg] [--x iterations|epochs]\n"
    "      the LR/momentum schedule of a config, without training\n"
    "  lr-find CONFIG [--set ...] [--start 1e-5] [--end 10] [--iters 200] [--linear]\n"
    "        [--sweep momentum=a,b,... | --sweep wd=a,b,...] [--eval-every K] [--out DIR] [--force]\n"
    "      LR range test; writes DIR/lr_find.{csv,png} (default runs/lr-find); prints a max LR\n"
    "      when the curve supports one, as config lines for the config's policy\n"
    "  plot LOG.csv [LOG2.csv ...] [--png FILE.png|FILE.svg] [--labels a,b,...]\n"
    "      training curves (loss, accuracy, LR/momentum) of runs, overlaid (default curves.png);\n"
    "      a DIR/lr_find.csv is redrawn as lr-find drew it\n"
    "  export CKPT OUT.npz|OUT.onnx [--force]\n"
    "      the model as a NumPy .npz of PyTorch state_dict arrays (scripts/load_npz.py), or as\n"
    "      an ONNX model in inference form, input normalisation included\n"
    "  predict CKPT [IMAGE.png ...] [--data DIR] [--index LIST] [--top K] [--csv] [--logits]\n"
    "        [--threads N]\n"
    "      the top-K classes of PNG images (any size, resampled to 32x32) or test-set images\n"
    "  bench [--depth N] [--batch B] [--threads T] [--arch resnet|preact|caffe] [--shortcut A|B] [--seconds S]\n"
    "        [--layers] [--kernels LIST] [--layout auto|cbhw|cb16]\n"
    "      time training (forward+backward+update) and evaluation on random input;\n"
    "      --layers adds each stage's 3x3 conv GFLOP/s next to sgemm 2048^3 and the FMA peak;\n"
    "      --kernels: the convolution kernels allowed: default, all, none (GEMM only) or some of\n"
    "      direct,winograd,winograd-wgrad,direct-s2,winograd4,winograd4-wgrad (comma-separated;\n"
    "      default = all); --layout: the activations' layout (auto: CB16, 16 channels per pixel\n"
    "      vector, with AVX-512; cbhw: channel planes, the layout before CB16)\n"
    "  help config                        every config key with its default (Markdown)\n"
    "  --version\n";

int cli_fail(const Err *e) {
    // Under mpirun: an error every rank shares (dist_agree) is printed once, by rank 0;
    // one rank's own error says which rank.
    if (dist_world() == 1)
        fprintf(stderr, "onecycle: %s\n", e->msg);
    else if (!dist_failure_shared())
        fprintf(stderr, "onecycle: rank %d: %s\n", dist_rank(), e->msg);
    else if (dist_rank() == 0)
        fprintf(stderr, "onecycle: %s\n", e->msg);
    return e->code ? e->code : ERR_RUNTIME;
}

// The command being run, for the pointer to its help after a usage error.
static const char *current_command;

void cli_set_command(const char *cmd) { current_command = cmd; }

void cli_see_help(void) {
    if (current_command)
        fprintf(stderr, "see: onecycle %s --help\n", current_command);
    else
        fprintf(stderr, "see: onecycle --help\n");
}

int cli_usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "onecycle: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    cli_see_help();
    return ERR_INPUT;
}

// What each option of each command does, printed after its usage lines by
// `onecycle CMD --help` (= `onecycle help CMD`). export and predict carry their own help.
static const struct {
    const char *cmd, *opt, *text;
} option_help[] = {
    {"train", "--set SECTION.KEY=VALUE", "override one config key (repeatable; -s is short for it)"},
    {"train", "--out DIR", "the run directory (default runs/NAME from the config's file name)"},
    {"train", "--force", "with --out: replace the run already in DIR (else it is refused)"},
    {"train", "--threads N", "threads (0: all cores); the same as --set train.threads=N"},
    {"train", "--seed N", "the random seed; the same as --set train.seed=N"},
    {"train", "--init-from CKPT", "start from this checkpoint's weights, with a fresh schedule and optimiser"},
    {"train", "--resume CKPT", "continue the run of DIR/checkpoint.ckpt exactly where it stopped"},
    {"train", "--data DIR", "with --resume: the data directory, where the run's relative data.dir does not lead"},
    {"eval", "--out DIR", "also write per_class.csv, confusion.csv and confusion.png there"},
    {"eval", "--force", "with --out: replace those files if they exist (else they are refused)"},
    {"eval", "--data DIR", "the CIFAR-10 directory (default: the data.dir of the checkpoint's config)"},
    {"eval", "--threads N", "threads (default: the checkpoint's train.threads)"},
    {"info", "--set SECTION.KEY=VALUE", "override one config key (repeatable; -s is short for it)"},
    {"schedule", "--set SECTION.KEY=VALUE", "override one config key (repeatable; -s is short for it)"},
    {"schedule", "--csv FILE", "write the schedule as CSV: iteration,epoch,lr,momentum per step"},
    {"schedule", "--png FILE", "draw it, as PNG or SVG by the extension (neither option: schedule.csv and .png)"},
    {"schedule", "--x AXIS", "the x axis of the plot: iterations (default) or epochs"},
    {"lr-find", "--set SECTION.KEY=VALUE", "override one config key (repeatable; -s is short for it)"},
    {"lr-find", "--out DIR", "where lr_find.csv, lr_find.png and the config go (default runs/lr-find)"},
    {"lr-find", "--force", "replace an earlier range test's files in DIR"},
    {"lr-find", "--threads N", "threads (0: all cores)"},
    {"lr-find", "--seed N", "the random seed"},
    {"lr-find", "--start LR", "the first learning rate (default 1e-5)"},
    {"lr-find", "--end LR", "the last learning rate (default 10)"},
    {"lr-find", "--iters N", "steps from start to end (default 200)"},
    {"lr-find", "--linear", "raise the LR by equal steps instead of equal factors"},
    {"lr-find", "--sweep KEY=a,b,...", "one curve per value of momentum or wd, overlaid"},
    {"lr-find", "--eval-every K", "test loss and accuracy every K steps, in a second panel"},
    {"plot", "--png FILE", "the picture, PNG or SVG by the extension (default curves.png)"},
    {"plot", "--labels a,b,...", "legend names, one per log (default: each log's directory name)"},
    {"bench", "--depth N", "ResNet depth, 6n+2 (default 56)"},
    {"bench", "--batch B", "batch size (default 128)"},
    {"bench", "--threads T", "threads (0: all cores)"},
    {"bench", "--arch A", "resnet (default), preact or caffe"},
    {"bench", "--shortcut S", "A (zero-padding identity) or B (1x1 projection)"},
    {"bench", "--seconds S", "how long to time each part (default 10)"},
    {"bench", "--layers", "each stage's 3x3 convolution GFLOP/s, beside sgemm and the FMA peak"},
    {"bench", "--kernels LIST", "the convolution kernels allowed (see above)"},
    {"bench", "--layout L", "the activations' layout: auto, cbhw or cb16"},
};

static const struct {
    const char *name;
    unsigned bit;
    int has_value;
} shared_options[] = {
    {"--set", CLI_SET, 1},         {"-s", CLI_SET, 1},          {"--out", CLI_OUT, 1},
    {"--csv", CLI_CSV, 1},         {"--png", CLI_PNG, 1},       {"--x", CLI_X, 1},
    {"--threads", CLI_THREADS, 1}, {"--seed", CLI_SEED, 1},     {"--force", CLI_FORCE, 0},
    {"--resume", CLI_RESUME, 1},   {"--init-from", CLI_INIT_FROM, 1}, {"--data", CLI_DATA, 1},
};
#define NSHARED (int)(sizeof shared_options / sizeof shared_options[0])

// "info has no option '--data' (it takes --set, --threads, --seed)"
static int no_option(const CliSpec *spec, const char *s) {
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s has no option '%%s' (it takes", spec->command), any = 0;
    for (int k = 0; k < NSHARED; k++)
        if ((spec->shared & shared_options[k].bit) && strcmp(shared_options[k].name, "-s") && n < (int)sizeof msg)
            n += snprintf(msg + n, sizeof msg - (size_t)n, "%s %s", any++ ? "," : "", shared_options[k].name);
    for (const CliOption *o = spec->own; o && o->name && n < (int)sizeof msg; o++)
        n += snprintf(msg + n, sizeof msg - (size_t)n, "%s %s", any++ ? "," : "", o->name);
    if (n < (int)sizeof msg) snprintf(msg + n, sizeof msg - (size_t)n, "%s)", any ? "" : " no options");
    return cli_usage_error(msg, s);
}

// A number on the command line reads as the same value in a config file would: strictly,
// with the config's range.
static int cli_number(const char *opt, const char *v, long lo, long hi, long *out) {
    Err e = {0};
    if (config_parse_int(opt, v, lo, hi, out, &e)) return cli_usage_error("%s", e.msg);
    return ERR_OK;
}

// A path too long to append the program's file names to is refused whole, never cut.
static int cli_path(const char *opt, const char *v) {
    Err e = {0};
    if (fs_check_path(opt, v, &e)) return cli_usage_error("%s", e.msg);
    return ERR_OK;
}

static int take_shared(CliArgs *a, unsigned bit, const char *s, const char *v) {
    long n;
    switch (bit) {
    case CLI_SET:
        if (a->nsets == 64) return cli_usage_error("too many %s options (64 at most)", s);
        a->sets[a->nsets++] = v;
        return ERR_OK;
    case CLI_FORCE: a->force = 1; return ERR_OK;
    case CLI_THREADS:
        if (cli_number(s, v, 0, TRAIN_MAX_THREADS, &n)) return ERR_INPUT;
        a->threads = (int)n;
        a->threads_given = 1;
        return ERR_OK;
    case CLI_SEED:
        if (cli_number(s, v, 0, TRAIN_MAX_SEED, &n)) return ERR_INPUT;
        a->seed = n;
        a->seed_given = 1;
        return ERR_OK;
    case CLI_X: a->x = v; return ERR_OK;
    }
    if (cli_path(s, v)) return ERR_INPUT; // every other shared option names a file or directory
    switch (bit) {
    case CLI_OUT: a->out = v; break;
    case CLI_CSV: a->csv = v; break;
    case CLI_PNG: a->png = v; break;
    case CLI_RESUME: a->resume = v; break;
    case CLI_INIT_FROM: a->init_from = v; break;
    case CLI_DATA: a->data = v; break;
    }
    return ERR_OK;
}

int cli_parse(CliArgs *a, const CliSpec *spec, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (s[0] != '-' || !s[1]) {
            int more = a->nargs >= spec->max_args || a->nargs == CLI_MAX_ARGS;
            if (more && !(spec->shared & CLI_MORE_ARGS)) return cli_usage_error("unexpected argument '%s'", s);
            if (cli_path("argument", s)) return ERR_INPUT;
            if (!more) {
                a->args[a->nargs++] = s;
            } else {
                int rc = spec->own_fn(spec->ctx, NULL, s);
                if (rc) return rc;
            }
            continue;
        }
        if (!strncmp(s, "--set=", 6)) {
            if (!(spec->shared & CLI_SET)) return no_option(spec, "--set");
            if (take_shared(a, CLI_SET, "--set", s + 6)) return ERR_INPUT;
            continue;
        }
        int k = 0;
        while (k < NSHARED && strcmp(s, shared_options[k].name)) k++;
        if (k < NSHARED && (spec->shared & shared_options[k].bit)) {
            const char *v = NULL;
            if (shared_options[k].has_value) {
                if (i + 1 >= argc) return cli_usage_error("%s needs a value", s);
                v = argv[++i]; // a value, even one that looks like an option
            }
            if (take_shared(a, shared_options[k].bit, s, v)) return ERR_INPUT;
            continue;
        }
        const CliOption *o = spec->own;
        while (o && o->name && strcmp(s, o->name)) o++;
        if (!o || !o->name) return no_option(spec, s);
        const char *v = NULL;
        if (o->has_value) {
            if (i + 1 >= argc) return cli_usage_error("%s needs a value", s);
            v = argv[++i];
        }
        int rc = spec->own_fn(spec->ctx, o->name, v);
        if (rc) return rc;
    }
    a->config = a->nargs ? a->args[0] : NULL;
    return ERR_OK;
}

int cli_asks_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

int cli_load_config(Config *c, const CliArgs *a, Err *e) {
    config_init(c, schema_table);
    if (!a->config) return err_set(e, ERR_INPUT, "this command needs a CONFIG file");
    if (config_load(c, a->config, e)) return e->code;
    for (int i = 0; i < a->nsets; i++)
        if (config_set(c, a->sets[i], e)) return e->code;
    char buf[64];
    if (a->threads_given) {
        snprintf(buf, sizeof buf, "train.threads=%d", a->threads);
        if (config_set(c, buf, e)) return e->code;
    }
    if (a->seed_given) {
        snprintf(buf, sizeof buf, "train.seed=%ld", a->seed);
        if (config_set(c, buf, e)) return e->code;
    }
    return ERR_OK;
}

const ConfigSection *cli_schema(void) { return schema_table; }

int cli_load_checkpoint_config(Config *c, const char *ckpt, Err *e) {
    char *text, name[1100];
    if (checkpoint_read_config(ckpt, &text, e)) return e->code;
    config_init(c, schema_table);
    snprintf(name, sizeof name, "%s (embedded config)", ckpt);
    int rc = config_load_string(c, text, name, e);
    free(text);
    return rc;
}

void cli_print_header(const CpuInfo *ci, int threads) {
    char line[300];
    cpu_describe(ci, threads, line, sizeof line);
    fprintf(stderr, "onecycle %s: %s\n", ONECYCLE_VERSION, line);
}

// The command names of cli_usage, for "did you mean".
static const char *const command_names[] = {"train", "eval",  "info",  "schedule", "lr-find", "plot", "export",
                                            "predict", "bench", "help", "version", NULL};

int cli_command_help(const char *cmd, void *fp) {
    FILE *f = fp;
    size_t n = strlen(cmd);
    int in = 0, found = 0;
    for (const char *line = cli_usage; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        int indent = (int)strspn(line, " ");
        if (indent == 2) // a command's first line: "  NAME ..."
            in = !strncmp(line + 2, cmd, n) && (line[2 + n] == ' ' || line[2 + n] == '\n');
        if (in) {
            fprintf(f, "%s%.*s\n", indent == 2 ? "usage: onecycle " : "", (int)(len - (indent == 2 ? 2 : 0)),
                    line + (indent == 2 ? 2 : 0));
            found = 1;
        }
        line += len + (end != NULL);
    }
    int any = 0;
    for (size_t k = 0; found && k < sizeof option_help / sizeof option_help[0]; k++)
        if (!strcmp(option_help[k].cmd, cmd))
            fprintf(f, "%s  %-24s %s\n", any++ ? "" : "options:\n", option_help[k].opt, option_help[k].text);
    return found;
}

int cli_unknown_command(const char *cmd) {
    const char *near = config_nearest_name(cmd, command_names);
    if (near) {
        fprintf(stderr, "onecycle: unknown command '%s'; did you mean '%s'?\n%s", cmd, near, cli_usage);
        return ERR_INPUT;
    }
    return cli_usage_error("unknown command '%s'", cmd);
}

static volatile int stop_requested;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

const volatile int *cli_catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; // no SA_RESETHAND: a second signal must not kill the save
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (dist_world() > 1) sigaction(SIGUSR1, &sa, NULL);
    return &stop_requested;
}
