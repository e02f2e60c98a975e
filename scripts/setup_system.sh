#!/usr/bin/env bash
# Installs what the project needs from the system on Debian 12 / Ubuntu: QGIS with its Python
# bindings, GDAL and venv for QGIS's own Python (/usr/bin/python3), and Xvfb, the X server the
# dialog tests open QGIS windows in. Does nothing when present.
set -euo pipefail
PY=/usr/bin/python3
if [ -x "$PY" ] && "$PY" -c "import qgis.core, osgeo.gdal, venv, ensurepip" 2>/dev/null \
   && [ -x /usr/bin/qgis_process.bin ] && command -v xvfb-run >/dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
echo "Installing QGIS, python3-qgis and GDAL with apt (once)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  qgis python3-qgis qgis-providers python3-gdal gdal-bin python3-venv python3-pip zip unzip make \
  xvfb xauth
