"""The Processing algorithms (one per module) and what they share: the base class, the class-field
widget and the child process that keeps crash-prone native code out of QGIS."""
