"""The dialog that runs the installer inside QGIS: pip's output live, a busy bar and a Cancel that kills pip.

pip runs in a QProcess, so QGIS stays responsive; what it installs, and why QGIS's packages are
safe, is in installer.py.
"""
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QProcess
from qgis.PyQt.QtGui import QFontDatabase
from qgis.PyQt.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QProgressBar, QVBoxLayout

from . import dependencies, installer

OK, CANCEL, CLOSE = (QDialogButtonBox.StandardButton.Ok, QDialogButtonBox.StandardButton.Cancel,
                     QDialogButtonBox.StandardButton.Close)


class InstallDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Fast 3D CNN: install TensorFlow and scikit-learn")
        self.resize(760, 460)
        self.target = installer.private_folder(QgsApplication.qgisSettingsDirPath())
        self.versions = {}
        self.process = None
        self.cancelled = False

        self.status = QLabel(
            f"Installs {', '.join(installer.requirements())} into\n{self.target}\n"
            "QGIS's own packages (numpy, GDAL, PyQt...) are pinned to their versions and never replaced. "
            "The download is about 250 MB. " + installer.backend_note())
        self.status.setWordWrap(True)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.buttons = QDialogButtonBox(OK | CANCEL | CLOSE)
        self.buttons.button(OK).setText("Install")
        self.buttons.button(OK).clicked.connect(self.start)
        self.buttons.button(CANCEL).clicked.connect(self.cancel)
        self.buttons.button(CANCEL).setEnabled(False)
        self.buttons.button(CLOSE).clicked.connect(self.close)

        layout = QVBoxLayout(self)
        for widget in (self.status, self.output, self.bar, self.buttons):
            layout.addWidget(widget)

    def log(self, text):
        self.output.appendPlainText(text.rstrip("\n"))

    def start(self):
        try:
            command, self.versions = installer.prepare(self.target)
        except (installer.InstallerError, OSError) as error:
            self.log(str(error))
            return
        self.log("Keeping QGIS's packages: " + ", ".join(f"{n} {v}" for n, v in sorted(self.versions.items())))
        self.log(" ".join(command))
        self.cancelled = False
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._failed_to_start)
        self._running(True)
        self.process.start(command[0], command[1:])

    def _running(self, running):
        self.bar.setRange(0, 0 if running else 1)  # a busy bar: pip gives no overall percentage
        self.buttons.button(OK).setEnabled(not running)
        self.buttons.button(CANCEL).setEnabled(running)
        self.buttons.button(CLOSE).setEnabled(not running)

    def _read(self):
        text = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.startswith(("Collecting", "Installing collected", "Successfully")):
                self.status.setText(line)
            self.log(line)

    def _failed_to_start(self, error):
        if error == QProcess.ProcessError.FailedToStart:
            self.log(f"Could not start {self.process.program()}: {self.process.errorString()}")
            self._running(False)

    def cancel(self):
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self.cancelled = True
            self.process.kill()

    def _finished(self, code, status):
        self._running(False)
        self.bar.setValue(1)
        if self.cancelled:
            self.status.setText("Cancelled. The package folder may be incomplete: press Install again.")
            return
        if status != QProcess.ExitStatus.NormalExit or code != 0:
            self.status.setText(f"pip failed (exit code {code}). {installer.failure_hint(self.output.toPlainText())}")
            return
        removed = installer.remove_copies(self.target, self.versions)
        self.log("Removed the copies of QGIS's packages: " + (", ".join(removed) or "none"))
        if not installer.activate(self.target):
            self.status.setText("Installed. Restart QGIS to use the Fast 3D CNN algorithms "
                                "(parts of the packages were already loaded in this session).")
            return
        problems = dependencies.missing_packages()
        if problems:
            self.status.setText("Installed, but not importable in this session; restart QGIS. "
                                + "; ".join(problems))
        else:
            self.status.setText(f"Installed: the Fast 3D CNN algorithms are ready "
                                f"(training on {dependencies.compute_device()}). {installer.backend_note()}")

    def closeEvent(self, event):
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            event.ignore()  # Cancel first: closing must not leave pip running unseen
            return
        super().closeEvent(event)
