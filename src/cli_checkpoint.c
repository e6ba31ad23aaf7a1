// cli_checkpoint.c: a trained model from a checkpoint, for the commands that use one.
#include "checkpoint.h"
#include "cli.h"
#include "resnet.h"
#include "train.h"
#include <stdio.h>
#include <stdlib.h>

int cli_load_model(ResNet *m, const char *ckpt, int max_batch, Config *c, Err *e) {
    if (cli_load_checkpoint_config(c, ckpt, e)) return e->code;
    ModelOptions mo;
    if (run_options_from_config(c, NULL, NULL, &mo, NULL, e) || resnet_create(m, &mo, max_batch, e)) return e->code;
    if (checkpoint_load_weights(m, ckpt, e)) {
        resnet_free(m);
        return e->code;
    }
    return ERR_OK;
}
