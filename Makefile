# onecycle: ResNet on CIFAR-10 with cyclical LR and momentum, in C on OpenBLAS.
#   make            build ./onecycle
#   make test       build and run the test suite (ends with "N passed, N failed")
#   make deps       install the Debian packages it needs (apt-get, as root)
#   make data       get CIFAR-10 into data/cifar-10-batches-bin and verify it; verify the
#                   Fashion-MNIST files of Debian's dataset-fashion-mnist (make deps)
#   make bench      onecycle bench for ResNet-56 next to PyTorch (needs python3-torch)
#   make sanitize   the test suite under AddressSanitizer + UBSan
#   make portable   the test suite built without AVX-512 (the fallback convolution path)
#   make stress     the slow concurrent and signal cases against the binary (tests/stress.py)
#   make mpi        ./onecycle built with Open MPI (mpicc) for mpirun; make mpi-test: its tests
#   make onnx-test  the ONNX export checked by onnx.checker and run in ONNX Runtime against
#                   onecycle predict (tests/onnx/run.sh; first: cd tests/onnx && npm install)
CC ?= gcc
MARCH ?= native
OPT ?= -O3
CFLAGS ?= $(OPT) -march=$(MARCH) -g
CFLAGS += -std=c11 -D_GNU_SOURCE -fopenmp -Wall -Wextra -Werror -Wno-format-truncation -Iinclude
# The OpenMP build of Debian's OpenBLAS shares one thread pool with our OpenMP loops; the
# default pthread build spins its own threads against ours (measured 3x slower on 2 cores).
OPENBLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
ifneq ($(wildcard $(OPENBLAS_DIR)/libopenblas.so),)
BLAS_LIBS = -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas
else
BLAS_LIBS = -lopenblas
endif
LDLIBS = $(BLAS_LIBS) -lpng -lz -lm -lprotobuf-c
BUILD ?= build
# The ONNX export (src/onnx_export.c) builds its messages with protobuf-c from the official
# schema: onnx.proto of Debian's python3-onnx, compiled by protoc-c (protobuf-c-compiler)
# into $(GEN) at build time (make deps installs both, and libprotobuf-c-dev).
GEN = $(BUILD)/gen
ONNX_PROTO ?= $(firstword $(wildcard /usr/lib/python3/dist-packages/onnx/onnx.proto))
# ./onecycle is the serial build's or the MPI build's (make mpi): a link records which, and
# a plain make after make mpi links the serial one again.
ifneq ($(shell cat .onecycle-flavour 2>/dev/null),serial)
.PHONY: onecycle
endif

