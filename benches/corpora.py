"""Corpora for benches/compare.sh that grantgap's own generator does not write,
so that its speed is not measured only on lines shaped by its own code.

  wide DIR GIGABYTES        an API gateway's access log: DIR/logs/events-0.jsonl ..
                            events-3.jsonl (one file per gateway node, one day, 36-39
                            fields a line), role_snapshots.jsonl and tokens.jsonl
  cloudtrail DIR GIGABYTES  CloudTrail as a trail delivers it to S3: DIR/logs/
                            ACCOUNT_CloudTrail_REGION_yyyymmddThhmmZ_UNIQUE.json.gz, each
                            one {"Records": [...]}; GIGABYTES counts uncompressed bytes

Each also writes DIR/counts.json, last (so its presence says the corpus is whole):
files, bytes, events, and the denials per principal as grantgap counts them.
Standard library only; the same seed writes the same bytes.

Usage: python3 benches/corpora.py wide|cloudtrail DIR GIGABYTES [--seed S]
"""
import argparse
import base64
import gzip
import json
import os
import random
import string
from collections import Counter
from datetime import datetime, timedelta, timezone

START = datetime(2026, 11, 2, tzinfo=timezone.utc)
START_MS = int(START.timestamp() * 1000)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def dumps(value):
    """Compact JSON, as gateways and CloudTrail write it."""
    return json.dumps(value, separators=(",", ":"))


DAYS = [f"{START + timedelta(days=d):%Y-%m-%d}" for d in range(366)]


def iso_ms(ms):
    """2026-11-02T08:15:02.120Z: the gateway's timestamps (by hand: datetime is the
    slowest part of a line)."""
    day, rest = divmod(ms - START_MS, DAY_MS)
    h, rest = divmod(rest, HOUR_MS)
    m, rest = divmod(rest, 60_000)
    return f"{DAYS[day]}T{h:02d}:{m:02d}:{rest // 1000:02d}.{rest % 1000:03d}Z"


def iso_s(ms):
    """2026-11-02T08:15:02Z: CloudTrail's, which have no milliseconds."""
    return f"{START + timedelta(milliseconds=ms - START_MS):%Y-%m-%dT%H:%M:%SZ}"


def uuid(rng):
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def pareto_weights(rng, n):
    """Traffic per principal: a few callers make most requests, as in real logs."""
    return [rng.paretovariate(1.16) for _ in range(n)]


def denial_rates(rng, weights, share, denying=0.35):
    """A denial rate per principal: a third of them denied at all, scaled so that
    denials are about `share` of all traffic."""
    rates = [rng.uniform(0.01, 0.25) if rng.random() < denying else 0.0 for _ in weights]
    mean = sum(w * r for w, r in zip(weights, rates)) / sum(weights)
    return [min(0.6, r * share / mean) for r in rates]


def write_counts(out, kind, seed, files, events, denials, **extra):
    counts = {"kind": kind, "seed": seed, "files": len(files),
              "bytes": sum(os.path.getsize(f) for f in files), **extra, "events": events,
              "denials": sum(denials.values()), "principals_denied": len(denials),
              "denials_per_principal": dict(sorted(denials.items()))}
    with open(os.path.join(out, "counts.json"), "w") as f:
        json.dump(counts, f, indent=1)
    print(f"{kind}: {counts['files']} files, {counts['bytes']:,} bytes, {events:,} events, "
          f"{counts['denials']:,} denials of {len(denials)} principals under {out}")


# --- wide: an API gateway's access log --------------------------------------

