#!/usr/bin/env bash
# make onnx-test: `onecycle export CKPT model.onnx` checked outside this program, for every
# architecture the program builds (resnet and preact with shortcut A and B, caffe; depth 14,
# so every kind of block and shortcut is in each):
#   1. a tiny training run (256 images, 4 steps) gives a checkpoint;
#   2. onnx.checker (Debian's python3-onnx, /usr/bin/python3) checks the exported model with
#      full shape inference (check_model.py);
#   3. ONNX Runtime (npm's onnxruntime-node, in tests/onnx/node_modules: `npm install` here
#      first) runs it on 64 CIFAR-10 test images, and every probability must match
#      `onecycle predict --csv --logits` on the same images to 1e-5 (compare.js).
# Run from the repository root after `make` and `make data`. About a minute on a busy
# 2-core machine. Ends with "N passed, N failed"; exits 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ONECYCLE=${ONECYCLE:-./onecycle}
DATA=${DATA:-data/cifar-10-batches-bin}
PYTHON=${ONNX_PYTHON:-/usr/bin/python3}
[[ -x $ONECYCLE ]] || { echo "onnx-test: $ONECYCLE not built (make)" >&2; exit 2; }
[[ -f $DATA/test_batch.bin ]] || { echo "onnx-test: no $DATA/test_batch.bin (make data)" >&2; exit 2; }
[[ -d tests/onnx/node_modules/onnxruntime-node ]] ||
    { echo "onnx-test: onnxruntime-node is not installed: (cd tests/onnx && npm install)" >&2; exit 2; }
"$PYTHON" -c 'import onnx' 2>/dev/null ||
    { echo "onnx-test: $PYTHON has no onnx module (apt-get install python3-onnx)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
# name arch shortcut
for variant in "resnet-A resnet A" "resnet-B resnet B" "preact-A preact A" "preact-B preact B" "caffe caffe A"; do
    read -r name arch shortcut <<<"$variant"
    cat >"$tmp/$name.cfg" <<CFG
[data]
dir = $DATA
train_images = 256
test_images = 64
[model]
arch = $arch
depth = 14
shortcut = $shortcut
[train]
batch_size = 64
progress = plain
threads = 1
[schedule]
epochs = 1
lr = 0.05
CFG
    ok=1
    "$ONECYCLE" train "$tmp/$name.cfg" --out "$tmp/$name" >"$tmp/$name.train.log" 2>&1 ||
        { echo "onnx-test $name: training failed:"; tail -5 "$tmp/$name.train.log"; ok=0; }
    ckpt=$tmp/$name/checkpoint.ckpt model=$tmp/$name.onnx
    [[ $ok == 1 ]] && { "$ONECYCLE" export "$ckpt" "$model" >/dev/null || ok=0; }
    [[ $ok == 1 ]] && { "$PYTHON" tests/onnx/check_model.py "$model" || ok=0; }
    [[ $ok == 1 ]] && {
        "$ONECYCLE" predict "$ckpt" --index 0-63 --top 10 --csv --logits --threads 1 >"$tmp/$name.csv" || ok=0
    }
    [[ $ok == 1 ]] && { node tests/onnx/compare.js "$model" "$DATA/test_batch.bin" "$tmp/$name.csv" "$name" || ok=0; }
    if [[ $ok == 1 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "onnx-test $name: FAILED"; fi
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
