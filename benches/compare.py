"""Runs grantgap, DuckDB and polars (Python) on the same corpus, alternating, and
prints one table: median wall time, MB/s, events/s, peak RSS, and how many times
faster grantgap is than each peer. Checks that the three agree on the denials
per principal.

Called by benches/compare.sh, which builds grantgap, installs the peers and
generates the corpus; see benches/README.md.
"""
import argparse
import csv
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))


def measure(cmd, env):
    """Wall seconds and peak RSS (KiB) of one run, from GNU time."""
    with tempfile.NamedTemporaryFile("r") as t:
        run = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", t.name] + cmd, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if run.returncode not in (0, 3):  # grantgap exits 3 only with --baseline
            sys.exit(f"{cmd[0]} failed ({run.returncode}): {run.stderr[-2000:]}")
        wall, rss = t.read().split()[-2:]
    return float(wall), int(rss)


def warm(files):
    """Reads every input once, so all tools start from the page cache; counts lines."""
    lines = 0
    for path in files:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 24):
                lines += chunk.count(b"\n")
    return lines


# Where each kind's events are, under the corpus's logs/.
EVENTS = {"generated": "events*", "wide": "events*", "cloudtrail": "*.json.gz"}


def peer_counts(path):
    """A peer's CSV: each group (the columns before `denials`) and its counts."""
    with open(path) as f:
        rows = list(csv.reader(f))
    k = rows[0].index("denials")
    return {tuple(r[:k]): tuple(int(n) for n in r[k:]) for r in rows[1:]}


def agreement(kind, out):
    duck, pol = peer_counts(os.path.join(out, "duckdb.csv")), peer_counts(os.path.join(out, "polars.csv"))
    if duck != pol:
        diff = sorted(set(duck.items()) ^ set(pol.items()))[:5]
        return False, f"DuckDB and polars disagree, e.g. {diff}"
    with open(os.path.join(out, "grantgap.json")) as f:
        report = json.load(f)
    ours = {p["principal"]: p["denied"] for p in report["principals"]}
    theirs = defaultdict(int)
    for key, counts in duck.items():
        theirs[key[0]] += counts[0]
    events = report["records"]["events"]
    read = f"grantgap used {events['used']} of {events['read']} records"
    if events["skipped"]:
        read += f", skipped {events['skipped']}: {events['skipped_by_reason']}"
    if ours != dict(theirs):
        diff = sorted(set(ours.items()) ^ set(theirs.items()))[:5]
        return False, f"grantgap and the peers disagree on denials per principal, e.g. {diff} ({read})"
    total = sum(theirs.values())
    if kind == "cloudtrail":
        groups = f"{len(duck)} principal/action groups"
    else:
        snap = sum(v[1] for v in duck.values())
        tok = sum(v[2] for v in duck.values())
        groups = f"{len(duck)} principal/method/endpoint groups, {snap} with a snapshot, {tok} with a token"
    return True, f"all three count {total} denials over {len(ours)} principals (peers: {groups}; {read})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=list(EVENTS), default="generated")
    ap.add_argument("--grantgap", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    logs = os.path.join(a.corpus, "logs")
    events = sorted(glob.glob(os.path.join(logs, EVENTS[a.kind])))
    size = sum(os.path.getsize(p) for p in events)
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads), POLARS_MAX_THREADS=str(a.threads),
               GRANTGAP_BENCH_THREADS=str(a.threads))
    tools = {
        "grantgap": [a.grantgap, "report", logs, "--format", "json", "-o",
                     os.path.join(a.out, "grantgap.json"), "--no-progress"],
        "duckdb": [a.python, os.path.join(HERE, "peers.py"), "duckdb", a.kind, logs,
                   os.path.join(a.out, "duckdb.csv")],
        "polars": [a.python, os.path.join(HERE, "peers.py"), "polars", a.kind, logs,
                   os.path.join(a.out, "polars.csv")],
    }
    lines = warm(events)
    warm(sorted(set(glob.glob(os.path.join(logs, "*"))) - set(events)))
    # What corpora.py counted: a CloudTrail file is one line of many records, compressed,
    # so events/s counts records and MB/s the JSON as parsed.
    counts = {}
    if os.path.exists(os.path.join(a.corpus, "counts.json")):
        with open(os.path.join(a.corpus, "counts.json")) as f:
            counts = json.load(f)
    records = counts.get("events", lines)
    parsed = counts.get("uncompressed_bytes", size)
    order = list(tools)
    results = defaultdict(list)
    for run in range(a.runs):
        for name in order[run % 3:] + order[:run % 3]:  # alternate who goes first
            wall, rss = measure(tools[name], env)
            results[name].append((wall, rss))
            print(f"run {run + 1}/{a.runs} {name:<8} {wall:7.2f} s {rss / 1024:8.0f} MB", file=sys.stderr)
    ok, agree = agreement(a.kind, a.out)
    ours = statistics.median(w for w, _ in results["grantgap"])
    rows = ["| tool | median wall | MB/s | events/s | peak RSS | grantgap is faster by |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name in order:
        med = statistics.median(w for w, _ in results[name])
        peak = max(r for _, r in results[name]) / 1024
        ratio = "-" if name == "grantgap" else f"{med / ours:.2f}x"
        rows.append(f"| {name} | {med:.2f} s | {parsed / 1e6 / med:.0f} | {records / med:,.0f} | {peak:.0f} MB | {ratio} |")
    table = "\n".join(rows)
    shape = f"{size:,} bytes, {lines:,} lines"
    if parsed != size:
        shape = f"{size:,} bytes ({parsed:,} uncompressed, which MB/s counts), {records:,} records"
    text = (f"Corpus ({a.kind}): {len(events)} event file(s), {shape}; {a.threads} threads each; "
            f"median of {a.runs} runs, alternating, page cache warm.\n\n{table}\n\nAgreement: {agree}\n")
    with open(os.path.join(a.out, "compare.md"), "w") as f:
        f.write(text)
    print(text)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
