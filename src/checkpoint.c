// checkpoint.c: saving and restoring a run (format in include/checkpoint.h).
#include "checkpoint.h"
#include "outfile.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char MAGIC[8] = {'O', 'N', 'E', 'C', 'Y', 'C', 'K', 'P'};

#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
enum {
    TAG_CONF = TAG('C', 'O', 'N', 'F'),
    TAG_MODL = TAG('M', 'O', 'D', 'L'),
    TAG_PARM = TAG('P', 'A', 'R', 'M'),
    TAG_STAT = TAG('S', 'T', 'A', 'T'),
    TAG_OPTM = TAG('O', 'P', 'T', 'M'),
    TAG_LOOP = TAG('L', 'O', 'O', 'P'),
    TAG_RNGS = TAG('R', 'N', 'G', 'S'),
    TAG_PERM = TAG('P', 'E', 'R', 'M'),
    TAG_TENS = TAG('T', 'E', 'N', 'S'),
    TAG_DATA = TAG('D', 'A', 'T', 'A'),
    TAG_BEST = TAG('B', 'E', 'S', 'T'),
};

typedef struct ModelRecord {
    int32_t depth, shortcut_b, classes, arch; // arch: 0 (resnet) in checkpoints older than [model] arch
    int64_t nparams, nstats;
} ModelRecord;

// The tensor table (TENS): one record per parameter tensor, in parameter order, so that a
// variant of the same size (resnet and preact have the same parameter count) is told apart.
// Older checkpoints have no table; they all hold arch = resnet.
typedef struct TensorRecord {
    char name[64];
    int32_t ndim, shape[4];
} TensorRecord;

// The data set the model was trained on (DATA): its name and what the model's shape
// follows from it. Checkpoints written before [data] dataset have none; they were all
// trained on CIFAR-10.
typedef struct DataRecord {
    char name[32];
    int32_t channels, height, width, classes;
} DataRecord;

// train.keep_best's state (BEST): the best validation figure so far and its epoch (0: none).
// Written only by runs with keep_best, so every other run's checkpoint is as before.
typedef struct BestRecord {
    double value;
    int64_t epoch;
} BestRecord;

typedef struct OptimRecord {
    int32_t kind, has_second;
    int64_t step, n;
} OptimRecord;

typedef struct LoopRecord {
    int64_t step, epoch, steps_per_epoch, batch_size, train_n, pos, correct, seen;
    int64_t in_epoch, pad;
    double seconds, loss_sum, epoch_seconds;
} LoopRecord;

// ---- writing ------------------------------------------------------------------------

typedef struct Writer {
    FILE *f;
    uLong crc;
    int failed;
} Writer;

static void put(Writer *w, const void *p, size_t n) {
    if (w->failed || !n) return;
    if (fwrite(p, 1, n, w->f) != n) w->failed = 1;
    w->crc = crc32(w->crc, p, (uInt)n);
}

// Large blocks are fed to crc32 in pieces below 4 GiB (uInt).
static void put_big(Writer *w, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        size_t k = n > (1u << 30) ? (1u << 30) : n;
        put(w, c, k);
        c += k;
        n -= k;
    }
}

static void section(Writer *w, uint32_t tag, const void *p, uint64_t n) {
    put(w, &tag, 4);
    put(w, &n, 8);
    put_big(w, p, n);
}

