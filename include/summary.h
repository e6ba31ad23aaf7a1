// summary.h: DIR/summary.json, the machine-readable record of a training run.
//
// Written by `train` when a run ends, however it ends (finished, diverged, interrupted),
// atomically (a temporary file, fsync, rename) like the checkpoint. What it holds (README,
// "summary.json"): the status and why, start and end time (UTC), the run's own time, steps
// and epochs done and planned, the final and best test accuracy with their epochs, the final
// losses, the mean training throughput, the program's version and build (compiler, kernels,
// OpenBLAS core, threads) and the effective config, key by key. The per-epoch figures come
// from DIR/log.csv, so a resumed run's summary covers all of its epochs.
#ifndef ONECYCLE_SUMMARY_H
#define ONECYCLE_SUMMARY_H
#include "common.h"
#include "config.h"
#include <stddef.h>

#define SUMMARY_FORMAT 1 // "format" in the file; raised when a field changes meaning

typedef struct RunSummary {
    const char *status;       // "finished" | "diverged" | "interrupted" | "failed"
    const char *message;      // why it ended when not finished (NULL or "" otherwise)
    char started[32];         // ISO 8601 UTC: when the run first started (kept on resume)
    char ended[32];           // ... and when this session ended
    double seconds;           // the run's own time: training + evaluation, every session
    long steps_done, steps_planned;
    long epochs_planned;
    const Config *config;     // the effective config
    const char *openblas_core;
    int threads;
} RunSummary;

// Now, as "2025-01-31T12:34:56Z".
void summary_now(char *buf, size_t cap);
// The "started" of an existing DIR/summary.json (a resumed run keeps its first start):
// 1 and buf filled, or 0 when there is none to read.
int summary_read_started(const char *dir, char *buf, size_t cap);
// The JSON text (malloc'd, ends with a newline) for s and what DIR/log.csv holds; a missing
// or empty log leaves the per-epoch figures null.
char *summary_json(const char *dir, const RunSummary *s);
// Writes DIR/summary.json atomically. ERR_RUNTIME naming the path when it cannot.
int summary_write(const char *dir, const RunSummary *s, Err *e);

#endif
