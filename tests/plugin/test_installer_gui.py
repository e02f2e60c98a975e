"""The GUI side of the installer in a QGIS GUI application (offscreen) on QGIS's own Python without
TensorFlow: the message bar offers the install once, the Plugins menu has the entry, and the dialog
runs the real pip, shows its output and kills it on Cancel."""
import os
import subprocess

import pytest
from helpers import SYSTEM_PYTHON, printed, system_python_has

# QGIS's GUI in QGIS's own Python, started as a subprocess.
pytestmark = pytest.mark.slow


SCRIPT = """
from qgis.core import QgsApplication
from qgis.gui import QgsMessageBar
from qgis.PyQt.QtCore import QEventLoop, QProcess, QTimer
from qgis.PyQt.QtWidgets import QDialogButtonBox, QMainWindow, QMenu, QPushButton

app = QgsApplication([], True)
app.initQgis()


class Interface:
    '''The few QgisInterface calls the plugin makes, on real widgets.'''

    def __init__(self):
        self.window, self.bar, self.menus = QMainWindow(), QgsMessageBar(), {}

    def mainWindow(self):
        return self.window

    def messageBar(self):
        return self.bar

    def addPluginToMenu(self, name, action):
        self.menus.setdefault(name, QMenu(name)).addAction(action)

    def removePluginMenu(self, name, action):
        self.menus[name].removeAction(action)


from fast3dcnn_qgis import classFactory
from fast3dcnn_qgis.setup.install_dialog import InstallDialog

iface = Interface()
plugin = classFactory(iface)
plugin.initGui()
print("MENU", [a.text() for a in iface.menus["Fast 3D CNN"].actions()])
print("MESSAGES", iface.bar.items() and [w.text() for w in iface.bar.items()])
print("BUTTONS", [b.text() for w in iface.bar.items() for b in w.findChildren(QPushButton)])

dialog = InstallDialog(iface.mainWindow())
dialog.buttons.button(QDialogButtonBox.Ok).click()
loop = QEventLoop()
dialog.process.readyReadStandardOutput.connect(lambda: QTimer.singleShot(0, dialog.cancel))
dialog.process.finished.connect(loop.quit)
QTimer.singleShot(120000, loop.quit)
print("RUNNING", dialog.process.state() != QProcess.NotRunning)
loop.exec_()
print("STOPPED", dialog.process.state() == QProcess.NotRunning)
print("STATUS", dialog.status.text())
print("OUTPUT", "--constraint" in dialog.output.toPlainText() and "Keeping QGIS's packages: " in
      dialog.output.toPlainText())
print("CLOSE", dialog.buttons.button(QDialogButtonBox.Close).isEnabled())
import os
print("CONSTRAINTS", "numpy==" in open(plugin.target + "-constraints.txt").read())
plugin.remove_dependencies(confirm=False)
print("REMOVED", os.path.exists(plugin.target), os.path.exists(plugin.target + "-constraints.txt"),
      iface.bar.currentItem().text())
plugin.unload()
print("UNLOADED", iface.menus["Fast 3D CNN"].actions())
"""


@pytest.mark.skipif(not system_python_has(('qgis.gui', 'pip'), 'keras'), reason="needs QGIS's Python with pip and without Keras")
def test_message_bar_menu_and_a_cancelled_install(tmp_path, plugin_root):
    env = dict(os.environ, PYTHONPATH=plugin_root, QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(tmp_path))
    done = subprocess.run([SYSTEM_PYTHON, "-s", "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300,
                          cwd=plugin_root)
    assert "UNLOADED" in done.stdout, done.stdout + done.stderr[-3000:]
    assert printed(done.stdout, "MENU") == "['Install dependencies…', 'Remove installed dependencies…']"
    assert "keras (package tensorflow-cpu)" in printed(done.stdout, "MESSAGES")
    assert printed(done.stdout, "BUTTONS") == "['Install…']"
    assert printed(done.stdout, "RUNNING") == "True"
    assert printed(done.stdout, "STOPPED") == "True"
    assert printed(done.stdout, "STATUS").startswith("Cancelled.")
    assert printed(done.stdout, "OUTPUT") == "True"
    assert printed(done.stdout, "CLOSE") == "True"
    assert printed(done.stdout, "UNLOADED") == "[]"
    assert printed(done.stdout, "CONSTRAINTS") == "True"
    assert printed(done.stdout, "REMOVED").startswith("False False removed ") and "restart QGIS" in done.stdout
    assert os.listdir(tmp_path / "profiles" / "default" / "python") == []
