// main.c: the command name and the dispatch to the commands (cmd_*.c, declared in cmd.h).
// Every error comes back as an exit status: 2 for bad input, 1 for runtime failures.
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "cpu.h"
#include "dist.h"
#include <stdio.h>
#include <string.h>

static int run(const CpuInfo *ci, int argc, char **argv);

int main(int argc, char **argv) {
    CpuInfo ci;
    cpu_setup(&ci, argv); // may re-exec this process: before MPI starts
    dist_init(&argc, &argv);
    int rc = run(&ci, argc, argv);
    // Under mpirun, a failure the other ranks do not share (one rank could not even parse
    // its arguments) ends them all rather than leave them waiting in a collective.
    if (rc != ERR_OK && dist_world() > 1 && !dist_failure_shared()) dist_abort(rc);
    dist_finalize();
    return rc;
}

static int run(const CpuInfo *ci, int argc, char **argv) {
    if (argc < 2) {
        fputs(cli_usage, stderr);
        return ERR_INPUT;
    }
    const char *cmd = argv[1];
    // `onecycle help CMD` is `onecycle CMD --help`.
    if (!strcmp(cmd, "help") && argc == 3 && strcmp(argv[2], "config")) {
        char *again[] = {argv[0], argv[2], "--help", NULL};
        return run(ci, 3, again);
    }
    cli_set_command(cmd);
    // `onecycle COMMAND --help` (or -h): the command's usage, exit 0. export and predict
    // print their own, longer help.
    if (strcmp(cmd, "export") && strcmp(cmd, "predict") && cli_asks_help(argc - 2, argv + 2) &&
        cli_command_help(cmd, stdout))
        return ERR_OK;
    // Under mpirun only training and the LR range test are data-parallel; info says which
    // rank it runs on. Anything else would run N times side by side: refused, printed once.
    if (dist_world() > 1 && strcmp(cmd, "train") && strcmp(cmd, "lr-find") && strcmp(cmd, "info")) {
        Err e = {0};
        err_set(&e, ERR_INPUT, "'%s' does not run under mpirun (%d ranks here): only train and lr-find are "
                "data-parallel; run it as one process", cmd, dist_world());
        dist_agree(ERR_INPUT, &e); // every rank fails alike: printed once, by rank 0
        return cli_fail(&e);
    }
    if (!strcmp(cmd, "train")) return cmd_train(ci, argc - 2, argv + 2);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 2, argv + 2);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "schedule")) return cmd_schedule(argc - 2, argv + 2);
    if (!strcmp(cmd, "bench")) return cmd_bench(ci, argc - 2, argv + 2);
    if (!strcmp(cmd, "lr-find")) return cmd_lrfind(argc - 2, argv + 2);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc - 2, argv + 2);
    if (!strcmp(cmd, "export")) return cmd_export(argc - 2, argv + 2);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc - 2, argv + 2);
    if (!strcmp(cmd, "help") && argc > 2 && !strcmp(argv[2], "config")) {
        config_print_schema(cli_schema(), stdout);
        return ERR_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("onecycle %s\n", ONECYCLE_VERSION);
        return ERR_OK;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(cli_usage, stdout);
        return ERR_OK;
    }
    return cli_unknown_command(cmd);
}
