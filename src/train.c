// train.c: the training loop, evaluation, and the per-epoch / per-step CSV logs.
#include "train.h"
#include "checkpoint.h"
#include "conv.h"
#include "cpu.h"
#include "curves.h"
#include "dist.h"
#include "eta.h"
#include "runlog.h"
#include "shares.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const ConfigKey train_config_keys[] = {
    {"batch_size", "128", "images per SGD step (Smith used 512, He et al. 128); at most data.train_images"},
    {"drop_last", "false", "drop the partial last batch of each epoch (default: keep it)"},
    {"eval_every", "1", "evaluate on the test set every N epochs (0: only after the last epoch)"},
    {"seed", "1", "seed for initialisation, shuffling and augmentation"},
    {"threads", "0", "threads for OpenBLAS and our loops (0: the cores this process may run on); --threads overrides"},
    {"kernels", "default",
     "convolution kernels allowed (as bench --kernels): " CONV_KERNELS_HELP
     "; default = all, none leaves every convolution to im2col + sgemm; results differ in float "
     "rounding only"},
    {"layout", "auto",
     "auto | cbhw | cb16: the activations' layout; auto is cb16 (16 channels side by side per pixel, read and "
     "written in place by the F(4x4) kernels) on AVX-512 with widths that are multiples of 16, else cbhw (channel "
     "planes, the layout of runs before 2026-12-08); results differ in float rounding only"},
    {"log_iters", "false", "also write iters.csv with one row per SGD step"},
    {"progress", "auto", "auto | line | plain: live progress line on a terminal, plain lines otherwise"},
    {"checkpoint_every", "1", "write DIR/checkpoint.ckpt every N epochs (0: only at the end)"},
    {"keep_best", "",
     "valid_acc or valid_loss: after every epoch whose validation accuracy is the highest (or loss the lowest) so "
     "far, also write its checkpoint as DIR/checkpoint-best.ckpt (needs data.valid_images); empty: none"},
    {"keep_checkpoints", "",
     "epochs (increasing, up to 64) after which a copy of the checkpoint is kept as DIR/checkpoint-epochN.ckpt, "
     "e.g. 82: the end of the cycle of smith_fastai_1cycle.cfg, where its tails start (--init-from)"},
    {"sync_bn", "true",
     "under mpirun: batch-norm statistics over the whole batch across ranks, so N ranks train as one process "
     "(false: each rank's own share, like PyTorch DDP without SyncBatchNorm)"},
    {"bn_group", "0",
     "ghost batch-norm: training batch-norm statistics over each run of N consecutive images of a batch (the last "
     "run shorter when N does not divide the batch), as each of Smith's 4 GPUs x 128 saw its 128; the running "
     "statistics take one update per step from the runs' averages; 0: the whole batch. One process only (under "
     "mpirun: sync_bn = false with N images per rank does the same)"},
    {"shares", "auto",
     "split every batch into N shares (as N ranks split it) and take every sum over its images share by share, "
     "adding the shares' partial sums in a fixed order: one process and N ranks (or any number of ranks that divides "
     "N, N/ranks a power of two) then train bit for bit alike at the same --threads; each share's kernels run on "
     "its smaller sub-batch. Needs sync_bn with more than one share per process. auto: one share per rank, summed in "
     "MPI's order (one process: the whole batch in one pass)"},
    {NULL, NULL, NULL},
};

// train.shares: "auto" (0) or a whole number of shares, 1 or more.
static int shares_from_config(const Config *c, int *out, Err *e) {
    const char *v = config_str(c, "train", "shares");
    long n;
    if (!strcmp(v, "auto")) {
        *out = 0;
        return ERR_OK;
    }
    char *end;
    errno = 0;
    n = strtol(v, &end, 10);
    if (end == v || *end || errno || n < 1 || n > 65536)
        return err_set(e, ERR_INPUT, "%s: train.shares: takes auto or a whole number of shares in [1, 65536]; got '%s'",
                       config_where(c, "train", "shares"), v);
    *out = (int)n;
    return ERR_OK;
}

