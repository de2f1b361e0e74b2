#!/usr/bin/env bash
# Compares grantgap with DuckDB and polars (Python) on one of three corpora.
#
# Usage: benches/compare.sh [generated|wide|cloudtrail] [GIGABYTES] [RUNS]
#                                                  (defaults: generated 2 5)
#
# generated: `grantgap generate`'s corpus; wide: an API gateway's log, 36-39 fields a
# line; cloudtrail: CloudTrail files as S3 delivers them, GIGABYTES uncompressed
# (the last two written by benches/corpora.py).
#
# Builds grantgap (release; GRANTGAP_BENCH_BIN=PATH runs that binary instead),
# installs the peers into a venv under the cache folder, generates the corpus once
# (kept in the cache for later runs), then runs the three alternately and prints the
# table that benches/README.md keeps.
set -euo pipefail
cd "$(dirname "$0")/.."
KIND=generated
case ${1:-} in
    generated | wide | cloudtrail) KIND=$1; shift ;;
esac
GB=${1:-2}
RUNS=${2:-5}
case $GB in
    '' | *[!0-9.]*) sed -n '4,5p' "$0" >&2; exit 2 ;;
esac
CACHE=${GRANTGAP_BENCH_CACHE:-$HOME/.cache/grantgap/bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/grantgap/target}
mkdir -p "$CACHE"

if [ -n "${GRANTGAP_BENCH_BIN:-}" ]; then
    BIN=$GRANTGAP_BENCH_BIN
else
    cargo build --release --quiet
    BIN=$CARGO_TARGET_DIR/release/grantgap
fi

if [ ! -x "$CACHE/venv/bin/python" ]; then
    python3 -m venv "$CACHE/venv"
fi
"$CACHE/venv/bin/pip" install --quiet --disable-pip-version-check -r benches/requirements.txt

if [ "$KIND" = generated ]; then
    # A generated event is 197 bytes on average.
    EVENTS=$(python3 -c "print(int($GB * 2**30 / 197))")
    CORPUS=$CACHE/corpus-$EVENTS-seed1
    if [ ! -f "$CORPUS/truth.jsonl" ]; then
        rm -rf "$CORPUS"
        "$BIN" generate --out "$CORPUS" --events "$EVENTS" --principals 1000 --seed 1
    fi
else
    CORPUS=$CACHE/$KIND-${GB}GB-seed1
    if [ ! -f "$CORPUS/counts.json" ]; then
        rm -rf "$CORPUS"
        python3 benches/corpora.py "$KIND" "$CORPUS" "$GB" --seed 1
    fi
fi

exec "$CACHE/venv/bin/python" benches/compare.py --kind "$KIND" --grantgap "$BIN" \
    --python "$CACHE/venv/bin/python" --corpus "$CORPUS" --runs "$RUNS" --out "$CARGO_TARGET_DIR/compare/$KIND"
