// cmd_train.c: `onecycle train`: a new run from a config, or --resume of a checkpoint; the
// run directory's files, the startup lines, and SIGINT/SIGTERM as "stop after this step".
#include "checkpoint.h"
#include "cifar.h"
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "cpu.h"
#include "optim.h"
#include "progress.h"
#include "summary.h"
#include "resnet.h"
#include "schedule.h"
#include "train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runlog.h"
#include <signal.h>
#include <unistd.h>

static volatile int stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

// SIGINT/SIGTERM finish the current step and save; a second signal kills as usual.
static void install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

// The progress lines on stderr: live (one line redrawn every step, fitted to the terminal's
// width so it never wraps) on a terminal, else about ten plain lines per epoch; one summary
// line per epoch either way.
typedef struct TrainUi {
    int live;     // one line redrawn in place
    int diverged; // a TRAIN_DIVERGED came: the run's status for summary.json
} TrainUi;

static void print_progress(void *ctx, const TrainProgress *p) {
    TrainUi *ui = ctx;
    const int live = ui->live;
    ui->diverged |= p->event == TRAIN_DIVERGED;
    switch (p->event) {
    case TRAIN_STEP: {
        long every = live ? 1 : (p->batches >= 10 ? p->batches / 10 : 1);
        if (p->batch % every && p->batch != p->batches) return;
        char line[256];
        progress_line(line, sizeof line, p, live ? progress_term_width(2) : 0);
        fprintf(stderr, "%s%s%s", live ? "\r\033[K" : "", line, live ? "" : "\n");
        break;
    }
    case TRAIN_STOPPED:
    case TRAIN_DIVERGED: // the message follows on its own line
        if (live) fprintf(stderr, "\n");
        break;
    case TRAIN_EPOCH: {
        const RunLogEpoch *r = p->epoch_row;
        if (live) fprintf(stderr, "\r\033[K");
        fprintf(stderr, "epoch %d/%ld  train loss %.4f acc %.2f%%", r->epoch, p->epochs, r->train_loss,
                100.0 * r->train_acc);
        if (!isnan(r->test_loss)) fprintf(stderr, "  test loss %.4f acc %.2f%%", r->test_loss, 100 * r->test_acc);
        fprintf(stderr, "  %.0f img/s  %.0fs\n", r->images_per_sec, r->seconds);
        break;
    }
    case TRAIN_WARNING:
        fprintf(stderr, "%sonecycle: warning: %s\n", live ? "\r\033[K" : "", p->warning);
        break;
    }
    fflush(stderr);
}

