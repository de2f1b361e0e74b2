"""The comparison question asked of DuckDB and of polars (Python), per corpus kind.

generated, wide: read the events (JSON Lines), keep the 403s, join them as-of to
the role snapshots (the principal's latest snapshot at or before the request)
and to the tokens (by token id), group by principal, method and endpoint
template, and count. CSV: principal, method, endpoint, denials, with_snapshot,
with_token.

cloudtrail: read the files as S3 delivers them (gzip, one {"Records": [...]}
each), keep the denials as grantgap tells them (the error code, less a "Client."
prefix, contains AccessDenied or is UnauthorizedOperation, UnauthorizedAccess,
Forbidden or AuthorizationError), name the principal (an assumed role's session
issuer, else the identity's ARN) and the action (eventSource's service prefix,
":", eventName), group by principal and action, and count. CSV: principal,
action, denials.

Both peers read with an explicit schema and write the same CSV.

Usage: python peers.py duckdb|polars generated|wide|cloudtrail LOGS_DIR OUT.csv
(threads: GRANTGAP_BENCH_THREADS, default 2)
"""
import glob
import os
import sys

THREADS = int(os.environ.get("GRANTGAP_BENCH_THREADS", "2"))
# Ids in paths are numbers (/orders/123456) or uuids (/payments/0f8c…): both become
# {id}. The uuid comes first: both regex engines take the first alternative that
# matches, and [0-9]+ alone would cut a uuid that starts with digits.
ID_PATTERN = r"/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9]+)"
DENIAL_CODES = ["UnauthorizedOperation", "UnauthorizedAccess", "Forbidden", "AuthorizationError"]

# The event columns each reader is given. generated: every field of its lines, as
# the published figures were measured. wide: only the columns the question needs
# (both readers skip the other keys of a line). The full schema of 36-39 fields
# and nested objects was no faster (0.3 GB, two runs each: DuckDB 0.82-0.85 against
# 0.80-0.84 s, polars 1.42-1.47 against 1.42-1.43 s): both read only the columns a
# query uses either way.
DUCKDB_EVENTS = {
    "generated": "ts: 'TIMESTAMP', request_id: 'VARCHAR', principal: 'VARCHAR', token_id: 'VARCHAR', "
                 "method: 'VARCHAR', path: 'VARCHAR', status: 'INTEGER', org: 'VARCHAR', "
                 "fields: 'VARCHAR[]', error_code: 'VARCHAR', message: 'VARCHAR'",
    "wide": "ts: 'TIMESTAMP', principal: 'VARCHAR', token_id: 'VARCHAR', method: 'VARCHAR', "
            "path: 'VARCHAR', status: 'INTEGER'",
}


def polars_events(kind):
    import polars as pl

    if kind == "wide":
        return {"ts": pl.String, "principal": pl.String, "token_id": pl.String, "method": pl.String,
                "path": pl.String, "status": pl.Int32}
    return {"ts": pl.String, "request_id": pl.String, "principal": pl.String, "token_id": pl.String,
            "method": pl.String, "path": pl.String, "status": pl.Int32, "org": pl.String,
            "fields": pl.List(pl.String), "error_code": pl.String, "message": pl.String}


def duckdb_connect():
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    con.execute("SET preserve_insertion_order = false")
    return con


def duckdb_counts(kind, logs, out):
    con = duckdb_connect()
    events = os.path.join(logs, "events*.jsonl")
    con.execute(
        f"""
        COPY (
          WITH denials AS (
            SELECT ts, principal, token_id, method, path FROM read_json(
              '{events}', format = 'newline_delimited', columns = {{{DUCKDB_EVENTS[kind]}}})
            WHERE status = 403
          ),
          instants AS (
            SELECT DISTINCT principal, snapshot_at FROM read_json(
              '{os.path.join(logs, "role_snapshots.jsonl")}', format = 'newline_delimited',
              columns = {{snapshot_at: 'TIMESTAMP', principal: 'VARCHAR', role: 'VARCHAR',
                         data_scope: 'VARCHAR[]'}})
          ),
          tokens AS (
            SELECT token_id, scopes, issued_at, expires_at FROM read_json(
              '{os.path.join(logs, "tokens.jsonl")}', format = 'newline_delimited',
              columns = {{token_id: 'VARCHAR', principal: 'VARCHAR', scopes: 'VARCHAR',
                         issued_at: 'TIMESTAMP', expires_at: 'TIMESTAMP'}})
          ),
          joined AS (
            SELECT d.*, i.snapshot_at, t.scopes
            FROM denials d
            ASOF LEFT JOIN instants i ON d.principal = i.principal AND d.ts >= i.snapshot_at
            LEFT JOIN tokens t ON d.token_id = t.token_id
          )
          SELECT principal, method, regexp_replace(path, '{ID_PATTERN}', '/{{id}}', 'g') AS endpoint,
                 count(*) AS denials, count(snapshot_at) AS with_snapshot, count(scopes) AS with_token
          FROM joined GROUP BY ALL ORDER BY ALL
        ) TO '{out}' (HEADER, DELIMITER ',')
        """
    )