int train_options_from_config(TrainOptions *o, const Config *c, Err *e) {
    static const char *const progress[] = {"auto", "plain", "line", NULL};
    static const char *const layouts[] = {"auto", "cbhw", "cb16", NULL}; // MODEL_LAYOUT_* order
    long batch, every, seed, threads, ckpt, bn_group;
    int p;
    memset(o, 0, sizeof *o);
    if (config_int_in(c, "train", "batch_size", 1, 65536, &batch, e) ||
        config_bool(c, "train", "drop_last", &o->drop_last, e) ||
        config_int_in(c, "train", "eval_every", 0, 1000000, &every, e) ||
        config_int_in(c, "train", "seed", 0, TRAIN_MAX_SEED, &seed, e) ||
        config_int_in(c, "train", "threads", 0, TRAIN_MAX_THREADS, &threads, e) ||
        config_bool(c, "train", "log_iters", &o->log_iters, e) || config_choice(c, "train", "progress", progress, &p, e) ||
        config_int_in(c, "train", "checkpoint_every", 0, 1000000, &ckpt, e) ||
        config_bool(c, "train", "sync_bn", &o->sync_bn, e) ||
        config_int_in(c, "train", "bn_group", 0, 65536, &bn_group, e) || shares_from_config(c, &o->shares, e) ||
        config_choice(c, "train", "layout", layouts, &o->layout, e))
        return e->code;
    static const char *const bests[] = {"valid_acc", "valid_loss", NULL}; // index = KEEP_BEST_* - 1
    if (config_str(c, "train", "keep_best")[0]) {
        if (config_choice(c, "train", "keep_best", bests, &o->keep_best, e)) return e->code;
        o->keep_best++;
    }
    const char *kernels = config_str(c, "train", "kernels");
    if (conv_parse_kernels(kernels, &o->kernels))
        return err_set(e, ERR_INPUT, "%s: train.kernels: takes " CONV_KERNELS_HELP "; got '%s'",
                       config_where(c, "train", "kernels"), kernels);
    o->batch_size = (int)batch;
    o->eval_every = (int)every;
    o->seed = seed;
    o->threads = (int)threads;
    o->progress = p == 0 ? -1 : p == 1 ? 0 : 1;
    o->checkpoint_every = (int)ckpt;
    o->bn_group = (int)bn_group;
    double keep[TRAIN_MAX_KEEP];
    if (config_doubles(c, "train", "keep_checkpoints", keep, TRAIN_MAX_KEEP, &o->nkeep, e)) return e->code;
    for (int i = 0; i < o->nkeep; i++) {
        if (!(keep[i] >= 1 && keep[i] <= 1000000 && keep[i] == floor(keep[i])) || (i && keep[i] <= keep[i - 1]))
            return err_set(e, ERR_INPUT, "%s: train.keep_checkpoints: must be increasing whole epochs in 1..1000000, got %.15g",
                           config_where(c, "train", "keep_checkpoints"), keep[i]);
        o->keep[i] = (int)keep[i];
    }
    return ERR_OK;
}

int train_apply_cpu(const TrainOptions *o) {
    conv_set_kernels(o->kernels);
    return cpu_set_threads(o->threads);
}

int train_set_cpu(const Config *c, int *nthreads, Err *e) {
    TrainOptions o;
    if (train_options_from_config(&o, c, e)) return e->code;
    *nthreads = train_apply_cpu(&o);
    return ERR_OK;
}

long train_steps_per_epoch(const TrainOptions *o, int n) {
    long B = o->batch_size, s = o->drop_last ? n / B : (n + B - 1) / B;
    return s > 0 ? s : 1;
}

// Builds the optimiser's weight-decay ranges from the model's tensor table, merging
// neighbours with the same setting so the step is a few long loops.
static int decay_ranges(const ResNet *m, int wd_bn_bias, OptimRange *r) {
    int n = 0;
    for (int i = 0; i < m->ntensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        int decay = wd_bn_bias || t->kind == PARAM_CONV || t->kind == PARAM_FC_W;
        if (n && r[n - 1].decay == decay && r[n - 1].off + r[n - 1].n == t->off)
            r[n - 1].n += t->n;
        else
            r[n++] = (OptimRange){t->off, t->n, decay};
    }
    return n;
}

