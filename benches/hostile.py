"""Bundles that once made a run quadratic or exponential (benches/README.md,
"Hostile sizes"): many peers on one endpoint, a pattern of many `**`, and a
large policy catalog. Standard library only.

Usage:
  python3 benches/hostile.py peers DIR DENIED ALLOWED EVENTS
  python3 benches/hostile.py pattern DIR
  python3 benches/hostile.py rules DIR RULES ENDPOINTS

Then: /usr/bin/time -v target/release/grantgap report DIR --format json -o OUT.json
"""
import json
import os
import sys

T0 = 1794787200000  # 2026-11-16T00:00:00Z


def lines(path, records):
    with open(path, "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")


def peers(out, denied, allowed, events):
    """DENIED principals holding Reader and ALLOWED holding Calibrator (and one
    of ten unrelated roles), all calling one endpoint, EVENTS requests in all."""
    os.makedirs(out, exist_ok=True)
    lines(f"{out}/roles.jsonl", [
        {"role": "Reader", "permissions": ["m.read"]},
        {"role": "Calibrator", "permissions": ["m.read", "m.calibrate"]},
        *({"role": f"Extra{k}", "permissions": [f"x{k}.a", f"x{k}.b"]} for k in range(10)),
    ])
    snapshots = [{"snapshot_at": T0, "principal": f"d{i}", "role": "Reader"} for i in range(denied)]
    for i in range(allowed):
        snapshots.append({"snapshot_at": T0, "principal": f"a{i}", "role": "Calibrator"})
        snapshots.append({"snapshot_at": T0, "principal": f"a{i}", "role": f"Extra{i % 10}"})
    lines(f"{out}/role_snapshots.jsonl", snapshots)
    principals = [(f"d{i}", 403) for i in range(denied)] + [(f"a{i}", 200) for i in range(allowed)]
    lines(f"{out}/events.jsonl", (
        {"ts": T0 + 1000 + n, "request_id": f"r{n}", "principal": principals[n % len(principals)][0],
         "method": "POST", "path": "/api/v1/machines/calibrate",
         "status": principals[n % len(principals)][1]}
        for n in range(events)))


def pattern(out):
    """One rule `/**/**/**/**/**/**/**/**/zzz` and two 100-segment paths."""
    os.makedirs(out, exist_ok=True)
    lines(f"{out}/policies.jsonl",
          [{"method": "*", "path": "/**/**/**/**/**/**/**/**/zzz", "all_of": ["z.read"]}])
    long = "/" + "/".join(["s"] * 100)
    lines(f"{out}/events.jsonl", [
        {"ts": T0 + 1, "principal": "svc", "method": "GET", "path": long, "status": 403},
        {"ts": T0 + 2, "principal": "svc", "method": "GET", "path": long[:-2] + "/zzz", "status": 403},
    ])


def letters(n):
    """n in the letters a-z: a path segment with no digit is not taken for an id."""
    out = ""
    while True:
        out = chr(ord("a") + n % 26) + out
        n //= 26
        if n == 0:
            return out


def rules(out, n_rules, n_endpoints):
    """RULES rules `GET /api/r<letters>/**`, and a denial on ENDPOINTS of them."""
    os.makedirs(out, exist_ok=True)
    lines(f"{out}/policies.jsonl", (
        {"method": "GET", "path": f"/api/r{letters(i)}/**", "all_of": [f"r{i}.read"]}
        for i in range(n_rules)))
    step = n_rules // n_endpoints
    lines(f"{out}/events.jsonl", (
        {"ts": T0 + j, "principal": f"svc{j % 50}", "method": "GET",
         "path": f"/api/r{letters(j * step)}/items", "status": 403}
        for j in range(n_endpoints)))


if __name__ == "__main__":
    kind, out, *sizes = sys.argv[1:]
    {"peers": peers, "pattern": pattern, "rules": rules}[kind](out, *map(int, sizes))
