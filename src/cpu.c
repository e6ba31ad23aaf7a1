// cpu.c: OpenBLAS kernel selection by cpuid, and thread setup.
#include "cpu.h"
#include <cblas.h>
#include <cpuid.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *openblas_get_corename(void);

// ISA level: 4 AVX-512 (F, BW, VL, DQ), 3 AVX2+FMA, 2 AVX, 1 older.
static int isa_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return 4;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 3;
    if (__builtin_cpu_supports("avx")) return 2;
    return 1;
}

// The ISA level an OpenBLAS core's kernels use (case-insensitive names as 0.3.21 reports).
static int core_level(const char *core) {
    static const char *const l4[] = {"skylakex", "cooperlake", "sapphirerapids", NULL};
    static const char *const l3[] = {"haswell", "zen", "excavator", "steamroller", NULL};
    static const char *const l2[] = {"sandybridge", "bulldozer", "piledriver", NULL};
    const char *const *tables[] = {l4, l3, l2};
    for (int t = 0; t < 3; t++)
        for (int i = 0; tables[t][i]; i++)
            if (!strcasecmp(core, tables[t][i])) return 4 - t;
    return 1;
}

void cpu_setup(CpuInfo *ci, char **argv) {
    memset(ci, 0, sizeof *ci);
    const char *core = openblas_get_corename();
    snprintf(ci->core, sizeof ci->core, "%s", core ? core : "unknown");
    int isa = isa_level();
    snprintf(ci->best, sizeof ci->best, "%s",
             isa == 4 ? "SkylakeX" : isa == 3 ? "Haswell" : isa == 2 ? "Sandybridge" : ci->core);
    ci->reexeced = getenv("ONECYCLE_REEXEC") != NULL;
    ci->user_set = getenv("OPENBLAS_CORETYPE") != NULL && !ci->reexeced;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    ci->cores = n > 0 ? (int)n : 1;
    if (ci->user_set || ci->reexeced || core_level(ci->core) >= isa) return;
    // The library already chose its kernels at load time: only a fresh process can switch.
    setenv("OPENBLAS_CORETYPE", ci->best, 1);
    setenv("ONECYCLE_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    // If exec fails we carry on with the slow kernels; the header shows which core is used.
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("ONECYCLE_REEXEC");
}

int cpu_set_threads(int n) {
    if (n <= 0) {
        // The cores this process may run on: all of them alone, the ones mpirun bound a
        // rank to (--bind-to core / --map-by ...:PE=N) under MPI.
        cpu_set_t set;
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        if (!sched_getaffinity(0, sizeof set, &set) && CPU_COUNT(&set) > 0) c = CPU_COUNT(&set);
        n = c > 0 ? (int)c : 1;
    }
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
    return n;
}

void cpu_model(char *buf, unsigned cap) {
    unsigned a, b, c, d;
    char vendor[13] = "unknown";
    int family = 0, model = 0;
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        memcpy(vendor, &b, 4), memcpy(vendor + 4, &d, 4), memcpy(vendor + 8, &c, 4);
        vendor[12] = 0;
    }
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        family = (int)((a >> 8) & 0xf), model = (int)((a >> 4) & 0xf);
        if (family == 0xf) family += (int)((a >> 20) & 0xff);
        if (family == 0x6 || family >= 0xf) model += (int)((a >> 16) & 0xf) << 4;
    }
    int bf16 = 0;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) bf16 = (a >> 5) & 1;
    snprintf(buf, cap, "%s family %d model %d, %s%s", vendor, family, model,
             isa_level() == 4 ? "AVX-512" : isa_level() == 3 ? "AVX2" : "no AVX2", bf16 ? ", avx512_bf16" : "");
}

void cpu_describe(const CpuInfo *ci, int threads, char *buf, unsigned cap) {
    const char *how = ci->reexeced ? "auto-selected for this CPU" : ci->user_set ? "from OPENBLAS_CORETYPE" : "detected";
    int n = snprintf(buf, cap, "OpenBLAS core %s (%s), %d thread%s", ci->core, how, threads, threads == 1 ? "" : "s");
    if (ci->user_set && core_level(ci->core) < isa_level() && n > 0 && (unsigned)n < cap)
        snprintf(buf + n, cap - (unsigned)n, "; note: this CPU supports %s kernels (unset OPENBLAS_CORETYPE to use them)",
                 ci->best);
}