int run_options_from_config(const Config *c, TrainOptions *to, DataOptions *co, ModelOptions *mo, OptimOptions *oo,
                            Err *e) {
    DataOptions data; // the model's input shape comes from the data set, asked for or not
    if (!co && mo) co = &data;
    if ((to && train_options_from_config(to, c, e)) || (co && dataset_options_from_config(co, c, e)))
        return e->code;
    if (mo) {
        DataShape shape = dataset_shape(co);
        if (model_options_from_config(mo, c, &shape, e)) return e->code;
        if (to) mo->bn_group = to->bn_group; // sizes the model's saved batch statistics
        if (to) mo->layout = to->layout;
    }
    if (oo && optim_options_from_config(oo, c, e)) return e->code;
    if (to && co && to->keep_best && !co->valid_images)
        return err_set(e, ERR_INPUT, "%s: train.keep_best: %s needs a validation split; set data.valid_images",
                       config_where(c, "train", "keep_best"), config_str(c, "train", "keep_best"));
    return ERR_OK;
}

static double gib(size_t bytes) {
    return (double)bytes / (1024.0 * 1024.0 * 1024.0);
}

int train_plan_memory(const Config *c, const TrainOptions *to, const DataOptions *co, const ModelOptions *mo,
                      const OptimOptions *oo, size_t *bytes, Err *e) {
    const int B = to->batch_size;
    if (B > co->train_images)
        return err_set(e, ERR_INPUT, "%s: train.batch_size: %d is larger than the %d training images (%s); at most %d",
                       config_where(c, "train", "batch_size"), B, co->train_images,
                       co->valid_images ? "data.train_images less data.valid_images" : "data.train_images",
                       co->train_images);
    long nparams = 0;
    size_t model = resnet_planned_bytes(mo, B, &nparams);
    if (!model) return err_set(e, ERR_INPUT, "%s: model.depth: %d cannot be built", config_where(c, "model", "depth"), mo->depth);
    // The model at this batch, the optimiser's state (v, and s for Adam), both image sets
    // in memory, and one batch of input.
    const size_t image = (size_t)mo->channels * (size_t)mo->height * (size_t)mo->width;
    // train.shares: a gradient block per share beyond the first (at most, as one process).
    const size_t blocks = (oo->kind == OPTIM_SGD ? 1 : 2) + (to->shares > 1 ? (size_t)to->shares - 1 : 0);
    size_t total = model + sizeof(float) * (size_t)nparams * blocks +
                   (size_t)(co->train_images + co->valid_images + co->test_images) * (image + 1) +
                   (size_t)B * (sizeof(float) * image + 2 * sizeof(int));
    size_t phys = sys_memory_bytes();
    if (phys && total > phys)
        return err_set(e, ERR_INPUT,
                       "%s: train.batch_size: %d needs about %.1f GiB of memory for ResNet-%d (model, optimiser and "
                       "data), more than this machine's %.1f GiB; use a smaller batch",
                       config_where(c, "train", "batch_size"), B, gib(total), mo->depth, gib(phys));
    *bytes = total;
    return ERR_OK;
}

