#!/usr/bin/env bash
# scripts/mpi_scaling.sh [CONFIG] [EPOCHS]: one process x 2 threads against 2 ranks x 1
# thread on this machine, same global batch: img/s and seconds per epoch of each (README,
# "MPI"). Needs the MPI build (make mpi) and an idle machine: anything else running makes
# the figures meaningless. Default: configs/resnet56.cfg (batch 512) for 1 epoch, no
# evaluation but the last one; the runs go to a temporary directory, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
cfg=${1:-configs/resnet56.cfg}
epochs=${2:-1}
bin=./onecycle
mpirun=(mpirun --allow-run-as-root)
"$bin" info "$cfg" | grep -q "^MPI: Open MPI" || { echo "mpi_scaling: $bin is not the MPI build (make mpi)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(train "$cfg" --set "schedule.epochs=$epochs" --set train.eval_every=0 --set train.progress=plain
        --set train.checkpoint_every=0)

# The last log.csv row's training img/s, and the seconds of an epoch at that rate.
report() {
    local name=$1 dir=$2
    python3 - "$name" "$dir/log.csv" "$cfg" <<'PY'
import csv, sys
name, log = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(log)))
ips = [float(r["images_per_sec"]) for r in rows]
print(f"{name:<26} {sum(ips) / len(ips):8.1f} img/s   seconds at each epoch end (the last with the evaluation): "
      + ", ".join(f"{float(r['seconds']) if i == 0 else float(r['seconds']) - float(rows[i - 1]['seconds']):.1f}"
                  for i, r in enumerate(rows)))
PY
}

echo "config $cfg, $epochs epoch(s); $(nproc) cores; $(date -u +%FT%TZ)"
"$bin" "${common[@]}" --threads 2 --out "$tmp/one" > "$tmp/one.txt" 2>&1
report "1 process x 2 threads" "$tmp/one"
"${mpirun[@]}" -np 2 --bind-to core "$bin" "${common[@]}" --threads 1 --out "$tmp/two" > "$tmp/two.txt" 2>&1
report "2 ranks x 1 thread" "$tmp/two"
grep -h "final test accuracy" "$tmp/one.txt" "$tmp/two.txt"
