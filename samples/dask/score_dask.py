#!/usr/bin/python3
"""Batch scoring with SqlRec on Dask: one task per shard, disjoint shards, gathered by shard.

Each Dask worker opens the model database read-only and immutable with Python's sqlite3, loads the
SqlRec loadable extension (sqlrec.so) and runs

    SELECT user_id, rank, item_id, score, source, cold_start, version
    FROM rec_score(:model, :users, :k, json_object('shard', 'i/n'))

for the shards it is given. rec_score puts a user in shard XXH64(text of the id) mod n, so the n
shards are disjoint and together are the whole job; results are keyed by shard, so a task that
Dask runs twice (its worker died, the scheduler ran it again elsewhere) adds nothing twice.

  python3 score_dask.py --db model.db --extension artifacts/extension/sqlrec --model m \\
      --users "SELECT id FROM users" --out scores.csv                      # LocalCluster, 2 workers
  python3 score_dask.py ... --scheduler tcp://10.0.0.5:8786               # a running cluster
  python3 score_dask.py ... --single                                      # one process, no Dask

See README.md beside this file.
"""
import argparse
import csv
import json
import os
import sqlite3
import sys
import time

COLUMNS = ["user_id", "rank", "item_id", "score", "source", "cold_start"]
SQL = ("SELECT user_id, rank, item_id, score, source, cold_start, version "
       "FROM rec_score(:model, :users, :k, json_object('shard', :shard))")


def open_model(db_path, extension):
    """The model database, read-only and immutable (no locks, no WAL read), with SqlRec loaded."""
    uri = "file:" + os.path.abspath(db_path) + "?mode=ro&immutable=1"
    connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
    connection.enable_load_extension(True)
    connection.load_extension(os.path.abspath(extension))
    connection.enable_load_extension(False)
    return connection


# One connection per worker process and database: the first task on a worker opens it and SqlRec
# loads the model version into that process; later tasks on the worker reuse both.
_CONNECTIONS = {}


def score_shard(db_path, extension, model, users, k, index, count, crash_marker=None):
    """Scores shard index/count; returns (index, version, rows, (wall seconds, CPU seconds of the process), worker pid)."""
    if crash_marker is not None and index == 0 and not os.path.exists(crash_marker):
        # Fault injection for the test: the first attempt at shard 0 kills its worker process part way.
        with open(crash_marker, "w") as marker:
            marker.write(str(os.getpid()))
        os._exit(1)
    started, cpu = time.perf_counter(), time.process_time()
    key = (os.path.abspath(db_path), os.path.abspath(extension))
    connection = _CONNECTIONS.get(key)
    if connection is None:
        connection = _CONNECTIONS[key] = open_model(db_path, extension)
    rows = connection.execute(SQL, {"model": model, "users": users, "k": k, "shard": f"{index}/{count}"}).fetchall()
    versions = {row[6] for row in rows}
    if len(versions) > 1:
        raise RuntimeError(f"shard {index}/{count}: rows of versions {sorted(versions)} in one statement")
    version = versions.pop() if versions else None
    return index, version, [row[:6] for row in rows], (time.perf_counter() - started, time.process_time() - cpu), os.getpid()


def score_single(db_path, extension, model, users, k):
    """The whole job in this process: the reference the sharded job must equal."""
    _, version, rows, (seconds, cpu), _ = score_shard(db_path, extension, model, users, k, 0, 1)
    return version, rows, seconds, cpu