NODES = 4
# The gateway's routes: name, method, path ({n} a numeric id, {u} a uuid), service,
# body fields a write may touch.
ROUTES = [
    ("orders-list", "GET", "/api/v2/orders", "orders", ()),
    ("orders-get", "GET", "/api/v2/orders/{n}", "orders", ()),
    ("orders-create", "POST", "/api/v2/orders", "orders", ("customer_id", "items", "currency")),
    ("orders-update", "PATCH", "/api/v2/orders/{n}", "orders", ("status", "note", "shipping_address")),
    ("orders-cancel", "POST", "/api/v2/orders/{n}/cancel", "orders", ("reason",)),
    ("order-items-list", "GET", "/api/v2/orders/{n}/items", "orders", ()),
    ("order-item-get", "GET", "/api/v2/orders/{n}/items/{n}", "orders", ()),
    ("order-item-update", "PATCH", "/api/v2/orders/{n}/items/{n}", "orders", ("quantity", "price")),
    ("order-item-delete", "DELETE", "/api/v2/orders/{n}/items/{n}", "orders", ()),
    ("payments-get", "GET", "/api/v2/payments/{u}", "payments", ()),
    ("payments-refund", "POST", "/api/v2/payments/{u}/refunds", "payments", ("amount", "reason")),
    ("customers-get", "GET", "/api/v2/customers/{u}", "customers", ()),
    ("customers-update", "PUT", "/api/v2/customers/{u}", "customers", ("email", "phone", "tier")),
    ("customer-addresses", "GET", "/api/v2/customers/{u}/addresses", "customers", ()),
    ("customer-address-delete", "DELETE", "/api/v2/customers/{u}/addresses/{n}", "customers", ()),
    ("products-list", "GET", "/api/v2/catalog/products", "catalog", ()),
    ("products-get", "GET", "/api/v2/catalog/products/{n}", "catalog", ()),
    ("products-price", "PATCH", "/api/v2/catalog/products/{n}/price", "catalog", ("price", "currency")),
    ("stock-get", "GET", "/api/v2/inventory/warehouses/{n}/stock/{n}", "inventory", ()),
    ("stock-adjust", "POST", "/api/v2/inventory/warehouses/{n}/adjustments", "inventory", ("sku", "delta")),
    ("shipments-tracking", "GET", "/api/v2/shipments/{n}/tracking", "shipping", ()),
    ("shipments-label", "POST", "/api/v2/shipments/{n}/labels", "shipping", ("carrier", "format")),
    ("invoices-list", "GET", "/api/v2/billing/accounts/{n}/invoices", "billing", ()),
    ("invoice-pdf", "GET", "/api/v2/billing/invoices/{u}/pdf", "billing", ()),
    ("users-me", "GET", "/api/v2/users/me", "users", ()),
    ("user-sessions-revoke", "DELETE", "/api/v2/users/{u}/sessions", "users", ()),
    ("user-roles-set", "PUT", "/api/v2/users/{u}/roles", "users", ("roles",)),
    ("search", "GET", "/api/v2/search", "search", ()),
    ("report-export", "POST", "/api/v2/reports/{n}/exports", "reports", ("format", "range")),
    ("files-put", "PUT", "/api/v2/files/{u}", "files", ()),
    ("webhook-deliveries", "POST", "/api/v2/webhooks/{n}/deliveries", "notifications", ("event",)),
    ("orders-v1-get", "GET", "/api/v1/orders/{n}", "orders", ()),
]
SERVICES = sorted({r[3] for r in ROUTES})
ORGS = ["org-eu-01", "org-eu-02", "org-us-01", "org-us-02", "org-apac-01", "org-latam-01"]
SEARCH_TERMS = ["blue+shoes", "order+1042", "invoice", "warehouse+7", "refund", "gift+card"]
OK_STATUS = {"GET": 200, "POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}
USER_AGENTS = [
    "okhttp/4.12.0", "python-requests/2.31.0", "Go-http-client/2.0", "axios/1.6.8",
    "Apache-HttpClient/5.3.1 (Java/17.0.10)", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "orders-sync/3.4.1 (+https://build.internal/orders-sync)", "curl/8.5.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "ShopApp/7.12.0 (Android 14; Pixel 8)", "PostmanRuntime/7.37.3",
]
GEOS = [
    {"country": "DE", "region": "HE", "city": "Frankfurt am Main", "asn": 16509, "lat": 50.11, "lon": 8.68},
    {"country": "IE", "region": "L", "city": "Dublin", "asn": 16509, "lat": 53.34, "lon": -6.26},
    {"country": "US", "region": "VA", "city": "Ashburn", "asn": 14618, "lat": 39.04, "lon": -77.49},
    {"country": "US", "region": "OR", "city": "Boardman", "asn": 16509, "lat": 45.84, "lon": -119.7},
    {"country": "SG", "region": "01", "city": "Singapore", "asn": 16509, "lat": 1.29, "lon": 103.85},
    {"country": "BR", "region": "SP", "city": "Sao Paulo", "asn": 28573, "lat": -23.55, "lon": -46.63},
    {"country": "GB", "region": "ENG", "city": "London", "asn": 2856, "lat": 51.51, "lon": -0.13},
    {"country": "FR", "region": "IDF", "city": "Paris", "asn": 3215, "lat": 48.86, "lon": 2.35},
]
# 403s: who refused and how it says so (the gateway on a scope, the service on a permission).
REFUSALS = [
    ("insufficient_scope", "The access token does not carry the scope {scope}", False),
    ("forbidden", "Principal {principal} may not call route {route}", False),
    ("permission_denied", "Missing permission {scope} on {service}", True),
]
OTHER_ERRORS = [  # cumulative share of the allowed traffic, status, error code, message
    (0.012, 404, "not_found", "No such resource"),
    (0.015, 500, "upstream_error", "Upstream returned an invalid response"),
    (0.018, 429, "rate_limited", "Rate limit of the client exceeded"),
    (0.020, 401, "invalid_token", "The access token expired or was revoked"),
]
# A wide line is about 1,200 bytes: the mean gap between requests comes from it, so
# that each file spans about a day.
WIDE_LINE_BYTES = 1200


class Caller:
    """One principal of the gateway and what stays the same from request to request."""

    def __init__(self, rng, index):
        self.index = index
        kind = rng.choice(["svc", "svc", "svc", "job", "app", "partner"])
        home = rng.sample(SERVICES, rng.randint(1, 3))
        self.name = f"{kind}-{home[0]}-{index:03d}"
        routes = [r for r in ROUTES if r[3] in home]
        self.routes = rng.sample(routes, min(len(routes), rng.randint(3, 10)))
        self.route_weights = [rng.paretovariate(1.5) for _ in self.routes]
        # Denied on routes it has no grant for, called now and then all the same.
        ungranted = [r for r in routes if r not in self.routes] or \
            [r for r in ROUTES if r not in self.routes]
        self.refused = rng.sample(ungranted, min(len(ungranted), rng.randint(1, 2)))
        self.refusal = rng.choice(REFUSALS)
        self.oauth = rng.random() < 0.9  # the rest call with an API key: no token
        self.token_offset = rng.randrange(HOUR_MS)
        self.org = rng.choice(ORGS)
        self.orgs = [self.org] + rng.sample(ORGS, rng.randint(0, 2))
        self.scopes = " ".join(sorted({f"{r[3]}.{'read' if r[1] == 'GET' else 'write'}"
                                       for r in self.routes}))
        self.roles = sorted({f"{s.title()} API {rng.choice(['Reader', 'Writer'])}" for s in home})
        self.gains_role = rng.random() < 0.1
        self.rate_limit = rng.choice([600, 1200, 6000])
        agent = dumps(rng.choice(USER_AGENTS))
        auth = "oauth2_client_credentials" if self.oauth else "api_key"
        # What the client looks like from the gateway: a few addresses, each placed.
        self.clients = []
        for _ in range(rng.randint(1, 3)):
            ip = f"{rng.choice([3, 18, 34, 35, 52, 54, 91, 185])}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            geo = dumps(rng.choice(GEOS))
            self.clients.append(
                f'"auth_type":"{auth}","client_ip":"{ip}","x_forwarded_for":"{ip}, 10.0.{rng.randrange(256)}.'
                f'{rng.randrange(1, 255)}","user_agent":{agent},"geo":{geo}')


def wide_path(rng, template):
    parts = template.split("/")
    for i, part in enumerate(parts):
        if part == "{n}":
            parts[i] = str(rng.randrange(100_000, 10_000_000))
        elif part == "{u}":
            parts[i] = uuid(rng)
    return "/".join(parts)


def wide(out, gigabytes, seed):
    rng = random.Random(seed)
    logs = os.path.join(out, "logs")
    os.makedirs(logs, exist_ok=True)
    callers = [Caller(rng, i) for i in range(400)]
    weights = pareto_weights(rng, len(callers))
    rates = denial_rates(rng, weights, 0.03)
    # Per-route parts of a line, built once: the upstream's pods, the request headers.
    upstreams = {s: [dumps({"host": f"{s}.prod.svc.cluster.local", "port": 8080,
                            "addr": f"10.42.{rng.randrange(256)}.{rng.randrange(1, 255)}:8080"})
                     for _ in range(6)] for s in SERVICES}
    headers = {m: dumps({"accept": "application/json", "accept_encoding": "gzip, br",
                         **({} if m in ("GET", "DELETE") else {"content_type": "application/json"}),
                         "x_request_source": "edge"}) for m in OK_STATUS}
    per_file = gigabytes * 2**30 / NODES
    gap_ms = DAY_MS * WIDE_LINE_BYTES / per_file
    denials = Counter()
    events = 0
    last_ms = 0
    files = []
    for node in range(NODES):
        path = os.path.join(logs, f"events-{node}.jsonl")
        files.append(path)
        gateway = f"gw-prod-euw1-{'abc'[node % 3]}-{node + 1:02d}"
        t = float(START_MS)
        written = 0
        with open(path, "w") as f:
            while written < per_file:
                # A batch of principals at a time (choices() is much faster per item so),
                # no larger than what is left to write.
                batch = []
                left = int((per_file - written) / WIDE_LINE_BYTES) + 1
                for c in rng.choices(range(len(callers)), weights, k=min(4096, left)):
                    caller = callers[c]
                    t += rng.expovariate(1 / gap_ms)
                    ms = int(t)
                    denied = rng.random() < rates[c]
                    if denied:
                        route = rng.choice(caller.refused)
                    else:
                        route = rng.choices(caller.routes, caller.route_weights)[0]
                    line, status = wide_line(rng, caller, route, ms, denied, gateway, upstreams, headers)
                    if status == 403:
                        denials[caller.name] += 1
                    batch.append(line)
                chunk = "".join(batch)
                f.write(chunk)
                written += len(chunk)
                events += len(batch)
        last_ms = max(last_ms, ms)
    hours = (last_ms - START_MS) // HOUR_MS + 2
    with open(os.path.join(logs, "tokens.jsonl"), "w") as f:
        for c in callers:
            for k in range(hours if c.oauth else 0):
                issued = START_MS - c.token_offset + k * HOUR_MS
                f.write(dumps({"expires_at": iso_ms(issued + HOUR_MS), "issued_at": iso_ms(issued),
                               "principal": c.name, "scopes": c.scopes, "token_id": f"tok-{c.index:04d}-{k}"}) + "\n")
    with open(os.path.join(logs, "role_snapshots.jsonl"), "w") as f:
        # Every six hours the whole of everyone's bindings; some principals gain a role midway.
        for at in range(START_MS, last_ms + 1, 6 * HOUR_MS):
            for c in callers:
                for role in c.roles:
                    row = {"principal": c.name, "role": role, "snapshot_at": iso_ms(at)}
                    if len(c.orgs) == 1:
                        row["data_scope"] = c.orgs
                    f.write(dumps(dict(sorted(row.items()))) + "\n")
                if at > START_MS + 9 * HOUR_MS and c.gains_role:
                    f.write(dumps({"principal": c.name, "role": "Support API Reader", "snapshot_at": iso_ms(at)}) + "\n")
    write_counts(out, "wide", seed, files, events, denials)


def wide_line(rng, caller, route, ms, denied, gateway, upstreams, headers):
    """One access-log line and its status."""
    name, method, template, service, body = route
    status, error = OK_STATUS[method], None
    upstream_status = None
    if denied:
        status = 403
        code, text, from_upstream = caller.refusal
        scope = f"{service}.{'read' if method == 'GET' else 'write'}"
        error = (code, text.format(scope=scope, principal=caller.name, route=name, service=service))
        if from_upstream:
            upstream_status = 403
    else:
        roll = rng.random()
        for share, other, code, text in OTHER_ERRORS:
            if roll < share:
                status, error = other, (code, text)
                if other in (404, 500):
                    upstream_status = other
                break
        else:
            upstream_status = status
    upstream = upstream_status is not None
    upstream_ms = rng.lognormvariate(2.5, 0.8) if upstream else 0.0
    gateway_ms = rng.uniform(0.3, 4.0)
    fields = ""
    if body and rng.random() < 0.6:
        fields = f',"fields":{dumps(sorted(rng.sample(body, rng.randint(1, len(body)))))}'
    errors = f',"error_code":"{error[0]}","message":{dumps(error[1])}' if error else ""
    query = ""
    if name.endswith("-list"):
        query = f"page={rng.randint(1, 40)}&limit={rng.choice((20, 50, 100))}"
    elif name == "search":
        query = f"q={rng.choice(SEARCH_TERMS)}&sort={rng.choice(('relevance', 'price', '-created'))}"
    hour = (ms - START_MS + caller.token_offset) // HOUR_MS
    token = f'"tok-{caller.index:04d}-{hour}"' if caller.oauth else "null"
    return (
        f'{{"ts":"{iso_ms(ms)}","request_id":"{uuid(rng)}","trace_id":"{rng.getrandbits(128):032x}",'
        f'"span_id":"{rng.getrandbits(64):016x}","gateway":"{gateway}","env":"prod","route":"{name}",'
        f'"service":"{service}","upstream":{rng.choice(upstreams[service])},"principal":"{caller.name}",'
        f'"token_id":{token},"org":"{caller.org}",{rng.choice(caller.clients)},"method":"{method}",'
        f'"host":"api.example.com","scheme":"https","protocol":"{rng.choice(("HTTP/1.1", "HTTP/2"))}",'
        f'"tls_version":"TLSv1.3","tls_cipher":"TLS_AES_128_GCM_SHA256",'
        f'"path":"{wide_path(rng, template)}","query":"{query}","request_headers":{headers[method]},'
        f'"status":{status},"upstream_status":{upstream_status if upstream else "null"},'
        f'"latency_ms":{upstream_ms + gateway_ms:.2f},'
        f'"upstream_latency_ms":{f"{upstream_ms:.2f}" if upstream else "null"},'
        f'"gateway_latency_ms":{gateway_ms:.2f},'
        f'"bytes_in":{0 if method in ("GET", "DELETE") else rng.randrange(200, 4000)},'
        f'"bytes_out":{rng.randrange(120, 48000) if status < 300 else rng.randrange(90, 400)},'
        f'"cache":"{"MISS" if method == "GET" else "BYPASS"}",'
        f'"rate_limit":{{"limit":{caller.rate_limit},"remaining":{rng.randrange(caller.rate_limit)}}},'
        f'"sampled":{"true" if rng.random() < 0.1 else "false"}{fields}{errors}}}\n'
    ), status


# --- cloudtrail: CloudTrail as a trail delivers it to S3 --------------------

# Delivery streams: account, region, mean records in one file (one file per stream
# every five minutes; CloudTrail writes a few hundred to a few thousand records each).
STREAMS = [
    ("418734610922", "us-east-1", 2400), ("418734610922", "eu-west-1", 1700),
    ("418734610922", "us-west-2", 800), ("552013889407", "us-east-1", 700),
    ("552013889407", "eu-west-1", 450), ("730184226915", "us-east-1", 600),
    ("730184226915", "ap-southeast-2", 250),
]
ENVS = {"418734610922": "prod", "552013889407": "staging", "730184226915": "shared"}
WINDOW_MS = 5 * 60_000
CT_PRINCIPALS = {"418734610922": 190, "552013889407": 110, "730184226915": 50}
ALNUM = string.ascii_uppercase + string.digits
SDK_AGENTS = [
    "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/{api}#1.58.2",
    "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.220-209.869.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.12.4 md/pyimpl#CPython exec-env/AWS_ECS_FARGATE cfg/retry-mode#legacy Botocore/1.34.144",
    "aws-sdk-java/2.26.20 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS "
    "Java/17.0.11 vendor/Amazon.com_Inc. md/io#sync md/http#Apache ua/2.0 cfg/retry-mode#legacy",
    "aws-sdk-nodejs/2.1659.0 linux/v20.15.1 exec-env/AWS_Lambda_nodejs20.x promise",
]
HUMAN_AGENTS = [
    "aws-cli/2.17.13 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#{api}",
    "[Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36]",
    "Terraform/1.9.2 (+https://www.terraform.io) terraform-provider-aws/5.58.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go-v2/1.30.1 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/{api}#1.40.1",
]


class Account:
    """What an account holds: the resources its principals act on."""

    def __init__(self, rng, number):
        env = ENVS[number]
        self.number = number
        self.buckets = [f"{env}-{b}-{number[-4:]}" for b in
                        ("orders-exports", "media-assets", "data-lake-raw", "data-lake-curated",
                         "app-config", "backups", "ml-artifacts")]
        self.functions = [f"{env}-{f}" for f in
                          ("orders-webhook", "image-resize", "invoice-render", "nightly-etl",
                           "slack-notifier", "token-rotator", "search-indexer", "fraud-score")]
        self.tables = [f"{env}-{t}" for t in ("orders", "customers", "sessions", "idempotency-keys",
                                               "feature-flags", "inventory")]
        self.queues = [f"{env}-{q}" for q in ("order-events", "emails", "etl-jobs", "dead-letter")]
        self.topics = [f"{env}-{t}" for t in ("alerts", "order-events", "deployments")]
        self.keys = [uuid(rng) for _ in range(4)]
        self.secrets = [f"{env}/{s}-{''.join(rng.choices(string.ascii_letters, k=6))}" for s in
                        ("orders/db-password", "payments/api-key", "search/admin-token")]
        self.instances = [f"i-0{rng.getrandbits(64):016x}" for _ in range(30)]
        self.parameters = [f"/{env}/{p}" for p in ("orders/db-url", "orders/feature-x",
                                                    "payments/endpoint", "search/replicas")]
        self.roles = []  # filled as principals are made: what AssumeRole and GetRole name
        self.nat_ips = {region: [f"{rng.choice([3, 18, 34, 44, 52, 54])}.{rng.randrange(256)}."
                                 f"{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(3)]
                        for _, region, _ in STREAMS}


def b64(rng, nbytes):
    return base64.b64encode(rng.getrandbits(8 * nbytes).to_bytes(nbytes, "big")).decode()


def s3_object(rng, a, region, name, read_only):
    bucket = rng.choice(a.buckets)
    key = f"{rng.choice(('exports', 'raw/2026/11/02', 'images/originals', 'models'))}/{uuid(rng)}." \
          f"{rng.choice(('json', 'parquet', 'jpg', 'csv.gz'))}"
    size = rng.randrange(200, 5_000_000)
    params = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": key}
    if name == "ListObjects":
        params = {"list-type": "2", "bucketName": bucket, "encoding-type": "url",
                  "prefix": key.rsplit("/", 1)[0] + "/", "Host": f"{bucket}.s3.{region}.amazonaws.com"}
    extra = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
             "bytesTransferredIn": 0 if read_only else size, "AuthenticationMethod": "AuthHeader",
             "x-amz-id-2": b64(rng, 48), "bytesTransferredOut": size if name == "GetObject" else 0}
    response = None if read_only else {"x-amz-server-side-encryption": "aws:kms",
                                       "x-amz-version-id": b64(rng, 24).replace("+", ".").replace("/", "_")}
    bucket_arn = f"arn:aws:s3:::{bucket}"
    resources = [{"accountId": a.number, "type": "AWS::S3::Bucket", "ARN": bucket_arn}]
    target = bucket_arn
    if name != "ListObjects":
        target = f"{bucket_arn}/{key}"
        resources.insert(0, {"type": "AWS::S3::Object", "ARN": target})
    return params, response, resources, extra, target


def ec2_instances(rng, a, region, name, read_only):
    if name == "DescribeInstances":
        service = rng.choice(("orders", "search", "etl"))
        return ({"instancesSet": {}, "filterSet": {"items": [
            {"name": "tag:Service", "valueSet": {"items": [{"value": service}]}}]}},
                None, None, None, f"arn:aws:ec2:{region}:{a.number}:instance/*")
    instance = rng.choice(a.instances)
    states = {"StartInstances": ((0, "pending"), (80, "stopped")),
              "StopInstances": ((64, "stopping"), (16, "running"))}[name]
    return ({"instancesSet": {"items": [{"instanceId": instance}]}},
            {"requestId": uuid(rng), "instancesSet": {"items": [{
                "instanceId": instance, "currentState": {"code": states[0][0], "name": states[0][1]},
                "previousState": {"code": states[1][0], "name": states[1][1]}}]}},
            None, None, f"arn:aws:ec2:{region}:{a.number}:instance/{instance}")


def lambda_function(rng, a, region, name, read_only):
    function = rng.choice(a.functions)
    arn = f"arn:aws:lambda:{region}:{a.number}:function:{function}"
    if name == "ListFunctions20150331":
        return None, None, None, None, "*"
    if name == "Invoke":
        return ({"functionName": arn, "invocationType": rng.choice(("RequestResponse", "Event"))}, None,
                [{"accountId": a.number, "type": "AWS::Lambda::Function", "ARN": arn}],
                {"functionVersion": f"{arn}:$LATEST"}, arn)
    return {"functionName": function}, None, None, None, arn


def iam_role(rng, a, region, name, read_only):
    role = rng.choice(a.roles)
    arn = f"arn:aws:iam::{a.number}:role/{role}"
    if name == "AttachRolePolicy":
        policy = f"arn:aws:iam::aws:policy/{rng.choice(('ReadOnlyAccess', 'AmazonS3FullAccess', 'AWSLambda_FullAccess'))}"
        return {"roleName": role, "policyArn": policy}, None, None, None, arn
    return {"roleName": role}, None, None, None, arn


def sts_call(rng, a, region, name, read_only):
    if name == "GetCallerIdentity":
        return None, None, None, None, "*"
    role = rng.choice(a.roles)
    arn = f"arn:aws:iam::{a.number}:role/{role}"
    session = f"botocore-session-{rng.randrange(1_760_000_000, 1_770_000_000)}"
    role_id = "AROA" + "".join(rng.choices(ALNUM, k=17))
    response = {"credentials": {"accessKeyId": "ASIA" + "".join(rng.choices(ALNUM, k=16)),
                                "sessionToken": b64(rng, 540), "expiration": "Nov 2, 2026, 1:04:13 AM"},
                "assumedRoleUser": {"assumedRoleId": f"{role_id}:{session}",
                                    "arn": f"arn:aws:sts::{a.number}:assumed-role/{role.rsplit('/', 1)[-1]}/{session}"}}
    return ({"roleArn": arn, "roleSessionName": session, "durationSeconds": 3600}, response,
            [{"accountId": a.number, "type": "AWS::IAM::Role", "ARN": arn}], None, arn)


def dynamodb_table(rng, a, region, name, read_only):
    table = rng.choice(a.tables)
    arn = f"arn:aws:dynamodb:{region}:{a.number}:table/{table}"
    params = {"tableName": table}
    if name in ("GetItem", "PutItem"):
        params["key"] = {"pk": f"ORDER#{rng.randrange(10_000_000)}", "sk": "META"}
    elif name == "Query":
        params.update(keyConditionExpression="pk = :pk", indexName="by-customer", limit=50)
    return params, None, [{"accountId": a.number, "type": "AWS::DynamoDB::Table", "ARN": arn}], None, arn


def kms_key(rng, a, region, name, read_only):
    arn = f"arn:aws:kms:{region}:{a.number}:key/{rng.choice(a.keys)}"
    params = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
              "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{rng.choice(a.buckets)}"}}
    if name == "GenerateDataKey":
        params = {"keyId": f"alias/{ENVS[a.number]}-data", "keySpec": "AES_256",
                  "encryptionContext": params["encryptionContext"]}
    return params, None, [{"accountId": a.number, "type": "AWS::KMS::Key", "ARN": arn}], None, arn


