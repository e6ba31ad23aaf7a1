// testdata.h: where the tests find the real CIFAR-10 files, and small run configs.
#ifndef ONECYCLE_TEST_TESTDATA_H
#define ONECYCLE_TEST_TESTDATA_H
#include "config.h"
#include "pngio.h"
#include "train.h"
#include <stdint.h>

// data/cifar-10-batches-bin or ../shared/data/cifar-10-batches-bin if it holds the
// official files, else NULL (tests that need it record a skip with the reason).
const char *testdata_cifar_dir(void);
// Writes text to DIR/name and returns the path (static buffer, valid until next call).
const char *testdata_write(const char *dir, const char *name, const char *text);
// Runs a shell command line, capturing stdout+stderr (truncated to cap); returns the
// exit status (or -1).
int testdata_run(const char *cmdline, char *out, int cap);
// Runs `BIN args` (the binary under test), begins a test called name, checks the exit
// status and that the output holds fragment; returns the output (static, valid until the
// next call).
const char *testdata_expect(const char *name, int status, const char *fragment, const char *args);
// Shell text for a command line that started a process in the background as $p: a
// watchdog that kills it with SIGKILL after `seconds` (a hang fails the test instead of
// stalling the suite) and ends by itself as soon as $p has ended. Unlike `timeout`, it
// lets `kill -INT $p` reach the process itself.
#define TESTDATA_WATCHDOG(seconds)                                                                 \
    "( i=0; while kill -0 $p 2>/dev/null && [ $i -lt " #seconds "0 ]; do sleep 0.1; i=$((i+1)); done; " \
    "kill -9 $p 2>/dev/null ) >/dev/null 2>&1 & "
// The onecycle binary under test ($ONECYCLE_BIN or ./onecycle).
const char *testdata_bin(void);
// The whole file as a string (malloc'd), or NULL.
char *testdata_slurp(const char *path);
// The same, with its length in *size (the file may hold NUL bytes).
char *testdata_slurp_n(const char *path, size_t *size);
// Writes text to path (no error if it cannot).
void testdata_put(const char *path, const char *text);
// Pixels of exactly this colour inside columns [x0, x1) of an RGB image.
long testdata_count_color(const Image *img, uint32_t rgb, int x0, int x1);
// NULL when this build and machine can reproduce the bit-identity fixtures (tests/fixtures/
// guard_*): the optimised AVX-512 build (not the sanitizer or portable ones, whose float
// results differ) with OpenBLAS's Haswell core, where they were made; else why not.
const char *testdata_guard_skip_reason(void);
// The convolution kernels (conv_set_kernels mask) the guard fixtures were made with: the
// default but the Winograd weight gradient of issue 15, which rounds differently from the
// direct kernel.
// The guards run on this mask, so they still pin every other number bit for bit; the new
// kernel is checked against double precision (test_winograd_wgrad.c) and PyTorch
// (test_reference.c), and resumes bit-identically (test_checkpoint.c). To guard the default
// kernels instead, rewrite the fixtures with ONECYCLE_WRITE_GUARD=1 on the default mask and
// keep a checkpoint without a tensor table for test_checkpoint.c.
unsigned testdata_guard_kernels(void);

// max |a - ref| / max |ref| over n entries (NaN in a counts as the worst error): a float
// result's error against a double-precision reference, relative to its largest entry.
double testdata_rel_err(const float *a, const double *ref, long n);
// A tiny run on the real data in dir: ResNet-(depth), 500 images (8 steps of 64, the last
// one partial), 2 epochs of use_clr_beta with cycling momentum, crop+flip augmentation.
// (Static buffer, valid until the next call.)
const char *testdata_tiny_config(const char *dir, int depth);
// config_init over the CLI schema, then text loaded as test.cfg; a failed CHECK and -1 on
// error.
int testdata_config(Config *c, const char *text);
// testdata_config, then trainer_create; a failed CHECK and -1 on error.
int testdata_trainer(Trainer *t, Config *c, const char *text);

#endif
