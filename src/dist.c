// dist.c: MPI_COMM_WORLD behind dist.h, or a world of one process without MPI.
#include "dist.h"
#include "shares.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int shared_failure;

int dist_failure_shared(void) {
    return shared_failure;
}

#ifdef ONECYCLE_MPI
#include <mpi.h>

static int rank_, world_ = 1, inited;
static void *gathered; // dist_order_sums: room for world_ * ORDERED doubles, or NULL

void dist_init(int *argc, char ***argv) {
    // Started without mpirun (no launcher variables): a world of one without MPI_Init,
    // whose singleton start-up (an orted forked per process) every command would pay.
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK")) return;
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &world_);
    inited = 1;
}

void dist_finalize(void) {
    if (inited) MPI_Finalize();
    inited = 0;
    free(gathered);
    gathered = NULL;
}

int dist_compiled(void) {
    return 1;
}

const char *dist_library(void) {
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(v, &len);
    v[strcspn(v, ",\n")] = 0; // "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4"
    return v;
}

// MPI counts are ints: a block larger than 2^31 elements goes in pieces.
enum { CHUNK = 1 << 30 };

// dist_order_sums: every rank's values side by side, ORDERED values per rank at a time.
enum { ORDERED = 1 << 16 };

void dist_order_sums(void) {
    if (world_ > 2 && !gathered) gathered = xmalloc(sizeof(double) * (size_t)world_ * ORDERED);
}

void dist_sum_float(float *v, long n) {
    if (world_ == 1) return;
    if (gathered) {
        float *g = gathered;
        for (long i = 0; i < n; i += ORDERED) {
            const int k = (int)(n - i < ORDERED ? n - i : ORDERED);
            MPI_Allgather(v + i, k, MPI_FLOAT, g, k, MPI_FLOAT, MPI_COMM_WORLD);
            shares_sum_float(g, world_, k, k);
            memcpy(v + i, g, sizeof(float) * (size_t)k);
        }
        return;
    }
    for (long i = 0; i < n; i += CHUNK)
        MPI_Allreduce(MPI_IN_PLACE, v + i, (int)(n - i < CHUNK ? n - i : CHUNK), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

void dist_sum_double(double *v, long n) {
    if (world_ == 1) return;
    if (gathered) {
        double *g = gathered;
        for (long i = 0; i < n; i += ORDERED) {
            const int k = (int)(n - i < ORDERED ? n - i : ORDERED);
            MPI_Allgather(v + i, k, MPI_DOUBLE, g, k, MPI_DOUBLE, MPI_COMM_WORLD);
            shares_sum_double(g, world_, k, k);
            memcpy(v + i, g, sizeof(double) * (size_t)k);
        }
        return;
    }
    for (long i = 0; i < n; i += CHUNK)
        MPI_Allreduce(MPI_IN_PLACE, v + i, (int)(n - i < CHUNK ? n - i : CHUNK), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void dist_gather_u64(const uint64_t *mine, int n, uint64_t *all) {
    if (world_ == 1) {
        memcpy(all, mine, sizeof(uint64_t) * (size_t)n);
        return;
    }
    MPI_Allgather(mine, n, MPI_UINT64_T, all, n, MPI_UINT64_T, MPI_COMM_WORLD);
}

int dist_any(int flag) {
    if (world_ == 1) return flag != 0;
    int f = flag != 0, any = 0;
    MPI_Allreduce(&f, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any;
}

int dist_agree(int rc, Err *e) {
    if (world_ == 1) return rc;
    int mine = rc ? rank_ : world_, first = world_;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == world_) return ERR_OK;
    // The failing rank's code and message, to everyone.
    static Err shared;
    if (rank_ == first) {
        shared = *e;
        shared.code = rc;
    }
    MPI_Bcast(&shared, (int)sizeof shared, MPI_BYTE, first, MPI_COMM_WORLD);
    *e = shared;
    shared_failure = 1;
    if (first != 0) {
        char msg[sizeof e->msg];
        snprintf(msg, sizeof msg, "rank %d: %s", first, shared.msg);
        snprintf(e->msg, sizeof e->msg, "%s", msg);
    }
    return e->code ? e->code : ERR_RUNTIME;
}

void dist_abort(int code) {
    if (inited && world_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

#else // a world of one process

void dist_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
}
void dist_finalize(void) {}
void dist_order_sums(void) {}
int dist_compiled(void) {
    return 0;
}
int dist_rank(void) {
    return 0;
}
int dist_world(void) {
    return 1;
}
const char *dist_library(void) {
    return "none";
}
void dist_sum_float(float *v, long n) {
    (void)v;
    (void)n;
}
void dist_sum_double(double *v, long n) {
    (void)v;
    (void)n;
}
void dist_gather_u64(const uint64_t *mine, int n, uint64_t *all) {
    memcpy(all, mine, sizeof(uint64_t) * (size_t)n);
}
int dist_any(int flag) {
    return flag != 0;
}
int dist_agree(int rc, Err *e) {
    (void)e;
    return rc;
}
void dist_abort(int code) {
    exit(code);
}
#endif

#ifdef ONECYCLE_MPI
int dist_rank(void) {
    return rank_;
}
int dist_world(void) {
    return world_;
}
#endif
