"""Classifying scene archives and huge mosaics on a Dask cluster, without QGIS.

    python -m fast3dcnn_qgis.cluster classify MODEL INPUT... --output-dir DIR
        [--scheduler ADDRESS | --workers N] [--confidence] [--tile PIXELS]

Run it from the folder that holds ``fast3dcnn_qgis/``; workers started by hand (``dask worker
ADDRESS``) need that folder on their PYTHONPATH and the rasters at the same paths. Each scene is
cut into tiles; each tile is one Dask task that reads its own window of the raster, with the
S // 2 halo its patches need, through GDAL on the worker, so no pixel travels from the client. The
model file's bytes go to every worker once (scattered) and each worker process loads the model
once. The client writes the tiles it gets back into each scene's class map (the same styled
GeoTIFF as ``fast3dcnn:classify``), under a temporary name renamed when the scene is complete.
Dask does the scheduling, retries and recovery: a worker lost mid-run has its tiles run again.

Workers import the core, GDAL, numpy, Keras and Dask, never ``qgis``; the client imports no Keras.
"""
import argparse
import hashlib
import importlib
import importlib.util
import os
import sys
import tempfile
import threading
from dataclasses import dataclass, field

from .core.bands import check_band_count
from .core.blocks import block_windows
from .core.classes import ClassTable
from .core.errors import Cancelled, InputError
from .core.settings import PRECISIONS
from .core.smoothing import map_halo
from .gdal_io.reading import open_raster, raster_info, read_block
from .gdal_io.writing import map_writers, rejection_note

#: Tile side in pixels: big enough to amortise a task (a 256 x 256 tile of 200 bands is 26 MB of
#: int16), small enough that a 3000 x 3000 scene keeps a few workers busy.
TILE = 256
#: Seconds to wait for a scheduler before saying it cannot be reached.
CONNECT_SECONDS = 10

# -- on the workers ------------------------------------------------------------------------------
_MODELS, _DATASETS, _LOCK = {}, {}, threading.Lock()


def _worker_classifier(model_bytes, checksum):
    """The model, loaded once per worker process (keyed by the file's checksum)."""
    with _LOCK:
        if checksum not in _MODELS:
            from .core.modelfile import load_classifier

            handle, path = tempfile.mkstemp(suffix=".f3dcnn")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(model_bytes)
                _MODELS[checksum] = load_classifier(path)
            finally:
                os.remove(path)
        return _MODELS[checksum]


def classify_tile(model_bytes, checksum, path, window, min_confidence=0.0, precision="auto"):
    """The core.prediction.BlockPrediction of one tile of the raster at ``path`` as a plain dict (so
    the client unpickles it without importing Keras), with the tile's window in place of its pixels
    and without the probabilities (neither goes back to the client); runs on a worker, whose
    processor decides what ``precision`` "auto" computes in."""
    from .core.precision import training_dtype
    from .core.prediction import predict_blocks

    classifier = _worker_classifier(model_bytes, checksum)
    with _LOCK:
        dataset = _DATASETS.get(path) or _DATASETS.setdefault(path, open_raster(path))
        block = read_block(dataset, *window)
    prediction = next(predict_blocks(classifier, [block], min_confidence=min_confidence,
                                     dtype=training_dtype(precision)))
    return prediction._replace(block=window, probabilities=None)._asdict()


# -- on the client -------------------------------------------------------------------------------
def connect(scheduler=None, workers=None):
    """A Dask client of the scheduler at ``scheduler``, or of a new local cluster of ``workers``
    processes (one per core by default); raises InputError naming an address it cannot reach."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError, ValueError) as error:
            raise InputError(f"cannot reach the Dask scheduler at '{scheduler}' within {CONNECT_SECONDS} s "
                             f"({error}): check the address (e.g. tcp://host:8786) and that the scheduler "
                             f"runs") from None
    cluster = LocalCluster(n_workers=workers or os.cpu_count(), threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    return Client(cluster)


@dataclass
class SceneJob:
    """One scene on its way: its writers, its tiles still out, and its error if it failed."""
    path: str
    output: str
    confidence: str = None
    writers: dict = field(default_factory=dict)  # gdal_io.writing.map_writers
    tiles: int = 0
    done: int = 0
    rejected: int = 0
    error: str = None


def classify_on_cluster(client, model_path, jobs, tile=TILE, min_confidence=0.0, progress=None,
                        should_cancel=None, precision="auto"):
    """Classifies every SceneJob's raster on ``client``'s cluster and writes its maps; returns the
    jobs, each with ``error`` set where its scene failed (the others still finish).

    ``progress(job)`` is called after each tile; ``should_cancel()`` is polled after each tile and
    a True answer cancels the cluster's tasks, discards every unfinished map and raises Cancelled.
    """
    from distributed import as_completed

    from .core.modelfile import describe_model

    model = describe_model(model_path)
    classes = ClassTable.from_json(model["classes"])
    with open(model_path, "rb") as stream:
        model_bytes = stream.read()
    checksum = hashlib.sha256(model_bytes).hexdigest()
    shared = client.scatter(model_bytes, broadcast=True)
    owner = {}
    for job in jobs:
        futures = _submit(client, job, model, classes, shared, checksum, tile, (min_confidence, precision))
        owner.update((future, job) for future in futures)
    try:
        for future in as_completed(list(owner)):
            job = owner.pop(future)
            _receive(client, future, job, owner)
            if progress is not None:
                progress(job)
            if should_cancel is not None and should_cancel():
                client.cancel(list(owner))
                raise Cancelled()
    except BaseException:
        for job in jobs:
            _discard(job)
        raise
    for job in jobs:
        if job.error is None:
            for writer in job.writers.values():
                writer.commit()
    return jobs


def _submit(client, job, model, classes, shared, checksum, tile, how):
    """The tile tasks of one scene, or none when the raster cannot be classified (``job.error``);
    ``how``: classify_tile's min_confidence and precision."""
    try:
        info = raster_info(open_raster(job.path, "input raster"))
        check_band_count(info.band_count, model["input_band_count"], "the input raster")
        job.writers = map_writers(job.output, info, classes, job.confidence)
    except (InputError, OSError) as error:
        job.error = str(error)
        _discard(job)
        return []
    halo = map_halo(model["window"], (model["smoothing"] or {}).get("radius", 0))
    windows = list(block_windows(info.height, info.width, tile, tile, halo))
    job.tiles = len(windows)
    return [client.submit(classify_tile, shared, checksum, job.path, window, *how, pure=False)
            for window in windows]