def secret_value(rng, a, region, name, read_only):
    arn = f"arn:aws:secretsmanager:{region}:{a.number}:secret:{rng.choice(a.secrets)}"
    return {"secretId": arn}, None, None, None, arn


def sqs_queue(rng, a, region, name, read_only):
    queue = rng.choice(a.queues)
    url = f"https://sqs.{region}.amazonaws.com/{a.number}/{queue}"
    arn = f"arn:aws:sqs:{region}:{a.number}:{queue}"
    if name == "SendMessage":
        params = {"queueUrl": url, "messageBody": "HIDDEN_DUE_TO_SECURITY_REASONS"}
        response = {"mD5OfMessageBody": f"{rng.getrandbits(128):032x}", "messageId": uuid(rng)}
    else:
        params = {"queueUrl": url, "maxNumberOfMessages": 10, "waitTimeSeconds": 20}
        response = None
    return params, response, [{"accountId": a.number, "type": "AWS::SQS::Queue", "ARN": arn}], None, arn


def sns_topic(rng, a, region, name, read_only):
    arn = f"arn:aws:sns:{region}:{a.number}:{rng.choice(a.topics)}"
    return ({"topicArn": arn, "message": "HIDDEN_DUE_TO_SECURITY_REASONS"}, {"messageId": uuid(rng)},
            [{"accountId": a.number, "type": "AWS::SNS::Topic", "ARN": arn}], None, arn)


