// cli.c: what every command shares: the config schema, option parsing, config loading
// with --set overrides, and error printing.
#include "cli.h"
#include "cifar.h"
#include "optim.h"
#include "resnet.h"
#include "schedule.h"
#include "train.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ConfigSection schema_table[] = {
    {"data", cifar_config_keys},   {"model", resnet_config_keys},       {"train", train_config_keys},
    {"optim", optim_config_keys},  {"schedule", schedule_config_keys}, {NULL, NULL},
};

const char cli_usage[] =
    "usage: onecycle COMMAND ...\n"
    "  train CONFIG [--set section.key=value]... [--out DIR] [--force] [--threads N] [--seed N]\n"
    "        [--init-from CKPT]\n"
    "      train and evaluate; writes DIR/log.csv, DIR/config.cfg, DIR/schedule.{csv,png},\n"
    "      DIR/checkpoint.ckpt; --init-from starts from a checkpoint's weights (new schedule)\n"
    "  train --resume DIR/checkpoint.ckpt [--threads N]\n"
    "      continue an interrupted run exactly where it stopped\n"
    "  eval CKPT [--data DIR] [--threads N]\n"
    "      test accuracy and loss of a checkpoint, and how many test images it scored\n"
    "  info CONFIG [--set ...]            model summary (including 'parameters: N') and run plan\n"
    "  schedule CONFIG [--set ...] [--csv FILE] [--png FILE] [--x iterations|epochs]\n"
    "      the LR/momentum schedule of a config, without training\n"
    "  lr-find CONFIG [--set ...] [--start 1e-5] [--end 10] [--iters 200] [--linear]\n"
    "        [--sweep momentum=a,b,... | --sweep wd=a,b,...] [--eval-every K] [--out DIR] [--force]\n"
    "      LR range test; writes DIR/lr_find.{csv,png} (default runs/lr-find), prints a max LR\n"
    "  plot LOG.csv [LOG2.csv ...] [--png FILE] [--labels a,b,...]\n"
    "      training curves (loss, accuracy, LR/momentum) of runs, overlaid (default curves.png)\n"
    "  export CKPT OUT.npz [--force]\n"
    "      the model as a NumPy .npz of PyTorch state_dict arrays (scripts/load_npz.py)\n"
    "  predict CKPT [IMAGE.png ...] [--data DIR] [--index LIST] [--top K] [--csv] [--threads N]\n"
    "      the top-K classes of PNG images (any size, resampled to 32x32) or test-set images\n"
    "  bench [--depth N] [--batch B] [--threads T] [--shortcut A|B] [--seconds S] [--layers]\n"
    "      time training (forward+backward+update) and evaluation on random input;\n"
    "      --layers adds each stage's 3x3 conv GFLOP/s next to sgemm 2048^3\n"
    "  help config                        every config key with its default (Markdown)\n"
    "  --version\n";

int cli_fail(const Err *e) {
    fprintf(stderr, "onecycle: %s\n", e->msg);
    return e->code ? e->code : ERR_RUNTIME;
}

int cli_usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "onecycle: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", cli_usage);
    return ERR_INPUT;
}

// Parses CONFIG plus the options shared by train/info/schedule.
int cli_parse(CliArgs *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(s, "--set") || !strcmp(s, "-s")) {
            if (!has_value) return cli_usage_error("%s needs section.key=value", s);
            if (a->nsets == 64) return cli_usage_error("too many %s options (64 at most)", s);
            a->sets[a->nsets++] = argv[++i];
        } else if (!strncmp(s, "--set=", 6)) {
            if (a->nsets == 64) return cli_usage_error("too many %s options (64 at most)", "--set");
            a->sets[a->nsets++] = s + 6;
        } else if (!strcmp(s, "--out") || !strcmp(s, "--csv") || !strcmp(s, "--png") || !strcmp(s, "--x") ||
                   !strcmp(s, "--threads") || !strcmp(s, "--seed") || !strcmp(s, "--resume") ||
                   !strcmp(s, "--init-from") || !strcmp(s, "--data")) {
            if (!has_value) return cli_usage_error("%s needs a value", s);
            const char *v = argv[++i];
            char *end;
            if (!strcmp(s, "--out")) a->out = v;
            if (!strcmp(s, "--csv")) a->csv = v;
            if (!strcmp(s, "--png")) a->png = v;
            if (!strcmp(s, "--x")) a->x = v;
            if (!strcmp(s, "--resume")) a->resume = v;
            if (!strcmp(s, "--init-from")) a->init_from = v;
            if (!strcmp(s, "--data")) a->data = v;
            if (!strcmp(s, "--threads")) {
                a->threads = (int)strtol(v, &end, 10);
                if (*end || a->threads < 0) return cli_usage_error("--threads needs a whole number >= 0, got '%s'", v);
                a->threads_given = 1;
            }
            if (!strcmp(s, "--seed")) {
                a->seed = strtol(v, &end, 10);
                if (*end || a->seed < 0) return cli_usage_error("--seed needs a whole number >= 0, got '%s'", v);
                a->seed_given = 1;
            }
        } else if (!strcmp(s, "--force")) {
            a->force = 1;
        } else if (s[0] == '-' && s[1]) {
            return cli_usage_error("unknown option '%s'", s);
        } else if (!a->config) {
            a->config = s;
        } else {
            return cli_usage_error("unexpected argument '%s'", s);
        }
    }
    if (!a->config && !a->resume) return cli_usage_error("%s", "missing CONFIG file");
    return ERR_OK;
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