// train.shares against this run: every share needs an image of every batch, every rank the
// same number of shares in the order of shares.h, and more than one share per process sums
// the batch-norm statistics over the shares, which is sync_bn's batch-norm. Sets t->shares.
static int check_shares(Trainer *t, const Config *c, Err *e) {
    const int K = t->opt.shares ? t->opt.shares : t->world, W = t->world;
    const char *where = config_where(c, "train", "shares");
    t->shares = K;
    if (!t->opt.shares) return ERR_OK; // one per rank: the checks on the ranks cover it
    if (K % W || (W > 1 && !shares_pow2(K / W)))
        return err_set(e, ERR_INPUT,
                       "%s: train.shares: %d shares on %d ranks: the ranks must divide the shares, with a power of "
                       "two of them per rank (1, 2, 4 ...), so that their sums add in the shares' order; use %d "
                       "ranks (one share each), or a number that divides %d by a power of two, or shares = auto",
                       where, K, W, K, K);
    const int B = t->opt.batch_size, rem = t->opt.drop_last ? 0 : t->data.train_images % B;
    if (K > B || (rem && K > rem))
        return err_set(e, ERR_INPUT,
                       "%s: train.shares: %d shares need at least one image each of every batch, but %s has %d "
                       "images; use at most %d shares%s",
                       where, K, K > B ? "a batch" : "the last (partial) batch of an epoch", K > B ? B : rem,
                       K > B ? B : rem, K > B ? "" : ", or train.drop_last = true");
    if (K / W > 1 && t->opt.bn_group)
        return err_set(e, ERR_INPUT,
                       "%s: train.shares: %d shares in one process take batch-norm statistics over the whole batch; "
                       "they do not combine with ghost batch-norm (train.bn_group = %d); set one of them",
                       where, K / W, t->opt.bn_group);
    if (K / W > 1 && !t->opt.sync_bn)
        return err_set(e, ERR_INPUT,
                       "%s: train.shares: %d shares in one process take batch-norm statistics over the whole batch, "
                       "as sync_bn does, but train.sync_bn = false; use sync_bn = true, or one share per rank "
                       "(shares = %d or auto)",
                       where, K / W, W);
    return ERR_OK;
}

int trainer_create(Trainer *t, const Config *c, Err *e) {
    memset(t, 0, sizeof *t);
    if (run_options_from_config(c, &t->opt, &t->data, &t->model_opt, &t->optim_opt, e)) return e->code;
    // Before anything large is allocated: a batch that cannot fit is refused, not tried.
    if (train_plan_memory(c, &t->opt, &t->data, &t->model_opt, &t->optim_opt, &t->planned_bytes, e)) return e->code;
    t->rank = dist_rank();
    t->world = dist_world();
    // Each rank would take its runs from its own share, and sync_bn sums over the whole
    // batch: neither is what one process with bn_group computes.
    if (t->opt.bn_group && t->world > 1)
        return err_set(e, ERR_INPUT,
                       "%s: train.bn_group: ghost batch-norm runs in one process only, not under mpirun with %d "
                       "ranks; for batch-norm over %d images per group use sync_bn = false with %d images per rank",
                       config_where(c, "train", "bn_group"), t->world, t->opt.bn_group, t->opt.bn_group);
    // Every rank needs at least one image of every batch, the last partial one included.
    const int B = t->opt.batch_size, rem = t->opt.drop_last ? 0 : t->data.train_images % B;
    if (t->world > B || (rem && t->world > rem))
        return err_set(e, ERR_INPUT,
                       "%s: train.batch_size: %d ranks need at least one image each of every batch, but %s has %d "
                       "images; use at most %d ranks%s",
                       config_where(c, "train", "batch_size"), t->world,
                       t->world > B ? "a batch" : "the last (partial) batch of an epoch", t->world > B ? B : rem,
                       t->world > B ? B : rem, t->world > B ? "" : ", or train.drop_last = true");
    if (check_shares(t, c, e)) return e->code;
    if (dataset_load_train(&t->train, &t->valid, &t->data, (uint64_t)t->opt.seed, e)) return e->code;
    if (dataset_load(&t->test, &t->data, 0, t->data.test_images, e)) return e->code;
    t->steps_per_epoch = train_steps_per_epoch(&t->opt, t->train.n);
    if (schedule_from_config(&t->sched, c, t->steps_per_epoch, e)) return e->code;
    if (resnet_create(&t->net, &t->model_opt, B, e)) return e->code;
    OptimRange *ranges = xmalloc(sizeof(OptimRange) * (size_t)t->net.ntensors);
    int nr = decay_ranges(&t->net, t->optim_opt.wd_bn_bias, ranges);
    optim_create(&t->optim, &t->optim_opt, t->net.nparams, ranges, nr);
    free(ranges);
    loader_create(&t->loader, &t->train, &t->data, B, LOADER_EPOCHS, t->rank, t->world);
    // This rank's shares of every batch, their gradient blocks and partial sums allocated now.
    const int q = t->shares / t->world;
    loader_set_shares(&t->loader, t->shares);
    resnet_set_shares(&t->net, q, t->rank * q, t->shares);
    if (t->opt.shares) dist_order_sums(); // the ranks' partials in the shares' order too
    if (t->world > 1 && t->opt.sync_bn) {
        int maxc = 0;
        for (int i = 0; i < t->net.nbns; i++)
            if (t->net.bns[i]->C > maxc) maxc = t->net.bns[i]->C;
        t->bn_sync = (BnSync){dist_sum_double, xmalloc(sizeof(double) * (size_t)(2 * maxc + 1))};
        t->net.bn_sync = &t->bn_sync;
    }
    t->x = xalloc_aligned(sizeof(float) * (size_t)B * dataset_image_bytes(&t->train));
    t->y = xmalloc(sizeof(int) * (size_t)B);
    t->eval_idx = xmalloc(sizeof(int) * (size_t)B);
    trainer_reset(t);
    return ERR_OK;
}