static int all_finite(const float *x, long n) {
    for (long i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

// The end of a failed save's message: what path still holds. Only a checkpoint that is
// there is promised (the first save of a run has none to keep).
static const char *kept_or_none(const char *path) {
    return fs_exists(path) ? "the previous checkpoint is kept" : "no checkpoint has been written yet";
}

int checkpoint_save(const Trainer *t, const char *config_text, const char *path, Err *e) {
    const ResNet *m = &t->net;
    if (!all_finite(m->params, m->nparams) || !all_finite(m->stats, m->nstats))
        return err_set(e, ERR_RUNTIME, "%s: not saved: the weights are not finite (NaN/Inf); %s", path,
                       kept_or_none(path));
    // PATH.tmp.PID, fsynced and renamed over PATH (outfile.h): a checkpoint is never torn.
    OutFile of;
    if (outfile_open(&of, path, e)) return err_prefix(e, "cannot write the checkpoint");
    Writer w = {.f = of.f, .crc = crc32(0, NULL, 0)};
    uint32_t version = CHECKPOINT_VERSION;
    put(&w, MAGIC, 8);
    put(&w, &version, 4);
    section(&w, TAG_CONF, config_text, strlen(config_text));
    ModelRecord mr = {m->opt.depth, m->opt.shortcut_b, m->opt.classes, m->opt.arch, m->nparams, m->nstats};
    section(&w, TAG_MODL, &mr, sizeof mr);
    section(&w, TAG_PARM, m->params, sizeof(float) * (uint64_t)m->nparams);
    section(&w, TAG_STAT, m->stats, sizeof(float) * (uint64_t)m->nstats);
    const Optimizer *o = &t->optim;
    OptimRecord orr = {o->o.kind, o->s != NULL, o->step, o->n};
    uint64_t nv = sizeof(float) * (uint64_t)o->n;
    // header, then v, then s (Adam) as one section
    {
        uint32_t tag = TAG_OPTM;
        uint64_t n = sizeof orr + nv * (o->s ? 2 : 1);
        put(&w, &tag, 4);
        put(&w, &n, 8);
        put(&w, &orr, sizeof orr);
        put_big(&w, o->v, nv);
        if (o->s) put_big(&w, o->s, nv);
    }
    LoopRecord lr = {t->step, t->epoch, t->steps_per_epoch, t->opt.batch_size, t->train.n, t->loader.pos, t->correct, t->seen,
                     t->loader.in_epoch, 0, t->seconds, t->loss_sum, t->epoch_seconds};
    section(&w, TAG_LOOP, &lr, sizeof lr);
    Rng rngs[3] = {t->rng_init, t->loader.shuffle, t->loader.aug};
    section(&w, TAG_RNGS, rngs, sizeof rngs);
    section(&w, TAG_PERM, t->loader.perm, sizeof(int) * (uint64_t)t->train.n);
    // Last, so that the sections before keep their places (the fuzz corpus addresses them).
    {
        uint32_t tag = TAG_TENS;
        uint64_t n = sizeof(TensorRecord) * (uint64_t)m->ntensors;
        put(&w, &tag, 4);
        put(&w, &n, 8);
        for (int i = 0; i < m->ntensors; i++) {
            TensorRecord r;
            memset(&r, 0, sizeof r);
            snprintf(r.name, sizeof r.name, "%s", m->tensors[i].name);
            r.ndim = m->tensors[i].ndim;
            for (int d = 0; d < r.ndim; d++) r.shape[d] = m->tensors[i].shape[d];
            put(&w, &r, sizeof r);
        }
    }
    DataRecord dr = {.channels = m->opt.channels, .height = m->opt.height, .width = m->opt.width,
                     .classes = m->opt.classes};
    snprintf(dr.name, sizeof dr.name, "%s", m->opt.dataset ? m->opt.dataset : "");
    section(&w, TAG_DATA, &dr, sizeof dr);
    if (t->opt.keep_best) {
        BestRecord br = {t->best_valid, t->best_epoch};
        section(&w, TAG_BEST, &br, sizeof br);
    }
    uint32_t crc = (uint32_t)w.crc;
    if (!w.failed && fwrite(&crc, 4, 1, w.f) != 1) w.failed = 1;
    Err we = {0};
    if (outfile_commit(&of, w.failed, &we))
        return err_set(e, we.code, "writing the checkpoint failed: %s; %s", we.msg, kept_or_none(path));
    return ERR_OK;
}

// ---- reading ------------------------------------------------------------------------

typedef struct Blob {
    unsigned char *data;
    size_t size;
    const char *path;
} Blob;

// More sections than any version writes (8 today): a file claiming more is not one of ours,
// and the walk over its headers stays short.
#define MAX_SECTIONS 64

// Reads the file and checks magic, version, size and CRC. The header and the section
// headers come first, read one by one: a file that is not a checkpoint, or whose sections
// do not end exactly where the file does (truncated, or far larger than they say), is
// refused before anything the size of the file is allocated or read.
static int read_verified(Blob *b, const char *path, Err *e) {
    memset(b, 0, sizeof *b);
    b->path = path;
    long long size;
    struct stat st;
    if (stat(path, &st)) return err_set(e, ERR_INPUT, "%s: cannot open checkpoint: %s", path, strerror(errno));
    FILE *f = fs_fopen_regular(path, "a checkpoint file", &size, e); // a FIFO would block
    if (!f) return e->code;
    unsigned char head[12];
    if (size < 8 + 4 + 4 || fread(head, 1, 12, f) != 12) {
        fclose(f);
        return err_set(e, ERR_INPUT, "%s: not an onecycle checkpoint (only %lld bytes)", path, size);
    }
    if (memcmp(head, MAGIC, 8)) {
        fclose(f);
        return err_set(e, ERR_INPUT, "%s: not an onecycle checkpoint (bad magic)", path);
    }
    uint32_t version;
    memcpy(&version, head + 8, 4);
    if (version != CHECKPOINT_VERSION) {
        fclose(f);
        if (version > 255) // no version is that far off: the header is damaged
            return err_set(e, ERR_INPUT, "%s: checkpoint is corrupt (its version field reads %u)", path, version);
        return err_set(e, ERR_INPUT, "%s: checkpoint version %u, this build reads version %d", path, version,
                       CHECKPOINT_VERSION);
    }
    // The sections must tile [12, size - 4) exactly; the CRC is the last 4 bytes.
    unsigned long long off = 12, end = (unsigned long long)size - 4;
    for (int k = 0; off < end; k++) {
        uint64_t n;
        if (k == MAX_SECTIONS || end - off < 12 || fseeko(f, (off_t)off + 4, SEEK_SET) || fread(&n, 8, 1, f) != 1 ||
            n > end - off - 12) {
            fclose(f);
            if (k == MAX_SECTIONS)
                return err_set(e, ERR_INPUT, "%s: not a valid checkpoint: more than %d sections", path, MAX_SECTIONS);
            return err_set(e, ERR_INPUT,
                           "%s: checkpoint is truncated or corrupt: its section at byte %llu does not fit the file's "
                           "%lld bytes",
                           path, off, size);
        }
        off += 12 + n;
    }
    if (fseeko(f, 0, SEEK_SET)) {
        fclose(f);
        return err_set(e, ERR_INPUT, "%s: read error", path);
    }
    b->data = xmalloc((size_t)size);
    b->size = (size_t)size;
    size_t got = fread(b->data, 1, b->size, f);
    fclose(f);
    if (got != b->size) return err_set(e, ERR_INPUT, "%s: read error", path);
    uint32_t crc;
    memcpy(&crc, b->data + b->size - 4, 4);
    uLong c = crc32(0, NULL, 0);
    for (size_t o = 0; o < b->size - 4;) {
        size_t k = b->size - 4 - o > (1u << 30) ? (1u << 30) : b->size - 4 - o;
        c = crc32(c, b->data + o, (uInt)k);
        o += k;
    }
    if ((uint32_t)c != crc)
        return err_set(e, ERR_INPUT, "%s: checkpoint is corrupt or truncated (CRC mismatch)", path);
    return ERR_OK;
}

// Finds a section; returns its bytes and length, or NULL if absent or malformed.
static const unsigned char *find(const Blob *b, uint32_t tag, uint64_t *len) {
    size_t off = 12, end = b->size - 4;
    while (off + 12 <= end) {
        uint32_t t;
        uint64_t n;
        memcpy(&t, b->data + off, 4);
        memcpy(&n, b->data + off + 4, 8);
        off += 12;
        if (n > end - off) return NULL;
        if (t == tag) {
            *len = n;
            return b->data + off;
        }
        off += n;
    }
    return NULL;
}

static int need(const Blob *b, uint32_t tag, uint64_t want, const unsigned char **p, const char *what, Err *e) {
    uint64_t len = 0;
    *p = find(b, tag, &len);
    if (!*p) return err_set(e, ERR_INPUT, "%s: checkpoint has no %s section", b->path, what);
    if (want != (uint64_t)-1 && len != want)
        return err_set(e, ERR_INPUT, "%s: checkpoint %s section has %llu bytes, expected %llu", b->path, what,
                       (unsigned long long)len, (unsigned long long)want);
    return ERR_OK;
}

int checkpoint_read_config(const char *path, char **config_text, Err *e) {
    Blob b;
    *config_text = NULL;
    int rc = read_verified(&b, path, e);
    if (!rc) {
        uint64_t len = 0;
        const unsigned char *p = find(&b, TAG_CONF, &len);
        if (!p)
            rc = err_set(e, ERR_INPUT, "%s: checkpoint has no config section", path);
        else {
            *config_text = xmalloc(len + 1);
            memcpy(*config_text, p, len);
            (*config_text)[len] = 0;
        }
    }
    free(b.data);
    return rc;
}

// "name (d0,d1,...)" of a tensor, printable whatever the bytes (a checkpoint can be crafted).
static void describe_tensor(char *buf, size_t cap, const char *name, int ndim, const int32_t *shape) {
    size_t k = 0;
    for (int i = 0; i < 63 && name[i] && k + 1 < cap; i++) buf[k++] = name[i] >= 32 && name[i] < 127 ? name[i] : '?';
    buf[k] = 0;
    for (int d = 0; d < ndim && d < 4 && k + 16 < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%d", d ? "," : " (", shape[d]);
    if (ndim > 0 && k + 2 < cap) snprintf(buf + k, cap - k, ")");
}

// Compares the checkpoint's tensor table, if it has one, with the model's: *diff says
// where they part (empty when they agree or the table is absent).
static int check_tensors(const Blob *b, const ResNet *m, char *diff, size_t cap, Err *e) {
    uint64_t len = 0;
    const unsigned char *p = find(b, TAG_TENS, &len);
    diff[0] = 0;
    if (!p) return ERR_OK;
    if (len % sizeof(TensorRecord) || len / sizeof(TensorRecord) > 1000000)
        return err_set(e, ERR_INPUT, "%s: checkpoint tensor table is malformed", b->path);
    const int n = (int)(len / sizeof(TensorRecord));
    for (int i = 0; i < n && i < m->ntensors; i++) {
        TensorRecord r;
        memcpy(&r, p + (size_t)i * sizeof r, sizeof r);
        r.name[63] = 0;
        const ParamTensor *t = &m->tensors[i];
        int same = !strcmp(r.name, t->name) && r.ndim == t->ndim;
        for (int d = 0; same && d < t->ndim; d++) same = r.shape[d] == t->shape[d];
        if (same) continue;
        char held[120], want[120];
        int32_t shape[4] = {t->shape[0], t->shape[1], t->shape[2], t->shape[3]};
        describe_tensor(held, sizeof held, r.name, r.ndim, r.shape);
        describe_tensor(want, sizeof want, t->name, t->ndim, shape);
        snprintf(diff, cap, "tensor %d is %s in the checkpoint, %s in the model", i, held, want);
        return ERR_OK;
    }
    if (n != m->ntensors) snprintf(diff, cap, "the checkpoint has %d tensors, the model %d", n, m->ntensors);
    return ERR_OK;
}

// The data set of the checkpoint against the model's: a model does not carry over to
// another set (other classes, channels or image size, or the same shape and other images).
static int check_dataset(const Blob *b, const ResNet *m, Err *e) {
    DataRecord dr = {"cifar10", 3, 32, 32, 10}; // what a checkpoint without the section holds
    uint64_t len = 0;
    const unsigned char *p = find(b, TAG_DATA, &len);
    if (p && len != sizeof dr)
        return err_set(e, ERR_INPUT, "%s: checkpoint data set section has %llu bytes, expected %zu", b->path,
                       (unsigned long long)len, sizeof dr);
    if (p) memcpy(&dr, p, sizeof dr);
    dr.name[sizeof dr.name - 1] = 0;
    for (char *c = dr.name; *c; c++) // printable whatever the bytes (a checkpoint can be crafted)
        if (*c < 0x20 || *c > 0x7e) *c = '?';
    const ModelOptions *o = &m->opt;
    int same_name = !o->dataset || !dr.name[0] || !strcmp(o->dataset, dr.name);
    if (same_name && dr.channels == o->channels && dr.height == o->height && dr.width == o->width &&
        dr.classes == o->classes)
        return ERR_OK;
    return err_set(e, ERR_INPUT,
                   "%s: checkpoint was trained on %s (%dx%dx%d, %d classes), but the config's data set is %s (%dx%dx%d, "
                   "%d classes); a model does not carry over between data sets",
                   b->path, dr.name[0] ? dr.name : "an unnamed data set", dr.channels, dr.height, dr.width, dr.classes,
                   o->dataset ? o->dataset : "an unnamed data set", o->channels, o->height, o->width, o->classes);
}

static int check_model(const Blob *b, const ResNet *m, Err *e) {
    const unsigned char *p;
    if (check_dataset(b, m, e)) return e->code;
    if (need(b, TAG_MODL, sizeof(ModelRecord), &p, "model", e)) return e->code;
    ModelRecord mr;
    memcpy(&mr, p, sizeof mr);
    char diff[400];
    if (check_tensors(b, m, diff, sizeof diff, e)) return e->code;
    if (diff[0] || mr.arch != m->opt.arch || mr.depth != m->opt.depth || mr.shortcut_b != m->opt.shortcut_b ||
        mr.classes != m->opt.classes || mr.nparams != m->nparams || mr.nstats != m->nstats) {
        ModelOptions held = {.arch = mr.arch, .depth = mr.depth, .shortcut_b = mr.shortcut_b};
        char hn[80], wn[80];
        return err_set(e, ERR_INPUT,
                       "%s: checkpoint holds %s (%lld parameters, %d classes) but the config asks for %s (%ld "
                       "parameters, %d classes)%s%s",
                       b->path, model_name(&held, hn, sizeof hn), (long long)mr.nparams, mr.classes,
                       model_name(&m->opt, wn, sizeof wn), m->nparams, m->opt.classes, diff[0] ? ": " : "", diff);
    }
    return ERR_OK;
}

// Finite is not enough: a crafted file (or a damaged one under a recomputed CRC) can hold
// weights that overflow the forward pass (3e38: every activation Inf, the loss NaN) or a
// negative running variance (1/sqrt(var + eps) of a negative number). The checkpoints of
// results/ (ResNet-56, 30 to 95 epochs, 11 runs) hold weights up to 3.05 and running
// statistics up to 139, so the bounds leave trained models orders of magnitude of room.
#define CKPT_MAX_WEIGHT 1e6f
#define CKPT_MAX_STAT 1e18f
static int check_ranges(const char *path, const ResNet *m, Err *e) {
    for (int i = 0; i < m->ntensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        for (long k = 0; k < t->n; k++)
            if (fabsf(m->params[t->off + k]) > CKPT_MAX_WEIGHT)
                return err_set(e, ERR_INPUT,
                               "%s: checkpoint holds %s[%ld] = %g, beyond any trained weight (|w| <= %g); refused",
                               path, t->name, k, m->params[t->off + k], CKPT_MAX_WEIGHT);
    }
    for (int i = 0; i < m->nbns; i++) {
        const BnLayer *bn = m->bns[i];
        const float *mean = m->stats + bn->run, *var = mean + bn->C;
        for (int c = 0; c < bn->C; c++) {
            if (var[c] < 0)
                return err_set(e, ERR_INPUT,
                               "%s: checkpoint holds a negative batch-norm running variance (%g, channel %d of "
                               "batch-norm layer %d); refused",
                               path, var[c], c, i + 1);
            if (fabsf(mean[c]) > CKPT_MAX_STAT || var[c] > CKPT_MAX_STAT)
                return err_set(e, ERR_INPUT,
                               "%s: checkpoint holds a batch-norm running %s of %g (channel %d of batch-norm layer "
                               "%d), beyond any trained one (%g); refused",
                               path, fabsf(mean[c]) > CKPT_MAX_STAT ? "mean" : "variance",
                               fabsf(mean[c]) > CKPT_MAX_STAT ? mean[c] : var[c], c, i + 1, CKPT_MAX_STAT);
        }
    }
    return ERR_OK;
}

static int load_weights(const Blob *b, ResNet *m, Err *e) {
    const unsigned char *p;
    if (check_model(b, m, e)) return e->code;
    if (need(b, TAG_PARM, sizeof(float) * (uint64_t)m->nparams, &p, "parameters", e)) return e->code;
    memcpy(m->params, p, sizeof(float) * (size_t)m->nparams);
    if (need(b, TAG_STAT, sizeof(float) * (uint64_t)m->nstats, &p, "BN statistics", e)) return e->code;
    memcpy(m->stats, p, sizeof(float) * (size_t)m->nstats);
    // Refused on load as on save: a CRC only proves the file is as written.
    if (!all_finite(m->params, m->nparams) || !all_finite(m->stats, m->nstats))
        return err_set(e, ERR_INPUT, "%s: checkpoint holds non-finite weights or BN statistics (NaN/Inf); refused",
                       b->path);
    return check_ranges(b->path, m, e);
}

int checkpoint_load_weights(ResNet *m, const char *path, Err *e) {
    Blob b;
    int rc = read_verified(&b, path, e);
    if (!rc) rc = load_weights(&b, m, e);
    free(b.data);
    return rc;
}

int checkpoint_read_step(const char *path, long *step, Err *e) {
    Blob b;
    const unsigned char *p;
    LoopRecord lr;
    int rc = read_verified(&b, path, e);
    if (!rc) rc = need(&b, TAG_LOOP, sizeof lr, &p, "loop", e);
    if (!rc) {
        memcpy(&lr, p, sizeof lr);
        if (lr.step < 0) rc = err_set(e, ERR_INPUT, "%s: checkpoint loop position is out of range", path);
        *step = (long)lr.step;
    }
    free(b.data);
    return rc;
}

int checkpoint_load(Trainer *t, const char *path, Err *e) {
    Blob b;
    int rc = read_verified(&b, path, e);
    if (rc) goto done;
    if ((rc = load_weights(&b, &t->net, e))) goto done;
    const unsigned char *p;
    uint64_t len = 0;
    Optimizer *o = &t->optim;
    uint64_t nv = sizeof(float) * (uint64_t)o->n;
    if ((rc = need(&b, TAG_OPTM, (uint64_t)-1, &p, "optimiser", e))) goto done;
    find(&b, TAG_OPTM, &len);
    OptimRecord orr;
    if (len < sizeof orr) {
        rc = err_set(e, ERR_INPUT, "%s: checkpoint optimiser section is too short", path);
        goto done;
    }
    memcpy(&orr, p, sizeof orr);
    if (orr.kind != o->o.kind || orr.n != o->n || orr.has_second != (o->s != NULL) ||
        len != sizeof orr + nv * (o->s ? 2 : 1)) {
        rc = err_set(e, ERR_INPUT, "%s: checkpoint optimiser state does not match the config's optimiser", path);
        goto done;
    }
    if (orr.step < 0) {
        rc = err_set(e, ERR_INPUT, "%s: checkpoint optimiser step count is negative", path);
        goto done;
    }
    memcpy(o->v, p + sizeof orr, nv);
    if (o->s) memcpy(o->s, p + sizeof orr + nv, nv);
    if (!all_finite(o->v, o->n) || (o->s && !all_finite(o->s, o->n))) {
        rc = err_set(e, ERR_INPUT, "%s: checkpoint optimiser state is not finite (NaN/Inf); refused", path);
        goto done;
    }
    o->step = orr.step;
    LoopRecord lr;
    if ((rc = need(&b, TAG_LOOP, sizeof lr, &p, "loop", e))) goto done;
    memcpy(&lr, p, sizeof lr);
    if (lr.steps_per_epoch != t->steps_per_epoch || lr.batch_size != t->opt.batch_size || lr.train_n != t->train.n) {
        rc = err_set(e, ERR_INPUT,
                     "%s: checkpoint was taken with %lld training images in batches of %lld; the config now gives %d "
                     "images in batches of %d",
                     path, (long long)lr.train_n, (long long)lr.batch_size, t->train.n, t->opt.batch_size);
        goto done;
    }
    long max_epoch = (t->sched.total + t->steps_per_epoch - 1) / t->steps_per_epoch;
    if (lr.step < 0 || lr.step > t->sched.total || lr.pos < 0 || lr.pos > t->steps_per_epoch || lr.epoch < 0 ||
        lr.epoch > max_epoch || (lr.in_epoch != 0 && lr.in_epoch != 1) || lr.seen < 0 || lr.correct < 0 ||
        lr.correct > lr.seen) {
        rc = err_set(e, ERR_INPUT, "%s: checkpoint loop position is out of range", path);
        goto done;
    }
    t->step = lr.step;
    t->epoch = (int)lr.epoch;
    t->loader.pos = lr.pos;
    t->correct = lr.correct;
    t->seen = lr.seen;
    t->loader.in_epoch = (int)lr.in_epoch;
    t->seconds = lr.seconds;
    t->loss_sum = lr.loss_sum;
    t->epoch_seconds = lr.epoch_seconds;
    Rng rngs[3];
    if ((rc = need(&b, TAG_RNGS, sizeof rngs, &p, "RNG", e))) goto done;
    memcpy(rngs, p, sizeof rngs);
    t->rng_init = rngs[0];
    t->loader.shuffle = rngs[1];
    t->loader.aug = rngs[2];
    if ((rc = need(&b, TAG_PERM, sizeof(int) * (uint64_t)t->train.n, &p, "data order", e))) goto done;
    memcpy(t->loader.perm, p, sizeof(int) * (size_t)t->train.n);
    for (int i = 0; i < t->train.n; i++)
        if (t->loader.perm[i] < 0 || t->loader.perm[i] >= t->train.n) {
            rc = err_set(e, ERR_INPUT, "%s: checkpoint data order is corrupt", path);
            goto done;
        }
    // keep_best's state; without it (a run without keep_best) no epoch is the best yet.
    BestRecord br;
    if ((p = find(&b, TAG_BEST, &len))) {
        if (len != sizeof br) {
            rc = err_set(e, ERR_INPUT, "%s: checkpoint best-epoch section has %llu bytes, expected %zu", path,
                         (unsigned long long)len, sizeof br);
            goto done;
        }
        memcpy(&br, p, sizeof br);
        if (br.epoch < 0 || br.epoch > t->epoch || (br.epoch > 0 && !isfinite(br.value))) {
            rc = err_set(e, ERR_INPUT, "%s: checkpoint best-epoch section is out of range", path);
            goto done;
        }
        t->best_valid = br.value;
        t->best_epoch = (int)br.epoch;
    }
done:
    free(b.data);
    return rc;
}
