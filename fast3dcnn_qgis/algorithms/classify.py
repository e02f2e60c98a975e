"""``fast3dcnn:classify``: a trained model applied to a whole raster, block by block."""

from qgis.core import (QgsProcessingParameterEnum, QgsProcessingParameterFile,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterString)

from ..core.errors import InputError
from ..core.modelfile import ModelFileError
from ..core.settings import PRECISIONS
from ..gdal_io.band_matching import matched_bands
from ..gdal_io.class_maps import classify_scene
from ..gdal_io.reading import open_raster, raster_info
from ..gdal_io.styles import style_path
from ..gdal_io.writing import rejection_note
from ..reporting.report import the_map
from ..setup.dependencies import DASK, missing_packages
from .base import Fast3DCNNAlgorithm, load_with_style
from .map_outputs import (OUTPUT_CONFIDENCE, OUTPUT_PROBABILITIES, check_map_outputs, declare_map_options,
                          map_options)


class ClassifyAlgorithm(Fast3DCNNAlgorithm):
    INPUT = "INPUT"
    MODEL = "MODEL"
    OUTPUT = "OUTPUT"
    OUTPUT_CONFIDENCE = OUTPUT_CONFIDENCE
    OUTPUT_PROBABILITIES = OUTPUT_PROBABILITIES
    SCHEDULER = "SCHEDULER"
    PRECISION = "PRECISION"

    NAME = "classify"
    DISPLAY_NAME = "Classify raster with a trained model"
    DESCRIPTION = (
        "Applies a model made by 'Train 3D CNN classifier' to a hyperspectral raster and writes a class map. "
        "Every pixel is classified from the window of pixels around it, after the same band selection and PCA "
        "that training used; where the model holds a random forest and an SVM (trained on a held-out split), "
        "each class is the one with the highest geometric mean of the network's, the forest's and the SVM's "
        "probabilities, as in the model's report, and where the model smooths its map (its training labels came in areas) each pixel's "
        "probabilities are the geometric mean of those within the model's radius. The raster must come from the same sensor with the same bands as the training "
        "raster. Pixels that are nodata in any used band stay unclassified (0).\n"
        "The class map is a GeoTIFF with the raster's georeferencing, a colour table, the class names and a "
        "default style (.qml beside it), so it opens coloured and named. Large rasters are processed in "
        "blocks; Cancel stops after the current block and leaves no partial file.")

    def defineParameters(self):
        self.declare(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Hyperspectral raster")),
                     self.tr("The raster to classify, with the same bands, in the same order, as the raster "
                             "the model was trained on."))
        # Any file name: the model is recognised by its content, so a model saved under another
        # extension by train (OUTPUT_MODEL=scene.model) opens too.
        self.declare(QgsProcessingParameterFile(
            self.MODEL, self.tr("Model file"), fileFilter=self.tr("Fast 3D CNN model (*.f3dcnn);;All files (*)")),
            self.tr("A model file written by 'Train 3D CNN classifier' (.f3dcnn, or any name it was saved "
                    "under). It holds the band selection, the PCA, the network and the class names and colours; "
                    "'Model information' shows all it holds, its accuracy and the bands it expects."))
        self.declare(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Class map")),
                     self.tr("The class map (GeoTIFF): class ids in the smallest integer type, 0 = unclassified "
                             "(nodata), with colour table, class names and a .qml style beside it."))
        declare_map_options(self)
        self.declare(QgsProcessingParameterEnum(self.PRECISION, self.tr("Arithmetic"), options=list(PRECISIONS),
                                                defaultValue=0),
                     self.tr("auto: bfloat16 where the processor computes it natively (CPUs with AMX or AVX-512 "
                             "BF16, NVIDIA GPUs from Ampere on), about twice as fast, else float32. float32: "
                             "always float32 (bit-for-bit the network as trained). mixed_bfloat16: always "
                             "bfloat16 (slow where it is emulated). bfloat16 changed 2 of Salinas-A's 7,138 labels "
                             "and 18 of Indian Pines' 21,025 (0.03% and 0.09%); the weights stay float32 either way."), advanced=True)
        self.declare(QgsProcessingParameterString(self.SCHEDULER, self.tr("Dask scheduler"), optional=True),
                                 self.tr("Address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786) to classify "
                                         "on its cluster: the raster is cut into tiles that the workers read and "
                                         "classify themselves, so the raster must be at the same path on them. "
                                         "Empty classifies here. Not with class probabilities."), advanced=True)

    def checkParameterValues(self, parameters, context):
        ok, message = super().checkParameterValues(parameters, context)
        if ok and self.parameterAsString(parameters, self.SCHEDULER, context).strip():
            probabilities = self.parameterAsOutputLayer(parameters, self.OUTPUT_PROBABILITIES, context)
            if probabilities:
                return self.reject(self.OUTPUT_PROBABILITIES, probabilities, self.tr(
                    "class probabilities are written only when classifying here: leave SCHEDULER empty"))
        return check_map_outputs(self, parameters, context) if ok else (ok, message)

    def execute(self, parameters, context, progress):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        model_path = self.parameterAsFile(parameters, self.MODEL, context)
        output = self.prepare_destination(self.OUTPUT, self.parameterAsOutputLayer(parameters, self.OUTPUT, context))
        options, extras = map_options(self, parameters, context)
        options["precision"] = PRECISIONS[self.parameterAsEnum(parameters, self.PRECISION, context)]
        scheduler = self.parameterAsString(parameters, self.SCHEDULER, context).strip()
        if scheduler:
            self._on_cluster(scheduler, model_path, layer, output, options, progress)
        else:
            self._here(model_path, layer, output, options, progress)
        load_with_style(context, output, style_path(output))
        return {self.OUTPUT: output, **extras}

    def _here(self, model_path, layer, output, options, progress):
        """Classifies in this process, matching the raster's bands to the model's by wavelength where needed."""
        from ..core.modelfile import load_classifier, map_steps

        dataset = open_raster(layer.source(), self.INPUT)
        info = raster_info(dataset)
        with self.concerning(self.MODEL, errors=ModelFileError):
            classifier = load_classifier(model_path)
        progress.log(self.tr("Classifying {} ({}) into {} classes with a {} x {} window; the map: {}").format(
            layer.name(), info.describe(), len(classifier.class_ids), classifier.window, classifier.window,
            the_map(map_steps(classifier))))
        with matched_bands(classifier, dataset, info, f"{self.INPUT} ('{layer.name()}')", progress.log) as matched:
            classify_scene(*matched, output, progress, **options)

    def _on_cluster(self, scheduler, model_path, layer, output, options, progress):
        """Classifies on the Dask cluster at ``scheduler`` (cluster.py), which reads and checks the model
        without Keras: this process loads no network. Cancel stops the cluster's tasks."""
        problems = missing_packages(DASK)
        if problems:
            raise InputError(self.tr("{} = {} needs Dask: {}. Install the plugin's dependencies again (Plugins > "
                                     "Fast 3D CNN > Install dependencies), which now include it.").format(
                self.SCHEDULER, scheduler, "; ".join(problems)))
        from ..cluster import SceneJob, classify_on_cluster, connect

        job = SceneJob(layer.source(), output, options["confidence_path"])
        with self.concerning(self.SCHEDULER):
            client = connect(scheduler)
        progress.log(self.tr("Classifying on the Dask cluster at {} ({} workers)").format(
            scheduler, len(client.scheduler_info().get("workers", {}))))
        try:
            with self.concerning(self.MODEL, errors=ModelFileError):
                classify_on_cluster(client, model_path, [job], min_confidence=options["min_confidence"],
                                    progress=lambda job: progress.progress(job.done / max(job.tiles, 1)),
                                    should_cancel=progress.is_canceled, precision=options["precision"])
        finally:
            client.close()
        if job.error:
            raise InputError(f"{self.INPUT} ('{layer.name()}'): {job.error}")
        if options["min_confidence"] > 0:
            progress.log(rejection_note(job.rejected, options["min_confidence"]))
