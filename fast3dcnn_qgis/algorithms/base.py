"""The small base class every Fast 3D CNN algorithm derives from.

API for subclasses (the whole contract):

- class attributes ``NAME`` (the id after ``fast3dcnn:``), ``DISPLAY_NAME`` and ``DESCRIPTION``
  (the help page's opening paragraphs, plain text, one paragraph per line);
- ``defineParameters(self)``: declare each parameter or output once, with its help sentence, through
  ``self.declare(definition, help)`` (``QgsProcessingParameter...``) or
  ``self.declareOutput(output, help)`` (``QgsProcessingOutput...``); the help page, the tooltips and
  ``qgis_process help`` are generated from these;
- ``execute(self, parameters, context, progress)``: the work; returns the results dict (never
  override ``run``: that is QgsProcessingAlgorithm.run, which Processing calls). ``progress`` is a
  ``Progress``, the core's ``Reporter`` on QGIS's feedback, handed to the core as it is
  (``progress.progress(fraction)``, ``progress.check_cancel()``, ``progress.log(text)``,
  ``progress.warn(text)``), with ``progress.part(start, end)`` for a phase's span (fractions).
  Raise ``core.errors.InputError`` (every input error of the core and the plugin derives from it)
  or ``QgsProcessingException`` with a message naming the parameter, the value and the fix, and
  let ``core.errors.Cancelled`` through: ``processAlgorithm`` turns them into QGIS's exception,
  in this one place;
- optionally ``checkParameterValues`` (call the base first) to reject bad input before anything runs;
  the base already names numbers outside their range with the range, and refuses a destination
  that is one of the input files;
- ``self.prepare_destination(key, path)`` in ``execute``, before the long work, for every file it
  will write: it creates the folder and fails by name where nothing can be written;
- ``load_with_style(context, path, qml)`` makes a written map load into the project with its style.

The base checks that the modules in ``REQUIRES`` (by default TensorFlow/Keras and scikit-learn)
import before ``execute`` and otherwise fails with the install command, so a missing package never
breaks the plugin itself; algorithms that need less say so, and never pay TensorFlow's start-up.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback,
                       QgsProcessingLayerPostProcessorInterface, QgsProcessingOutputDefinition,
                       QgsProcessingParameterBoolean, QgsProcessingParameterDefinition, QgsProcessingParameterEnum,
                       QgsProcessingParameterFile,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterString)
from qgis.PyQt.QtCore import QCoreApplication

from ..core.errors import Cancelled, InputError
from ..gdal_io.reading import gdal_quietly
from ..setup.dependencies import MODULES, missing_message, missing_packages
from .progress import Progress
from .user_guide import section_url


class Fast3DCNNAlgorithm(QgsProcessingAlgorithm):
    NAME = ""
    DISPLAY_NAME = ""
    DESCRIPTION = ""
    REQUIRES: tuple[str, ...] = MODULES

    def __init__(self) -> None:
        super().__init__()
        self._help: dict[str, str] = {}

    # -- identity ----------------------------------------------------------------------------
    def tr(self, text: str) -> str:
        return QCoreApplication.translate("Fast3DCNN", text)

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:
        return self.tr(self.DISPLAY_NAME)

    def group(self) -> str:
        return ""

    def groupId(self) -> str:
        return ""

    def createInstance(self) -> "Fast3DCNNAlgorithm":
        return type(self)()

    # -- parameters and help -------------------------------------------------------------------
    def initAlgorithm(self, configuration: dict | None = None) -> None:
        self._help = {}
        self.defineParameters()

    def defineParameters(self) -> None:
        raise NotImplementedError

    def declare(self, definition: QgsProcessingParameterDefinition, help_text: str,
                advanced: bool = False) -> QgsProcessingParameterDefinition:
        """Adds a parameter (destinations create their output) with its help sentence; ``advanced``
        puts it under the dialog's Advanced Parameters."""
        if advanced:
            definition.setFlags(definition.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        definition.setHelp(help_text)
        self._help[definition.name()] = help_text
        self.addParameter(definition)
        return definition

    def declare_class_field(self, key: str, label: str, layer_key: str,
                            help_text: str) -> QgsProcessingParameterDefinition:
        """An optional class-field name; in the dialogs an editable list of the fields of the vector
        layer chosen for ``layer_key`` (class_field_widget.py says why it is not a field parameter)."""
        definition = QgsProcessingParameterString(key, label, optional=True)
        definition.setMetadata({"widget_wrapper": {"class": f"{__package__}.class_field_widget.ClassFieldWrapper",
                                                   "layer_parameter": layer_key}})
        return self.declare(definition, help_text)

    def declareOutput(self, output: QgsProcessingOutputDefinition,
                      help_text: str) -> QgsProcessingOutputDefinition:
        """Adds a result that is not a destination parameter (a number, a string)."""
        self._help[output.name()] = help_text
        self.addOutput(output)
        return output

    def shortHelpString(self) -> str:
        """Plain text, one paragraph per line: the dialog shows each line as a paragraph and
        ``qgis_process help`` prints it as it is."""
        lines = [self.tr(self.DESCRIPTION).strip()]
        for heading, rows in self.help_rows():
            lines += ["", self.tr(heading)]
            for label, key, notes, help_text in rows:
                suffix = f" ({', '.join(notes)})" if notes else ""
                lines.append(f"{label} [{key}]{suffix}: {help_text}")
        return "\n".join(lines)

    def helpUrl(self) -> str:
        """The algorithm's section of the user guide, which the dialog's Help button opens."""
        return section_url(self.DISPLAY_NAME)

    def help_rows(self) -> list[tuple[str, list[tuple[str, str, list[str], str]]]]:
        """("Parameters" and "Outputs", their rows): each row (label, key, notes such as "optional" and
        the default, help sentence). The dialog's help and the user guide's tables
        (scripts/docs_parameters.py) are both written from these."""
        parameters, outputs = [], []
        for definition in self.parameterDefinitions():
            if definition.flags() & QgsProcessingParameterDefinition.Flag.FlagHidden:
                continue
            (outputs if definition.isDestination() else parameters).append(self._parameter_row(definition))
        declared = {row[1] for row in outputs}
        outputs += [(o.description(), o.name(), [], self._help.get(o.name(), ""))
                    for o in self.outputDefinitions() if o.name() not in declared]
        return [("Parameters", parameters), ("Outputs", outputs)]

    def _parameter_row(self, definition):
        notes = []
        if definition.flags() & QgsProcessingParameterDefinition.Flag.FlagOptional:
            notes.append(self.tr("optional"))
        default = self._default_text(definition)
        if default:
            notes.append(self.tr("default {}").format(default))
        return definition.description(), definition.name(), notes, self._help.get(definition.name(), "")

    def _default_text(self, definition):
        default = definition.defaultValue()
        if default is None or default == "" or definition.isDestination():
            return ""
        if isinstance(definition, QgsProcessingParameterEnum):
            return definition.options()[int(default)]
        if isinstance(definition, QgsProcessingParameterBoolean):
            return self.tr("yes") if default else self.tr("no")
        return str(default)

    # -- running -------------------------------------------------------------------------------
    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        problems = missing_packages(self.REQUIRES)
        if problems:
            raise QgsProcessingException(missing_message(problems))
        try:
            with gdal_quietly():
                return self.execute(parameters, context, Progress(feedback))
        except Cancelled:
            raise QgsProcessingException(self.tr("Cancelled by the user: no output was written.")) from None
        except QgsProcessingException:
            raise
        except (ValueError, OSError) as error:  # InputError is a ValueError
            raise QgsProcessingException(str(error)) from error

    def execute(self, parameters: dict[str, Any], context: QgsProcessingContext,
                progress: Progress) -> dict[str, Any]:
        raise NotImplementedError

    def checkParameterValues(self, parameters: dict[str, Any], context: QgsProcessingContext) -> tuple[bool, str]:
        """QGIS's own check, with numbers outside their range named with the value and the range
        (QGIS says only 'Incorrect parameter value'). Input layers given as paths are loaded here
        (qgis_process, models, scripts), so GDAL writes no statistics sidecar beside them."""
        with gdal_quietly(statistics_sidecars=False):
            return self._check_parameter_values(parameters, context)

    def _check_parameter_values(self, parameters, context):
        for definition in self.parameterDefinitions():
            if not isinstance(definition, QgsProcessingParameterNumber):
                continue
            value = parameters.get(definition.name())
            if isinstance(value, bool) or not isinstance(value, (int, float, str)) or value == "":
                continue  # unset, or an expression or property QGIS evaluates itself
            try:
                number = float(value)
            except ValueError:
                return self.reject(definition.name(), value, self.tr("give a number"))
            low, high = definition.minimum(), definition.maximum()
            if not low <= number <= high:
                integer = definition.dataType() == QgsProcessingParameterNumber.Type.Integer
                shown = (lambda x: f"{x:.0f}") if integer else (lambda x: f"{x:g}")
                return self.reject(definition.name(), value, self.tr("choose a value from {} to {}").format(
                    shown(low), shown(high)))
        ok, message = super().checkParameterValues(parameters, context)
        return self._check_inputs_kept(parameters, context) if ok else (ok, message)

    def _check_inputs_kept(self, parameters, context):
        """Refuses a destination that is one of the input files: the run would replace its own input."""
        inputs = {}
        for definition in self.parameterDefinitions():
            if isinstance(definition, QgsProcessingParameterFile):
                path = self.parameterAsFile(parameters, definition.name(), context)
            elif definition.isDestination() or parameters.get(definition.name()) in (None, ""):
                continue
            else:
                layer = self.parameterAsLayer(parameters, definition.name(), context)
                path = layer.source().split("|")[0] if layer is not None else ""
            if path and os.path.exists(path):
                inputs[os.path.realpath(path)] = definition.name()
        for definition in self.destinationParameterDefinitions():
            if isinstance(definition, QgsProcessingParameterRasterDestination):
                path = self.parameterAsOutputLayer(parameters, definition.name(), context)
            elif isinstance(definition, QgsProcessingParameterFileDestination):
                path = self.parameterAsFileOutput(parameters, definition.name(), context)
            else:
                continue
            source = inputs.get(os.path.realpath(path)) if path else None
            if source:
                return self.reject(definition.name(), path, self.tr(
                    "this is the input {}, which the run must not overwrite: choose a different file").format(source))
        return True, ""

    def prepare_destination(self, key: str, path: str) -> str:
        """Creates the folder of the destination ``path`` and checks that files can be written
        there, before any long work, so an unwritable destination fails at once and by name."""
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(folder, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as error:
            raise QgsProcessingException(self.tr("{} = {}: cannot write in '{}' ({}): choose a writable "
                                                 "folder").format(key, path, folder, error.strerror)) from None
        return path

    @contextlib.contextmanager
    def concerning(self, key: str, value: object = None,
                   errors: type[Exception] | tuple[type[Exception], ...] = InputError,
                   reason: str = "{}") -> Iterator[None]:
        """Errors of the kinds ``errors`` raised inside become an InputError of the same kind that
        names the parameter they concern, as every message must: ``KEY = value: reason``, the error's
        own message (an OSError's system reason) put in ``reason``. ``key`` may be a phrase that
        starts with the parameter's key."""
        try:
            yield
        except errors as error:
            detail = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            subject = key if value is None else f"{key} = {value}"
            kind = type(error) if isinstance(error, InputError) else InputError
            raise kind(f"{subject}: {reason.format(detail)}") from None

    def reject(self, key: str, value: object, fix: str) -> tuple[bool, str]:
        """The (False, message) pair ``checkParameterValues`` returns for a bad value of ``key``."""
        label = self.parameterDefinition(key).description()
        shown = self.tr("(empty)") if value is None or value == "" else value
        return False, self.tr("{} ({}) = {}: {}").format(label, key, shown, fix)



class _StyleOnLoad(QgsProcessingLayerPostProcessorInterface):
    """Applies a saved style to an output layer when Processing loads it into the project."""

    def __init__(self, qml_path):
        super().__init__()
        self.qml_path = qml_path

    def postProcessLayer(self, layer, context, feedback):
        layer.loadNamedStyle(self.qml_path)
        layer.triggerRepaint()


#: Post-processors must outlive the algorithm run that created them (Processing keeps no reference).
_STYLE_ON_LOAD = {}


def load_with_style(context: QgsProcessingContext, path: str, qml_path: str) -> None:
    """Makes the output layer at ``path`` open with the style ``qml_path`` when it is loaded into the
    project after the run (the GUI dialog, models). QGIS would also find the .qml beside the file;
    this also covers layers loaded under a temporary name."""
    if not context.willLoadLayerOnCompletion(path):
        return
    processor = _STYLE_ON_LOAD[path] = _StyleOnLoad(qml_path)
    context.layerToLoadOnCompletionDetails(path).setPostProcessor(processor)
