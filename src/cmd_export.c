// cmd_export.c: `onecycle export CKPT OUT.npz|OUT.onnx`: a checkpoint's model, for use
// outside this program, as a PyTorch state_dict in a NumPy .npz (statedict.h) or as an ONNX
// model in inference form (onnx_export.h); the output's extension chooses.
#include "checkpoint.h"
#include "cli.h"
#include "cmd.h"
#include "onnx_export.h"
#include "outfile.h"
#include "resnet.h"
#include "statedict.h"
#include "train.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char export_usage[] =
    "usage: onecycle export CKPT OUT.npz [--force]\n"
    "       onecycle export CKPT OUT.onnx [--force]\n"
    "  OUT.npz: the checkpoint's weights and batchnorm running statistics as a NumPy .npz whose\n"
    "  names and shapes are the PyTorch state_dict of scripts/resnet_torch.py's ResNet\n"
    "  (num_batches_tracked included, as int64). In Python (scripts/load_npz.py):\n"
    "    model = ResNet(depth, shortcut)\n"
    "    model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(\"OUT.npz\").items()})\n"
    "  Its inputs are normalised images; the option-A shortcut pads channels with zeros on\n"
    "  both sides (16 -> 32: 8 before, 8 after; 32 -> 64: 16 and 16); see the README.\n"
    "  OUT.onnx: the network in inference form as an ONNX model (IR 7, opset 13): input\n"
    "  \"pixels\" (N, 3, 32, 32 for CIFAR), the image's bytes 0..255 as float32, normalised\n"
    "  inside the graph ((pixels / 255 - mean) / std per channel); outputs \"logits\" and\n"
    "  \"probabilities\" (N, classes). Batchnorms are BatchNormalization nodes on the running\n"
    "  statistics; the weights keep their PyTorch names.\n"
    "  --force   replace OUT if it exists (otherwise an existing file is refused)\n";

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
    const int onnx = n > 5 && !strcmp(out + n - 5, ".onnx");
    if (!onnx && (n < 5 || strcmp(out + n - 4, ".npz")))
        return usage_error("the output must be a .npz or .onnx file, got '%s'", out);
    Err e = {0};
    // The whole path or none (README: up to 4,032 characters), and an output that is a
    // regular file or absent, refused before any work (outfile.h).
    if (fs_check_path(onnx ? "OUT.onnx" : "OUT.npz", out, &e) || outfile_check(out, &e)) return cli_fail(&e);
    struct stat st;
    if (!a.force && lstat(out, &st) == 0) {
        fprintf(stderr, "onecycle export: %s already exists; use --force to replace it\n", out);
        return ERR_INPUT;
    }
    outfile_clean_on_signal(); // Ctrl-C leaves no OUT.npz.tmp.PID (or OUT.onnx's) behind
    static Config c;
    ResNet m;
    long step;
    if (cli_load_model(&m, ckpt, 1, &c, &e)) return cli_fail(&e);
    rc = checkpoint_read_step(ckpt, &step, &e);
    DataOptions co;
    OnnxExportOptions xo;
    if (!rc && onnx) {
        rc = run_options_from_config(&c, NULL, &co, NULL, NULL, &e);
        if (!rc) onnx_export_options(co.dataset, ONECYCLE_VERSION, &xo);
        rc = rc || onnx_export_write(&m, &xo, out, &e);
    } else if (!rc) {
        rc = statedict_write_npz(&m, step, out, &e);
    }
    char name[64];
    if (!rc && onnx)
        printf("exported %s (%ld parameters, trained %ld step%s) to %s: ONNX opset %d, input \"pixels\" "
               "(N,%d,%d,%d) 0..255, outputs \"logits\" and \"probabilities\" (N,%d)\n",
               model_name(&m.opt, name, sizeof name), m.nparams, step, plural_s((double)step), out, ONNX_EXPORT_OPSET,
               m.opt.channels, m.opt.height, m.opt.width, m.opt.classes);
    else if (!rc)
        printf("exported %s (%ld parameters, %d arrays, trained %ld step%s) to %s\n",
               model_name(&m.opt, name, sizeof name), m.nparams, statedict_count(&m), step, plural_s((double)step),
               out);
    resnet_free(&m);
    return rc ? cli_fail(&e) : ERR_OK;
}
