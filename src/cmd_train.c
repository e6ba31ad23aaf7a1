// cmd_train.c: `onecycle train`: a new run from a config, or --resume of a checkpoint; the
// run directory's files, the startup lines, and SIGINT/SIGTERM as "stop after this step".
#include "checkpoint.h"
#include "cifar.h"
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "cpu.h"
#include "dist.h"
#include "optim.h"
#include "outfile.h"
#include "progress.h"
#include "summary.h"
#include "resnet.h"
#include "schedule.h"
#include "train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rundir.h"
#include "runlog.h"
#include <sys/stat.h>
#include <unistd.h>

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
        if (!isnan(r->valid_loss)) fprintf(stderr, "  valid loss %.4f acc %.2f%%", r->valid_loss, 100 * r->valid_acc);
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

// Whether a and b name the same directory (b need not exist).
static int same_dir(const char *a, const char *b) {
    struct stat sa, sb;
    return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Copies a CSV log of the run being resumed into the new directory, so that the resumed
// run's log keeps the rows before the checkpoint (a missing one is no error).
static int copy_log(const char *from_dir, const char *to_dir, const char *name, Err *e) {
    char from[FS_PATH_MAX], to[FS_PATH_MAX];
    if (fs_join(from, sizeof from, from_dir, name, e) || fs_join(to, sizeof to, to_dir, name, e)) return e->code;
    if (!fs_exists(from)) return ERR_OK;
    long long size;
    FILE *in = fs_fopen_regular(from, "a regular file (the run's log)", &size, e);
    if (!in) return e->code;
    OutFile of;
    if (outfile_open(&of, to, e)) {
        fclose(in);
        return e->code;
    }
    char buf[65536];
    size_t n;
    int bad = 0;
    while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0) bad = fwrite(buf, 1, n, of.f) != n;
    bad |= ferror(in);
    fclose(in);
    if (outfile_commit(&of, bad, e)) return err_prefix(e, "copying %s", from);
    return ERR_OK;
}

// A resume writes into the checkpoint's own directory: refused when the directory's own
// checkpoint.ckpt is later than the one resumed (a kept checkpoint-epochN.ckpt of a run
// that went on), since the resume would replace that later state and cut its log back.
// Such a checkpoint is continued elsewhere, with --out.
static int check_resume_is_latest(const char *ckpt, const char *dir, Err *e) {
    char own[FS_PATH_MAX];
    if (fs_join(own, sizeof own, dir, "checkpoint.ckpt", e)) return e->code;
    struct stat a, b;
    if (stat(own, &b) != 0) return ERR_OK; // none: nothing later to lose
    if (stat(ckpt, &a) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) return ERR_OK;
    long mine, theirs;
    Err ignored = {0};
    if (checkpoint_read_step(ckpt, &mine, e)) return e->code;
    if (!checkpoint_read_step(own, &theirs, &ignored) && theirs <= mine) return ERR_OK;
    return err_set(e, ERR_INPUT,
                   "%s (step %ld) is older than %s, the run's own checkpoint%s; resuming it there would replace the "
                   "run's later checkpoint and log rows: continue it in another directory with --out DIR",
                   ckpt, mine, own, ignored.code ? " (unreadable)" : "");
}

// The run directory's files before training: config.cfg, schedule.csv, schedule.png.
static int write_run_files(const Trainer *t, const char *outdir, const char *dump, Err *e) {
    char path[FS_PATH_MAX];
    if (fs_join(path, sizeof path, outdir, "config.cfg", e) || outfile_write_text(path, dump, e) ||
        fs_join(path, sizeof path, outdir, "schedule.csv", e) || schedule_write_csv(&t->sched, path, e) ||
        fs_join(path, sizeof path, outdir, "schedule.png", e) || schedule_write_png(&t->sched, path, 0, e))
        return e->code;
    return ERR_OK;
}

static double gib(size_t bytes) {
    return (double)bytes / (1024.0 * 1024.0 * 1024.0);
}

