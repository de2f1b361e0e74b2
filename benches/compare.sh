#!/usr/bin/env bash
# Compares grantgap with DuckDB and polars (Python) on a generated corpus.
#
# Usage: benches/compare.sh [GIGABYTES] [RUNS]     (defaults: 2 and 5)
#
# Builds grantgap (release), installs the peers into a venv under the cache
# folder, generates the corpus once (kept in the cache for later runs), then runs
# the three alternately and prints the table that benches/README.md keeps.
set -euo pipefail
cd "$(dirname "$0")/.."
GB=${1:-2}
RUNS=${2:-5}
CACHE=${GRANTGAP_BENCH_CACHE:-$HOME/.cache/grantgap/bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/grantgap/target}
mkdir -p "$CACHE"

cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/grantgap

if [ ! -x "$CACHE/venv/bin/python" ]; then
    python3 -m venv "$CACHE/venv"
fi
"$CACHE/venv/bin/pip" install --quiet --disable-pip-version-check -r benches/requirements.txt

# A generated event is 197 bytes on average.
EVENTS=$(python3 -c "print(int($GB * 2**30 / 197))")
CORPUS=$CACHE/corpus-$EVENTS-seed1
if [ ! -f "$CORPUS/truth.jsonl" ]; then
    rm -rf "$CORPUS"
    "$BIN" generate --out "$CORPUS" --events "$EVENTS" --principals 1000 --seed 1
fi

exec "$CACHE/venv/bin/python" benches/compare.py --grantgap "$BIN" --python "$CACHE/venv/bin/python" \
    --corpus "$CORPUS" --runs "$RUNS" --out "$CARGO_TARGET_DIR/compare"
