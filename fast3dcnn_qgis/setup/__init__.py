"""Getting the plugin's dependencies into QGIS's Python: the installer, the checks that decide
whether it is needed and which Keras backend runs, and the dialog that offers it."""
