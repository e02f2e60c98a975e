"""What suggested labels are worth: accuracy gained per labelled pixel, against random pixels and the
network's least confident ones.

    python tests/benchmarks/bench_suggest.py --data ../shared/data [--scenes indian_pines salinas_a] [--seeds 0 1 2]

On the ``disjoint`` split of each scene (window 11, the default recipe without co-training rounds, which
would multiply the cost by four) the network is trained on the split's training pixels. Then, for each
rule, three rounds: the rule picks 50 pixels among the labelled pixels outside training (the ground
truth plays the analyst who labels them), they join the training pixels, and the network is trained
again from the same seed. Rules: ``coverage``, ``area``, ``balanced`` and ``margin`` (core.suggestions, spaced by
the window),
``least_confident`` (the 50 lowest top probabilities, no spacing) and ``random``. Each trained network
is scored on the split's test pixels less the pixels its rule picked. The goal of issue 33: after three
rounds the suggested labels gain at least 1.5 times the OA random labels gain, on both scenes.

With ``--fused`` every network is fused with a random forest as the default model is on a held-out split
(core.forest): the forest of the workflow's baseline (FOREST_TREES trees, the run's seed) is fitted on the
raw spectra of the training pixels (a stratified sample of at most MAX_FIT, as core.baseline draws it) each
time the network is trained, and both the rules and the scores see the two's fused class probabilities
(core.forest.fused_probabilities), as fast3dcnn:suggest and the report do for such a model: where the
network and the forest disagree the margin is small, so this is the rules read through that disagreement.

Runs go to --out (JSON lines), one per (scene, seed, rule, round), and a (scene, seed, rule) already
complete there is skipped. --table prints, from --out alone, the curves (mean OA per round) and the
gains. Not a test: Indian Pines takes about 25 minutes a seed on 2 cores, Salinas-A about 6.
"""
import argparse
import json
import os
import sys
import time
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fast3dcnn_qgis.core.bands import kept_bands  # noqa: E402
from fast3dcnn_qgis.core.baseline import FOREST_TREES, MAX_FIT, stratified_sample  # noqa: E402
from fast3dcnn_qgis.core.batch_loop import SCORING_BATCH, predict  # noqa: E402
from fast3dcnn_qgis.core.metrics import accuracy_report  # noqa: E402
from fast3dcnn_qgis.core.forest import PixelForest, fused_probabilities  # noqa: E402
from fast3dcnn_qgis.core.patches import PatchDataset  # noqa: E402
from fast3dcnn_qgis.core.settings import DEFAULT_RECIPE, TrainingConfig  # noqa: E402
from fast3dcnn_qgis.core.splits import labelled_pixels, make_split, validation_into_training  # noqa: E402
from fast3dcnn_qgis.core.suggestions import RULES, Candidates, area_uncertainty, choose  # noqa: E402
from fast3dcnn_qgis.core.training import train_network  # noqa: E402
from bench_disjoint import reduced_cube  # noqa: E402
from bench_training import machine  # noqa: E402
from scenes import SCENES  # noqa: E402

PER_ROUND, ROUNDS, WINDOW = 50, 3, 11
#: The baseline rules the issue names: the least confident pixels as they come, random pixels.
UNSPACED = ("least_confident", "random")


