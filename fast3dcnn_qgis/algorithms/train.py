"""``fast3dcnn:train``: the paper's recipe on the user's raster and ground truth, ending in a model
file, an accuracy report and, if asked, the class map of the scene."""
import contextlib
import os
import tempfile
from typing import NamedTuple

from qgis.core import QgsProcessingUtils, QgsVectorLayer

from ..core.bands import format_band_ranges, parse_band_ranges
from ..core.checkpoints import Checkpoints
from ..core.errors import Cancelled, InputError
from ..core.settings import RECIPES, SPLIT_METHODS, TrainingConfig, TrainingSettings, check_components
from ..gdal_io.class_maps import classify_scene
from ..gdal_io.reading import empty_bands
from ..gdal_io.styles import style_path
from ..gdal_io.suggested_points import DEFAULT_CLASS_FIELD, add_labelled_points
from ..gdal_io.training_scenes import canvas, pairing_problem, read_scenes
from ..setup.dependencies import compute_device
from ..setup.installer import InstallerError
from .base import load_with_style
from .child_process import ChildError, run_in_child
from .map_outputs import map_options
from .train_parameters import TrainParameters

#: Reduced cubes larger than this, or than a quarter of the memory available when training starts,
#: are kept in a temporary memory-mapped file instead of memory.
SPILL_BYTES = 2 * 2 ** 30


