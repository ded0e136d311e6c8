#!/usr/bin/python3
"""Batch scoring throughput: one process against Dask with 2 worker processes, same machine, same run.

  python3 samples/dask/benchmark.py --db gowalla.db --extension artifacts/extension/sqlrec --model gf \\
      --users "SELECT DISTINCT user_id FROM train ORDER BY user_id LIMIT 6000" --k 20 --shards 8 --rounds 2

Both sides score the same users through the same extension build, warm: the model is loaded once
per process before the clock starts (load time reported apart). The rounds alternate single and
Dask so that a change in the machine's load hits both. Reported per round: users/s of each, the
ratio, the ratio the machine allowed at that moment (the CPU two busy processes get over what one
gets: 2.0 on two idle cores, less when other work shares them), and Dask's overhead (the wall time of the job minus the busiest worker's time inside its
tasks: scheduling, pickling the rows back, gathering). Not measured: cluster start (reported apart),
a cold model load per task, a network between machines.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import score_dask  # noqa: E402


def _spin(seconds, queue):
    wall, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < seconds:
        pass
    queue.put((time.process_time() - cpu) / (time.perf_counter() - wall))


def cores_obtained(processes, seconds=1.5):
    """CPU the machine gives right now to `processes` busy processes, in cores (2.0: two idle cores)."""
    import multiprocessing
    queue = multiprocessing.Queue()
    spinners = [multiprocessing.Process(target=_spin, args=(seconds, queue)) for _ in range(processes)]
    for spinner in spinners:
        spinner.start()
    for spinner in spinners:
        spinner.join()
    return sum(queue.get() for _ in spinners)


def warm(db, extension, model):
    """Opens the model in this process and loads the version (one user scored); returns seconds."""
    started = time.perf_counter()
    score_dask.score_shard(db, extension, model, "SELECT 0", 1, 0, 1)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--extension", required=True)
    parser.add_argument("--model", default=None)
    parser.add_argument("--users", required=True)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    print(f"load average at start: {os.getloadavg()}, cpus: {os.cpu_count()}", flush=True)
    load_single = warm(args.db, args.extension, args.model)
    started = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40)
    client = Client(cluster)
    cluster_start = time.perf_counter() - started
    loads = client.run(warm, args.db, args.extension, args.model)
    print(json.dumps({"model_load_seconds_single": round(load_single, 3), "cluster_start_seconds": round(cluster_start, 3),
                      "model_load_seconds_per_worker": [round(v, 3) for v in loads.values()]}), flush=True)
    results = []
    try:
        for round_number in range(1, args.rounds + 1):
            # The machine may be shared: what one and two busy processes get now bounds the speedup
            # two workers can show over one process (2.0 on two idle cores).
            one, two = cores_obtained(1), cores_obtained(2)
            version, rows, single_seconds, single_cpu = score_dask.score_single(args.db, args.extension, args.model, args.users, args.k)
            users = len({(type(r[0]).__name__, r[0]) for r in rows})
            started = time.perf_counter()
            dask_version, dask_rows, stats = score_dask.score_dask(client, args.db, args.extension, args.model, args.users, args.k, args.shards)
            dask_seconds = time.perf_counter() - started
            if sorted(rows, key=repr) != sorted(dask_rows, key=repr) or version != dask_version:
                raise SystemExit("the Dask rows differ from single-process scoring")
            busiest = max(stats["task_seconds"].values())
            result = {
                "round": round_number, "users": users, "rows": len(rows),
                "single_users_per_s": round(users / single_seconds, 1),
                "dask_users_per_s": round(users / dask_seconds, 1),
                "speedup": round(single_seconds / dask_seconds, 2),
                "dask_overhead_seconds": round(dask_seconds - busiest, 3),
                "dask_overhead_share": round((dask_seconds - busiest) / dask_seconds, 3),
                "worker_busy_seconds": [round(v, 2) for v in stats["task_seconds"].values()],
                # CPU time is less sensitive than wall time to other work on the machine.
                "single_cpu_ms_per_user": round(1000 * single_cpu / users, 3),
                "dask_task_cpu_ms_per_user": round(1000 * sum(stats["task_cpu_seconds"].values()) / users, 3),
                "single_cpu_per_wall": round(single_cpu / single_seconds, 2),
                "single_seconds": round(single_seconds, 2), "dask_seconds": round(dask_seconds, 2),
                "cores_for_1_process": round(one, 2), "cores_for_2_processes": round(two, 2),
                "speedup_available": round(two / one, 2),
                "load_average": [round(v, 1) for v in os.getloadavg()],
            }
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        client.close()
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
