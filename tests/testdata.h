// testdata.h: where the tests find the real CIFAR-10 files, and small run configs.
#ifndef ONECYCLE_TEST_TESTDATA_H
#define ONECYCLE_TEST_TESTDATA_H
#include "config.h"

// data/cifar-10-batches-bin or ../shared/data/cifar-10-batches-bin if it holds the
// official files, else NULL (tests that need it record a skip with the reason).
const char *testdata_cifar_dir(void);
// Writes text to DIR/name and returns the path (static buffer, valid until next call).
const char *testdata_write(const char *dir, const char *name, const char *text);
// Runs a shell command line, capturing stdout+stderr (truncated to cap); returns the
// exit status (or -1).
int testdata_run(const char *cmdline, char *out, int cap);
// The onecycle binary under test ($ONECYCLE_BIN or ./onecycle).
const char *testdata_bin(void);

#endif
