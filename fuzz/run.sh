#!/usr/bin/env bash
# Fuzzes the robot id parser for a number of seconds (default 60).
# cargo-fuzz wants nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them, so no nightly toolchain is needed.
#
#   fuzz/run.sh [SECONDS] [extra libFuzzer arguments...]
#   SANITIZER=none fuzz/run.sh 300   # faster; default: address, as cargo-fuzz
set -euo pipefail

seconds="${1:-60}"
shift || true
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd "$here"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$here/target"
exec cargo fuzz run --sanitizer "${SANITIZER:-address}" parse_robot_id -- \
    -max_total_time="$seconds" "$@"