def ssm_parameter(rng, a, region, name, read_only):
    parameter = rng.choice(a.parameters)
    return ({"name": parameter, "withDecryption": True}, None, None, None,
            f"arn:aws:ssm:{region}:{a.number}:parameter{parameter}")


def ecr_image(rng, a, region, name, read_only):
    if name == "GetAuthorizationToken":
        return None, None, None, None, "*"
    repo = rng.choice(("orders-api", "search-indexer", "etl-runner"))
    return ({"repositoryName": repo, "registryId": a.number,
             "imageIds": [{"imageTag": f"v1.{rng.randrange(40)}.{rng.randrange(10)}"}],
             "acceptedMediaTypes": ["application/vnd.docker.distribution.manifest.v2+json"]}, None,
            [{"accountId": a.number, "ARN": f"arn:aws:ecr:{region}:{a.number}:repository/{repo}"}],
            None, f"arn:aws:ecr:{region}:{a.number}:repository/{repo}")


def cloudwatch_metrics(rng, a, region, name, read_only):
    return ({"startTime": "Nov 2, 2026, 12:00:00 AM", "endTime": "Nov 2, 2026, 1:00:00 AM",
             "metricDataQueries": [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/SQS",
                                    "metricName": "ApproximateNumberOfMessagesVisible"},
                                    "period": 60, "stat": "Maximum"}}]}, None, None, None, "*")