class TrainAlgorithm(TrainParameters):
    NAME = "train"
    DISPLAY_NAME = "Train 3D CNN classifier"

    # -- the run ---------------------------------------------------------------------------------
    def execute(self, parameters, context, progress):
        paths = self._destinations(parameters, context)
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        scenes = self._scenes(parameters, context, progress)
        settings = self._settings(parameters, context, scenes, progress)
        progress.check_cancel()

        checkpoints = Checkpoints.beside(paths.model)
        with self._kept_when_cancelled(checkpoints, progress):
            classifier = self._train(scenes, settings, checkpoints, progress.part(0.0, 0.75 if paths.map else 0.97))
            accuracy = classifier.record.accuracy
            progress.log(self.tr("Test pixels: OA {:.2%}, AA {:.2%}, kappa {:.4f} ({})").format(
                accuracy["overall_accuracy"], accuracy["average_accuracy"], accuracy["kappa"],
                classifier.record.split["description"]))
            self._complete_record(classifier.record, scenes,
                                  self.parameterAsString(parameters, self.CLASS_FIELD, context))
            if paths.map:
                progress.log(self.tr("Classifying the scene"))
                classify_scene(classifier, scenes[0].dataset, scenes[0].info, paths.map, progress.part(0.75, 0.97),
                               precision=settings.training.precision, **paths.map_options)
            progress.check_cancel()
        results = self._write_model_and_report(classifier, paths, layer.name())
        checkpoints.remove()
        progress.progress(1.0)
        if paths.map:
            load_with_style(context, paths.map, style_path(paths.map))
            results.update({self.OUTPUT: paths.map, **paths.map_extras})
        return results

    @contextlib.contextmanager
    def _kept_when_cancelled(self, checkpoints, progress):
        """A cancelled run keeps the training's checkpoints for the next run, and the log says where."""
        try:
            yield
        except Cancelled:
            if os.path.isdir(checkpoints.folder):
                progress.log(self.tr("The training's checkpoints stay in {}: run the same command again to go on "
                                     "from them, or delete that folder").format(checkpoints.folder))
            raise

    def _destinations(self, parameters, context):
        """The output paths, each checked writable before the long work."""
        paths = _Destinations(self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context),
                              self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context),
                              self.parameterAsOutputLayer(parameters, self.OUTPUT, context) or None,
                              *map_options(self, parameters, context))
        for key, path in zip((self.OUTPUT_MODEL, self.OUTPUT_REPORT, self.OUTPUT), paths):
            if path:
                self.prepare_destination(key, path)
        return paths

    def _scenes(self, parameters, context, progress):
        """The training rasters, each with its ground truth, logged."""
        truth = self.parameterAsLayer(parameters, self.GROUND_TRUTH, context)
        rasters = self.parameterAsLayerList(parameters, self.MORE_INPUTS, context)
        more_truths = self.parameterAsLayerList(parameters, self.MORE_GROUND_TRUTH, context)
        problem = pairing_problem(rasters, truth, more_truths)
        if problem:
            raise InputError(problem)
        layers = [self.parameterAsRasterLayer(parameters, self.INPUT, context), *rasters]
        truths = [truth] * len(layers) if isinstance(truth, QgsVectorLayer) or not rasters else [truth, *more_truths]
        scenes = read_scenes(layers, truths, self.parameterAsString(parameters, self.CLASS_FIELD, context) or None,
                             context.transformContext(), progress)
        for scene in scenes:
            counts = scene.truth.class_counts()
            names = scene.truth.classes.names
            progress.log(self.tr("Ground truth of {}: {} labelled pixels in {} classes ({})").format(
                scene.name, sum(counts.values()), len(counts),
                ", ".join(f"{c} {names[c]}: {n}" if c in names else f"{c}: {n}" for c, n in counts.items())))
        points = self.parameterAsVectorLayer(parameters, self.LABELLED_POINTS, context)
        if points is not None:
            add_labelled_points(scenes, points, self.parameterAsString(parameters, self.CLASS_FIELD, context)
                                or DEFAULT_CLASS_FIELD, context.transformContext(), progress.log, self.LABELLED_POINTS)
        if len(scenes) == 1:
            scenes[0].truth.require_classes(2, self.GROUND_TRUTH)
        return scenes

    def _settings(self, parameters, context, scenes, progress):
        config = TrainingConfig.recipe(
            list(RECIPES)[self.parameterAsEnum(parameters, self.RECIPE, context)],
            window=self.parameterAsInt(parameters, self.WINDOW_SIZE, context),
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            dropout=self.parameterAsDouble(parameters, self.DROPOUT, context),
            seed=self.parameterAsInt(parameters, self.SEED, context),
            keep_best=self.parameterAsBool(parameters, self.KEEP_BEST, context),
            **self._given(parameters, context))
        return TrainingSettings(
            components=self.parameterAsInt(parameters, self.COMPONENTS, context),
            exclude_bands=self._excluded_bands(parameters, context, scenes, progress),
            split=SPLIT_METHODS[self.parameterAsEnum(parameters, self.SPLIT, context)],
            split_value=self._split_value(parameters, context),
            baseline=self.parameterAsBool(parameters, self.BASELINE, context), training=config)

    def _given(self, parameters, context):
        """The settings of RECIPE_NUMBERS and RECIPE_CHOICES that are given: the others are the recipe's."""
        given = {field: kind(self.parameterAsDouble(parameters, key, context))
                 for key, (field, kind) in self.RECIPE_NUMBERS.items() if parameters.get(key) not in (None, "")}
        for key, (field, options) in self.RECIPE_CHOICES.items():
            if parameters.get(key) not in (None, ""):
                given[field] = options[self.parameterAsEnum(parameters, key, context)]
        return given

    def _train(self, scenes, settings, checkpoints, progress):
        from ..core.splits import SplitError, fields
        from ..core.workflow import Scene, train_classifier

        mosaic, blocks, grid, classes = canvas(scenes, settings.training.window)
        info = scenes[0].info
        spill = self._spill_path(mosaic.height * mosaic.width, settings.components, progress)
        subject = self.tr("{} ('{}') under {}").format(self.GROUND_TRUTH, scenes[0].truth.source, self.SPLIT)
        try:
            with self.concerning(subject, settings.split, SplitError):
                return train_classifier(Scene(blocks, mosaic.height, mosaic.width, info.band_count, grid,
                                              nodata=info.nodata, classes=classes, mosaic=mosaic,
                                              groups=fields(grid) if scenes[0].truth.fields else None), settings,
                                        progress, spill_path=spill, baseline_runner=self._baseline_runner(progress),
                                        checkpoints=checkpoints)
        finally:
            if spill and os.path.exists(spill):
                os.remove(spill)

    @staticmethod
    def _baseline_runner(progress):
        """Runs the SVM baseline in a child process (child_process.py says why); a failure there
        costs the baseline, with a warning, never the training."""
        def run(function, *arguments):
            try:
                return run_in_child(function, *arguments)
            except (ChildError, InstallerError, OSError) as error:
                progress.warn(f"No SVM and random forest baselines this time: {error}")
                return None
        return run

    def _write_model_and_report(self, classifier, paths, layer_name):
        from ..core.modelfile import save_classifier
        from ..gdal_io.styles import class_map_preview
        from ..reporting.report import write_report

        with self.concerning(self.OUTPUT_MODEL, paths.model, OSError,
                             self.tr("cannot write the model ({}): free disk space or choose another folder")):
            save_classifier(classifier, paths.model)
        html_path, json_path = write_report(
            classifier.record, paths.report, class_map_preview(paths.map) if paths.map else None,
            title=self.tr("Fast 3D CNN training report: {}").format(layer_name))
        accuracy = classifier.record.accuracy
        return {self.OUTPUT_MODEL: paths.model, self.OUTPUT_REPORT: html_path, self.OUTPUT_JSON: json_path,
                self.OVERALL_ACCURACY: accuracy["overall_accuracy"],
                self.AVERAGE_ACCURACY: accuracy["average_accuracy"], self.KAPPA: accuracy["kappa"]}

    def _excluded_bands(self, parameters, context, scenes, progress):
        """The user's excluded bands plus the bands that hold only nodata in any raster, as 1-based ranges."""
        text = self.parameterAsString(parameters, self.BANDS, context)
        info = scenes[0].info
        excluded = set(parse_band_ranges(text, info.band_count).tolist())
        empty = sorted(set().union(*(empty_bands(scene.dataset) for scene in scenes)) - excluded)
        if empty:
            progress.log(self.tr("Bands {} hold only nodata and are excluded automatically").format(
                format_band_ranges(empty)))
        excluded = format_band_ranges(sorted(excluded | set(empty)))
        components = self.parameterAsInt(parameters, self.COMPONENTS, context)
        with self.concerning(self.COMPONENTS, components):
            check_components(components, info.band_count - len(parse_band_ranges(excluded, info.band_count)),
                             excluded)
        return excluded

    def _spill_path(self, pixels, components, progress):
        """A temporary file for the reduced cube when it is too large to keep in memory, else None."""
        size = pixels * components * 4
        if size <= min(SPILL_BYTES, _available_memory() // 4):
            return None
        handle, path = tempfile.mkstemp(prefix="f3dcnn-cube-", suffix=".npy", dir=QgsProcessingUtils.tempFolder())
        os.close(handle)
        progress.log(self.tr("The reduced scene ({:.1f} GB) is kept in the temporary file {} rather than in "
                             "memory").format(size / 2 ** 30, path))
        return path

    @staticmethod
    def _complete_record(record, scenes, class_field):
        """What the model file and the report keep about the inputs, beside what training measured."""
        first = scenes[0]
        record.inputs = {"raster": first.info.path, "raster_size": first.info.describe(),
                         "ground_truth": first.truth.source, "class_field": class_field or "",
                         "nodata": first.info.nodata}
        if len(scenes) > 1:
            record.inputs["further_rasters"] = [f"{s.info.path} ({s.info.describe()}; ground truth {s.truth.source})"
                                                for s in scenes[1:]]
        record.wavelengths = first.info.wavelengths
        counts = {}
        for scene in scenes:
            for class_id, n in scene.truth.class_counts().items():
                counts[class_id] = counts.get(class_id, 0) + n
        record.labelled_pixels = dict(sorted(counts.items()))
        record.versions["device"] = compute_device()


class _Destinations(NamedTuple):
    model: str
    report: str
    map: str
    map_options: dict  # map_outputs.map_options: classify_scene's keyword arguments
    map_extras: dict   # and the extra outputs {key: path}


def _available_memory():
    """Bytes of memory available for new allocations: Linux's MemAvailable (free memory plus the
    file cache it can drop), else the free pages where the system says (macOS); unbounded where
    unknown (Windows), so only SPILL_BYTES applies there."""
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 2 ** 63
