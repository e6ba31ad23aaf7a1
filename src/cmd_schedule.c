// cmd_schedule.c: `onecycle schedule CONFIG`: a config's LR/momentum schedule as CSV and PNG.
#include "checkpoint.h"
#include "dataset.h"
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "cpu.h"
#include "optim.h"
#include "plot.h"
#include "outfile.h"
#include "resnet.h"
#include "schedule.h"
#include "train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_schedule(int argc, char **argv) {
    static const CliSpec spec = {"schedule", CLI_SET | CLI_CSV | CLI_PNG | CLI_X, .max_args = 1};
    CliArgs a;
    Err e = {0};
    static Config c;
    int rc = cli_parse(&a, &spec, argc, argv);
    if (rc) return rc;
    if (!a.config) return cli_usage_error("%s", "missing CONFIG file");
    int x_epochs = 0;
    if (a.x && !strcmp(a.x, "epochs"))
        x_epochs = 1;
    else if (a.x && strcmp(a.x, "iterations"))
        return cli_usage_error("--x must be iterations or epochs, got '%s'", a.x);
    if (a.png && plot_check_path(a.png, &e)) return cli_fail(&e); // .png or .svg, before any work
    const char *csv = a.csv, *png = a.png;
    if (!csv && !png) {
        csv = "schedule.csv";
        png = "schedule.png";
    }
    // Regular files (or absent) only, before any work: a FIFO would block (outfile.h).
    if ((csv && outfile_check(csv, &e)) || (png && outfile_check(png, &e))) return cli_fail(&e);
    outfile_clean_on_signal();
    if (cli_load_config(&c, &a, &e)) return cli_fail(&e);
    TrainOptions to;
    DataOptions co;
    if (run_options_from_config(&c, &to, &co, NULL, NULL, &e)) return cli_fail(&e);
    long spe = train_steps_per_epoch(&to, co.train_images);
    Schedule s;
    if (schedule_from_config(&s, &c, spe, &e)) return cli_fail(&e);
    if ((csv && schedule_write_csv(&s, csv, &e)) || (png && schedule_write_png(&s, png, x_epochs, &e))) {
        schedule_free(&s);
        return cli_fail(&e);
    }
    long ep = schedule_epochs(&s);
    printf("schedule %s: %ld epoch%s x %ld step%s = %ld step%s%s%s%s%s\n", s.policy, ep, plural_s(ep), spe,
           plural_s(spe), s.total, plural_s(s.total), csv ? "; csv " : "", csv ? csv : "", png ? "; png " : "",
           png ? png : "");
    schedule_free(&s);
    return ERR_OK;
}
