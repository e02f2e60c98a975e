"""Regenerates the screenshots under docs/images/ from the real QGIS GUI (issue 31: pictures made by
the program itself), so that the pictures in the README and docs show what the current plugin shows.

    make docs-images                 # DATA=../shared/data by default
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/docs_images.py --data DATA

It trains a real model on the tutorial scene (the EnMAP Berlin urban-gradient scene in
DATA/enmapbox_berlin_urban_gradient: EnMAP_BerlinUrbanGradient.bsq, land-cover polygons
LandCov_BerlinUrbanGradient.shp, class field Level_2) through the plugin's Processing algorithms in
this script's own QGIS application, classifies the scene, writes the HTML report and suggests where
to label next, all in a work folder (default build/docs-images, git-ignored; the inputs are copied
there first, so nothing is ever written into DATA). Then it opens, in real QGIS windows on the X
display, the Processing Toolbox, the train, classify and suggest dialogs filled in as in the
tutorial, the class map with its legend in a map canvas, the report, and the shipped graphical
model in the Graphical Modeler, and saves each as a PNG in docs/images/:

    toolbox.png  train-dialog.png  classify-dialog.png  suggest-dialog.png  class-map.png
    report.png  model.png  map-and-report.png (the class map in QGIS beside its report)

QGIS allows one application per process, and the windows need an X server (QT_QPA_PLATFORM=xcb,
which this script sets): run it under xvfb-run as `make docs-images` does, with the project's venv
Python (TensorFlow), in a throw-away QGIS profile so that nobody's settings show in the pictures.
Training uses a fixed seed; TensorFlow's threads may still change a few pixels between runs.

It stops with a non-zero exit status and a message naming the step when the data are missing, a
step of the plugin fails, or a window draws nothing. --reuse keeps the work folder's model, map and
report from an earlier run (to adjust the pictures without training again).
"""
import argparse
import glob
import os
import shutil
import sys
import time
import traceback

# Importing QGIS and Qt starts nothing: the environment is set (prepare_environment) before the
# QgsApplication is made (Session).
from qgis.core import (QgsApplication, QgsLayerTree, QgsLayerTreeModel, QgsProcessingException,
                       QgsProcessingFeedback, QgsProcessingModelAlgorithm, QgsProject, QgsRasterLayer,
                       QgsVectorLayer)
from qgis.gui import QgsLayerTreeMapCanvasBridge, QgsLayerTreeView, QgsMapCanvas
from qgis.PyQt.QtCore import QObject, QSize, Qt, QUrl, pyqtSignal
from qgis.PyQt.QtGui import QColor, QFont
from qgis.PyQt.QtWebKitWidgets import QWebView
from qgis.PyQt.QtWidgets import QAction, QFrame, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENE = "enmapbox_berlin_urban_gradient"
RASTER = "EnMAP_BerlinUrbanGradient"
POLYGONS = "LandCov_BerlinUrbanGradient"
CLASS_FIELD = "Level_2"
#: The files the tutorial's training writes, relative to the work folder (the dialogs show these
#: names, as a person who works in that folder would type them).
MODEL, REPORT, CLASS_MAP, CONFIDENCE, POINTS = ("berlin.f3dcnn", "berlin_report.html", "berlin_classes.tif",
                                                "berlin_confidence.tif", "berlin_suggestions.gpkg")
SHIPPED_MODEL = os.path.join(ROOT, "resources", "models", "train_classify_suggest.model3")
#: A picture over this size is reported (the docs keep each under about 400 KB).
MAX_BYTES = 400_000


class Failure(Exception):
    """A step that did not do its job: its message is printed and the script exits with status 1."""


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("DATA") or os.path.join(ROOT, "..", "shared", "data"),
                        help="folder laid out like ../shared/data (default: $DATA, else ../shared/data)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "images"), help="where the PNGs go")
    parser.add_argument("--work", default=os.path.join(ROOT, "build", "docs-images"),
                        help="work folder for the copied inputs, model, maps and report (emptied first)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the model, maps and report of an earlier run in --work instead of training")
    parser.add_argument("--epochs", type=int, help="cap the training epochs (for trying the layout quickly)")
    return parser.parse_args()


def say(message):
    print(f"docs-images: {message}", flush=True)


