// cmd_eval.c: `onecycle eval CKPT [--data DIR] [--threads N]`: test accuracy and loss of a
// checkpoint, and how many test images it scored.
#include "checkpoint.h"
#include "dataset.h"
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "cpu.h"
#include "optim.h"
#include "resnet.h"
#include "schedule.h"
#include "conv.h"
#include "train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_eval(int argc, char **argv) {
    static const CliSpec spec = {"eval", CLI_DATA | CLI_THREADS, .max_args = 1};
    CliArgs a;
    int rc = cli_parse(&a, &spec, argc, argv);
    if (rc) return rc;
    const char *ckpt = a.config, *data = a.data;
    if (!ckpt) return cli_usage_error("%s", "eval needs a checkpoint file");
    Err e = {0};
    static Config c;
    if (cli_load_checkpoint_config(&c, ckpt, &e)) return cli_fail(&e);
    ModelOptions mo;
    TrainOptions to;
    DataOptions co;
    if (run_options_from_config(&c, &to, &co, &mo, NULL, &e)) return cli_fail(&e);
    if (data && strlen(data) >= sizeof co.dir)
        return cli_usage_error("--data: path too long for a data directory (at most 255 characters): %s", data);
    if (data) snprintf(co.dir, sizeof co.dir, "%s", data);
    if (a.threads_given) to.threads = a.threads;
    train_apply_cpu(&to);
    Dataset test;
    ResNet m;
    if (dataset_load(&test, &co, 0, 0, &e)) return cli_fail(&e);
    if (resnet_create(&m, &mo, to.batch_size, &e) || checkpoint_load_weights(&m, ckpt, &e)) {
        dataset_free(&test);
        return cli_fail(&e);
    }
    float *x = xalloc_aligned(sizeof(float) * (size_t)to.batch_size * dataset_image_bytes(&test));
    int *y = xmalloc(sizeof(int) * (size_t)to.batch_size), *idx = xmalloc(sizeof(int) * (size_t)to.batch_size);
    EvalResult r = evaluate_set(&m, &test, &co, to.batch_size, x, y, idx);
    // Weights the loader accepts can still overflow the forward pass; a NaN is no result.
    if (!isfinite(r.loss)) {
        err_set(&e, ERR_INPUT,
                "%s: the checkpoint's model gives a non-finite test loss (%g): its weights overflow the forward "
                "pass; refused",
                ckpt, r.loss);
        free(x);
        free(y);
        free(idx);
        resnet_free(&m);
        dataset_free(&test);
        return cli_fail(&e);
    }
    printf("test_images: %d\n", test.n);
    printf("test_accuracy: %.4f\n", r.acc);
    printf("test_loss: %.4f\n", r.loss);
    free(x);
    free(y);
    free(idx);
    resnet_free(&m);
    dataset_free(&test);
    return ERR_OK;
}
