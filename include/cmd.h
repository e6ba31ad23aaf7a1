// cmd.h: commands that live outside main.c. Each takes the arguments after its name and
// returns the process exit status (0, or an ERR_* code after printing the message).
#ifndef ONECYCLE_CMD_H
#define ONECYCLE_CMD_H
#include "cpu.h"

// onecycle train CONFIG [--set k=v]... [--out DIR] [--force] [--threads N] [--seed N] [--init-from CKPT]
// onecycle train --resume CKPT [--threads N] [--out DIR [--force]]
int cmd_train(const CpuInfo *ci, int argc, char **argv);
// onecycle eval CKPT [--data DIR]
int cmd_eval(int argc, char **argv);
// onecycle info CONFIG [--set k=v]...
int cmd_info(int argc, char **argv);
// onecycle schedule CONFIG [--set k=v]... [--csv FILE] [--png FILE] [--x iterations|epochs]
int cmd_schedule(int argc, char **argv);
// onecycle bench [--depth N] [--batch B] [--threads T] [--shortcut A|B] [--seconds S] [--layers]
int cmd_bench(const CpuInfo *ci, int argc, char **argv);

// onecycle lr-find CONFIG [--set k=v]... [--start LR] [--end LR] [--iters N] [--linear]
//     [--sweep momentum=a,b,... | --sweep wd=a,b,...] [--eval-every K] [--out DIR] [--force]
int cmd_lrfind(int argc, char **argv);
// onecycle plot LOG.csv [LOG2.csv ...] [--png FILE] [--labels a,b,...]
int cmd_plot(int argc, char **argv);
// onecycle export CKPT OUT.npz|OUT.onnx [--force]
int cmd_export(int argc, char **argv);
// onecycle predict CKPT [IMAGE.png ...] [--data DIR] [--index LIST] [--top K] [--csv] [--logits] [--threads N]
int cmd_predict(int argc, char **argv);

// Seconds per call of fn(ctx): one warm-up call, then calls for at least `seconds` (and at
// least 3). The timer of `onecycle bench`.
double bench_seconds_per_call(void (*fn)(void *), void *ctx, double seconds);
// Per-stage 3x3 convolution GFLOP/s (forward, weight gradient, data + weight gradients) at
// this batch, and sgemm 2048^3 on the same threads, printed as "key: value" lines.
void bench_conv_stages(int batch, double seconds);

#endif