void trainer_reset(Trainer *t) {
    // Three independent streams from one seed: init here, shuffling and augmentation in
    // the loader (seed * 3 + 1, seed * 3 + 2).
    uint64_t seed = (uint64_t)t->opt.seed;
    rng_seed(&t->rng_init, seed * 3 + 0);
    loader_reset(&t->loader, seed);
    resnet_init_weights(&t->net, &t->rng_init); // also resets the BN running statistics
    optim_reset(&t->optim);
    t->step = t->correct = t->seen = 0;
    t->epoch = 0;
    t->seconds = t->loss_sum = t->epoch_seconds = 0;
    t->best_valid = NAN;
    t->best_epoch = 0;
}

void trainer_free(Trainer *t) {
    dataset_free(&t->train);
    dataset_free(&t->test);
    dataset_free(&t->valid);
    resnet_free(&t->net);
    optim_free(&t->optim);
    schedule_free(&t->sched);
    loader_free(&t->loader);
    free(t->x);
    free(t->y);
    free(t->eval_idx);
    free(t->bn_sync.buf);
    memset(t, 0, sizeof *t);
}

EvalResult evaluate_set(ResNet *m, const Dataset *set, const DataOptions *o, int B, float *x, int *y, int *idx) {
    return evaluate_set_each(m, set, o, B, x, y, idx, NULL, NULL);
}

EvalResult evaluate_set_each(ResNet *m, const Dataset *set, const DataOptions *o, int B, float *x, int *y, int *idx,
                             EvalBatchFn each_batch, void *ctx) {
    double loss = 0;
    long correct = 0, done = 0;
    // The model's shares of the set (resnet.h), each in batches of B from its start, as the
    // rank holding it alone would; without them this rank's part of dist_world().
    const int S = m->share_total ? m->shares : 1;
    for (int j = 0; j < S; j++) {
        int lo, hi;
        if (m->share_total)
            shares_range(set->n, m->share_first + j, m->share_total, &lo, &hi);
        else
            loader_share(set->n, dist_rank(), dist_world(), &lo, &hi);
        double part = 0;
        for (int i0 = lo; i0 < hi; i0 += B) {
            int nb = hi - i0 < B ? hi - i0 : B, hits = 0;
            for (int b = 0; b < nb; b++) idx[b] = i0 + b;
            batch_make(x, y, set, idx, nb, o, 0, NULL);
            part += resnet_forward(m, x, y, nb, 0, &hits) * nb;
            correct += hits;
            done += nb;
            if (each_batch) each_batch(ctx, m->logits, y, nb, done);
        }
        m->loss_parts[j] = part;
    }
    shares_sum_double(m->loss_parts, S, 1, 1);
    loss = m->loss_parts[0];
    if (dist_world() > 1) {
        double sums[2] = {loss, (double)correct};
        dist_sum_double(sums, 2);
        loss = sums[0];
        correct = (long)sums[1];
    }
    return (EvalResult){loss / set->n, (double)correct / set->n};
}

void trainer_sync_stats(Trainer *t) {
    if (t->world == 1 || t->opt.sync_bn) return;
    dist_sum_float(t->net.stats, t->net.nstats);
    for (long i = 0; i < t->net.nstats; i++) t->net.stats[i] /= (float)t->world;
}

