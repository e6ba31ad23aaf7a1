#!/bin/bash
# bench.sh (`make bench`): onecycle bench next to PyTorch, ResNet-56, batch 128, 1 and 2
# threads, in one run. Runs alternate (ours, PyTorch NCHW, PyTorch channels_last, ours, ...)
# so that load from other jobs on this shared machine falls on both sides alike; each figure
# is the best of its REPEATS runs. Prints a Markdown table and appends one dated row per
# thread count, with the commit, to results/bench.md.
#
# Each program is measured under its own best environment: with OPENBLAS_CORETYPE as the
# environment presets it (this one sets Haswell, OpenBLAS's AVX2 kernels) and with it unset
# (OpenBLAS picks its AVX-512 kernels by cpuid), and each side keeps its best. On a Zen 5,
# PyTorch trained 284-335 img/s with the preset and 207-226 without it (2026-12-07): unsetting
# it for both sides would flatter us. The table says which environment gave each best.
#
# Environment: SECONDS_PER_RUN (default 8), REPEATS (default 2), THREADS (default "1 2"),
# DEPTH (56), BATCH (128), PYTHON (/usr/bin/python3: Debian's python3-torch).
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${OPENBLAS_CORETYPE:-}
ENVS="unset"
[ -n "$PRESET" ] && ENVS="unset preset"
# in_env MODE CMD...: CMD with OPENBLAS_CORETYPE unset, or as the environment preset it.
in_env() {
    local mode=$1; shift
    if [ "$mode" = preset ]; then OPENBLAS_CORETYPE=$PRESET "$@"; else env -u OPENBLAS_CORETYPE "$@"; fi
}
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
# The best value of a key over "value env" lines, as "value (env)".
best_of() { sort -g -k1,1 | tail -1 | awk '{ printf "%s (%s)", $1, $2 }'; }
num() { awk '{ print $1 }' <<<"$1"; }
for t in $THREADS; do
    ot="" oe="" orss="" nt="" ne="" nrss="" ct="" ce="" crss=""
    for r in $(seq "$REPEATS"); do
        for env in $ENVS; do
            out=$(in_env "$env" ./onecycle bench --depth "$DEPTH" --batch "$BATCH" --threads "$t" --seconds "$SECS")
            ot+="$(key train_images_per_sec <<<"$out") $env"$'\n'; oe+="$(key eval_images_per_sec <<<"$out") $env"$'\n'
            orss+="$(key peak_rss_mb <<<"$out") $env"$'\n'
            out=$(in_env "$env" "$PYTHON" scripts/bench_pytorch.py --depth "$DEPTH" --batch "$BATCH" --threads "$t" --seconds "$SECS" --layout nchw)
            nt+="$(key train_images_per_sec <<<"$out") $env"$'\n'; ne+="$(key eval_images_per_sec <<<"$out") $env"$'\n'
            nrss+="$(key peak_rss_mb <<<"$out") $env"$'\n'
            out=$(in_env "$env" "$PYTHON" scripts/bench_pytorch.py --depth "$DEPTH" --batch "$BATCH" --threads "$t" --seconds "$SECS" --layout channels_last)
            ct+="$(key train_images_per_sec <<<"$out") $env"$'\n'; ce+="$(key eval_images_per_sec <<<"$out") $env"$'\n'
            crss+="$(key peak_rss_mb <<<"$out") $env"$'\n'
            echo "threads $t run $r, OPENBLAS_CORETYPE $env: ours $(tail -2 <<<"$ot" | head -1), NCHW $(tail -2 <<<"$nt" | head -1), channels_last $(tail -2 <<<"$ct" | head -1) (train img/s)" >&2
        done
    done
    OT=$(grep . <<<"$ot" | best_of); OE=$(grep . <<<"$oe" | best_of); NT=$(grep . <<<"$nt" | best_of)
    NE=$(grep . <<<"$ne" | best_of); CT=$(grep . <<<"$ct" | best_of); CE=$(grep . <<<"$ce" | best_of)
    BT=$(printf '%s\n%s\n' "$(num "$NT")" "$(num "$CT")" | sort -g | tail -1)
    BE=$(printf '%s\n%s\n' "$(num "$NE")" "$(num "$CE")" | sort -g | tail -1)
    # RSS of the PyTorch layout that trained fastest; ours at its best.
    if [ "$BT" = "$(num "$CT")" ]; then PRSS=$(grep . <<<"$crss" | sort -g | tail -1 | awk '{print $1}'); else PRSS=$(grep . <<<"$nrss" | sort -g | tail -1 | awk '{print $1}'); fi
    ORSS=$(grep . <<<"$orss" | sort -g | tail -1 | awk '{print $1}')
    table+="
| $t | $OT | $NT | $CT | $(ratio "$(num "$OT")" "$BT") | $OE | $NE | $CE | $(ratio "$(num "$OE")" "$BE") | $ORSS / $PRSS |"
    rows+="| $date | $commit | ResNet-$DEPTH b$BATCH | $t | $OT | $BT | $(ratio "$(num "$OT")" "$BT") | $OE | $BE | $(ratio "$(num "$OE")" "$BE") | $ORSS / $PRSS | CPU $fam; each side's best of OPENBLAS_CORETYPE unset / preset ($PRESET) |
"
done
echo
echo "ResNet-$DEPTH, batch $BATCH, $cpu, best of $REPEATS alternating runs of ${SECS}s per environment (OPENBLAS_CORETYPE: $ENVS${PRESET:+, preset $PRESET}), commit $commit"
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