# The calls: event source, event name, IAM action, read-only, data event, how its
# parameters are built, its error code when denied (none: no policy can deny it), and
# its not-found error if any.
OPERATIONS = [
    ("s3", "GetObject", "s3:GetObject", True, True, s3_object, "AccessDenied", "NoSuchKey"),
    ("s3", "HeadObject", "s3:GetObject", True, True, s3_object, "AccessDenied", "NoSuchKey"),
    ("s3", "PutObject", "s3:PutObject", False, True, s3_object, "AccessDenied", None),
    ("s3", "ListObjects", "s3:ListBucket", True, True, s3_object, "AccessDenied", "NoSuchBucket"),
    ("ec2", "DescribeInstances", "ec2:DescribeInstances", True, False, ec2_instances,
     "Client.UnauthorizedOperation", None),
    ("ec2", "StartInstances", "ec2:StartInstances", False, False, ec2_instances,
     "Client.UnauthorizedOperation", "Client.InvalidInstanceID.NotFound"),
    ("ec2", "StopInstances", "ec2:StopInstances", False, False, ec2_instances,
     "Client.UnauthorizedOperation", "Client.InvalidInstanceID.NotFound"),
    ("lambda", "Invoke", "lambda:InvokeFunction", False, True, lambda_function, "AccessDenied",
     "ResourceNotFoundException"),
    ("lambda", "GetFunction20150331v2", "lambda:GetFunction", True, False, lambda_function,
     "AccessDenied", "ResourceNotFoundException"),
    ("lambda", "ListFunctions20150331", "lambda:ListFunctions", True, False, lambda_function,
     "AccessDenied", None),
    ("iam", "GetRole", "iam:GetRole", True, False, iam_role, "AccessDenied", "NoSuchEntity"),
    ("iam", "AttachRolePolicy", "iam:AttachRolePolicy", False, False, iam_role, "AccessDenied", None),
    ("sts", "AssumeRole", "sts:AssumeRole", True, False, sts_call, "AccessDenied", None),
    ("sts", "GetCallerIdentity", "sts:GetCallerIdentity", True, False, sts_call, None, None),
    ("dynamodb", "GetItem", "dynamodb:GetItem", True, True, dynamodb_table, "AccessDenied",
     "ResourceNotFoundException"),
    ("dynamodb", "PutItem", "dynamodb:PutItem", False, True, dynamodb_table, "AccessDenied", None),
    ("dynamodb", "Query", "dynamodb:Query", True, True, dynamodb_table, "AccessDenied", "ValidationException"),
    ("dynamodb", "DescribeTable", "dynamodb:DescribeTable", True, False, dynamodb_table, "AccessDenied",
     "ResourceNotFoundException"),
    ("kms", "Decrypt", "kms:Decrypt", True, False, kms_key, "AccessDenied", "InvalidCiphertextException"),
    ("kms", "GenerateDataKey", "kms:GenerateDataKey", True, False, kms_key, "AccessDenied", None),
    ("secretsmanager", "GetSecretValue", "secretsmanager:GetSecretValue", True, False, secret_value,
     "AccessDenied", "ResourceNotFoundException"),
    ("sqs", "SendMessage", "sqs:SendMessage", False, True, sqs_queue, "AccessDenied", None),
    ("sqs", "ReceiveMessage", "sqs:ReceiveMessage", False, True, sqs_queue, "AccessDenied", None),
    ("sns", "Publish", "sns:Publish", False, True, sns_topic, "AuthorizationError", None),
    ("ssm", "GetParameter", "ssm:GetParameter", True, False, ssm_parameter, "AccessDeniedException",
     "ParameterNotFound"),
    ("ecr", "GetAuthorizationToken", "ecr:GetAuthorizationToken", True, False, ecr_image,
     "AccessDeniedException", None),
    ("ecr", "BatchGetImage", "ecr:BatchGetImage", True, False, ecr_image, "AccessDeniedException", None),
    ("monitoring", "GetMetricData", "cloudwatch:GetMetricData", True, False, cloudwatch_metrics,
     "AccessDenied", None),
]
# IAM is global: its calls are logged in us-east-1.
GLOBAL = {"iam"}


