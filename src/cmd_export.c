// cmd_export.c: `onecycle export CKPT OUT.npz`: a checkpoint's model as a PyTorch
// state_dict in a NumPy .npz (statedict.h), for use outside this program.
#include "checkpoint.h"
#include "cli.h"
#include "cmd.h"
#include "resnet.h"
#include "statedict.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char export_usage[] =
    "usage: onecycle export CKPT OUT.npz [--force]\n"
    "  Writes the checkpoint's weights and batchnorm running statistics as a NumPy .npz whose\n"
    "  names and shapes are the PyTorch state_dict of scripts/resnet_torch.py's ResNet\n"
    "  (num_batches_tracked included, as int64). In Python (scripts/load_npz.py):\n"
    "    model = ResNet(depth, shortcut)\n"
    "    model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(\"OUT.npz\").items()})\n"
    "  --force   replace OUT.npz if it exists (otherwise an existing file is refused)\n";

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "onecycle export: ");
    fprintf(stderr, msg, arg);
    fprintf(stderr, "\n");
    cli_see_help();
    return ERR_INPUT;
}

int cmd_export(int argc, char **argv) {
    static const CliSpec spec = {"export", CLI_FORCE, .max_args = 2};
    if (cli_asks_help(argc, argv)) {
        fputs(export_usage, stdout);
        return ERR_OK;
    }
    CliArgs a;
    int rc = cli_parse(&a, &spec, argc, argv);
    if (rc) return rc;
    const char *ckpt = a.args[0], *out = a.args[1];
    if (!ckpt || !out) return usage_error("%s", "needs a checkpoint and an output file");
    size_t n = strlen(out);
    if (n < 5 || strcmp(out + n - 4, ".npz")) return usage_error("the output must be a .npz file, got '%s'", out);
    struct stat st;
    if (!a.force && stat(out, &st) == 0) {
        fprintf(stderr, "onecycle export: %s already exists; use --force to replace it\n", out);
        return ERR_INPUT;
    }
    static Config c;
    ResNet m;
    Err e = {0};
    long step;
    if (cli_load_model(&m, ckpt, 1, &c, &e)) return cli_fail(&e);
    rc = checkpoint_read_step(ckpt, &step, &e) || statedict_write_npz(&m, step, out, &e);
    char name[64];
    if (!rc)
        printf("exported %s (%ld parameters, %d arrays, trained %ld step%s) to %s\n",
               model_name(&m.opt, name, sizeof name), m.nparams, statedict_count(&m), step, plural_s((double)step),
               out);
    resnet_free(&m);
    return rc ? cli_fail(&e) : ERR_OK;
}
