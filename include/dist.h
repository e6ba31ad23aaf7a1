// dist.h: data-parallel training across processes, through MPI (Open MPI).
//
// Built with -DONECYCLE_MPI (make mpi, mpicc) these wrap MPI on MPI_COMM_WORLD; in the default
// build they describe a world of one process and every reduction is a no-op, so the rest of
// the program calls them unconditionally and has no #ifdefs. The MPI build started without
// mpirun (no launcher variables in its environment) is a world of one too, MPI not started.
//
// Every rank holds the whole model. What crosses ranks: the gradient block (one sum per
// step), the batch-norm sums when train.sync_bn is on, the step's loss and hits, the stop
// flag, the evaluation sums, and the first failure's message (dist_agree). All of them are
// collective: every rank makes the same calls in the same order.
#ifndef ONECYCLE_DIST_H
#define ONECYCLE_DIST_H
#include "common.h"

// MPI_Init (with MPI_THREAD_FUNNELED: only the main thread calls MPI, OpenMP threads never
// do). Call once, before anything else is collective; no-op in the default build.
void dist_init(int *argc, char ***argv);
// MPI_Finalize; no-op in the default build.
void dist_finalize(void);
// 1 when built with MPI.
int dist_compiled(void);
int dist_rank(void);
int dist_world(void);
// "Open MPI v4.1.4" (the library's own version string, first line), or "none".
const char *dist_library(void);

// In-place sums over every rank (MPI_Allreduce, MPI_SUM).
void dist_sum_float(float *v, long n);
void dist_sum_double(double *v, long n);
// From now on (call at set-up, before the step: it allocates) dist_sum_float and
// dist_sum_double add the ranks' values in a fixed order, the pairwise tree in rank order of
// shares.h, whatever MPI_Allreduce would do: with 2 ranks MPI_Allreduce already is (a + b
// is b + a), with more each sum gathers every rank's values (MPI_Allgather, in pieces of
// 64 k values) and adds them up in that tree. For [train] shares (resnet.h): W ranks then
// add what one process with the same shares adds. No-op in the default build.
void dist_order_sums(void);
// Every rank's n values side by side into all (world * n of them, rank 0's first;
// MPI_Allgather); in a world of one, mine copied.
void dist_gather_u64(const uint64_t *mine, int n, uint64_t *all);
// 1 on every rank when flag is non-zero on any rank.
int dist_any(int flag);
// Collective agreement on an outcome: every rank passes its own rc (and e when rc != 0).
// When any rank failed, every rank returns the code of the lowest failing rank and gets its
// message in e, prefixed "rank R: " when R is not 0; else ERR_OK. One call point, reached
// by every rank, turns a failure on one rank into the same clean exit on all.
int dist_agree(int rc, Err *e);
// 1 once dist_agree has returned a failure: every rank holds the same error, rank 0 alone
// needs to print it, and the ranks can end normally.
int dist_failure_shared(void);
// Ends every rank at once with this exit status (MPI_Abort); exit(code) in the default build.
// For failures some ranks cannot reach a dist_agree after (none in the training loop).
void dist_abort(int code) __attribute__((noreturn));

#endif
