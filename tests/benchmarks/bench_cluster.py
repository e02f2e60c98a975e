"""Classifying the synthetic large scene on a local Dask cluster of 1 and then 2 worker processes
(issue 18): pixels per second, their ratio, and the peak resident memory of each worker.

    python tests/benchmarks/bench_cluster.py FOLDER [--size 3000] [--bands 200] [--workers 1 2] [--tile 256]
                                                   [--precision auto float32]

Not a test: the default 3000 x 3000 x 200 int16 scene (3.6 GB, written once into FOLDER by
bench_large_scene.py's generator, with its random-weight model) takes minutes per run on 2 cores.
Each run starts a fresh cluster, so every worker loads the model (TensorFlow included) within the
timed run, as a user's run does; each ``--precision`` (the cluster's option: auto = bfloat16 where the
workers' processor computes it natively) runs with every number of workers.
"""
import argparse
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", ".."), HERE]

from bench_large_scene import prepared_scene  # noqa: E402

from fast3dcnn_qgis.cluster import classify_on_cluster, connect, output_paths  # noqa: E402
from fast3dcnn_qgis.core.settings import PRECISIONS  # noqa: E402


def _peak_megabytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(scene, model, output_dir, workers, tile, precision):
    client = connect(workers=workers)
    try:
        jobs = output_paths([scene], output_dir, confidence=False)
        start = time.perf_counter()
        classify_on_cluster(client, model, jobs, tile=tile, precision=precision)
        seconds = time.perf_counter() - start
        peaks = sorted(client.run(_peak_megabytes).values())
    finally:
        client.close()
        client.cluster.close()
    if jobs[0].error:
        sys.exit(jobs[0].error)
    return seconds, peaks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--bands", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--precision", nargs="+", default=["auto"], choices=PRECISIONS)
    args = parser.parse_args()
    scene, model = prepared_scene(args.folder, args.size, args.bands)
    pixels = args.size ** 2
    for precision in args.precision:
        speeds = {}
        for workers in args.workers:
            seconds, peaks = run(scene, model, os.path.join(args.folder, f"cluster_{workers}"), workers, args.tile,
                                 precision)
            speeds[workers] = pixels / seconds
            print(f"{precision}, {workers} worker(s): {seconds:.0f} s, {speeds[workers]:,.0f} pixels/s, peak memory "
                  f"per worker {', '.join(f'{p:,.0f}' for p in peaks)} MB", flush=True)
        first = args.workers[0]
        for workers in args.workers[1:]:
            print(f"{precision}, {workers} vs {first} worker(s): {speeds[workers] / speeds[first]:.2f}x")

if __name__ == "__main__":
    main()
