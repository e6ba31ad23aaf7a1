#!/bin/bash
# bench.sh (`make bench`): onecycle bench next to PyTorch, ResNet-56, batch 128, 1 and 2
# threads, in one run. Runs alternate (ours, PyTorch NCHW, PyTorch channels_last, ours, ...)
# so that load from other jobs on this shared machine falls on both sides alike; each figure
# is the best of its REPEATS runs. Prints a Markdown table and appends one dated row per
# thread count, with the commit, to results/bench.md.
#
# OPENBLAS_CORETYPE is unset for both programs: this environment sets it to Haswell, which
# holds OpenBLAS to its AVX2 kernels (about half the speed on this AVX-512 machine) and
# also reaches PyTorch through any BLAS it loads. Unset, OpenBLAS picks its AVX-512 kernels
# by cpuid (results are identical up to float summation order).
#
# Environment: SECONDS_PER_RUN (default 8), REPEATS (default 2), THREADS (default "1 2"),
# DEPTH (56), BATCH (128), PYTHON (/usr/bin/python3: Debian's python3-torch).
set -euo pipefail
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE
SECS=${SECONDS_PER_RUN:-8}
REPEATS=${REPEATS:-2}
THREADS=${THREADS:-"1 2"}
DEPTH=${DEPTH:-56}
BATCH=${BATCH:-128}
PYTHON=${PYTHON:-/usr/bin/python3}
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo "bench.sh: $PYTHON cannot import torch; make bench compares against PyTorch: install it with" \
        "'apt-get install -y python3-torch' (Debian), or set PYTHON to a python that has it;" \
        "'./onecycle bench' alone measures onecycle without the comparison" >&2
    exit 2
fi
make -s onecycle

key() { awk -v k="$1:" '$1 == k { print $2 }'; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD -- src include 2>/dev/null; then commit="$commit+dirty"; fi
date=$(date -u +%Y-%m-%d)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
# The brand string can hide the generation (Zen 4 and Zen 5 both say "AMD EPYC" here).
fam=$(awk -F': ' '/^cpu family/ { f = $2 } /^model[ \t]*:/ { m = $2 } END { printf "family %s model %s", f, m }' /proc/cpuinfo)
cpu="$cpu ($fam)"
table="| threads | onecycle train img/s | PyTorch NCHW | PyTorch channels_last | train ratio (vs best) | onecycle eval img/s | PyTorch NCHW | PyTorch channels_last | eval ratio (vs best) | RSS MB ours / PyTorch best |
|---|---|---|---|---|---|---|---|---|---|"
rows=""
for t in $THREADS; do
    declare -a ot=() oe=() orss=() nt=() ne=() nrss=() ct=() ce=() crss=()
    for r in $(seq "$REPEATS"); do
        out=$(./onecycle bench --depth "$DEPTH" --batch "$BATCH" --threads "$t" --seconds "$SECS")
        ot+=("$(key train_images_per_sec <<<"$out")"); oe+=("$(key eval_images_per_sec <<<"$out")")
        orss+=("$(key peak_rss_mb <<<"$out")")
        out=$("$PYTHON" scripts/bench_pytorch.py --depth "$DEPTH" --batch "$BATCH" --threads "$t" --seconds "$SECS" --layout nchw)
        nt+=("$(key train_images_per_sec <<<"$out")"); ne+=("$(key eval_images_per_sec <<<"$out")")
        nrss+=("$(key peak_rss_mb <<<"$out")")
        out=$("$PYTHON" scripts/bench_pytorch.py --depth "$DEPTH" --batch "$BATCH" --threads "$t" --seconds "$SECS" --layout channels_last)
        ct+=("$(key train_images_per_sec <<<"$out")"); ce+=("$(key eval_images_per_sec <<<"$out")")
        crss+=("$(key peak_rss_mb <<<"$out")")
        echo "threads $t run $r: ours ${ot[-1]}/${oe[-1]}, NCHW ${nt[-1]}/${ne[-1]}, channels_last ${ct[-1]}/${ce[-1]} (train/eval img/s)" >&2
    done
    OT=$(best "${ot[@]}"); OE=$(best "${oe[@]}"); NT=$(best "${nt[@]}"); NE=$(best "${ne[@]}")
    CT=$(best "${ct[@]}"); CE=$(best "${ce[@]}")
    BT=$(best "$NT" "$CT"); BE=$(best "$NE" "$CE")
    # RSS of the PyTorch layout that trained fastest.
    if [ "$BT" = "$CT" ]; then PRSS=$(best "${crss[@]}"); else PRSS=$(best "${nrss[@]}"); fi
    ORSS=$(best "${orss[@]}")
    table+="
| $t | $OT | $NT | $CT | $(ratio "$OT" "$BT") | $OE | $NE | $CE | $(ratio "$OE" "$BE") | $ORSS / $PRSS |"
    rows+="| $date | $commit | ResNet-$DEPTH b$BATCH | $t | $OT | $BT | $(ratio "$OT" "$BT") | $OE | $BE | $(ratio "$OE" "$BE") | $ORSS / $PRSS | CPU $fam |
"
done
echo
echo "ResNet-$DEPTH, batch $BATCH, $cpu, best of $REPEATS alternating runs of ${SECS}s, commit $commit"
echo
echo "$table"

f=results/bench.md
if [ ! -f "$f" ]; then
    cat >"$f" <<'HDR'
# Benchmark log

`make bench` (scripts/bench.sh) appends one row per thread count: onecycle bench and
scripts/bench_pytorch.py run alternately in one session on the same machine, best of the
repeats; PyTorch is its faster layout (NCHW or channels_last). Ratios are ours / PyTorch.

| date | commit | model | threads | train img/s | PyTorch train | ratio | eval img/s | PyTorch eval | ratio | RSS MB ours / PyTorch | notes |
|---|---|---|---|---|---|---|---|---|---|---|---|
HDR
fi
printf '%s' "$rows" >>"$f"
echo
echo "appended to $f"
