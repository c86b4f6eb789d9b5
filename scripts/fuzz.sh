#!/usr/bin/env bash
# Runs the libFuzzer targets in fuzz/ (a cargo-fuzz project of its own).
#   bash scripts/fuzz.sh <target> <seconds>   fuzz one target for that long
#   bash scripts/fuzz.sh --smoke [seconds]    every target briefly (default 20 s each)
#   bash scripts/fuzz.sh --list               the targets
# Extra arguments after <seconds> go to libFuzzer (e.g. -seed=1 -runs=0).
# (The seed corpora are replayed without libFuzzer by the root `cargo test`:
# rust/core/tests/fuzz_corpus.rs, using the checks in fuzz/src/.)
#
# Only a stable toolchain is assumed: RUSTC_BOOTSTRAP=1 lets it accept the
# -Z flags cargo-fuzz passes. AddressSanitizer is used when it builds
# (FUZZ_SANITIZER=none skips it; that is also the fallback): without it
# libFuzzer still catches panics, overflows (debug assertions are on),
# timeouts and allocations past the RSS limit.
#
# New inputs go to fuzz/target/work-corpus/<target> (git-ignored); the small
# seed corpus fuzz/corpus/<target> is only read. Crashes land in
# fuzz/artifacts/<target>/ and reproduce with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(eventstream_decoder sigv4_canonical streaming_decoders)
export RUSTC_BOOTSTRAP=1
# Fuzz builds use other compiler flags: keep them out of the shared cache.
export CARGO_TARGET_DIR="$PWD/fuzz/target"
SANITIZER="${FUZZ_SANITIZER:-address}"

usage() {
    sed -n '2,6p' "$0" >&2
    exit 2
}

ensure_cargo_fuzz() {
    if ! cargo fuzz --version >/dev/null 2>&1; then
        cargo install --locked cargo-fuzz
    fi
}

build() {
    if ! cargo fuzz build -s "$SANITIZER" "$@"; then
        [ "$SANITIZER" = none ] && exit 1
        echo "fuzz.sh: the $SANITIZER build failed; falling back to -s none" >&2
        SANITIZER=none
        cargo fuzz build -s none "$@"
    fi
}

run() {
    local target=$1 seconds=$2
    shift 2
    local work="fuzz/target/work-corpus/$target"
    mkdir -p "$work" "fuzz/corpus/$target"
    # One job, one worker: the machine is shared. 10 s per input is a hang;
    # 1 GiB RSS is a runaway allocation (the inputs are at most 4 KiB).
    cargo fuzz run -s "$SANITIZER" "$target" "$work" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 "$@"
}

[ $# -ge 1 ] || usage
case "$1" in
--list)
    printf '%s\n' "${TARGETS[@]}"
    ;;
--smoke)
    seconds="${2:-20}"
    ensure_cargo_fuzz
    build
    for target in "${TARGETS[@]}"; do
        echo "== $target ($seconds s)"
        run "$target" "$seconds"
    done
    ;;
-*)
    usage
    ;;
*)
    [ $# -ge 2 ] || usage
    target=$1
    seconds=$2
    shift 2
    printf '%s\n' "${TARGETS[@]}" | grep -qx "$target" || {
        echo "fuzz.sh: unknown target $target (see --list)" >&2
        exit 2
    }
    ensure_cargo_fuzz
    build "$target"
    run "$target" "$seconds" "$@"
    ;;
esac
