"""QGIS-free engine of the Fast 3D CNN (Ahmad, 2020): spectral reduction, patches, splits, the
network, training, prediction, metrics and the model file.

Nothing here imports ``qgis`` or ``osgeo``: the core works on numpy arrays and block iterators so
it can be tested and benchmarked without QGIS, and the plugin layer turns rasters into arrays.

Importing it asks TensorFlow, if it is not imported yet, for its oneDNN kernels unless the user set
``TF_ENABLE_ONEDNN_OPTS``: TensorFlow turns them on by itself only on processors with AVX-512 VNNI,
BF16 or AMX, and elsewhere (AVX2: most laptops, many AMD servers) computes Conv3D's gradients with
Eigen kernels that fill a new buffer at every step. On a 2-core AMD EPYC with AVX2, five epochs of
Salinas-A trained in 10.7 s instead of 28.4 s (17 s of it the kernel's page faults), and ``make
demo`` (train and classify through qgis_process) took 1 min 45 s instead of 5 min 40 s. Here, not in
the plugin, so that scripts and benchmarks on the core compute as the plugin does; the plugin's
algorithms import the core when QGIS loads them, before anything imports TensorFlow.
"""
import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