int cmd_train(const CpuInfo *ci, int argc, char **argv) {
    static const CliSpec spec = {"train", CLI_SET | CLI_OUT | CLI_FORCE | CLI_THREADS | CLI_SEED | CLI_RESUME |
                                              CLI_INIT_FROM | CLI_DATA, .max_args = 1};
    CliArgs a;
    Err e = {0};
    static Config c;
    static char dump[65536];
    static char outdir[FS_PATH_MAX], ckpt_dir[FS_PATH_MAX];
    int rc = cli_parse(&a, &spec, argc, argv);
    if (rc) return rc;
    if (!a.config && !a.resume) return cli_usage_error("%s", "missing CONFIG file");
    // A resume writes into the checkpoint's own directory. Another one (--out) is a new run
    // directory for the rest of the run, under the refusal rules of a new run.
    int fresh_dir = 1;
    if (a.resume) {
        if (a.config || a.nsets || a.init_from || a.seed_given)
            return cli_usage_error("%s", "--resume takes only the checkpoint (and --threads, --data, --out): the "
                                         "run's own config is inside it");
        if (fs_check_path("--resume", a.resume, &e)) return cli_fail(&e); // whole, never cut
        snprintf(ckpt_dir, sizeof ckpt_dir, "%s", a.resume);
        char *slash = strrchr(ckpt_dir, '/');
        if (slash == ckpt_dir)
            ckpt_dir[1] = 0;
        else if (slash)
            *slash = 0;
        else
            snprintf(ckpt_dir, sizeof ckpt_dir, ".");
        fresh_dir = a.out && !same_dir(a.out, ckpt_dir);
        if (a.force && !fresh_dir)
            return cli_usage_error("--force goes with --out DIR (a resume writes into %s, the checkpoint's own "
                                   "directory, which it continues)",
                                   ckpt_dir);
        if (cli_load_checkpoint_config(&c, a.resume, &e)) return cli_fail(&e);
        char buf[64];
        snprintf(buf, sizeof buf, "train.threads=%d", a.threads);
        if (a.threads_given && config_set(&c, buf, &e)) return cli_fail(&e);
        // The data where this machine or directory has it (the checkpoint's data.dir may be
        // relative to where the run was started).
        if (a.data) {
            char set[FS_PATH_MAX + 16];
            if (fs_check_path("--data", a.data, &e)) return cli_fail(&e); // whole, never cut
            snprintf(set, sizeof set, "data.dir=%s", a.data);
            if (config_set(&c, set, &e)) return cli_fail(&e);
        }
        snprintf(outdir, sizeof outdir, "%s", fresh_dir ? a.out : ckpt_dir);
    } else {
        if (a.data) return cli_usage_error("%s", "--data goes with --resume; a new run takes --set data.dir=DIR");
        if (cli_load_config(&c, &a, &e)) return cli_fail(&e);
        if (a.out) {
            snprintf(outdir, sizeof outdir, "%s", a.out);
        } else {
            const char *base = strrchr(a.config, '/');
            base = base ? base + 1 : a.config;
            int len = (int)strcspn(base, ".");
            snprintf(outdir, sizeof outdir, "runs/%.*s", len, base);
        }
    }
    TrainOptions keep; // the kept copies' epochs, for the check of the files to write
    DataOptions unused;
    if (run_options_from_config(&c, &keep, &unused, NULL, NULL, &e)) return cli_fail(&e);
    // The directory is this process's from here until it exits (rundir.h). Under mpirun it
    // is rank 0's, which alone writes the run's files; each step below that can fail on one
    // rank ends with every rank agreeing on the outcome (dist_agree), so all stop alike.
    const int io = dist_rank() == 0;
    RunDir rd;
    int leftovers = 0, held = 0;
    if (io) {
        rc = rundir_lock(&rd, outdir, &e);
        held = !rc;
        // --resume is advice only where there is a checkpoint to resume (a run whose first
        // checkpoint failed, on a full disk say, left only its log).
        if (!rc && fresh_dir && !a.force && rundir_has_run(&rd)) {
            if (fs_exists_in(outdir, "checkpoint.ckpt"))
                rc = err_set(&e, ERR_INPUT,
                             "%s already holds a run; use --out DIR for a new one, --resume %s/checkpoint.ckpt to "
                             "continue it, or --force to overwrite it",
                             outdir, outdir);
            else
                rc = err_set(&e, ERR_INPUT,
                             "%s already holds a run (its log, but no checkpoint to resume); use --out DIR for a new "
                             "one, or --force to overwrite it",
                             outdir);
        }
        // Every file the run will write must be a regular one (or absent): a FIFO would
        // block the run, a link would be written through. Checked before anything is
        // written or removed (--force).
        if (!rc) rc = rundir_check_run_files(&rd, keep.keep, keep.nkeep, &e);
        if (!rc && a.resume && !fresh_dir) rc = check_resume_is_latest(a.resume, outdir, &e);
        if (!rc) rc = rundir_remove_leftovers(&rd, &leftovers, &e);
    }
    if (dist_agree(rc, &e)) {
        if (held) rundir_unlock(&rd, 1);
        return cli_fail(&e);
    }
    Trainer t;
    int nthreads;
    if (train_set_cpu(&c, &nthreads, &e)) {
        if (io) rundir_unlock(&rd, 1);
        return cli_fail(&e);
    }
    if (io) {
        cli_print_header(ci, nthreads);
        if (dist_compiled())
            fprintf(stderr, "MPI: %s, %d rank%s x %d thread%s\n", dist_library(), dist_world(),
                    plural_s(dist_world()), nthreads, plural_s(nthreads));
        else
            fprintf(stderr, "MPI: not compiled in (make mpi), 1 process\n");
    }
    rc = trainer_create(&t, &c, &e);
    if (rc && a.resume && !a.data) {
        // A relative data.dir is the started run's working directory's: say how to resume
        // from another one (--set cannot follow --resume).
        const char *dd = config_str(&c, "data", "dir");
        struct stat st;
        if (dd && dd[0] != '/' && stat(dd, &st) != 0) {
            char msg[sizeof e.msg];
            snprintf(msg, sizeof msg,
                     "%s (the checkpoint's data.dir '%s' is relative to the directory the run was started in: resume "
                     "from there, or give --data DIR)",
                     e.msg, dd);
            snprintf(e.msg, sizeof e.msg, "%s", msg);
        }
    }
    if (!rc && a.resume) rc = checkpoint_load(&t, a.resume, &e);
    if (!rc && a.init_from) rc = checkpoint_load_weights(&t.net, a.init_from, &e);
    if (dist_agree(rc, &e)) {
        trainer_free(&t);
        if (io) rundir_unlock(&rd, 1);
        return cli_fail(&e);
    }
    config_dump(&c, dump, sizeof dump);
    // Under mpirun: every rank runs the same config on the same data from the same state, or
    // none starts (rank 0's message, printed once).
    rc = trainer_agree_ranks(&t, dump, &e);
    if (dist_agree(io ? rc : ERR_OK, &e)) {
        trainer_free(&t);
        if (io) rundir_unlock(&rd, 1);
        return cli_fail(&e);
    }
    // --force replaces the old run as a whole: no checkpoint of it stays beside the new log.
    if (io)
        rc = (fresh_dir && a.force && rundir_remove_run(&rd, &e)) ||
             (a.resume && fresh_dir &&
              (copy_log(ckpt_dir, outdir, "log.csv", &e) || copy_log(ckpt_dir, outdir, "iters.csv", &e))) ||
             write_run_files(&t, outdir, dump, &e);
    if (dist_agree(rc ? e.code : ERR_OK, &e)) {
        trainer_free(&t);
        return cli_fail(&e);
    }
    // From here a signal means "stop after this step" (before the first step: after it).
    t.stop = cli_catch_stop_signals();
    if (!io) { // the other ranks only train
        EvalResult final;
        rc = trainer_run(&t, outdir, dump, &final, &e);
        trainer_free(&t);
        return rc ? cli_fail(&e) : ERR_OK;
    }
    if (leftovers) fprintf(stderr, "removed %d temporary file(s) an interrupted process left in %s\n", leftovers, outdir);
    if (a.resume)
        fprintf(stderr, "resuming %s at step %ld (epoch %d) -> %s\n", a.resume, t.step, t.epoch + 1, outdir);
    else
        fprintf(stderr, "config %s -> %s%s%s\n", a.config, outdir, a.init_from ? ", weights from " : "",
                a.init_from ? a.init_from : "");
    char name[64];
    fprintf(stderr,
            "model %s, %ld parameters, %.2f GiB of memory planned for batch %d; data %s, %d train / %d test images "
            "from %s\n",
            model_name(&t.model_opt, name, sizeof name), t.net.nparams, gib(t.planned_bytes), t.opt.batch_size,
            dataset_names[t.data.dataset], t.train.n, t.test.n, t.data.dir);
    if (t.valid.n)
        fprintf(stderr, "validation: %d training images held out (data.valid_images), evaluated after every epoch%s\n",
                t.valid.n, t.opt.keep_best == KEEP_BEST_VALID_ACC    ? "; the best valid_acc -> checkpoint-best.ckpt"
                           : t.opt.keep_best == KEEP_BEST_VALID_LOSS ? "; the best valid_loss -> checkpoint-best.ckpt"
                                                                     : "");
    long ep = schedule_epochs(&t.sched);
    fprintf(stderr, "schedule %s: %ld epoch%s x %ld step%s of batch %d = %ld step%s\n", t.sched.policy, ep,
            plural_s(ep), t.steps_per_epoch, plural_s(t.steps_per_epoch), t.opt.batch_size, t.sched.total,
            plural_s(t.sched.total));
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