def check_data(data):
    """The scene's files, or Failure naming the first one missing."""
    folder = os.path.join(data, SCENE)
    needed = [os.path.join(folder, RASTER + ext) for ext in (".bsq", ".hdr")]
    needed += [os.path.join(folder, POLYGONS + ext) for ext in (".shp", ".shx", ".dbf", ".prj")]
    missing = [path for path in needed if not os.path.isfile(path)]
    if missing:
        raise Failure(f"the tutorial scene is missing: {missing[0]} not found (DATA={data!r}; "
                      f"give the folder laid out like ../shared/data with DATA=... or --data)")
    return folder


def copy_inputs(folder, work):
    """Copies the raster and the polygons (with their sidecars and styles) into work/input: QGIS and
    GDAL write sidecars next to what they open."""
    target = os.path.join(work, "input")
    os.makedirs(target, exist_ok=True)
    for name in (RASTER, POLYGONS):
        for path in glob.glob(os.path.join(folder, name + ".*")):
            shutil.copy2(path, target)
    return os.path.join(target, RASTER + ".bsq"), os.path.join(target, POLYGONS + ".shp")


def prepare_environment(work):
    """Before Qt starts: a real X display, a fresh QGIS profile, no sidecars."""
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["GDAL_PAM_ENABLED"] = "NO"
    os.environ["CPL_VSIL_GZIP_WRITE_PROPERTIES"] = "NO"
    profile = os.path.join(work, "profile")
    shutil.rmtree(profile, ignore_errors=True)
    os.makedirs(profile)
    os.environ["QGIS_CUSTOM_CONFIG_PATH"] = profile
    if not os.environ.get("XDG_RUNTIME_DIR"):  # else Qt warns at start and picks a folder of its own
        os.makedirs(os.path.join(profile, "runtime"), mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = os.path.join(profile, "runtime")
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)