class Run:
    """One scene and seed: the reduced cube, the labelled pixels, the split and the first network."""

    def __init__(self, scene_name, data, seed, fused=False):
        scene = SCENES[scene_name]
        cube, labels = scene.load(data)
        kept = kept_bands(cube.shape[2], scene.exclude_bands)
        self.spectra = cube[..., kept].astype(np.float32) if fused else None
        self.config = TrainingConfig.recipe(DEFAULT_RECIPE, window=WINDOW, seed=seed, cotraining="off")
        self.rows, self.cols, y = labelled_pixels(labels)
        self.class_ids = np.unique(y)
        self.targets = np.searchsorted(self.class_ids, y)
        split = make_split(self.rows, self.cols, y, "disjoint", seed=seed, window=WINDOW)
        self.split = validation_into_training(split, self.rows, self.cols, WINDOW) \
            if self.config.validation_into_training else split
        self.cube = reduced_cube(cube, scene.exclude_bands, 20, None, self.config.component_scale,
                                 self.config.standardise_bands)
        self.first = self.train(np.zeros(0, dtype=np.int64))

    def train(self, added):
        """The model, (network, its forest or None), trained with the labelled pixels ``added`` (indices)
        joining training, and its figures on the test pixels less those."""
        split = replace(self.split, train=np.concatenate([self.split.train, added]),
                        test=np.setdiff1d(self.split.test, added))
        start = time.perf_counter()
        model = (train_network(self.cube, self.rows, self.cols, self.targets, split, len(self.class_ids),
                               self.config).model, self.forest(split.train))
        seconds = time.perf_counter() - start
        predicted = np.argmax(self.probabilities(model, split.test), axis=-1)
        report = accuracy_report(self.targets[split.test], predicted, np.arange(len(self.class_ids)))
        return model, {"oa": report["overall_accuracy"], "aa": report["average_accuracy"], "kappa": report["kappa"],
                       "n_train": len(split.train), "n_test": len(split.test), "train_seconds": round(seconds, 1)}

    def forest(self, train):
        """The forest fused with the network (``--fused``, a core.forest.PixelForest in the model's class order),
        fitted on the training pixels ``train``, or None."""
        if self.spectra is None:
            return None
        from sklearn.ensemble import RandomForestClassifier
        sample = train[stratified_sample(self.targets[train], MAX_FIT, np.random.default_rng(self.config.seed))]
        forest = RandomForestClassifier(n_estimators=FOREST_TREES, n_jobs=-1, random_state=self.config.seed).fit(
            self.spectra[self.rows[sample], self.cols[sample]], self.targets[sample])
        return PixelForest.from_fitted(forest, np.arange(len(self.class_ids)))

    def probabilities(self, model, pixels, rows=None, cols=None):
        """The model's class probabilities at the labelled ``pixels`` (indices), or at (rows, cols): the
        network's, or their fusion with its forest's."""
        rows, cols = (self.rows[pixels], self.cols[pixels]) if rows is None else (rows, cols)
        network, forest = model
        probabilities = predict(network, PatchDataset(self.cube, rows, cols, None, WINDOW, SCORING_BATCH,
                                                      self.config.padding))
        if forest is None:
            return probabilities
        return fused_probabilities(probabilities, forest.probabilities(self.spectra[rows, cols]))

    def candidates(self, model, pool):
        """The labelled pixels ``pool`` as candidates, their area uncertainty from the whole scene's
        probabilities, as fast3dcnn:suggest sees them."""
        height, width = self.cube.shape[:2]
        rows, cols = np.divmod(np.arange(height * width), width)
        scene = self.probabilities(model, None, rows, cols).reshape(height, width, -1)
        area = area_uncertainty(scene, np.ones((height, width), dtype=bool), WINDOW)
        return Candidates(self.rows[pool], self.cols[pool], scene[self.rows[pool], self.cols[pool]],
                          area[self.rows[pool], self.cols[pool]])

    def rounds(self, rule):
        """Yields each round's record for ``rule``."""
        model, added = self.first[0], np.zeros(0, dtype=np.int64)
        for round_ in range(1, ROUNDS + 1):
            pool = np.setdiff1d(np.arange(len(self.rows)), np.concatenate([self.split.train, added]))
            candidates = self.candidates(model, pool)
            known = np.concatenate([self.split.train, added])
            picked = pool[choose(candidates, PER_ROUND, 0 if rule in UNSPACED else WINDOW, rule,
                                 seed=1000 * self.config.seed + round_, labelled=(self.rows[known], self.cols[known]))]
            added = np.concatenate([added, picked])
            model, figures = self.train(added)
            yield {"round": round_, "n_added": len(added), "picked_test": int(np.isin(picked, self.split.test).sum()),
                   "picked_classes": np.bincount(self.targets[picked], minlength=len(self.class_ids)).tolist(),
                   **figures}