LIB_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/%.o) $(BUILD)/onnx.pb-c.o
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o)
TOOLS := $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/*.c))

.PHONY: all test deps data bench sanitize portable fuzz valgrind stress clean mpi mpi-test onnx-test docs
all: onecycle $(TOOLS)

onecycle: $(BUILD)/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
	@echo serial > .onecycle-flavour

$(BUILD)/%.o: src/%.c $(wildcard include/*.h) | $(BUILD)
	$(CC) $(CFLAGS) -MMD -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c tests/test.h $(wildcard include/*.h) | $(BUILD)
	@mkdir -p $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests -c -o $@ $<

$(BUILD)/run_tests: $(TEST_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%: tools/%.c $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD):
	@mkdir -p $(BUILD)

$(GEN)/onnx.pb-c.c $(GEN)/onnx.pb-c.h &: $(ONNX_PROTO) | $(BUILD)
	@test -n "$(ONNX_PROTO)" || { echo "make: onnx.proto not found (Debian's python3-onnx): run make deps, or set ONNX_PROTO=/path/to/onnx.proto" >&2; exit 1; }
	@mkdir -p $(GEN)
	protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(GEN) $(notdir $(ONNX_PROTO))

$(BUILD)/onnx.pb-c.o: $(GEN)/onnx.pb-c.c $(GEN)/onnx.pb-c.h
	$(CC) $(CFLAGS) -I$(GEN) -c -o $@ $<
$(BUILD)/onnx_export.o $(BUILD)/tests/test_onnx_export.o: $(GEN)/onnx.pb-c.h
$(BUILD)/onnx_export.o $(BUILD)/tests/test_onnx_export.o: CFLAGS += -I$(GEN)

# Tests run the binary too (CLI tests), so build both.
test: onecycle $(BUILD)/run_tests
	./$(BUILD)/run_tests $(SUITES)

# docs/config.md's tables are the output of `onecycle help config` (the help suite fails when
# they differ): `make docs` rewrites them between the BEGIN and END markers, keeping the prose.
docs: onecycle
	grep -q '^<!-- BEGIN onecycle help config' docs/config.md
	grep -q '^<!-- END onecycle help config -->' docs/config.md
	{ sed '/^<!-- BEGIN onecycle help config/q' docs/config.md && ./onecycle help config && \
	  sed -n '/^<!-- END onecycle help config -->/,$$p' docs/config.md; } > docs/config.md.tmp
	mv docs/config.md.tmp docs/config.md

deps:
	scripts/setup.sh

data: $(TOOLS)
	scripts/get_data.sh

bench: onecycle
	scripts/bench.sh

# Issue 13's slow cases, against the binary: concurrent starts into one run directory,
# kill -9 at random moments (checkpoint writes included), SIGINT/SIGTERM after every step
# position with a resume compared to a straight run, 3 GB and 100 GB sparse files, FIFOs and
# devices as inputs, kill -9 on a sweep; and (issue 35) a full disk on small tmpfs mounts:
# trainings, schedule outputs and a sweep (as root; skipped with a message where mount -t
# tmpfs is not allowed). One thread; about 13 s of CPU, 3 minutes of wall time on a loaded
# 2-core machine (tests/stress.py; CI runs it).
stress: onecycle
	python3 tests/stress.py --onecycle ./onecycle $(STRESS_ARGS)

# `onecycle export CKPT model.onnx` for resnet and preact (shortcut A and B) and caffe:
# onnx.checker (python3-onnx) with shape inference, then ONNX Runtime (onnxruntime-node,
# installed by `npm install` in tests/onnx) against onecycle predict on 64 test images,
# probabilities to 1e-5. Five 4-step trainings; a few seconds.
onnx-test: onecycle
	tests/onnx/run.sh

# make mpi: the same program linked with Open MPI's mpicc (Debian: libopenmpi-dev,
# openmpi-bin), as ./onecycle, for `mpirun -np N ./onecycle train CFG` (docs/mpi.md).
# Only src/dist.c differs (-DONECYCLE_MPI); every other object is the serial build's.
# make mpi-test: the suites that start mpirun (2 ranks, loopback; --allow-run-as-root
# --oversubscribe so they run as root in CI and on a machine with fewer cores than ranks).
MPICC ?= mpicc
MPI_OBJ := $(filter-out $(BUILD)/dist.o,$(LIB_OBJ)) $(BUILD)/dist-mpi.o
$(BUILD)/dist-mpi.o: src/dist.c include/dist.h include/common.h include/shares.h | $(BUILD)
	$(MPICC) $(CFLAGS) -DONECYCLE_MPI -c -o $@ $<
$(BUILD)/run_tests-mpi: $(TEST_OBJ) $(MPI_OBJ)
	$(MPICC) $(CFLAGS) -o $@ $^ $(LDLIBS)
mpi: $(BUILD)/main.o $(MPI_OBJ) $(BUILD)/run_tests-mpi
	$(MPICC) $(CFLAGS) -o onecycle $(BUILD)/main.o $(MPI_OBJ) $(LDLIBS)
	@echo mpi > .onecycle-flavour
mpi-test: mpi
	ONECYCLE_BIN=./onecycle ./$(BUILD)/run_tests-mpi dist layers $(SUITES)

# The test suite and the CLI tests' binary (onecycle-san) built with ASan+UBSan in build-san/.
# A sanitizer report exits 86, so it cannot pass for an expected exit status; the CLI
# children report too. ONECYCLE_QUICK shrinks the one long real-data run (see test_train.c).
# (LeakSanitizer finds nothing to report in libgomp/OpenBLAS here, so no suppressions.)
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:exitcode=86:strict_string_checks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86 ONECYCLE_QUICK=1
sanitize:
	$(MAKE) BUILD=build-san OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    build-san/run_tests onecycle-san
	$(SAN_ENV) ONECYCLE_BIN=./onecycle-san ./build-san/run_tests $(SUITES)

onecycle-san: $(BUILD)/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The test suite built for x86-64-v3 (AVX2, no AVX-512) in build-v3/: the path a CPU without
# AVX-512 takes (im2col + OpenBLAS for every convolution), kept compiling and correct.
portable:
	$(MAKE) BUILD=build-v3 MARCH=x86-64-v3 build-v3/run_tests onecycle-v3
	ONECYCLE_QUICK=1 ONECYCLE_BIN=./onecycle-v3 ./build-v3/run_tests $(SUITES)

onecycle-v3: $(BUILD)/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# make fuzz [FUZZ_SECONDS=60] [FUZZERS=...]: libFuzzer (clang, ASan+UBSan) on the config parser,
# the checkpoint reader and the data-set file readers, each for FUZZ_SECONDS, built in
# build-fuzz/ apart from the gcc build.
# New inputs go to build-fuzz/corpus-NAME, a crash to build-fuzz/crash-NAME-*: keep it as
# tests/fuzz/regressions/NAME/<what-it-found>, replayed by `make test` (suite fuzzreplay).
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -std=c11 -D_GNU_SOURCE -fopenmp -Wall -Wextra -Werror -Wno-pass-failed -Iinclude
# clang's OpenMP is libomp, so not the libgomp build of OpenBLAS (the fuzzers do no GEMMs).
FUZZ_BLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-pthread
FUZZ_LIBS = -L$(FUZZ_BLAS_DIR) -Wl,-rpath,$(FUZZ_BLAS_DIR) -lopenblas -lpng -lz -lm -lprotobuf-c
FUZZ_OBJ := $(LIB_SRC:src/%.c=build-fuzz/%.o) build-fuzz/onnx.pb-c.o
FUZZERS ?= config checkpoint datafile
.SECONDARY: $(FUZZ_OBJ)

build-fuzz/%.o: src/%.c $(wildcard include/*.h) $(GEN)/onnx.pb-c.h
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -I$(GEN) -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/onnx.pb-c.o: $(GEN)/onnx.pb-c.c
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -I$(GEN) -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -DFUZZ_MAIN -o $@ $< $(FUZZ_OBJ) $(FUZZ_LIBS)

fuzz: $(FUZZERS:%=build-fuzz/fuzz_%)
	@for f in $(FUZZERS); do \
	    mkdir -p build-fuzz/corpus-$$f; \
	    echo "fuzz_$$f: $(FUZZ_SECONDS) s"; \
	    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice -n 10 build-fuzz/fuzz_$$f \
	        -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -dict=tests/fuzz/$$f.dict \
	        -artifact_prefix=build-fuzz/crash-$$f- build-fuzz/corpus-$$f tests/fuzz/corpus/$$f \
	        || exit 1; \
	done

# The replay test includes the harnesses' sources.
$(BUILD)/tests/test_fuzzreplay.o: $(wildcard tests/fuzz/*.c)

# A short training run and a resume of its checkpoint under valgrind memcheck. Valgrind
# 3.19 cannot decode AVX-512, so this build (build-vg/, onecycle-vg) targets x86-64-v3.
valgrind:
	$(MAKE) BUILD=build-vg MARCH=x86-64-v3 onecycle-vg
	scripts/valgrind.sh ./onecycle-vg

onecycle-vg: $(BUILD)/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

clean:
	rm -rf build build-san build-v3 build-fuzz build-vg onecycle onecycle-san onecycle-v3 onecycle-vg .onecycle-flavour

-include $(wildcard $(BUILD)/*.d)