class Feedback(QgsProcessingFeedback):
    """Prints what an algorithm reports, prefixed with the step, so that `make docs-images` shows the
    training's log as it goes."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def _print(self, text):
        for line in str(text).splitlines():
            print(f"  [{self.step}] {line}", flush=True)

    def pushInfo(self, info):
        self._print(info)

    def pushWarning(self, warning):
        self._print("warning: " + warning)

    def reportError(self, error, fatalError=False):
        self._print("error: " + error)

    def setProgressText(self, text):
        self._print(text)


class ToolboxInterface(QObject):
    """The few members of QGIS's iface that the Processing Toolbox asks for when it is made (there is
    no QGIS main window in this script)."""
    currentLayerChanged = pyqtSignal(object)

    def iconSize(self, dockedToolbar=False):
        return QSize(24, 24)

    def mainWindow(self):
        return None


class Session:
    """One QGIS GUI application with Processing and the plugin's provider, working in ``work``."""

    def __init__(self, work, out):
        self.work, self.out, self.saved = work, out, []
        self.app = QgsApplication([], True)
        self.app.initQgis()
        self.app.setFont(QFont("DejaVu Sans", 9))
        sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
        import processing
        from processing.core.Processing import Processing

        from fast3dcnn_qgis.provider import Fast3DCNNProvider
        Processing.initialize()
        self.processing = processing
        self.provider = Fast3DCNNProvider()
        if not QgsApplication.processingRegistry().addProvider(self.provider):
            raise Failure("QGIS refused the plugin's Processing provider")
        # The dialogs show the file names relative to the work folder, as a person working there types them.
        os.chdir(work)
        self.project = QgsProject.instance()
        self.layers = {}

    # -- waiting for Qt ------------------------------------------------------------------------
    def settle(self, seconds=0.5):
        """Lets windows draw and queued signals arrive."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.02)

    def wait_for(self, condition, what, timeout=60):
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise Failure(f"gave up waiting {timeout} s for {what}")
            self.settle(0.1)

    # -- the tutorial's runs -------------------------------------------------------------------
    def load_inputs(self, raster, polygons):
        layers = {"raster": QgsRasterLayer(raster, RASTER), "polygons": QgsVectorLayer(polygons, POLYGONS, "ogr")}
        for key, layer in layers.items():
            if not layer.isValid():
                raise Failure(f"QGIS cannot open {layer.source()}")
        self.project.addMapLayers(list(layers.values()))
        self.layers.update(layers)

    def run(self, algorithm, parameters, step):
        say(f"{step}...")
        start = time.monotonic()
        try:
            results = self.processing.run(algorithm, parameters, feedback=Feedback(step))
        except QgsProcessingException as error:
            raise Failure(f"{step} ({algorithm}) failed: {error}") from error
        for key, value in results.items():
            if key.startswith("OUTPUT") and isinstance(value, str) and value and not os.path.exists(value):
                raise Failure(f"{step} ({algorithm}) wrote no {key} ({value})")
        say(f"{step} done in {time.monotonic() - start:.0f} s")
        return results

    def path(self, name):
        return os.path.join(self.work, name)

    def run_tutorial(self, epochs):
        raster, polygons = self.layers["raster"].source(), self.layers["polygons"].source()
        train = self.run("fast3dcnn:train", {
            **self.train_values(raster, polygons), **({"EPOCHS": epochs} if epochs else {}),
            "OUTPUT_MODEL": self.path(MODEL), "OUTPUT_REPORT": self.path(REPORT)}, "training")
        say(f"test pixels: overall accuracy {train['OVERALL_ACCURACY']:.1%}, kappa {train['KAPPA']:.3f}")
        self.run("fast3dcnn:classify", {"INPUT": raster, "MODEL": self.path(MODEL), "OUTPUT": self.path(CLASS_MAP),
                                        "OUTPUT_CONFIDENCE": self.path(CONFIDENCE)}, "classifying")
        self.run("fast3dcnn:suggest", {**self.suggest_values(raster, polygons), "MODEL": self.path(MODEL),
                                       "OUTPUT": self.path(POINTS)}, "suggesting")

    @staticmethod
    def train_values(raster, polygons):
        """The tutorial's training (docs/tutorial-berlin.md): the scene, its land-cover polygons named
        by Level_2 and seed 0; the rest the defaults."""
        return {"INPUT": raster, "GROUND_TRUTH": polygons, "CLASS_FIELD": CLASS_FIELD, "SEED": 0}

    @staticmethod
    def suggest_values(raster, polygons):
        return {"INPUT": raster, "GROUND_TRUTH": polygons, "CLASS_FIELD": CLASS_FIELD, "POINTS": 50}

    # -- pictures ------------------------------------------------------------------------------
    def save(self, widget, name, least_colours=20):
        """Saves what ``widget`` shows as OUT/name.png; a window that drew nothing (a few flat colours
        on a sample grid) stops the script."""
        image = widget.grab().toImage()
        colours = {image.pixel(x, y) for x in range(0, image.width(), max(1, image.width() // 80))
                   for y in range(0, image.height(), max(1, image.height() // 80))}
        if len(colours) < least_colours:
            raise Failure(f"{name}.png: the window drew nothing ({len(colours)} colours in a sample of its pixels)")
        path = os.path.join(self.out, name + ".png")
        if not image.save(path, "PNG"):
            raise Failure(f"could not write {path}")
        if os.path.getsize(path) > MAX_BYTES:
            say(f"note: {name}.png is {os.path.getsize(path) / 1000:.0f} KB, over {MAX_BYTES / 1000:.0f} KB")
        say(f"{name}.png: {image.width()} x {image.height()}")
        self.saved.append(path)
        return image

    def take_pictures(self):
        self.toolbox_picture()
        raster, polygons = self.layers["raster"], self.layers["polygons"]
        # Tall enough for the train dialog to show its outputs too (Xvfb draws windows larger than its screen).
        self.dialog_picture("fast3dcnn:train", "train-dialog", self.train_values(raster, polygons),
                            {"OUTPUT_MODEL": MODEL, "OUTPUT_REPORT": REPORT}, size=(1200, 1250))
        self.dialog_picture("fast3dcnn:classify", "classify-dialog", {"INPUT": raster, "MODEL": MODEL},
                            {"OUTPUT": CLASS_MAP, "OUTPUT_CONFIDENCE": CONFIDENCE}, size=(1200, 700))
        self.dialog_picture("fast3dcnn:suggest", "suggest-dialog", {**self.suggest_values(raster, polygons),
                                                                     "MODEL": MODEL}, {"OUTPUT": POINTS},
                            size=(1200, 720))
        self.class_map_picture()
        self.report_picture()
        self.model_picture()
        self.map_and_report_picture()

    def toolbox_picture(self):
        """The Processing Toolbox, every provider folded but the plugin's, its first algorithm chosen."""
        from processing.gui import ProcessingToolbox as toolbox_module
        toolbox_module.iface = ToolboxInterface()
        toolbox = toolbox_module.ProcessingToolbox()
        toolbox.resize(460, 660)
        toolbox.show()
        self.settle()
        tree = toolbox.algorithmTree
        model = tree.model()
        tree.collapseAll()
        rows = [model.index(row, 0) for row in range(model.rowCount())]
        ours = [index for index in rows if model.data(index) == self.provider.name()]
        if not ours:
            raise Failure(f"the toolbox does not list {self.provider.name()!r}: {[model.data(i) for i in rows]}")
        tree.expand(ours[0])
        if model.rowCount(ours[0]) < 6:
            raise Failure(f"the toolbox lists {model.rowCount(ours[0])} algorithms under {self.provider.name()!r}")
        tree.setCurrentIndex(model.index(0, 0, ours[0]))
        tree.scrollTo(ours[0], tree.PositionAtTop)
        self.settle()
        self.save(toolbox, "toolbox")
        toolbox.hide()

    def dialog_picture(self, algorithm, name, inputs, outputs, size):
        """The algorithm's dialog, filled in: inputs first, so that the class field can follow the
        ground truth, then the rest."""
        from processing.gui.AlgorithmDialog import AlgorithmDialog
        dialog = AlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById(algorithm), False, None)
        dialog.show()
        self.settle()
        dialog.resize(*size)  # after show: Processing restores the size the last dialog had
        first = {key: value for key, value in inputs.items() if key != "CLASS_FIELD"}
        dialog.setParameters(first)
        self.settle()
        dialog.setParameters({key: value for key, value in {**inputs, **outputs}.items() if key not in first})
        self.settle()
        shown = dialog.mainWidget().wrappers
        if "CLASS_FIELD" in inputs and shown["CLASS_FIELD"].parameterValue() != inputs["CLASS_FIELD"]:
            raise Failure(f"{name}: the class field shows {shown['CLASS_FIELD'].parameterValue()!r}")
        self.save(dialog, name)
        dialog.hide()

    def class_map_layer(self):
        if "classes" not in self.layers:
            layer = QgsRasterLayer(self.path(CLASS_MAP), os.path.splitext(CLASS_MAP)[0])
            if not layer.isValid():
                raise Failure(f"QGIS cannot open the class map {self.path(CLASS_MAP)}")
            if layer.renderer().type() != "paletted":
                raise Failure(f"the class map opens with a {layer.renderer().type()} renderer, not its classes' "
                              "style (.qml beside it)")
            self.project.addMapLayer(layer, False)
            self.layers["classes"] = layer
        return self.layers["classes"]

    def map_panel(self, canvas_size, legend_width):
        """A QGIS map canvas with the class map and, left of it, its layer tree with the class names
        and colours, as QGIS's main window shows them."""
        layer = self.class_map_layer()
        panel = QWidget()
        row = QHBoxLayout(panel)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        legend = QWidget()
        column = QVBoxLayout(legend)
        column.setContentsMargins(6, 6, 0, 0)
        title = QLabel("Layers")
        title.setStyleSheet("font-weight: bold")
        column.addWidget(title)
        root = QgsLayerTree()
        root.addLayer(layer)
        model = QgsLayerTreeModel(root)
        model.setFlag(QgsLayerTreeModel.AllowNodeChangeVisibility)
        model.setFlag(QgsLayerTreeModel.ShowLegendAsTree)
        view = QgsLayerTreeView()
        view.setModel(model)
        view.setIconSize(QSize(18, 18))
        column.addWidget(view)
        legend.setFixedWidth(legend_width)
        canvas = QgsMapCanvas()
        canvas.setCanvasColor(QColor("white"))
        canvas.setFixedSize(*canvas_size)
        bridge = QgsLayerTreeMapCanvasBridge(root, canvas)
        canvas.setDestinationCrs(layer.crs())
        canvas.setLayers([layer])
        row.addWidget(legend)
        row.addWidget(canvas)
        panel._keep = (root, model, view, bridge, canvas)  # Qt does not own the tree, model or bridge
        return panel

    def draw(self, panel):
        """Shows the panel's whole class map and waits until the canvas has drawn it."""
        _, _, view, _, canvas = panel._keep
        view.expandAll()
        drawn = []
        canvas.mapCanvasRefreshed.connect(lambda: drawn.append(True))
        canvas.setExtent(self.layers["classes"].extent())
        canvas.refresh()
        self.wait_for(lambda: drawn and not canvas.isDrawing(), "the map canvas to draw the class map")
        self.settle()

    def class_map_picture(self):
        panel = self.map_panel((600, 800), 260)
        panel.setWindowTitle("Class map")
        panel.show()
        self.draw(panel)
        self.save(panel, "class-map")
        panel.hide()

    def report_view(self):
        view = QWebView()
        loaded = []
        view.loadFinished.connect(loaded.append)
        view.load(QUrl.fromLocalFile(self.path(REPORT)))
        self.wait_for(lambda: loaded, "the report to load")
        if not loaded[0]:
            raise Failure(f"the report {self.path(REPORT)} did not load")
        return view

    def report_picture(self):
        view = self.report_view()
        view.resize(1100, 900)
        view.show()
        self.settle(1)
        self.save(view, "report")
        view.hide()

    def model_picture(self):
        """The shipped model (train, classify, suggest) in the Graphical Modeler, zoomed to fit."""
        from processing.modeler.ModelerDialog import ModelerDialog
        model = QgsProcessingModelAlgorithm()
        if not model.fromFile(SHIPPED_MODEL):
            raise Failure(f"QGIS cannot read the model {SHIPPED_MODEL}")
        designer = ModelerDialog.create(model)
        designer.resize(1400, 900)
        designer.show()
        self.settle()
        zoom = [action for action in designer.findChildren(QAction) if action.objectName() == "mActionZoomToItems"]
        if not zoom:
            raise Failure("the Graphical Modeler has no Zoom Full action (mActionZoomToItems)")
        zoom[0].trigger()
        for edit in designer.findChildren(QLineEdit):  # the model's name from its start, as when typed
            edit.setCursorPosition(0)
        self.settle()
        self.save(designer, "model")
        designer.hide()

    def map_and_report_picture(self):
        """The README's first picture: the class map in QGIS beside its report, in one window."""
        window = QWidget()
        window.setWindowTitle("Fast 3D CNN: class map and report")
        row = QHBoxLayout(window)
        row.setContentsMargins(0, 0, 0, 0)
        panel = self.map_panel((540, 720), 230)
        row.addWidget(panel)
        line = QFrame()
        line.setFrameShape(QFrame.VLine)
        line.setFrameShadow(QFrame.Sunken)
        row.addWidget(line)
        report = self.report_view()
        row.addWidget(report, 1)
        window.resize(1560, 720)
        window.show()
        self.draw(panel)
        self.settle(1)
        self.save(window, "map-and-report")
        window.hide()


