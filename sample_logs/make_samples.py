#!/usr/bin/env python3
"""Writes the four sample scenarios of sample_logs/ (deterministic: fixed seeds).

Each scenario follows one of the forum threads grantgap was built from; see
sample_logs/README.md for what each holds and what grantgap must conclude.
Run from anywhere: python3 sample_logs/make_samples.py
"""
import csv
import gzip
import io
import json
import os
import random
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
START = datetime(2026, 11, 16, tzinfo=timezone.utc)
DAYS = 4


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def write_jsonl(path, rows, gz=False):
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    if gz:
        # mtime=0 keeps the gzip bytes identical run to run.
        with open(path, "wb") as f:
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:
                g.write(text.encode())
    else:
        with open(path, "w") as f:
            f.write(text)


def write_csv(path, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    with open(path, "w") as f:
        f.write(buf.getvalue())


class Log:
    """Events of one scenario, with request ids in time order."""

    def __init__(self, rng, prefix):
        self.rng, self.prefix, self.rows = rng, prefix, []

    def at(self, lo=START, hi=START + timedelta(days=DAYS)):
        span = (hi - lo).total_seconds()
        return lo + timedelta(milliseconds=int(self.rng.random() * span * 1000))

    def add(self, t, principal, method, path, status, **extra):
        row = {"ts": t, "principal": principal, "method": method, "path": path, "status": status}
        row.update({k: v for k, v in extra.items() if v is not None})
        self.rows.append(row)

    def finish(self):
        self.rows.sort(key=lambda r: (r["ts"], r["principal"], r["path"]))
        for i, r in enumerate(self.rows):
            r["request_id"] = f"{self.prefix}-{i + 1:05d}"
            r["ts"] = iso(r["ts"])
        return self.rows


def snapshots(bindings_by_time):
    rows = []
    for t, bindings in bindings_by_time:
        for principal, roles in bindings.items():
            if not roles:
                rows.append({"snapshot_at": iso(t), "principal": principal, "role": ""})
            for role, scope in roles:
                row = {"snapshot_at": iso(t), "principal": principal, "role": role}
                if scope:
                    row["data_scope"] = scope
                rows.append(row)
    return rows


def daily(bindings, extra=()):
    times = [(START + timedelta(days=d), bindings) for d in range(DAYS)]
    return sorted(times + list(extra), key=lambda x: x[0])


def maintenance():
    """Thread 000: work-order updates denied although the account holds Maintenance Manager."""
    out = os.path.join(HERE, "maintenance")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(1)
    log = Log(rng, "mnt")
    wo = lambda: f"WO{rng.randint(10000, 99999)}"
    forbidden = {"status": 403, "message": "Forbidden: Insufficient permissions"}
    for _ in range(1500):
        log.add(log.at(), "svc-maint-automation", "GET", f"/api/v1/maintenance/workorders/{wo()}", 200)
    for _ in range(120):
        method = rng.choice(["PUT", "PATCH"])
        log.add(log.at(), "svc-maint-automation", method, f"/api/v1/maintenance/workorders/{wo()}",
                forbidden["status"], message=forbidden["message"], fields=["status"])
    for _ in range(600):
        log.add(log.at(), "svc-maint-costs", "PATCH", f"/api/v1/maintenance/workorders/{wo()}", 200, fields=["status"])
    for _ in range(35):
        log.add(log.at(), "svc-maint-costs", "PATCH", f"/api/v1/maintenance/workorders/{wo()}", 403,
                message=forbidden["message"], fields=["cost", "status"])
    for _ in range(7):
        # No policy rule, no permission named, no peers: nothing decides (unknown).
        log.add(log.at(), "svc-maint-automation", "POST", f"/api/v1/maintenance/workorders/{wo()}/attachments", 403,
                message="Forbidden")
    for _ in range(900):
        log.add(log.at(), "svc-maint-reporting", "GET", f"/api/v1/maintenance/assets/A-{rng.randint(100, 999)}", 200)
        log.add(log.at(), "svc-maint-reporting", "GET", "/api/v1/maintenance/workorders", 200)
    write_jsonl(os.path.join(out, "events.jsonl"), log.finish())
    write_jsonl(os.path.join(out, "roles.jsonl"), [
        {"role": "Maintenance Manager", "plane": "application",
         "permissions": ["maintenance.workorder.read", "maintenance.workorder.update", "maintenance.workorder.assign"]},
        {"role": "Maintenance_API_Read", "permissions": ["maintenance.workorder.read", "maintenance.asset.read"]},
        {"role": "Maintenance_API_Full_Access", "permissions": [
            "maintenance.workorder.read", "maintenance.workorder.write", "maintenance.workorder.update",
            "maintenance.asset.read"]},
        {"role": "Maintenance_API_Cost_Controller", "inherits": ["Maintenance_API_Full_Access"],
         "permissions": ["maintenance.workorder.cost.update"]},
        {"role": "Maintenance_API_Dispatcher", "permissions": ["maintenance.workorder.assign"]},
    ])
    write_jsonl(os.path.join(out, "policies.jsonl"), [
        {"method": "GET", "path": "/api/v1/maintenance/workorders", "all_of": ["maintenance.workorder.read"]},
        {"method": "GET", "path": "/api/v1/maintenance/workorders/{id}", "all_of": ["maintenance.workorder.read"]},
    ] + [
        {"method": m, "path": "/api/v1/maintenance/workorders/{id}", "all_of": ["maintenance.workorder.update"],
         "fields": {"cost": "maintenance.workorder.cost.update", "assignedTo": "maintenance.workorder.assign"}}
        for m in ("PUT", "PATCH")
    ] + [
        {"method": "GET", "path": "/api/v1/maintenance/assets/{id}", "all_of": ["maintenance.asset.read"]},
    ])
    write_jsonl(os.path.join(out, "role_snapshots.jsonl"), snapshots(daily({
        "svc-maint-automation": [("Maintenance Manager", None), ("Maintenance_API_Read", None)],
        "svc-maint-costs": [("Maintenance_API_Full_Access", None)],
        "svc-maint-reporting": [("Maintenance_API_Read", None)],
    })))


def project():
    """Thread 001: task updates denied though the token has project.tasks.write.

    The account gets Project Manager at 2026-11-18T10:20Z. Before that the role is
    missing; for ten minutes after it the grant is still syncing; until the next
    hourly token the old token lacks the scopes; after that the client still never
    asks for project.tasks.assignments.manage.
    """
    out = os.path.join(HERE, "project")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(2)
    log = Log(rng, "prj")
    granted = START + timedelta(days=2, hours=10, minutes=20)
    basic = ["project.read", "project.tasks.read", "project.tasks.write"]
    requested = basic + ["project.tasks.status.update"]
    manager = basic + ["project.tasks.status.update", "project.tasks.assignments.manage", "project.schedule.modify",
                       "project.workflow.execute"]
    tokens = []
    for h in range(DAYS * 24):
        t = START + timedelta(hours=h)
        held = manager if t >= granted else basic
        scopes = [s for s in requested if s in held]
        tokens.append({"token_id": f"tok-prj-{h:03d}", "principal": "svc-project-sync", "scopes": " ".join(scopes),
                       "issued_at": iso(t), "expires_at": iso(t + timedelta(hours=1))})
    hour = lambda t: int((t - START).total_seconds() // 3600)
    token_at = lambda t: f"tok-prj-{hour(t):03d}"
    scopes_at = lambda t: tokens[hour(t)]["scopes"].split()
    roles_at = lambda t: manager if t >= granted else basic
    task = lambda: f"/api/v1/projects/{rng.randint(1000, 1099)}/tasks/T-{rng.randint(1, 400)}"
    needs = {"status": "project.tasks.status.update", "assignee": "project.tasks.assignments.manage"}
    counts = {}

    def update(t, field):
        scope = needs.get(field)
        allowed = scope is None or (scope in roles_at(t) and scope in scopes_at(t) and t >= granted + timedelta(minutes=10))
        if allowed:
            log.add(t, "svc-project-sync", "PATCH", task(), 200, token_id=token_at(t), fields=field)
            return
        if t < granted:
            phase = "role"
        elif t < granted + timedelta(minutes=10):
            phase = "sync"
        elif scope not in scopes_at(t) and tokens[hour(t)]["issued_at"] < iso(granted):
            phase = "stale"
        else:
            phase = "scope"
        counts[(field, phase)] = counts.get((field, phase), 0) + 1
        headers = json.dumps({"X-Infor-Error-Code": "INSUFFICIENT_PROJECT_PERMISSIONS",
                              "X-Infor-Required-Scope": scope}, sort_keys=True)
        log.add(t, "svc-project-sync", "PATCH", task(), 403, token_id=token_at(t), fields=field,
                error_code="INSUFFICIENT_PROJECT_PERMISSIONS", headers=headers, message="Forbidden")

    for _ in range(1400):
        t = log.at()
        log.add(t, "svc-project-sync", "GET", task(), 200, token_id=token_at(t))
    for _ in range(500):
        update(log.at(), "percentComplete")
    for field, n in (("status", 160), ("assignee", 60)):
        for _ in range(n):
            update(log.at(), field)
    # Around the grant: while it syncs, and while the token issued at 10:00 is in use.
    for field, n in (("status", 8), ("assignee", 4)):
        for _ in range(n):
            update(log.at(granted, granted + timedelta(minutes=10)), field)
    for field, n in (("status", 15), ("assignee", 6)):
        for _ in range(n):
            update(log.at(granted + timedelta(minutes=10), granted + timedelta(minutes=40)), field)
    for _ in range(12):
        t = log.at()
        log.add(t, "svc-project-sync", "PATCH", task(), 403, token_id=token_at(t), fields="percentComplete",
                error_code="WORKFLOW_LOCKED", message="Task is locked by workflow state APPROVAL")
    for _ in range(9):
        # A retry loop that keeps the previous hour's token past its expiry.
        t = START + timedelta(hours=rng.randint(1, DAYS * 24 - 1), minutes=rng.randint(1, 4))
        log.add(t, "svc-project-sync", "GET", task(), 403, token_id=f"tok-prj-{hour(t) - 1:03d}",
                message="Forbidden")
    counts["expired"] = 9
    for _ in range(300):
        log.add(log.at(), "jane.pm@example.com", "PATCH", task(), 200, fields="status")
    rows = log.finish()
    header = ["ts", "principal", "token_id", "method", "path", "status", "error_code", "message", "headers",
              "fields", "request_id"]
    write_csv(os.path.join(out, "events.csv"), header, rows)
    write_csv(os.path.join(out, "tokens.csv"), ["token_id", "principal", "scopes", "issued_at", "expires_at"], tokens)
    write_jsonl(os.path.join(out, "roles.jsonl"), [
        {"role": "Project Contributor", "permissions": basic},
        {"role": "Project Manager", "inherits": ["Project Contributor"], "permissions": manager[3:]},
        {"role": "Project Scheduler", "permissions": ["project.schedule.modify"]},
    ])
    # No rule for task updates: the response headers are what name the required scope.
    write_jsonl(os.path.join(out, "policies.jsonl"), [
        {"method": "GET", "path": "/api/v1/projects/{id}/tasks/{id}", "all_of": ["project.tasks.read"]},
    ])
    before = {"svc-project-sync": [("Project Contributor", None)], "jane.pm@example.com": [("Project Manager", None)]}
    after = {"svc-project-sync": [("Project Manager", None)], "jane.pm@example.com": [("Project Manager", None)]}
    times = [(START + timedelta(days=d), before if START + timedelta(days=d) < granted else after) for d in range(DAYS)]
    write_jsonl(os.path.join(out, "role_snapshots.jsonl"), snapshots(sorted(times + [(granted, after)], key=lambda x: x[0])))
    return counts


def resources():
    """Thread 002: operator-to-machine assignment; the missing permission is granted mid-way."""
    out = os.path.join(HERE, "resources")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(3)
    log = Log(rng, "res")
    granted = START + timedelta(days=2, hours=9)
    synced = granted + timedelta(minutes=10)
    machines = [f"M-{n}" for n in range(1001, 1013)]
    body = ["operatorId", "shiftId"]
    msg = "Insufficient permissions for resource assignment"
    counts = {"role": 0, "sync": 0, "acl": 0}
    assign = lambda m: f"/api/v1/resources/machines/{m}/assign"

    def assignment(t, m):
        if t < granted:
            counts["role"] += 1
        elif t < synced:
            counts["sync"] += 1
        elif m == "M-1001":
            # Still denied after the grant: the machine's own ACL lacks the account.
            counts["acl"] += 1
        else:
            log.add(t, "svc-shift-handover", "POST", assign(m), 201, fields=body)
            return
        log.add(t, "svc-shift-handover", "POST", assign(m), 403, message=msg, fields=body)

    for _ in range(1200):
        log.add(log.at(), "svc-shift-handover", "GET", f"/api/v1/resources/machines/{rng.choice(machines)}", 200)
    for _ in range(400):
        log.add(log.at(), "svc-shift-handover", "GET", f"/api/v1/shifts/SHIFT-{rng.choice('ABC')}", 200)
    for _ in range(300):
        assignment(log.at(), "M-1001" if rng.random() < 0.25 else rng.choice(machines))
    for _ in range(6):
        assignment(log.at(granted, synced), rng.choice(machines[1:]))
    for _ in range(400):
        log.add(log.at(), "supervisor.ui", "POST", assign(rng.choice(machines)), 201, fields=body)
    # A machine that does not exist: 404 for the supervisor, 403 for the service account.
    for _ in range(9):
        log.add(log.at(), "svc-shift-handover", "GET", "/api/v1/resources/machines/M-9999", 403,
                message="Forbidden")
    for _ in range(3):
        log.add(log.at(), "supervisor.ui", "GET", "/api/v1/resources/machines/M-9999", 404,
                message="Machine M-9999 does not exist")
    # An endpoint the gateway never published.
    for _ in range(14):
        log.add(log.at(), "svc-shift-handover", "POST",
                f"/api/v1/resources/machines/{rng.choice(machines)}/maintenance-lock", 403,
                error_code="APIGW_POLICY_DENIED", message="Blocked by API gateway policy: endpoint not published")
    # Calibration: no policy rule; every principal that succeeds holds MachineCalibration.
    for who in ("calib.tech1", "calib.tech2", "supervisor.ui"):
        for _ in range(30):
            log.add(log.at(), who, "POST", f"/api/v1/resources/machines/{rng.choice(machines)}/calibrate", 200)
    for _ in range(11):
        log.add(log.at(), "svc-shift-handover", "POST",
                f"/api/v1/resources/machines/{rng.choice(machines)}/calibrate", 403, message="Forbidden")
    write_jsonl(os.path.join(out, "events.jsonl.gz"), log.finish(), gz=True)
    write_jsonl(os.path.join(out, "roles.jsonl"), [
        {"role": "ResourceManager", "permissions": ["resource:read", "resource:write", "ShiftManagement"]},
        {"role": "Resource Assignment API", "permissions": ["OperatorAssignment", "ShiftManagement", "resource:read"]},
        {"role": "Shift Supervisor", "inherits": ["ResourceManager"], "permissions": ["OperatorAssignment"]},
        {"role": "Calibration Tech", "permissions": ["MachineCalibration", "resource:read"]},
    ])
    write_jsonl(os.path.join(out, "policies.jsonl"), [
        {"method": "GET", "path": "/api/v1/resources/machines/{id}", "all_of": ["resource:read"]},
        {"method": "POST", "path": "/api/v1/resources/machines/{id}/assign",
         "all_of": ["OperatorAssignment", "ShiftManagement"]},
        {"method": "GET", "path": "/api/v1/shifts/*", "all_of": ["ShiftManagement"]},
    ])
    others = {"supervisor.ui": [("Shift Supervisor", None), ("Calibration Tech", None)],
              "calib.tech1": [("Calibration Tech", None)],
              "calib.tech2": [("Calibration Tech", None), ("ResourceManager", None)]}
    before_grant = dict(others, **{"svc-shift-handover": [("ResourceManager", None)]})
    after_grant = dict(others, **{"svc-shift-handover": [("ResourceManager", None), ("Resource Assignment API", None)]})
    times = [(START + timedelta(days=d), before_grant if START + timedelta(days=d) < granted else after_grant)
             for d in range(DAYS)] + [(granted, after_grant)]
    write_jsonl(os.path.join(out, "role_snapshots.jsonl"), snapshots(sorted(times, key=lambda x: x[0])))
    return counts


def inventory():
    """Thread 003: custom REST endpoint for inventory attributes, denied cross-org."""
    out = os.path.join(HERE, "inventory")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(4)
    log = Log(rng, "inv")
    path = "/fscmRestApi/resources/custom/inventoryAttributes"
    item = lambda: f"ITEM-{rng.randint(10000, 99999)}"
    for _ in range(1300):
        log.add(log.at(), "svc-wms-integration", "POST", path, 201, org="M1", object_id=item(),
                fields=["lotControl", "shelfLifeDays"])
    for org, n in (("M2", 45), ("M3", 25)):
        for _ in range(n):
            log.add(log.at(), "svc-wms-integration", "POST", path, 403, org=org, object_id=item(),
                    fields=["lotControl", "shelfLifeDays"],
                    message='{"error": "Insufficient privileges for cross-org update"}')
    for _ in range(60):
        log.add(log.at(), "svc-wms-legacy", "POST", path, 403, org="M1", object_id=item(), fields=["shelfLifeDays"],
                message="Forbidden")
    for _ in range(8):
        log.add(log.at(), "svc-wms-integration", "DELETE", f"{path}/{item()}", 403, org="M1",
                message="Denied by an explicit deny in the REST resource security policy 'Integrations never delete'")
    for _ in range(700):
        log.add(log.at(), "svc-wms-legacy", "GET", f"/fscmRestApi/resources/11.13.18.05/items/{rng.randint(1, 5000)}",
                200, org="M1")
    for _ in range(400):
        log.add(log.at(), "erp.admin", "POST", path, 201, org=rng.choice(["M1", "M2", "M3"]), object_id=item(),
                fields=["lotControl"])
    write_jsonl(os.path.join(out, "events.jsonl"), log.finish())
    roles = [
        {"role": "Supply Chain Inventory Manager", "permissions": ["SCM_MANAGE_ITEM_ATTRIBUTES_PRIV", "INV_VIEW_ITEMS_PRIV"]},
        {"role": "WMS Integration Custom", "inherits": ["Supply Chain Inventory Manager"],
         "permissions": ["CUSTOM_REST_ACCESS_PRIV"]},
        {"role": "Custom Object REST Access", "permissions": ["CUSTOM_REST_ACCESS_PRIV"]},
        {"role": "Application Implementation Consultant", "permissions": [
            "SCM_MANAGE_ITEM_ATTRIBUTES_PRIV", "INV_VIEW_ITEMS_PRIV", "CUSTOM_REST_ACCESS_PRIV", "FND_MANAGE_ALL_PRIV"]},
    ]
    with open(os.path.join(out, "roles.json"), "w") as f:
        json.dump(roles, f, indent=2, sort_keys=True)
        f.write("\n")
    write_jsonl(os.path.join(out, "policies.jsonl"), [
        {"method": "POST", "path": "/fscmRestApi/resources/custom/inventoryAttributes/*",
         "all_of": ["SCM_MANAGE_ITEM_ATTRIBUTES_PRIV", "CUSTOM_REST_ACCESS_PRIV"], "data_scoped": True},
        {"method": "POST", "path": "/fscmRestApi/resources/custom/inventoryAttributes",
         "all_of": ["SCM_MANAGE_ITEM_ATTRIBUTES_PRIV", "CUSTOM_REST_ACCESS_PRIV"], "data_scoped": True},
        {"method": "GET", "path": "/fscmRestApi/resources/*/items/{id}", "all_of": ["INV_VIEW_ITEMS_PRIV"],
         "data_scoped": True},
    ])
    write_jsonl(os.path.join(out, "role_snapshots.jsonl"), snapshots(daily({
        "svc-wms-integration": [("WMS Integration Custom", ["M1"])],
        "svc-wms-legacy": [("Supply Chain Inventory Manager", ["M1"])],
        "erp.admin": [("Application Implementation Consultant", None)],
    })))


if __name__ == "__main__":
    maintenance()
    print("project denials:", project())
    print("resources denials:", resources())
    inventory()
