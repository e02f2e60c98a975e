"""QGIS-free engine of the Fast 3D CNN (Ahmad, 2020): spectral reduction, patches, splits, the
network, training, prediction, metrics and the model file.

Nothing here imports ``qgis`` or ``osgeo``: the core works on numpy arrays and block iterators so
it can be tested and benchmarked without QGIS, and the plugin layer turns rasters into arrays.
"""
