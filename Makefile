# onecycle: ResNet on CIFAR-10 with cyclical LR and momentum, in C on OpenBLAS.
#   make            build ./onecycle
#   make test       build and run the test suite (ends with "N passed, N failed")
#   make deps       install the Debian packages it needs (apt-get, as root)
#   make data       get CIFAR-10 into data/cifar-10-batches-bin and verify it
#   make bench      onecycle bench for ResNet-56 next to PyTorch (needs python3-torch)
#   make sanitize   the test suite under AddressSanitizer + UBSan
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
LDLIBS = $(BLAS_LIBS) -lpng -lz -lm
BUILD ?= build

LIB_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o)
TOOLS := $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/*.c))

.PHONY: all test deps data bench sanitize clean
all: onecycle $(TOOLS)

onecycle: $(BUILD)/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

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

# Tests run the binary too (CLI tests), so build both.
test: onecycle $(BUILD)/run_tests
	./$(BUILD)/run_tests $(SUITES)

deps:
	scripts/setup.sh

data: $(TOOLS)
	scripts/get_data.sh

bench: onecycle
	scripts/bench.sh

sanitize:
	$(MAKE) BUILD=build-san OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    build-san/run_tests onecycle-san
	ASAN_OPTIONS=detect_leaks=1 ONECYCLE_BIN=./onecycle-san ./build-san/run_tests $(SUITES)

onecycle-san: $(BUILD)/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

clean:
	rm -rf build build-san onecycle onecycle-san

-include $(wildcard $(BUILD)/*.d)
