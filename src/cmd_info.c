// cmd_info.c: `onecycle info CONFIG`: the model summary and the run plan of a config.
#include "checkpoint.h"
#include "dataset.h"
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "cpu.h"
#include "dist.h"
#include "optim.h"
#include "resnet.h"
#include "schedule.h"
#include "train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_info(int argc, char **argv) {
    static const CliSpec spec = {"info", CLI_SET, .max_args = 1};
    CliArgs a;
    Err e = {0};
    static Config c;
    int rc = cli_parse(&a, &spec, argc, argv);
    if (rc) return rc;
    if (!a.config) return cli_usage_error("%s", "missing CONFIG file");
    if (cli_load_config(&c, &a, &e)) return cli_fail(&e);
    ModelOptions mo;
    TrainOptions to;
    DataOptions co;
    OptimOptions oo;
    size_t planned;
    if (run_options_from_config(&c, &to, &co, &mo, &oo, &e)) return cli_fail(&e);
    // The convolution workspace is per thread (4 MB each): the plan is train's only for the
    // threads train will run, so take the config's as train does (it planned for this
    // machine's cores whatever train.threads said: 0.11 GiB for a run that took 4.4 GB).
    const int nthreads = train_apply_cpu(&to);
    if (train_plan_memory(&c, &to, &co, &mo, &oo, &planned, &e)) return cli_fail(&e);
    ResNet m;
    if (resnet_create(&m, &mo, 1, &e)) return cli_fail(&e);
    resnet_print_summary(&m, stdout);
    resnet_free(&m);
    long spe = train_steps_per_epoch(&to, co.train_images);
    Schedule s;
    if (schedule_from_config(&s, &c, spe, &e)) return cli_fail(&e);
    char valid[48] = "";
    if (co.valid_images) snprintf(valid, sizeof valid, " / %d validation", co.valid_images);
    printf("data: %s from %s, %d train%s / %d test images, augment %s\n", dataset_names[co.dataset], co.dir,
           co.train_images, valid, co.test_images,
           co.augment == AUG_CROP_FLIP ? "crop+flip" : co.augment == AUG_FLIP ? "flip" : "none");
    printf("optimiser: %s%s, weight decay %g%s\n",
           oo.kind == OPTIM_SGD ? (oo.nesterov ? "SGD (Nesterov)" : "SGD") : oo.kind == OPTIM_ADAM ? "Adam" : "AdamW",
           oo.caffe_momentum ? ", Caffe's momentum (LR inside the buffer)" : "", oo.wd,
           oo.wd_bn_bias ? "" : " (not on BN/bias)");
    printf("memory: %.2f GiB planned (model at batch %d with the workspace of %d thread%s, optimiser, data)\n",
           (double)planned / (1024.0 * 1024.0 * 1024.0), to.batch_size, nthreads, plural_s(nthreads));
    long ep = schedule_epochs(&s);
    printf("schedule: %s, %ld epoch%s x %ld step%s (batch %d) = %ld step%s\n", s.policy, ep, plural_s(ep), spe,
           plural_s(spe), to.batch_size, s.total, plural_s(s.total));
    schedule_free(&s);
    if (dist_compiled())
        printf("MPI: %s, %d rank%s (this process is rank %d)\n", dist_library(), dist_world(), plural_s(dist_world()),
               dist_rank());
    else
        printf("MPI: not compiled in (make mpi)\n");
    return ERR_OK;
}