EvalResult trainer_evaluate(Trainer *t, const Dataset *set) {
    trainer_sync_stats(t);
    return evaluate_set(&t->net, set, &t->data, t->opt.batch_size, t->x, t->y, t->eval_idx);
}

// Collective: rank 0 writes the checkpoint, every rank returns its outcome.
static int save(Trainer *t, const char *dir, const char *name, const char *config_text, Err *e) {
    trainer_sync_stats(t);
    int rc = ERR_OK;
    if (t->rank == 0) {
        char path[FS_PATH_MAX];
        rc = fs_join(path, sizeof path, dir, name, e);
        if (!rc) rc = checkpoint_save(t, config_text, path, e);
    }
    return dist_agree(rc, e);
}

// The copy kept of the checkpoint at the end of an epoch listed in keep_checkpoints.
static int save_kept(Trainer *t, const char *dir, const char *config_text, Err *e) {
    for (int i = 0; i < t->opt.nkeep; i++)
        if (t->opt.keep[i] == t->epoch) {
            char name[48];
            snprintf(name, sizeof name, "checkpoint-epoch%ld.ckpt", (long)t->epoch);
            return save(t, dir, name, config_text, e);
        }
    return ERR_OK;
}

// train.keep_best: whether the epoch's validation figures beat the best so far (ties keep the
// earlier epoch); records them as the best when they do.
static int new_best(Trainer *t, EvalResult v) {
    if (!t->opt.keep_best || !t->valid.n) return 0;
    double x = t->opt.keep_best == KEEP_BEST_VALID_ACC ? v.acc : v.loss;
    if (!isfinite(x)) return 0; // a NaN loss is never the best, and would block every later epoch
    int better = t->best_epoch == 0 || (t->opt.keep_best == KEEP_BEST_VALID_ACC ? x > t->best_valid : x < t->best_valid);
    if (better) {
        t->best_valid = x;
        t->best_epoch = t->epoch;
    }
    return better;
}

// A run resumed at the end of a kept epoch whose copy is missing (its save failed, or the
// process was killed between the checkpoint and the copy) writes the copy now: the state
// is that epoch's end, exactly what the copy would have held. Collective, as save is.
static int save_missing_kept(Trainer *t, const char *dir, const char *config_text, Err *e) {
    if (t->step == 0 || t->loader.in_epoch) return ERR_OK;
    int listed = 0;
    for (int i = 0; i < t->opt.nkeep; i++) listed |= t->opt.keep[i] == t->epoch;
    if (!listed) return ERR_OK;
    char name[48];
    snprintf(name, sizeof name, "checkpoint-epoch%ld.ckpt", (long)t->epoch);
    if (!dist_any(t->rank == 0 && !fs_exists_in(dir, name))) return ERR_OK;
    return save_kept(t, dir, config_text, e);
}

// The end of the divergence message: what the directory still holds. Only a checkpoint
// that is really there (and reads back) is promised, with its step.
static void describe_kept(const char *dir, char *out, size_t cap) {
    char path[FS_PATH_MAX];
    long step;
    Err ignored = {0};
    if (!fs_join(path, sizeof path, dir, "checkpoint.ckpt", &ignored) && fs_exists(path) &&
        !checkpoint_read_step(path, &step, &ignored))
        snprintf(out, cap, "the last good checkpoint (%s, step %ld) and the log are kept", path, step);
    else
        snprintf(out, cap, "no checkpoint had been written yet (the log is kept in %s)", dir);
}

int train_step(ResNet *m, Optimizer *o, const float *x, const int *y, int nb, int share, double lr, double momentum,
               double wd_mult, double max_loss, double *loss, int *hits) {
    m->global_batch = nb;
    int h = 0;
    double l = resnet_forward(m, x, y, share, 1, &h);
    if (dist_world() > 1) { // the whole batch's loss and hits, so every rank decides alike
        double sums[2] = {l, (double)h};
        dist_sum_double(sums, 2);
        l = sums[0];
        h = (int)sums[1];
    }
    if (loss) *loss = l;
    if (hits) *hits = h;
    if (!isfinite(l) || l > max_loss) return 0;
    resnet_backward(m, y, share);
    dist_sum_float(m->grads, m->nparams); // the one contiguous gradient block
    optim_step(o, m->params, m->grads, lr, momentum, wd_mult);
    return 1;
}

