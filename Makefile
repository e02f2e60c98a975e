# One entry point for set-up, tests, demo and packaging. Everything runs on QGIS's own Python
# (/usr/bin/python3 on Debian/Ubuntu) through a virtual environment that sees QGIS and GDAL.
SYSTEM_PYTHON := /usr/bin/python3
# Another name per system when one checkout serves several (scripts/debian_chroot.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
export QT_QPA_PLATFORM ?= offscreen
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup test test-fast test-debian13 test-debian-unstable demo package deploy bench clean docs-images

setup: $(VENV)/.installed

# QGIS's own numpy, GDAL, PyQt, scipy... are pinned (qgis-constraints.txt, written by the plugin's
# installer from QGIS's Python), so pip chooses the TensorFlow and scikit-learn that work with them.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml scripts/setup_system.sh fast3dcnn_qgis/setup/installer.py
	bash scripts/setup_system.sh
	test -x $(PY) || $(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(SYSTEM_PYTHON) -m fast3dcnn_qgis.setup.installer --constraints $(VENV)/qgis-constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c $(VENV)/qgis-constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	$(PY) -c "from fast3dcnn_qgis.setup.dependencies import choose_keras_backend; choose_keras_backend(); \
	  import numpy, osgeo.gdal, qgis.core, keras, sklearn, fast3dcnn_qgis.core.network; \
	  assert 'numpy==' + numpy.__version__ in open('$(VENV)/qgis-constraints.txt').read().split(), numpy.__version__"
	touch $@

# mypy checks the core's type hints first ([tool.mypy] in pyproject.toml), then pytest runs TESTS.
# MARKS picks tests by marker ([tool.pytest.ini_options] lists them), e.g. MARKS="not slow".
TESTS ?= tests
MARKS ?=
test: setup
	$(PY) -m mypy
	$(PY) -m pytest -q $(if $(MARKS),-m "$(MARKS)") $(TESTS)

# While editing: the tests not marked slow (nothing that trains, nor starts qgis_process, QGIS's GUI,
# a Python that imports Keras, or pip), in under a minute on 2 cores.
test-fast: setup
	$(PY) -m pytest -q -m "not slow" $(TESTS)

# The same suite on Debian 13's QGIS 3.40 LTR (Python 3.13, numpy 2), in a Debian 13 system built
# once with debootstrap under /var/cache/fast3dcnn-chroots (scripts/debian_chroot.sh; needs root or sudo).
test-debian13:
	bash scripts/debian_chroot.sh trixie make test VENV=.venv-trixie

# Debian unstable: QGIS 3.44 LTR on Python 3.14 and numpy 2.4, where TensorFlow has no release and
# Keras runs on JAX. The tests marked debian_unstable: the train/classify/assess path through
# qgis_process, the core's network, training on tiles, settings, the installer and the Qt scan (on JAX
# the whole suite would recompile for every new shape, too slow here).
test-debian-unstable:
	bash scripts/debian_chroot.sh sid make test VENV=.venv-sid MARKS=debian_unstable

# The main job: train on the shipped Salinas-A scene and classify it through qgis_process, with the
# plugin installed from its zip into a throw-away QGIS profile (EPOCHS=... to cap the
# epochs; empty: the training recipe's).
demo: setup
	VENV=$(VENV) bash scripts/demo.sh

# dist/fast3dcnn_qgis-<version>.zip for the plugin repository or "Install from ZIP" (links followed).
package:
	$(SYSTEM_PYTHON) scripts/package.py

# Installs the plugin into the user's QGIS profile as the zip would (a copy: run again after editing,
# then reload the plugin in QGIS).
QGIS_PLUGINS ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default/python/plugins
deploy:
	$(SYSTEM_PYTHON) scripts/package.py --stage "$(QGIS_PLUGINS)"
	-/usr/bin/qgis_process.bin plugins enable fast3dcnn_qgis >/dev/null 2>&1
	@echo "For QGIS to find TensorFlow in $(VENV), start it with:"
	@echo "  PYTHONPATH=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null || echo '<.venv site-packages>') qgis"

# The paper's Table III on every scene in DATA (a folder laid out like ../shared/data): table.md,
# summary.json, runs.jsonl and PNG previews in bench-out/ (resumable). QUICK=1: one scene, one run.
# BENCH_ARGS passes options on, e.g. BENCH_ARGS="--splits paper --windows 11 13" (see --help).
bench: setup
	@test -n "$(DATA)" || { echo "make bench needs DATA=<folder with indian_pines/, salinas_a/, ...>, e.g. make bench DATA=../shared/data"; exit 2; }
	$(PY) tests/benchmarks/paper_tables.py --data "$(DATA)" $(if $(QUICK),--quick) $(BENCH_ARGS)

# The screenshots in docs/images/, taken of the real QGIS GUI under Xvfb by scripts/docs_images.py: it
# trains on the tutorial's Berlin EnMAP scene in DATA (default ../shared/data) in build/docs-images,
# classifies, reports and suggests, then photographs the toolbox, the dialogs, the map, the report and
# the modeler. About 1.5 minutes on 2 cores; commit the PNGs it rewrites.
docs-images: setup
	@$(SYSTEM_PYTHON) -c "import PyQt5.QtWebKitWidgets" 2>/dev/null || { echo "make docs-images draws the report \
	  with QtWebKit: sudo apt-get install python3-pyqt5.qtwebkit"; exit 2; }
	QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) scripts/docs_images.py --data "$(or $(DATA),../shared/data)"

clean:
	rm -rf $(VENV) .venv-* dist .pytest_cache demo-output