def done_rules(path):
    """{(scene, seed): {rule, ...}} complete in ``path``."""
    complete: dict = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as stream:
            for line in stream:
                run = json.loads(line)
                if run["round"] == ROUNDS:
                    complete.setdefault((run["scene"], run["seed"]), set()).add(run["rule"])
    return complete


def table(path):
    """The mean OA per round of each (scene, rule), its gain after the last round and that gain against
    random's, each over the seeds both rules completed (gains per seed, from that seed's start)."""
    with open(path, encoding="utf-8") as stream:
        runs = [json.loads(line) for line in stream]
    oa = {(run["scene"], run["rule"], run["seed"], run["round"]): 100 * run["oa"] for run in runs}
    lines = ["| scene | rule | seeds | OA start | round 1 | round 2 | round 3 | gain | gain / random's |",
             "|---|---|---|---|---|---|---|---|---|"]
    for scene in sorted({run["scene"] for run in runs}):
        def seeds(rule):
            return sorted(seed for (s, r, seed, round_) in oa if (s, r, round_) == (scene, rule, ROUNDS))

        def gain(rule, chosen):
            return np.mean([oa[scene, rule, seed, ROUNDS] - oa[scene, "start", seed, 0] for seed in chosen])

        for rule in RULES:
            chosen = seeds(rule)
            if not chosen:
                continue
            common = [seed for seed in chosen if seed in seeds("random")]
            points = [np.mean([oa[scene, rule, seed, r] for seed in chosen]) for r in range(1, ROUNDS + 1)]
            start = np.mean([oa[scene, "start", seed, 0] for seed in chosen])
            ratio = gain(rule, common) / gain("random", common) if common else np.nan
            lines.append(f"| {scene} | {rule} | {','.join(map(str, chosen))} | {start:.2f} | "
                         + " | ".join(f"{p:.2f}" for p in points) + f" | {gain(rule, chosen):+.2f} | {ratio:.2f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--scenes", nargs="+", default=["indian_pines", "salinas_a"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rules", nargs="+", default=list(RULES), choices=RULES)
    parser.add_argument("--fused", action="store_true", help="fuse every network with a forest, as the default model")
    parser.add_argument("--out", help="default: results/issue33/suggest.jsonl, or suggest_fused.jsonl with --fused")
    parser.add_argument("--table", action="store_true", help="print the table of --out and stop")
    arguments = parser.parse_args()
    arguments.out = arguments.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "issue33",
                                                  "suggest_fused.jsonl" if arguments.fused else "suggest.jsonl")
    if arguments.table:
        print(table(arguments.out))
        return
    os.makedirs(os.path.dirname(arguments.out), exist_ok=True)
    processor = machine()
    for scene in arguments.scenes:
        for seed in arguments.seeds:
            todo = [rule for rule in arguments.rules if rule not in done_rules(arguments.out).get((scene, seed), ())]
            if not todo:
                continue
            run = Run(scene, arguments.data, seed, arguments.fused)
            print(f"{scene} seed {seed}: start OA {100 * run.first[1]['oa']:.2f}%", flush=True)
            records = [] if (scene, seed) in done_rules(arguments.out) else [{"rule": "start", "round": 0,
                                                                               **run.first[1]}]
            for rule in todo:
                for record in run.rounds(rule):
                    print(f"  {rule:16s} round {record['round']}: OA {100 * record['oa']:.2f}% "
                          f"({record['picked_test']} of the 50 in the test segment)", flush=True)
                    records.append({"rule": rule, **record})
                with open(arguments.out, "a", encoding="utf-8") as stream:
                    for record in records:
                        stream.write(json.dumps({"scene": scene, "seed": seed, "machine": processor, **record}) + "\n")
                records = []
    print(table(arguments.out))


if __name__ == "__main__":
    main()