// The evaluations still to come from the epoch under way (t->epoch + 1) to the last: every
// eval_every-th epoch and the last one.
static long evals_left(const Trainer *t, long epochs) {
    long n = 0;
    for (long ep = t->epoch + 1; ep <= epochs; ep++)
        n += ep == epochs || (t->opt.eval_every > 0 && ep % t->opt.eval_every == 0);
    return n;
}

static void report(const Trainer *t, const TrainProgress *p) {
    if (t->progress) t->progress(t->progress_ctx, p);
}

int trainer_run(Trainer *t, const char *dir, const char *config_text, EvalResult *final, Err *e) {
    const long total = t->sched.total, epochs = schedule_epochs(&t->sched);
    RunLogFiles rl;
    const int io = t->rank == 0; // only rank 0 writes the run's files
    if (dist_agree(io ? runlog_open(&rl, dir, t->opt.log_iters, t->valid.n > 0, t->step > 0 || t->loader.in_epoch,
                                    t->epoch + 1, t->step, e)
                      : ERR_OK,
                   e))
        return e->code;
    if (save_missing_kept(t, dir, config_text, e)) {
        if (io) runlog_close(&rl, NULL);
        return e->code;
    }
    EvalResult ev = {NAN, NAN};
    double run_start = now_seconds() - t->seconds;
    Eta eta;
    eta_init(&eta);
    int rc = ERR_OK;
    TrainProgress p = {.epochs = epochs};
    // An epoch under way is finished even when no step of the schedule is left: a run stopped
    // after its last step (of an epoch, or of the run) still owes that epoch's evaluation, log
    // row and checkpoint, and gives them when resumed.
    while ((t->step < total || t->loader.in_epoch) && rc == ERR_OK) {
        if (!t->loader.in_epoch) {
            loader_begin_epoch(&t->loader);
            t->loss_sum = t->epoch_seconds = 0;
            t->correct = t->seen = 0;
        }
        long steps = t->steps_per_epoch, evals = evals_left(t, epochs);
        if (steps > t->loader.pos + total - t->step) steps = t->loader.pos + total - t->step;
        double t0 = now_seconds() - t->epoch_seconds;
        while (t->loader.pos < steps && rc == ERR_OK) {
            const long s = t->loader.pos;
            int hits = 0;
            double ts = now_seconds(), loss, lr, mom;
            schedule_at(&t->sched, t->step, &lr, &mom);
            int share, nb = loader_next(&t->loader, t->x, t->y, &share);
            if (!train_step(&t->net, &t->optim, t->x, t->y, nb, share, lr, mom,
                            schedule_wd_mult(&t->sched, t->optim_opt.use_wd_sched, t->optim_opt.wd_norm, lr),
                            EXPLODING_LOSS, &loss, &hits))
            {
                char kept[FS_PATH_MAX + 100];
                describe_kept(dir, kept, sizeof kept);
                rc = err_set(e, ERR_RUNTIME,
                             "training diverged: loss %g at step %ld (epoch %d, batch %ld) with lr %.6g, momentum %.4g; "
                             "%s; lower the maximum LR or lengthen the warm-up",
                             loss, t->step, t->epoch + 1, s + 1, lr, mom, kept);
                t->seconds = now_seconds() - run_start;
                p = (TrainProgress){.event = TRAIN_DIVERGED, .epoch = t->epoch + 1, .epochs = epochs, .batch = s,
                                    .batches = steps, .loss = loss, .lr = lr, .momentum = mom, .seconds = t->seconds};
                report(t, &p);
                break;
            }
            if (io) runlog_step(&rl, t->step, (double)t->step / t->steps_per_epoch, lr, mom, loss, (double)hits / nb);
            t->step++;
            t->loss_sum += loss * nb;
            t->correct += hits;
            t->seen += nb;
            t->epoch_seconds = now_seconds() - t0;
            eta_step(&eta, now_seconds() - ts);
            p = (TrainProgress){.event = TRAIN_STEP, .epoch = t->epoch + 1, .epochs = epochs, .batch = t->loader.pos,
                                .batches = steps, .loss = t->loss_sum / t->seen, .acc = (double)t->correct / t->seen,
                                .lr = lr, .momentum = mom, .images_per_sec = t->seen / t->epoch_seconds,
                                .eta_seconds = eta_seconds(&eta, total - t->step, evals)};
            report(t, &p);
            // A signal on any rank stops every rank after this same step.
            if (dist_any((t->stop && *t->stop) || (t->stop_at_step && t->step >= t->stop_at_step))) {
                t->seconds = now_seconds() - run_start;
                p.event = TRAIN_STOPPED;
                report(t, &p);
                if (!(rc = save(t, dir, "checkpoint.ckpt", config_text, e)))
                    rc = err_set(e, ERR_INTERRUPTED,
                                 "stopped at step %ld (epoch %d, batch %ld); state saved; resume with: onecycle train "
                                 "--resume %s/checkpoint.ckpt",
                                 t->step, t->epoch + 1, t->loader.pos, dir);
            }
        }
        if (rc) break;
        t->epoch++;
        loader_end_epoch(&t->loader);
        int last = t->step >= total;
        int eval = last || (t->opt.eval_every > 0 && t->epoch % t->opt.eval_every == 0);
        if (eval) {
            double te = now_seconds();
            ev = trainer_evaluate(t, &t->test);
            eta_eval(&eta, now_seconds() - te);
        }
        // The validation split, after every epoch; its figures are the same on every rank.
        EvalResult ve = {NAN, NAN};
        if (t->valid.n) ve = trainer_evaluate(t, &t->valid);
        int best = new_best(t, ve);
        t->seconds = now_seconds() - run_start;
        // The LR and momentum of the epoch's last step, from the schedule (a pure function of
        // the step): an epoch resumed after its last step ran no step in this process.
        schedule_at(&t->sched, t->step > 0 ? t->step - 1 : 0, &p.lr, &p.momentum);
        RunLogEpoch row = {.epoch = t->epoch, .step = t->step, .lr = p.lr, .momentum = p.momentum,
                           .train_loss = t->loss_sum / t->seen, .train_acc = (double)t->correct / t->seen,
                           .test_loss = eval ? ev.loss : NAN, .test_acc = eval ? ev.acc : NAN,
                           .seconds = t->seconds, .images_per_sec = t->seen / t->epoch_seconds,
                           .valid_loss = ve.loss, .valid_acc = ve.acc};
        p.event = TRAIN_EPOCH;
        p.epoch = t->epoch;
        p.seconds = t->seconds;
        p.epoch_row = &row;
        report(t, &p);
        p.epoch_row = NULL;
        Err pe = {0};
        if (io && runlog_epoch(&rl, &row, &pe)) { // the curves so far, redrawn every epoch
            p.event = TRAIN_WARNING;
            p.warning = pe.msg;
            report(t, &p);
            p.warning = NULL;
        }
        if (last || (t->opt.checkpoint_every > 0 && t->epoch % t->opt.checkpoint_every == 0))
            rc = save(t, dir, "checkpoint.ckpt", config_text, e);
        if (!rc) rc = save_kept(t, dir, config_text, e);
        if (!rc && best) rc = save(t, dir, "checkpoint-best.ckpt", config_text, e);
    }
    // Resumed a finished run: no epoch ended here, so nothing was evaluated or saved. A
    // resume into another directory (--out) still owes it the run's checkpoint.
    if (!rc && isnan(ev.loss)) {
        ev = trainer_evaluate(t, &t->test);
        rc = save(t, dir, "checkpoint.ckpt", config_text, e);
    }
    Err ce = {0};
    if (io && runlog_close(&rl, &ce) && !rc) rc = err_set(e, ce.code, "%s", ce.msg);
    if (final) *final = ev;
    // Every rank ends here together (a divergence and a stop are seen by all of them).
    return dist_agree(rc, e);
}