def duckdb_cloudtrail(logs, out):
    con = duckdb_connect()
    codes = ", ".join(f"'{c}'" for c in DENIAL_CODES)
    # Measured with DuckDB 2.0.0 on 43 MB of these files: read_json(columns = {Records:
    # ...}) takes 5.0 s, whatever its format and size options (its reader is slow on
    # multi-MB objects); read_json_objects, which only splits the files into objects,
    # and json_transform take 0.3 s. Unnesting in a query of its own: filtering the
    # unnest of json_transform directly made DuckDB hold 1.8 GB instead of 150 MB.
    # Each file is one object of a few MB, more than the default maximum_object_size.
    schema = ('{"Records": [{"eventSource": "VARCHAR", "eventName": "VARCHAR", "errorCode": "VARCHAR", '
              '"userIdentity": {"type": "VARCHAR", "arn": "VARCHAR", '
              '"sessionContext": {"sessionIssuer": {"arn": "VARCHAR"}}}}]}')
    con.execute(
        f"""
        COPY (
          WITH files AS (
            SELECT json_transform(json, '{schema}') AS f FROM read_json_objects(
              '{os.path.join(logs, "*.json.gz")}', format = 'unstructured',
              maximum_object_size = 268435456)
          ),
          records AS (SELECT unnest(f.Records) AS r FROM files),
          denials AS (
            SELECT r.userIdentity AS who, r.eventSource AS source, r.eventName AS name,
                   regexp_replace(r.errorCode, '^Client\\.', '') AS code
            FROM records WHERE r.errorCode IS NOT NULL
          )
          SELECT CASE WHEN who.type = 'AssumedRole' THEN who.sessionContext.sessionIssuer.arn
                      ELSE who.arn END AS principal,
                 regexp_replace(source, '\\.amazonaws\\.com$', '') || ':' || name AS action,
                 count(*) AS denials
          FROM denials WHERE code LIKE '%AccessDenied%' OR code IN ({codes})
          GROUP BY ALL ORDER BY ALL
        ) TO '{out}' (HEADER, DELIMITER ',')
        """
    )


def polars_setup():
    os.environ["POLARS_MAX_THREADS"] = str(THREADS)
    import polars as pl

    return pl


def polars_counts(kind, logs, out):
    pl = polars_setup()
    import warnings

    # The snapshots are sorted by time; polars cannot check that within groups and says so.
    warnings.filterwarnings("ignore", message="Sortedness of columns cannot be checked")

    events = pl.scan_ndjson(sorted(glob.glob(os.path.join(logs, "events*.jsonl"))), schema=polars_events(kind))
    time = lambda c: pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="ms")
    denials = (
        events.filter(pl.col("status") == 403)
        .select(time("ts"), "principal", "token_id", "method", "path")
        .sort("ts")
    )
    instants = (
        pl.scan_ndjson(
            os.path.join(logs, "role_snapshots.jsonl"),
            schema={"snapshot_at": pl.String, "principal": pl.String, "role": pl.String,
                    "data_scope": pl.List(pl.String)},
        )
        .select(time("snapshot_at"), "principal")
        .unique()
        .sort("snapshot_at")
    )
    tokens = pl.scan_ndjson(
        os.path.join(logs, "tokens.jsonl"),
        schema={"token_id": pl.String, "principal": pl.String, "scopes": pl.String,
                "issued_at": pl.String, "expires_at": pl.String},
    ).select("token_id", "scopes")
    counts = (
        denials.join_asof(instants, left_on="ts", right_on="snapshot_at", by="principal",
                          strategy="backward")
        .join(tokens, on="token_id", how="left")
        .with_columns(pl.col("path").str.replace_all(ID_PATTERN, "/{id}").alias("endpoint"))
        .group_by("principal", "method", "endpoint")
        .agg(
            pl.len().alias("denials"),
            pl.col("snapshot_at").count().alias("with_snapshot"),
            pl.col("scopes").count().alias("with_token"),
        )
        .sort("principal", "method", "endpoint")
    )
    counts.collect().write_csv(out)


def polars_cloudtrail(logs, out):
    pl = polars_setup()

    # A delivered file holds its Records object on one line, so scan_ndjson reads it
    # as a one-row file (and decompresses gzip), lazily and in parallel across
    # files; read_json would take one file per call.
    record = pl.Struct({
        "eventSource": pl.String, "eventName": pl.String, "errorCode": pl.String,
        "userIdentity": pl.Struct({
            "type": pl.String, "arn": pl.String,
            "sessionContext": pl.Struct({"sessionIssuer": pl.Struct({"arn": pl.String})}),
        }),
    })
    who = pl.col("userIdentity")
    code = pl.col("errorCode").str.strip_prefix("Client.")
    counts = (
        pl.scan_ndjson(sorted(glob.glob(os.path.join(logs, "*.json.gz"))), schema={"Records": pl.List(record)})
        .explode("Records")
        .unnest("Records")
        .filter(code.str.contains("AccessDenied", literal=True) | code.is_in(DENIAL_CODES))
        .select(
            pl.when(who.struct.field("type") == "AssumedRole")
            .then(who.struct.field("sessionContext").struct.field("sessionIssuer").struct.field("arn"))
            .otherwise(who.struct.field("arn"))
            .alias("principal"),
            (pl.col("eventSource").str.replace(r"\.amazonaws\.com$", "") + ":" + pl.col("eventName"))
            .alias("action"),
        )
        .group_by("principal", "action")
        .agg(pl.len().alias("denials"))
        .sort("principal", "action")
    )
    counts.collect().write_csv(out)


if __name__ == "__main__":
    if (len(sys.argv) != 5 or sys.argv[1] not in ("duckdb", "polars")
            or sys.argv[2] not in ("generated", "wide", "cloudtrail")):
        sys.exit(__doc__)
    peer, kind, logs, out = sys.argv[1:]
    if kind == "cloudtrail":
        {"duckdb": duckdb_cloudtrail, "polars": polars_cloudtrail}[peer](logs, out)
    else:
        {"duckdb": duckdb_counts, "polars": polars_counts}[peer](kind, logs, out)