class Principal:
    """A caller of AWS: a role whose sessions call, an IAM user, or an AWS service."""

    def __init__(self, rng, account, index):
        self.account = account
        n = account.number
        roll = rng.random()
        self.human = False
        if roll < 0.06:
            # A service assuming a customer's role. Never denied here: grantgap names it by
            # invokedBy, the peers by userIdentity.arn, which it has not.
            self.type = "AWSService"
            self.service = rng.choice(("lambda.amazonaws.com", "ecs-tasks.amazonaws.com",
                                       "ec2.amazonaws.com", "events.amazonaws.com"))
            self.arn = None
            self.ops = [o for o in OPERATIONS if o[1] == "AssumeRole"]
            self.denied = []
            return
        services = rng.sample(sorted({o[0] for o in OPERATIONS}), rng.randint(2, 4))
        self.ops = [o for o in OPERATIONS if o[0] in services and rng.random() < 0.7] or \
            [o for o in OPERATIONS if o[0] == services[0]]
        # Denied on calls of its services it holds no grant for, and on one more service.
        extra = rng.choice(sorted({o[0] for o in OPERATIONS} - set(services)))
        ungranted = [o for o in OPERATIONS if (o[0] in services or o[0] == extra)
                     and o not in self.ops and o[6]]
        self.denied = rng.sample(ungranted, min(len(ungranted), rng.randint(1, 3)))
        if roll < 0.18:
            self.type = "IAMUser"
            self.name = rng.choice(("svc-", "ci-", "legacy-", "")) + \
                rng.choice(("backup", "etl", "jenkins", "reporting", "alice.smith", "bob.jones",
                            "datadog", "vendor-sync")) + f"-{index:03d}"
            self.arn = f"arn:aws:iam::{n}:user/{self.name}"
            self.id = "AIDA" + "".join(rng.choices(ALNUM, k=17))
            self.key = "AKIA" + "".join(rng.choices(ALNUM, k=16))
            self.human = rng.random() < 0.3
        else:
            self.type = "AssumedRole"
            kind = rng.choice(("task", "task", "lambda", "irsa", "sso", "ci", "instance"))
            base = rng.choice(("orders", "payments", "search", "etl", "media", "billing", "platform", "data"))
            path, self.name = {
                "task": ("", f"{base}-api-task-role-{index:03d}"),
                "lambda": ("service-role/", f"{base}-fn-role-{index:03d}"),
                "irsa": ("", f"eks-{ENVS[n]}-{base}-irsa-{index:03d}"),
                "sso": ("aws-reserved/sso.amazonaws.com/",
                        f"AWSReservedSSO_{rng.choice(('Developer', 'ReadOnly', 'DataAnalyst', 'Admin'))}_"
                        f"{rng.getrandbits(64):016x}"),
                "ci": ("", f"github-actions-{base}-deploy-{index:03d}"),
                "instance": ("", f"{base}-ec2-instance-role-{index:03d}"),
            }[kind]
            account.roles.append(path + self.name)
            self.arn = f"arn:aws:iam::{n}:role/{path}{self.name}"
            self.id = "AROA" + "".join(rng.choices(ALNUM, k=17))
            self.human = kind == "sso"
            # How the sessions of the role are named, a new one each hour.
            self.sessions = {
                "task": lambda: f"{rng.getrandbits(128):032x}",
                "lambda": lambda: f"{ENVS[n]}-{base}-handler",
                "irsa": lambda: f"botocore-session-{rng.randrange(1_760_000_000, 1_770_000_000)}",
                "sso": lambda: rng.choice(("jane.doe", "raj.patel", "li.wei", "ana.souza", "tom.berg")) + "@example.com",
                "ci": lambda: f"GitHubActions-{rng.randrange(10**9, 10**10)}",
                "instance": lambda: rng.choice(account.instances),
            }[kind]
            self.web_identity = kind == "irsa"
            self.identities = {}
        self.agent = rng.choice(HUMAN_AGENTS if self.human else SDK_AGENTS)

    def identity(self, rng, ms):
        """The userIdentity of a call at ms: a role's session is renewed each hour."""
        n = self.account.number
        if self.type == "AWSService":
            return {"type": "AWSService", "invokedBy": self.service}
        if self.type == "IAMUser":
            return {"type": "IAMUser", "principalId": self.id, "arn": self.arn, "accountId": n,
                    "accessKeyId": self.key, "userName": self.name}
        hour = (ms - START_MS) // HOUR_MS
        if hour not in self.identities:
            session = self.sessions()
            issued = START_MS + hour * HOUR_MS - rng.randrange(600_000)
            self.identities[hour] = {
                "type": "AssumedRole", "principalId": f"{self.id}:{session}",
                "arn": f"arn:aws:sts::{n}:assumed-role/{self.name}/{session}", "accountId": n,
                "accessKeyId": "ASIA" + "".join(rng.choices(ALNUM, k=16)),
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": self.id, "arn": self.arn,
                                      "accountId": n, "userName": self.name},
                    "webIdFederationData": {"federatedProvider": f"arn:aws:iam::{n}:oidc-provider/oidc.eks."
                                            f"us-east-1.amazonaws.com/id/{self.id[4:]}", "attributes": {}}
                    if self.web_identity else {},
                    "attributes": {"creationDate": iso_s(issued), "mfaAuthenticated": "false"}}}
        return self.identities[hour]


