#!/usr/bin/env bash
# setup.sh: installs the Debian packages onecycle needs to build and to fetch its data
# (`make deps`). Idempotent: when everything is present it prints nothing and touches
# nothing; apt-get update runs only when something has to be installed.
set -euo pipefail

# Build: compiler, make, BLAS (and its OpenMP build, which shares our thread pool), libpng, zlib. Data (scripts/get_data.sh): curl for the official
# tarball, npm for the registry fallback; dataset-fashion-mnist installs Fashion-MNIST's
# original .gz files under /usr/share/datasets/fashion-mnist (about 30 MB), read in place.
# The ONNX export: protobuf-c (library and protoc-c) and the official onnx.proto, which
# Debian ships in python3-onnx (its onnx.checker also checks the export: make onnx-test).
PACKAGES=(gcc make libopenblas-dev libopenblas-openmp-dev libpng-dev zlib1g-dev curl dataset-fashion-mnist
          libprotobuf-c-dev protobuf-c-compiler python3-onnx)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
# npm often comes from outside Debian (nodesource's nodejs bundles it, nvm, ...); any npm on
# PATH will do, and installing Debian's on top could conflict with it.
command -v npm >/dev/null || missing+=(npm)

[[ ${#missing[@]} -eq 0 ]] && exit 0

command -v apt-get >/dev/null || {
    echo "setup: missing ${missing[*]}, and apt-get is not available: install them by hand" >&2
    exit 1
}
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || {
        echo "setup: missing ${missing[*]}; run as root (or install sudo) to install them" >&2
        exit 1
    }
    SUDO=(sudo)
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