def _receive(client, future, job, owner):
    if job.error is not None:
        return
    if future.status != "finished":
        job.error = f"a tile failed: {future.exception()}"
        client.cancel([f for f, j in owner.items() if j is job])
        _discard(job)
        return
    prediction = future.result()
    row, col = prediction["block"][:2]
    for name, writer in job.writers.items():
        writer.write(row, col, prediction[name])
    job.done += 1
    job.rejected += prediction["n_rejected"]


def _discard(job):
    for writer in job.writers.values():
        writer.discard()
    job.writers = {}


def output_paths(inputs, output_dir, confidence):
    """The map (and confidence) path of each input in ``output_dir``; raises InputError when two
    inputs would write the same file."""
    jobs, seen = [], {}
    for path in inputs:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in seen:
            raise InputError(f"'{path}' and '{seen[stem]}' would both write {stem}.tif in '{output_dir}': "
                             f"classify them into different output folders")
        seen[stem] = path
        jobs.append(SceneJob(os.path.abspath(path), os.path.join(output_dir, stem + ".tif"),
                             os.path.join(output_dir, stem + "_confidence.tif") if confidence else None))
    return jobs


class TerminalProgress:
    """One status line on stderr, redrawn as tiles arrive: tiles done of the total, per scene."""

    def __init__(self, jobs, stream=sys.stderr):
        self.jobs, self.stream = jobs, stream

    def __call__(self, _job):
        states = [f"{os.path.basename(job.path)} {'failed' if job.error else f'{job.done}/{job.tiles}'}"
                  for job in self.jobs if job.tiles]
        finished = all(job.error or job.done == job.tiles for job in self.jobs)
        self.stream.write(f"\rtiles: {', '.join(states)}" + ("\n" if finished else ""))
        self.stream.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fast3dcnn_qgis.cluster",
                                     description="Fast 3D CNN models applied to many rasters on a Dask cluster.")
    commands = parser.add_subparsers(dest="command", required=True)
    classify = commands.add_parser("classify", help="classify rasters with a model written by the plugin")
    classify.add_argument("model", help="model file (.f3dcnn) written by 'Train 3D CNN classifier'")
    classify.add_argument("inputs", nargs="+", help="rasters to classify (any format GDAL reads)")
    classify.add_argument("--output-dir", required=True, help="folder for <input name>.tif class maps")
    where = classify.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--workers", type=int, help="worker processes of a local cluster (default: one per core)")
    classify.add_argument("--confidence", action="store_true", help="also write <input name>_confidence.tif")
    classify.add_argument("--min-confidence", type=float, default=0.0,
                          help="leave pixels whose top probability is below this unclassified (0)")
    classify.add_argument("--tile", type=int, default=TILE, help=f"tile side in pixels (default {TILE})")
    classify.add_argument("--precision", choices=PRECISIONS, default="auto",
                          help="the network's arithmetic: auto (bfloat16 where a worker's processor computes it "
                               "natively, else float32), float32 or mixed_bfloat16")
    args = parser.parse_args(argv)
    try:
        os.makedirs(args.output_dir, exist_ok=True)
        jobs = output_paths(args.inputs, args.output_dir, args.confidence)
        client = connect(args.scheduler, args.workers)
    except (InputError, OSError) as error:
        parser.exit(2, f"error: {error}\n")
    try:
        if importlib.util.find_spec("bokeh"):  # Dask serves its dashboard only with bokeh
            print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
        classify_on_cluster(client, args.model, jobs, args.tile, args.min_confidence, TerminalProgress(jobs),
                            precision=args.precision)
    except InputError as error:
        parser.exit(2, f"error: {error}\n")
    finally:
        client.close()
        if client.cluster is not None:
            client.cluster.close()
    failed = [job for job in jobs if job.error]
    for job in failed:
        print(f"{job.path}: {job.error}", file=sys.stderr)
    for job in jobs:
        if not job.error:
            rejected = f" ({rejection_note(job.rejected, args.min_confidence)})" if args.min_confidence > 0 else ""
            print(f"{job.path} -> {job.output}{rejected}")
    return 1 if failed else 0


if __name__ == "__main__":
    # Run from the module imported under its own name, so Dask sends the workers a reference to
    # classify_tile (imported there) rather than a pickled copy of this __main__ module's.
    sys.exit(importlib.import_module(__spec__.name).main())
