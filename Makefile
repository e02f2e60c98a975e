# One entry point for set-up, tests, demo and packaging. Everything runs on QGIS's own Python
# (/usr/bin/python3 on Debian/Ubuntu) through a virtual environment that sees QGIS and GDAL.
SYSTEM_PYTHON := /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
export QT_QPA_PLATFORM ?= offscreen
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup test demo package deploy bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt scripts/setup_system.sh
	bash scripts/setup_system.sh
	test -x $(PY) || $(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -c "import numpy, osgeo.gdal, qgis.core, keras, sklearn; assert numpy.__version__ < '2'"
	touch $@

test: setup
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) dist .pytest_cache