def score_dask(client, db_path, extension, model, users, k, shards, crash_marker=None):
    """Submits one task per shard and gathers them keyed by shard; returns (version, rows, stats)."""
    from distributed import as_completed
    futures = [client.submit(score_shard, db_path, extension, model, users, k, i, shards, crash_marker,
                             key=f"sqlrec-shard-{i}-of-{shards}-{time.time_ns()}", pure=False, retries=2)
               for i in range(shards)]
    by_shard = {}
    for future in as_completed(futures):
        index, version, rows, seconds, pid = future.result()
        # Keyed by shard: a shard that ran twice (its worker died) is kept once.
        by_shard[index] = (version, rows, seconds, pid)
    missing = sorted(set(range(shards)) - set(by_shard))
    if missing:
        raise RuntimeError(f"shards {missing} returned nothing")
    versions = {v for v, _, _, _ in by_shard.values() if v is not None}
    if len(versions) > 1:
        raise RuntimeError(f"the shards scored different model versions {sorted(versions)}: the model file changed while the job ran; "
                           "give every worker the same file (copy, then rename into place) and run the job again")
    rows = [row for i in range(shards) for row in by_shard[i][1]]
    keys = [(type(r[0]).__name__, r[0], r[1]) for r in rows]
    if len(keys) != len(set(keys)):
        raise RuntimeError("duplicate (user, rank) rows: a user is in two shards, or the users query repeats an id")
    busy, cpu = {}, {}
    for _, _, (seconds, cpu_seconds), pid in by_shard.values():
        busy[pid] = busy.get(pid, 0.0) + seconds
        cpu[pid] = cpu.get(pid, 0.0) + cpu_seconds
    return (versions.pop() if versions else None), rows, {"task_seconds": busy, "task_cpu_seconds": cpu}


def write_csv(path, rows, meta):
    with open(path, "w", newline="", encoding="utf-8") as out:
        for key, value in meta.items():
            out.write(f"# {key}: {value}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([repr(v) if isinstance(v, float) else v for v in row])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="the model database (read-only, immutable)")
    parser.add_argument("--extension", required=True, help="path of sqlrec.so (without or with the suffix)")
    parser.add_argument("--model", default=None, help="the model's name (default: the database's only model)")
    parser.add_argument("--users", required=True, help="a read-only SELECT returning the user ids")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--shards", type=int, default=8, help="number of shards (tasks)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (ignored with --scheduler)")
    parser.add_argument("--scheduler", default=None, help="address of a running scheduler, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--out", default=None, help="CSV file to write (comment lines, header, rows in shard order)")
    parser.add_argument("--single", action="store_true", help="score in this process, without Dask")
    parser.add_argument("--compare", action="store_true", help="also score in one process and check the rows are equal")
    parser.add_argument("--crash-marker", default=None, help="(tests) kill the worker of shard 0's first attempt; the file marks it done")
    parser.add_argument("--report", default=None, help="write a JSON report (counts, version, timings) here")
    args = parser.parse_args(argv)

    report = {"shards": args.shards, "k": args.k}
    if args.single:
        version, rows, seconds, _ = score_single(args.db, args.extension, args.model, args.users, args.k)
        report.update(mode="single", version=version, rows=len(rows), seconds=seconds)
    else:
        from distributed import Client, LocalCluster
        started = time.perf_counter()
        if args.scheduler:
            client, cluster = Client(args.scheduler), None
        else:
            # Worker processes (not threads): each has its own SQLite connection and SqlRec runtime.
            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
            client = Client(cluster)
        report["cluster_start_seconds"] = time.perf_counter() - started
        try:
            started = time.perf_counter()
            version, rows, stats = score_dask(client, args.db, args.extension, args.model, args.users, args.k, args.shards, args.crash_marker)
            report.update(mode="dask", workers=len(client.scheduler_info()["workers"]), version=version, rows=len(rows),
                          seconds=time.perf_counter() - started, task_seconds_by_worker=list(stats["task_seconds"].values()))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    report["users"] = len({(type(r[0]).__name__, r[0]) for r in rows})
    if args.compare:
        single_version, single_rows, single_seconds, _ = score_single(args.db, args.extension, args.model, args.users, args.k)
        report["single_seconds"] = single_seconds
        if single_version != version:
            raise SystemExit(f"versions differ: single {single_version}, sharded {version}")
        # Each shard streams in the users query's order; put together, the rows are the same rows.
        if sorted(single_rows, key=repr) != sorted(rows, key=repr):
            raise SystemExit("the sharded rows differ from single-process scoring")
        report["equal_to_single"] = True
    if args.out:
        write_csv(args.out, rows, {"model": args.model, "version": version, "k": args.k, "shards": args.shards, "users_query": args.users})
    if args.report:
        with open(args.report, "w") as out:
            json.dump(report, out, indent=1)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
