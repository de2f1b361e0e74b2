"""The comparison question asked of DuckDB and of polars (Python).

Read the events (JSON Lines), keep the 403s, join them as-of to the role
snapshots (the principal's latest snapshot at or before the request) and to the
tokens (by token id), group by principal, method and endpoint template, and
count. Both peers read with the same explicit schema and write the same CSV:
principal, method, endpoint, denials, with_snapshot, with_token.

Usage: python peers.py duckdb|polars LOGS_DIR OUT.csv
(threads: GRANTGAP_BENCH_THREADS, default 2)
"""
import os
import sys

THREADS = int(os.environ.get("GRANTGAP_BENCH_THREADS", "2"))
# Ids in generated paths are numbers: /orders/123456 -> /orders/{id}.
ID_PATTERN = r"/[0-9]+"


def duckdb_counts(logs, out):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    con.execute("SET preserve_insertion_order = false")
    events = os.path.join(logs, "events*.jsonl")
    con.execute(
        f"""
        COPY (
          WITH denials AS (
            SELECT ts, principal, token_id, method, path FROM read_json(
              '{events}', format = 'newline_delimited',
              columns = {{ts: 'TIMESTAMP', request_id: 'VARCHAR', principal: 'VARCHAR',
                         token_id: 'VARCHAR', method: 'VARCHAR', path: 'VARCHAR',
                         status: 'INTEGER', org: 'VARCHAR', fields: 'VARCHAR[]',
                         error_code: 'VARCHAR', message: 'VARCHAR'}})
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


def polars_counts(logs, out):
    os.environ["POLARS_MAX_THREADS"] = str(THREADS)
    import glob
    import warnings

    import polars as pl

    # The snapshots are sorted by time; polars cannot check that within groups and says so.
    warnings.filterwarnings("ignore", message="Sortedness of columns cannot be checked")

    events = pl.scan_ndjson(
        sorted(glob.glob(os.path.join(logs, "events*.jsonl"))),
        schema={
            "ts": pl.String, "request_id": pl.String, "principal": pl.String, "token_id": pl.String,
            "method": pl.String, "path": pl.String, "status": pl.Int32, "org": pl.String,
            "fields": pl.List(pl.String), "error_code": pl.String, "message": pl.String,
        },
    )
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


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("duckdb", "polars"):
        sys.exit(__doc__)
    {"duckdb": duckdb_counts, "polars": polars_counts}[sys.argv[1]](sys.argv[2], sys.argv[3])
