"""The QGIS GUI plugin: it registers the Processing provider, where all the work lives, and offers to
install TensorFlow and scikit-learn when they are missing."""
from qgis.core import Qgis, QgsApplication

from . import installer
from .dependencies import unfound_packages
from .provider import Fast3DCNNProvider

MENU = "Fast 3D CNN"


class Fast3DCNNPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.install_action = None
        # Before anything imports Keras, also in qgis_process: packages the installer put in the
        # profile are found like any other.
        installer.activate(installer.private_folder(QgsApplication.qgisSettingsDirPath()))

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
        self.install_action = QAction("Install dependencies…", self.iface.mainWindow())
        self.install_action.triggered.connect(self.show_installer)
        self.iface.addPluginToMenu(MENU, self.install_action)
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
        from .install_dialog import InstallDialog

        InstallDialog(self.iface.mainWindow()).exec()

    def unload(self):
        if self.install_action is not None:
            self.iface.removePluginMenu(MENU, self.install_action)
            self.install_action = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
