#!/usr/bin/env bash
# valgrind.sh: a short training run (ResNet-8, 64 training images, 1 epoch, batch 32, one
# thread), then `train --resume` of its final checkpoint (reads it back, evaluates on the
# 32 test images), each under valgrind memcheck. (`eval` would score all 10,000 test
# images: too slow under valgrind.) Fails (exit 1) on
# any invalid access, use of uninitialised memory or leak (definite or possible).
# Usage: scripts/valgrind.sh [BINARY]   (default ./onecycle; `make valgrind` builds one
# without AVX-512, which valgrind cannot run, and passes it)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-./onecycle}
data=
for d in data/cifar-10-batches-bin ../shared/data/cifar-10-batches-bin; do
    if [ -f "$d/test_batch.bin" ]; then data=$d; break; fi
done
if [ -z "$data" ]; then
    echo "valgrind.sh: CIFAR-10 not found in data/ or ../shared/data (run make data)" >&2
    exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/vg.cfg" <<CFG
[data]
dir = $data
train_images = 64
test_images = 32
[model]
depth = 8
[train]
batch_size = 32
progress = plain
[schedule]
lr = 0.1
epochs = 1
CFG
# One thread: OpenBLAS and OpenMP start no worker threads, whose stacks valgrind would
# otherwise count as "possibly lost" at exit.
# Valgrind's virtual CPU has AVX2 but not AVX-512: name the matching OpenBLAS kernels.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Haswell
vg=(valgrind --leak-check=full --show-leak-kinds=definite,possible --errors-for-leak-kinds=definite,possible
    --track-origins=yes --error-exitcode=1)
echo "== valgrind: train (ResNet-8, 64 images, 1 epoch, batch 32, --threads 1)"
"${vg[@]}" "$bin" train "$tmp/vg.cfg" --out "$tmp/run" --threads 1 2>&1 | tee "$tmp/train.log" | grep -E "==[0-9]+== (ERROR SUMMARY|.*(definitely|indirectly|possibly) lost|.*still reachable|.*All heap blocks)|test_accuracy"
rc=${PIPESTATUS[0]}
echo "== valgrind: train --resume of its checkpoint"
"${vg[@]}" "$bin" train --resume "$tmp/run/checkpoint.ckpt" --threads 1 2>&1 | tee "$tmp/resume.log" | grep -E "==[0-9]+== (ERROR SUMMARY|.*(definitely|indirectly|possibly) lost|.*still reachable|.*All heap blocks)|test_accuracy"
rc2=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ] || [ "$rc2" -ne 0 ]; then
    echo "valgrind.sh: FAILED (train exit $rc, resume exit $rc2); full reports follow" >&2
    cat "$tmp/train.log" "$tmp/resume.log" >&2
    exit 1
fi
echo "valgrind.sh: clean"
