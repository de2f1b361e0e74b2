"""Runs grantgap on Spark: one `grantgap partial` per task, one `grantgap merge` on the driver.

    spark-submit [--master ...] spark/grantgap_spark.py \
        --grantgap /path/to/grantgap --output report.json \
        [--shards K | --shard-size 256MB] [--partials DIR] \
        [--read "--tokens t.jsonl --input-format cloudtrail"] [--report "--format json"] \
        INPUT...

Every task runs `grantgap partial INPUT... --shard-index i --shard-count K`: grantgap
itself cuts the inputs into K shards balanced by bytes, so the tasks need no listing
of their own, and a retried task rewrites the same partial. The driver then runs
`grantgap merge` over the K partials, and the report is the one `grantgap report
INPUT...` writes, byte for byte.

The binary is shipped to the executors with the job (SparkContext.addFile). Partials go
to --partials when it names a folder that the executors and the driver both see (a
local folder with local[N], /dbfs/... on Databricks, an NFS or EFS mount); without it,
each task hands its partial back to the driver (100-150 MB per GB of logs), which
keeps them in a temporary folder.
"""

import argparse
import math
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile

from pyspark import SparkFiles
from pyspark.sql import SparkSession

UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def size(text):
    """A size such as 256MB or 1GiB, in bytes."""
    digits = text.strip().rstrip("bBiIkKmMgGtT")
    unit = text.strip()[len(digits):].upper()
    if not digits or unit not in UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: write 256MB or 1GiB")
    return int(float(digits) * UNITS[unit])


def parse(argv):
    parser = argparse.ArgumentParser(
        prog="grantgap_spark.py",
        description="grantgap's report of logs too large for one machine: partials on the "
        "executors, the merge on the driver.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="logs as grantgap reads them: files, folders, globs, s3:// gs:// az:// URLs")
    parser.add_argument("--grantgap", required=True,
                        help="the grantgap binary for the executors' platform (Linux x86_64 or aarch64)")
    parser.add_argument("--output", "-o", required=True, help="where the driver writes the report")
    parser.add_argument("--shards", type=int,
                        help="how many partials (default: one per --shard-size of local inputs, "
                        "else the cluster's default parallelism)")
    parser.add_argument("--shard-size", type=size, default=size("256MB"),
                        help="bytes of log per shard when --shards is not given (default 256MB)")
    parser.add_argument("--partials", help="a folder the executors and the driver both see")
    parser.add_argument("--read", default="",
                        help="grantgap's input options, as one string (given to every partial)")
    parser.add_argument("--report", default="",
                        help="grantgap's report options for the merge, as one string")
    args = parser.parse_args(argv)
    if args.shards is not None and args.shards < 1:
        parser.error("--shards must be 1 or more")
    return args


def local_bytes(inputs):
    """The bytes of the inputs that are local files or folders; None if any is a URL or glob."""
    total = 0
    for name in inputs:
        if "://" in name or any(c in name for c in "*?["):
            return None
        if os.path.isdir(name):
            for root, _, files in os.walk(name):
                total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
        elif os.path.exists(name):
            total += os.path.getsize(name)
    return total


def shard_count(args, spark):
    if args.shards:
        return args.shards
    total = local_bytes(args.inputs)
    if total is None:
        return spark.sparkContext.defaultParallelism
    return max(1, math.ceil(total / args.shard_size))


def run(command, ok=(0,)):
    """Runs grantgap; a failure raises with its message, so Spark retries the task or stops."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in ok:
        raise RuntimeError(
            f"{shlex.join(command)} exited with {done.returncode}: {done.stderr.strip()}")
    return done


def partial_task(binary_name, inputs, read, count, partials):
    """What each task runs: the partial of its shard, written to `partials` or handed back."""

    def task(indices):
        binary = SparkFiles.get(binary_name)
        os.chmod(binary, os.stat(binary).st_mode | stat.S_IXUSR)
        for index in indices:
            folder = partials or tempfile.mkdtemp(prefix="grantgap-part-")
            out = os.path.join(folder, f"part-{index:05d}-of-{count:05d}")
            run([binary, "partial", *inputs, *read, "--no-progress",
                 "--shard-index", str(index), "--shard-count", str(count), "-o", out])
            if partials:
                yield index, out, None
            else:
                with open(out, "rb") as f:
                    data = f.read()
                shutil.rmtree(folder, ignore_errors=True)
                yield index, None, data

    return task


def main(argv):
    args = parse(argv)
    spark = SparkSession.builder.appName("grantgap").getOrCreate()
    sc = spark.sparkContext
    sc.setLogLevel("WARN")
    binary = os.path.abspath(args.grantgap)
    sc.addFile(binary)
    count = shard_count(args, spark)
    read = shlex.split(args.read)
    partials = os.path.abspath(args.partials) if args.partials else None
    if partials:
        os.makedirs(partials, exist_ok=True)
    inputs = [name if "://" in name else os.path.abspath(name) for name in args.inputs]
    made = (sc.parallelize(range(count), count)
            .mapPartitions(partial_task(os.path.basename(binary), inputs, read, count, partials))
            .collect())
    kept = partials or tempfile.mkdtemp(prefix="grantgap-parts-")
    paths = []
    for index, path, data in sorted(made, key=lambda m: m[0]):
        if data is not None:
            path = os.path.join(kept, f"part-{index:05d}-of-{count:05d}")
            with open(path, "wb") as f:
                f.write(data)
        paths.append(path)
    # Exit code 3: --baseline found something new; the report is written.
    merged = run([binary, "merge", *paths, *shlex.split(args.report),
                  "-o", os.path.abspath(args.output)], ok=(0, 3))
    sys.stderr.write(merged.stderr)
    if not partials:
        shutil.rmtree(kept, ignore_errors=True)
    print(f"grantgap: {count} partials merged into {args.output}", file=sys.stderr)
    spark.stop()
    return merged.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