def cloudtrail_record(rng, p, op, ms, region, denied):
    """One record, its keys in the order CloudTrail writes them."""
    source, name, action, read_only, data, build, deny_code, missing = op
    a = p.account
    params, response, resources, extra, target = build(rng, a, region, name, read_only)
    identity = p.identity(rng, ms)
    host = "iam.amazonaws.com" if source in GLOBAL else f"{source}.{region}.amazonaws.com"
    if source == "s3" and params:
        host = params["Host"]
    r = {"eventVersion": "1.11" if data else "1.10", "userIdentity": identity, "eventTime": iso_s(ms),
         "eventSource": f"{source}.amazonaws.com", "eventName": name, "awsRegion": region}
    if p.type == "AWSService":
        r["sourceIPAddress"] = r["userAgent"] = p.service
    else:
        r["sourceIPAddress"] = rng.choice(a.nat_ips[region])
        r["userAgent"] = p.agent.replace("{api}", source)
    code = message = None
    if denied:
        code = deny_code
        caller = identity["arn"]
        if source == "s3" and rng.random() < 0.7:
            message = "Access Denied"
        elif rng.random() < 0.06:
            message = f"User: {caller} is not authorized to perform: {action} on resource: {target} " \
                      f"with an explicit deny in a service control policy"
        else:
            message = f"User: {caller} is not authorized to perform: {action} on resource: {target} " \
                      f"because no identity-based policy allows the {action} action"
        if code.startswith("Client."):
            message = f"You are not authorized to perform this operation. {message}. " \
                      f"Encoded authorization failure message: {b64(rng, 600).replace('+', '-').replace('/', '_')}"
    elif rng.random() < 0.006:
        code, message = "ThrottlingException", "Rate exceeded"
    elif missing and rng.random() < 0.01:
        code, message = missing, "The specified resource does not exist."
    if code:
        r["errorCode"], r["errorMessage"] = code, message
        response = None
    r["requestParameters"] = params
    r["responseElements"] = response
    if extra:
        r["additionalEventData"] = extra
    r["requestID"] = "".join(rng.choices(ALNUM, k=16)) if source == "s3" else uuid(rng)
    r["eventID"] = uuid(rng)
    r["readOnly"] = read_only
    if resources:
        r["resources"] = resources
    r["eventType"] = "AwsApiCall"
    r["managementEvent"] = not data
    r["recipientAccountId"] = a.number
    if source in ("s3", "dynamodb") and data and rng.random() < 0.3:
        r["vpcEndpointId"] = f"vpce-0{rng.getrandbits(64):016x}"
        r["vpcEndpointAccountId"] = a.number
    r["eventCategory"] = "Data" if data else "Management"
    if p.type != "AWSService":
        r["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                           "clientProvidedHostHeader": host}
    if p.type == "AssumedRole" and p.human and p.agent.startswith("[Mozilla"):
        r["sessionCredentialFromConsole"] = "true"
    return r


def cloudtrail(out, gigabytes, seed):
    rng = random.Random(seed)
    logs = os.path.join(out, "logs")
    os.makedirs(logs, exist_ok=True)
    accounts = {n: Account(rng, n) for n in ENVS}
    principals = [Principal(rng, accounts[n], i) for n, count in CT_PRINCIPALS.items() for i in range(count)]
    weights = pareto_weights(rng, len(principals))
    # Services are never denied: the share of denials is taken over the others' traffic.
    rates = denial_rates(rng, [0 if p.type == "AWSService" else w for p, w in zip(principals, weights)], 0.03)
    # What each stream draws from: (principal, call, denied), weighted.
    draws = {}
    for number, region, _ in STREAMS:
        pairs, pair_weights = [], []
        for p, w, rate in zip(principals, weights, rates):
            if p.account.number != number:
                continue
            allowed, refused = ([op for op in ops if op[0] not in GLOBAL or region == "us-east-1"]
                                for ops in (p.ops, p.denied if rate else []))
            for op in allowed:
                pairs.append((p, op, False))
                pair_weights.append(w * (1 - rate) / len(allowed))
            for op in refused:
                pairs.append((p, op, True))
                pair_weights.append(w * rate / len(refused))
        draws[(number, region)] = (pairs, pair_weights)
    target = gigabytes * 2**30
    files, denials, events, raw = [], Counter(), 0, 0
    window = 0
    while raw < target:
        t0 = START_MS + window * WINDOW_MS
        delivered = START + timedelta(milliseconds=(window + 1) * WINDOW_MS + rng.randrange(60_000, 240_000))
        for number, region, mean in STREAMS:
            pairs, pair_weights = draws[(number, region)]
            records = []
            count = max(100, int(mean * rng.uniform(0.5, 1.5)))
            for p, op, denied in rng.choices(pairs, pair_weights, k=count):
                ms = t0 + rng.randrange(WINDOW_MS) // 1000 * 1000
                records.append(cloudtrail_record(rng, p, op, ms, region, denied))
                if denied:
                    denials[p.arn] += 1
            data = dumps({"Records": records}).encode()
            unique = "".join(rng.choices(string.ascii_letters + string.digits, k=16))
            path = os.path.join(logs, f"{number}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{unique}.json.gz")
            with open(path, "wb") as f:
                f.write(gzip.compress(data, compresslevel=6, mtime=0))
            files.append(path)
            raw += len(data)
            events += len(records)
            if raw >= target:
                break
        window += 1
    write_counts(out, "cloudtrail", seed, files, events, denials, uncompressed_bytes=raw)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["wide", "cloudtrail"])
    ap.add_argument("dir")
    ap.add_argument("gigabytes", type=float)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    {"wide": wide, "cloudtrail": cloudtrail}[a.kind](a.dir, a.gigabytes, a.seed)


if __name__ == "__main__":
    main()
