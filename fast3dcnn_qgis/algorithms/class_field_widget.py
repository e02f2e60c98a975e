"""The class-field chooser of the train and assess dialogs: an editable list of the fields of the
vector layer chosen as ground truth, empty when a raster is chosen.

QGIS's own field parameter is not used: on QGIS 3.22 its widget crashes QGIS when the layer
parameter it follows holds a raster, and the ground truth may be either (tested in
tests/plugin/test_dialogs.py). The parameter therefore stays a string, so qgis_process, scripts
and models pass a typed name; only the widget follows the layer. Processing imports this module
when it opens a dialog, never when it merely lists the algorithms.

This is Processing's Python widget API (QGIS 3.x), which QGIS 4 removes (QEP 427): there the
metadata naming this class is ignored and CLASS_FIELD shows as a plain text box, the same parameter.
"""
from processing.gui.wrappers import DIALOG_MODELER, WidgetWrapper
from qgis.core import (QgsMapLayer, QgsProcessingContext, QgsProcessingOutputString, QgsProcessingParameterField,
                       QgsProcessingParameterString, QgsProcessingUtils, QgsProject, QgsVectorLayer)
from qgis.PyQt.QtWidgets import QComboBox


def layer_field_names(value):
    """The field names of the vector layer a layer parameter's value designates (a layer, a layer id
    of the project or a file path), or [] for anything else."""
    if isinstance(value, QgsMapLayer):
        layer = value
    elif value:
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        layer = QgsProcessingUtils.mapLayerFromString(str(value), context)
    else:
        layer = None
    return layer.fields().names() if isinstance(layer, QgsVectorLayer) else []


class ClassFieldWrapper(WidgetWrapper):
    """Processing's widget wrapper for the class field; ``layer_parameter`` names the ground-truth
    parameter it follows (from the parameter's ``widget_wrapper`` metadata)."""

    def __init__(self, param, dialog, row=0, col=0, layer_parameter=None, **kwargs):
        self.layer_parameter = layer_parameter
        super().__init__(param, dialog, row, col, **kwargs)

    def createWidget(self):
        combo = QComboBox()
        combo.setEditable(True)
        combo.setToolTip(self.parameterDefinition().toolTip())
        if self.dialogType == DIALOG_MODELER:
            # In a model the name comes from a model input or another step's output, or is typed.
            for source in self.dialog.getAvailableValuesOfType(
                    [QgsProcessingParameterString, QgsProcessingParameterField], [QgsProcessingOutputString]):
                combo.addItem(self.dialog.resolveValueDescription(source), source)
        else:
            combo.currentTextChanged.connect(lambda _text: self.widgetValueHasChanged.emit(self))
        return combo

    def postInitialize(self, wrappers):
        if self.dialogType == DIALOG_MODELER:
            return  # a model's layer is only known when the model runs
        for wrapper in wrappers:
            if wrapper.parameterDefinition().name() == self.layer_parameter:
                wrapper.widgetValueHasChanged.connect(self.follow)
                self.follow(wrapper)

    def follow(self, layer_wrapper):
        """Lists the fields of the layer now chosen, keeping the name typed or chosen when the layer has
        it, else proposing a field whose name holds "class"."""
        chosen = self.widget.currentText()
        names = layer_field_names(layer_wrapper.parameterValue())
        if names and chosen not in names:
            chosen = next((name for name in names if "class" in name.lower()), "")
        self.widget.blockSignals(True)
        self.widget.clear()
        self.widget.addItems(names)
        self.widget.setEditText(chosen)
        self.widget.blockSignals(False)
        self.widgetValueHasChanged.emit(self)

    def setValue(self, value):
        if self.dialogType == DIALOG_MODELER:
            self.setComboValue(value)
        else:
            self.widget.setEditText("" if value is None else str(value))

    def value(self):
        if self.dialogType == DIALOG_MODELER:
            return self.comboValue()
        return self.widget.currentText().strip() or None