def main():
    arguments = parse_arguments()
    start = time.monotonic()
    if not os.environ.get("DISPLAY"):
        raise Failure("no X display: run under xvfb-run (make docs-images does), e.g. "
                      "xvfb-run -a -s '-screen 0 1600x1000x24' .venv/bin/python scripts/docs_images.py")
    folder = check_data(os.path.abspath(arguments.data))
    work, out = os.path.abspath(arguments.work), os.path.abspath(arguments.out)
    if arguments.reuse:
        missing = [name for name in (MODEL, REPORT, CLASS_MAP, POINTS) if not os.path.exists(os.path.join(work, name))]
        if missing:
            raise Failure(f"--reuse: {os.path.join(work, missing[0])} is missing; run once without --reuse")
    else:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    raster, polygons = copy_inputs(folder, work)
    prepare_environment(work)

    session = Session(work, out)
    session.load_inputs(raster, polygons)
    if not arguments.reuse:
        session.run_tutorial(arguments.epochs)
    session.take_pictures()
    say(f"{len(session.saved)} pictures in {out} in {time.monotonic() - start:.0f} s:")
    for path in session.saved:
        say(f"  {os.path.relpath(path, ROOT)}  {os.path.getsize(path) / 1000:.0f} KB")


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        say(f"FAILED: {failure}")
        sys.stdout.flush()
        os._exit(1)
    except BaseException:  # noqa: B902 -- any other error fails the target loudly, with its trace
        traceback.print_exc()
        say("FAILED (see the trace above)")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    # Leaves without QGIS's teardown, which can crash after the work is done and change the status.
    os._exit(0)
