#!/usr/bin/env bash
# The README's main command (`make demo`): train the Fast 3D CNN on the Salinas-A scene shipped in
# tests/data and classify it, both through qgis_process, with the plugin installed from its built zip
# into a throw-away QGIS profile -- exactly what a user of the released plugin runs.
#
#   EPOCHS=N           most training epochs (empty: the robust recipe's 40; training stops early when
#                      the validation pixels stop improving: about half a minute on 2 cores)
#   DEMO_OUTPUT=demo-output   where the model, report and maps go
#
# qgis_process: /usr/bin/qgis_process.bin, not /usr/bin/qgis_process -- Debian's wrapper script passes
# $QGIS_OPTS from /etc/default/qgis (--noversioncheck, an option of the QGIS app) and qgis_process stops
# with "Command --noversioncheck not known!".
# TensorFlow (or Keras on JAX) lives in the project's venv ($VENV, default .venv); QGIS's embedded
# Python sees it through PYTHONPATH (the venv's site-packages, where QGIS's numpy is pinned, so GDAL's
# bindings keep the numpy they were built against).
set -euo pipefail
cd "$(dirname "$0")/.."

EPOCHS=${EPOCHS:-}
OUT=${DEMO_OUTPUT:-demo-output}
QGIS_PROCESS=${QGIS_PROCESS:-/usr/bin/qgis_process.bin}
VENV_PYTHON=${VENV:-.venv}/bin/python
BANDS="108-112,154-167,224"   # AVIRIS water-absorption bands the paper drops (1-based)

[ -x "$QGIS_PROCESS" ] || { echo "demo: $QGIS_PROCESS not found; run 'make setup' first" >&2; exit 1; }
[ -x "$VENV_PYTHON" ] || { echo "demo: $VENV_PYTHON not found; run 'make setup' first" >&2; exit 1; }
start=$(date +%s)

zip=$(python3 scripts/package.py | cut -d: -f1)
profile=$(mktemp -d "${TMPDIR:-/tmp}/fast3dcnn-demo-profile.XXXXXX")
trap 'rm -rf "$profile"' EXIT
mkdir -p "$profile/profiles/default/python/plugins"
unzip -q "$zip" -d "$profile/profiles/default/python/plugins"

export QGIS_CUSTOM_CONFIG_PATH="$profile"
export QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=3
site_packages=$("$VENV_PYTHON" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
export PYTHONPATH="$site_packages${PYTHONPATH:+:$PYTHONPATH}"
"$QGIS_PROCESS" plugins enable fast3dcnn_qgis >/dev/null 2>"$profile/enable.log" || {
  cat "$profile/enable.log" >&2; echo "demo: could not enable the plugin" >&2; exit 1; }

# Work on copies: QGIS writes statistics sidecars (.aux.xml) next to the rasters it opens.
rm -rf "$OUT"
mkdir -p "$OUT/input"
cp tests/data/salinas_a.tif tests/data/salinas_a_gt.tif tests/data/salinas_a_gt.tif.aux.xml "$OUT/input/"

run() {  # run ALGORITHM NAME PARAMETERS...: JSON result in $OUT/NAME.json, messages in $OUT/NAME.log
  local algorithm=$1 name=$2
  shift 2
  if ! "$QGIS_PROCESS" --json run "$algorithm" -- "$@" >"$OUT/$name.json" 2>"$OUT/$name.log"; then
    tail -n 20 "$OUT/$name.log" >&2
    echo "demo: $algorithm failed; full messages in $OUT/$name.log" >&2
    exit 1
  fi
}

echo "Training on Salinas-A (86 x 83 pixels, 224 bands, 6 classes)${EPOCHS:+, at most $EPOCHS epochs}..."
# Training also maps the scene, only so that the report shows the map; the map you get comes from
# the saved model below, as it would for any other raster.
run fast3dcnn:train train \
  INPUT="$OUT/input/salinas_a.tif" GROUND_TRUTH="$OUT/input/salinas_a_gt.tif" BANDS="$BANDS" \
  ${EPOCHS:+EPOCHS="$EPOCHS"} OUTPUT_MODEL="$OUT/salinas_a.f3dcnn" OUTPUT_REPORT="$OUT/salinas_a_report.html" \
  OUTPUT="$profile/preview.tif"
echo "Classifying the scene with the trained model..."
run fast3dcnn:classify classify \
  INPUT="$OUT/input/salinas_a.tif" MODEL="$OUT/salinas_a.f3dcnn" \
  OUTPUT="$OUT/salinas_a_classes.tif" OUTPUT_CONFIDENCE="$OUT/salinas_a_confidence.tif"

"$VENV_PYTHON" - "$OUT" "$(( $(date +%s) - start ))" <<'EOF'
import json, os, sys
out, seconds = sys.argv[1], int(sys.argv[2])
train = json.load(open(os.path.join(out, "train.json")))["results"]
classify = json.load(open(os.path.join(out, "classify.json")))["results"]
record = json.load(open(train["OUTPUT_JSON"]))
print(f"\nTraining {record['stop_reason']}.")
print(f"Test pixels ({record['split']['description']}):")
print(f"  overall accuracy {train['OVERALL_ACCURACY']:.2%}, average accuracy {train['AVERAGE_ACCURACY']:.2%}, "
      f"kappa {train['KAPPA']:.4f}")
if record.get("balance"):
    print(f"  (the map's classes weighted against their training shares; unweighted "
          f"{record['balance']['unweighted_accuracy']['overall_accuracy']:.2%})")
smoothing = record.get("smoothing") or {}
if smoothing.get("radius"):
    print(f"  (the map smoothed over {smoothing['radius']} pixels, as the training labels agree; unsmoothed "
          f"{smoothing['unsmoothed_accuracy']['overall_accuracy']:.2%})")
if record.get("fusion"):
    fused_with = "random forest and SVM" if "support_vectors" in record["fusion"] else "random forest"
    print(f"  (the map: the network fused with its {fused_with}; the network alone "
          f"{record['fusion']['network_accuracy']['overall_accuracy']:.2%})")
print(f"Model:      {os.path.abspath(train['OUTPUT_MODEL'])}")
print(f"Report:     {os.path.abspath(train['OUTPUT_REPORT'])} (figures also in {os.path.basename(train['OUTPUT_JSON'])})")
print(f"Class map:  {os.path.abspath(classify['OUTPUT'])} (opens coloured and named in QGIS)")
print(f"Confidence: {os.path.abspath(classify['OUTPUT_CONFIDENCE'])}")
print(f"Done in {seconds // 60} min {seconds % 60} s.")
EOF
