// cpu.h: picking OpenBLAS kernels for this CPU, and the thread count for everything.
//
// Debian's OpenBLAS 0.3.21 picks its kernels once, when the library loads, and does not
// recognise some recent CPUs (it falls back to "Prescott", about 5x slower). cpu_setup
// compares the core OpenBLAS chose with the CPU's instruction set (cpuid) and, when the
// core is weaker and the user has not set OPENBLAS_CORETYPE, re-executes the program once
// with OPENBLAS_CORETYPE set to the best core for that instruction set.
#ifndef ONECYCLE_CPU_H
#define ONECYCLE_CPU_H

struct CpuInfo;
typedef struct CpuInfo {
    char core[32];      // OpenBLAS core in use
    char best[32];      // best core for this CPU's ISA ("SkylakeX", "Haswell", ...)
    int user_set;       // OPENBLAS_CORETYPE came from the user's environment
    int reexeced;       // this process is the re-executed one
    int cores;          // online CPUs
} CpuInfo;

// Call first thing in main. May not return (execv). Never overrides a user's value.
void cpu_setup(CpuInfo *ci, char **argv);
// One thread count for OpenBLAS and our OpenMP loops (<= 0: the cores this process may run
// on, its affinity mask: all cores alone, its share under mpirun binding). Returns it.
int cpu_set_threads(int n);
// The CPU as cpuid names it: vendor, family and model (the display family and model, as
// /proc/cpuinfo's "cpu family" and "model"), and whether it has AVX-512 and avx512_bf16,
// e.g. "AuthenticAMD family 25 model 17, AVX-512, avx512_bf16". Figures measured on
// different models (Zen 4 and Zen 5 share a brand string) should not be compared.
void cpu_model(char *buf, unsigned cap);
// One line for the startup header, e.g. "OpenBLAS core SkylakeX (auto-selected), 2 threads".
void cpu_describe(const CpuInfo *ci, int threads, char *buf, unsigned cap);

#endif