int cmd_train(const CpuInfo *ci, int argc, char **argv) {
    static const CliSpec spec = {"train", CLI_SET | CLI_OUT | CLI_FORCE | CLI_THREADS | CLI_SEED | CLI_RESUME |
                                              CLI_INIT_FROM, .max_args = 1};
    CliArgs a;
    Err e = {0};
    static Config c;
    static char dump[65536];
    char outdir[1024], path[1200];
    int rc = cli_parse(&a, &spec, argc, argv);
    if (rc) return rc;
    if (!a.config && !a.resume) return cli_usage_error("%s", "missing CONFIG file");
    if (a.resume) {
        if (a.config || a.nsets || a.init_from || a.seed_given)
            return cli_usage_error("%s", "--resume takes only the checkpoint (and --threads, --out): the run's own "
                                         "config is inside it");
        if (cli_load_checkpoint_config(&c, a.resume, &e)) return cli_fail(&e);
        char buf[64];
        snprintf(buf, sizeof buf, "train.threads=%d", a.threads);
        if (a.threads_given && config_set(&c, buf, &e)) return cli_fail(&e);
        snprintf(path, sizeof path, "%s", a.resume);
        char *slash = strrchr(path, '/');
        snprintf(outdir, sizeof outdir, "%s", a.out ? a.out : slash ? (*slash = 0, path) : ".");
    } else {
        if (cli_load_config(&c, &a, &e)) return cli_fail(&e);
        if (a.out) {
            snprintf(outdir, sizeof outdir, "%s", a.out);
        } else {
            const char *base = strrchr(a.config, '/');
            base = base ? base + 1 : a.config;
            int len = (int)strcspn(base, ".");
            snprintf(outdir, sizeof outdir, "runs/%.*s", len, base);
        }
        if (!a.force && (fs_exists_in(outdir, "log.csv") || fs_exists_in(outdir, "checkpoint.ckpt"))) {
            fprintf(stderr,
                    "onecycle: %s already holds a run; use --out DIR for a new one, --resume %s/checkpoint.ckpt to "
                    "continue it, or --force to overwrite it\n",
                    outdir, outdir);
            return ERR_INPUT;
        }
    }
    Trainer t;
    long threads;
    if (config_int_in(&c, "train", "threads", 0, 1024, &threads, &e)) return cli_fail(&e);
    int nthreads = cpu_set_threads((int)threads);
    cli_print_header(ci, nthreads);
    if (trainer_create(&t, &c, &e) || (a.resume && checkpoint_load(&t, a.resume, &e)) ||
        (a.init_from && checkpoint_load_weights(&t.net, a.init_from, &e))) {
        trainer_free(&t);
        return cli_fail(&e);
    }
    config_dump(&c, dump, sizeof dump);
    if (fs_mkdir_p(outdir, &e)) return cli_fail(&e);
    snprintf(path, sizeof path, "%s/config.cfg", outdir);
    if (fs_write_text(path, dump, &e)) return cli_fail(&e);
    snprintf(path, sizeof path, "%s/schedule.csv", outdir);
    if (schedule_write_csv(&t.sched, path, &e)) return cli_fail(&e);
    snprintf(path, sizeof path, "%s/schedule.png", outdir);
    if (schedule_write_png(&t.sched, path, 0, &e)) return cli_fail(&e);
    if (a.resume)
        fprintf(stderr, "resuming %s at step %ld (epoch %d) -> %s\n", a.resume, t.step, t.epoch + 1, outdir);
    else
        fprintf(stderr, "config %s -> %s%s%s\n", a.config, outdir, a.init_from ? ", weights from " : "",
                a.init_from ? a.init_from : "");
    fprintf(stderr, "model ResNet-%d (shortcut %s), %ld parameters; data %d train / %d test images from %s\n",
            t.model_opt.depth, t.model_opt.shortcut_b ? "B" : "A", t.net.nparams, t.train.n, t.test.n, t.data.dir);
    long ep = schedule_epochs(&t.sched);
    fprintf(stderr, "schedule %s: %ld epoch%s x %ld step%s of batch %d = %ld step%s\n", t.sched.policy, ep,
            plural_s(ep), t.steps_per_epoch, plural_s(t.steps_per_epoch), t.opt.batch_size, t.sched.total,
            plural_s(t.sched.total));
    install_stop_handlers();
    t.stop = &stop_requested;
    static TrainUi ui;
    ui = (TrainUi){.live = t.opt.progress < 0 ? isatty(2) : t.opt.progress};
    t.progress = print_progress;
    t.progress_ctx = &ui;
    // DIR/summary.json when the run ends, however it ends; a resumed run keeps its start.
    RunSummary sum = {.config = &c, .openblas_core = ci->core, .threads = nthreads, .steps_planned = t.sched.total,
                      .epochs_planned = ep};
    if (!(a.resume && summary_read_started(outdir, sum.started, sizeof sum.started)))
        summary_now(sum.started, sizeof sum.started);
    EvalResult final;
    rc = trainer_run(&t, outdir, dump, &final, &e);
    sum.status = !rc ? "finished" : rc == ERR_INTERRUPTED ? "interrupted" : ui.diverged ? "diverged" : "failed";
    sum.message = rc ? e.msg : NULL;
    sum.steps_done = t.step;
    sum.seconds = t.seconds;
    summary_now(sum.ended, sizeof sum.ended);
    Err se = {0};
    int src = summary_write(outdir, &sum, &se);
    trainer_free(&t);
    if (rc && src) fprintf(stderr, "onecycle: warning: %s\n", se.msg);
    if (rc) return cli_fail(&e);
    if (src) return cli_fail(&se);
    printf("final test accuracy: %.2f%% (test loss %.4f)\n", 100 * final.acc, final.loss);
    printf("test_accuracy: %.4f\n", final.acc);
    return ERR_OK;
}
