"""The QGIS GUI plugin: it registers the Processing provider, where all the work lives, and offers to
install TensorFlow and scikit-learn when they are missing."""
from qgis.core import Qgis, QgsApplication

from .provider import Fast3DCNNProvider
from .setup import installer
from .setup.dependencies import unfound_packages

MENU = "Fast 3D CNN"


class Fast3DCNNPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.actions = []
        self.target = installer.private_folder(QgsApplication.qgisSettingsDirPath())
        # Before anything imports Keras, also in qgis_process: packages the installer put in the
        # profile are found like any other (after QGIS's own, which they never replace).
        installer.activate(self.target)

    def initProcessing(self):
        """Called by QGIS (also by qgis_process, which has no GUI) before initGui."""
        if self.provider is None:
            self.provider = Fast3DCNNProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):
        try:
            from qgis.PyQt.QtGui import QAction  # Qt 6 (QGIS 4) keeps it in QtGui
        except ImportError:
            from qgis.PyQt.QtWidgets import QAction  # Qt 5 (QGIS 3)

        self.initProcessing()
        for text, slot in (("Install dependencies…", self.show_installer),
                           ("Remove installed dependencies…", self.remove_dependencies)):
            action = QAction(text, self.iface.mainWindow())
            action.triggered.connect(lambda checked=False, slot=slot: slot())
            self.iface.addPluginToMenu(MENU, action)
            self.actions.append(action)
        missing = unfound_packages()
        if missing:
            self.offer_install(missing)

    def offer_install(self, missing):
        """One message bar entry, with a button that opens the installer."""
        from qgis.PyQt.QtWidgets import QPushButton

        bar = self.iface.messageBar()
        message = bar.createMessage(
            "Fast 3D CNN", "needs TensorFlow and scikit-learn, not installed for QGIS's Python (missing: "
            + ", ".join(missing) + ").")
        button = QPushButton("Install…", message)
        button.clicked.connect(lambda: (bar.popWidget(message), self.show_installer()))
        message.layout().addWidget(button)
        bar.pushWidget(message, Qgis.MessageLevel.Warning)

    def show_installer(self):
        from .setup.install_dialog import InstallDialog

        InstallDialog(self.iface.mainWindow()).exec()

    def remove_dependencies(self, confirm=True):
        """Deletes the folder the installer filled, after asking; QGIS's own packages are untouched."""
        from qgis.PyQt.QtWidgets import QMessageBox

        if confirm and QMessageBox.question(
                self.iface.mainWindow(), MENU, f"Delete the packages installed for the plugin in {self.target}? "
                "QGIS's own packages are not touched.") != QMessageBox.StandardButton.Yes:
            return
        if installer.remove(self.target):
            text, level = f"removed {self.target}; restart QGIS to unload them.", Qgis.MessageLevel.Success
        else:
            text, level = f"nothing is installed in {self.target}.", Qgis.MessageLevel.Info
        self.iface.messageBar().pushMessage(MENU, text, level)

    def unload(self):
        for action in self.actions:
            self.iface.removePluginMenu(MENU, action)
        self.actions = []
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
