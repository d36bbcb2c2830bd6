#!/usr/bin/env bash
# test_trace_svg.sh — `huginn trace --plots` and `huginn plot` on the shipped chain model: the four SVGs
# exist, are well-formed XML (xmllint, or Python's XML parser when xmllint is absent), carry a title
# and axis text, `huginn plot DIR --tokens ...` redraws them, the .npy files open in NumPy (when it is
# installed) with the shapes index.json states; and each SVG renders in headless Chromium to a
# non-empty PNG. Exit 77 (skipped) only when Chromium is absent, after every other check passed.
set -euo pipefail
H=${HUGINN:?}
SRC=${HG_SOURCE_DIR:?}
T=${HG_TEST_TMP:-/tmp}/trace_svg
rm -rf "$T" && mkdir -p "$T"
"$H" trace -m "$SRC/models/default" -p "k=3;a=k;z=1;d=a;?d=" --steps 16 -n 2 --temp 0 --init-scale 0 \
  --exit latent-diff --exit-threshold 0.01 --plots --out "$T/run" >/dev/null
"$H" plot "$T/run" --tokens 4,5,6 --out "$T/run" >/dev/null
for f in pca convergence heatmap lens; do
  svg="$T/run/$f.svg"
  [ -s "$svg" ] || { echo "FAIL: $svg missing"; exit 1; }
  if command -v xmllint >/dev/null; then
    xmllint --noout "$svg" || { echo "FAIL: $svg is not well-formed XML"; exit 1; }
  else
    python3 -c "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])" "$svg" || { echo "FAIL: $svg"; exit 1; }
  fi
  grep -q "<text" "$svg" || { echo "FAIL: $svg has no text"; exit 1; }
done
grep -q "PC1" "$T/run/pca.svg" && grep -q "iteration t" "$T/run/convergence.svg" && grep -q "iteration t" "$T/run/lens.svg" \
  || { echo "FAIL: axis labels missing"; exit 1; }
PY=""
for py in python3 /usr/bin/python3; do "$py" -c "import numpy" 2>/dev/null && { PY=$py; break; }; done
if [ -n "$PY" ]; then
  "$PY" - "$T/run" <<'PY'
import json, sys, numpy as np
d = sys.argv[1]
ix = json.load(open(d + "/index.json"))
for name, shape in ix["arrays"].items():
    a = np.load(d + "/" + name)
    assert list(a.shape) == shape, (name, a.shape, shape)
    assert a.dtype in (np.float32, np.int32), (name, a.dtype)
lat = np.load(d + "/latents.npy")
assert lat.shape[0] == ix["n_positions"] and np.isfinite(lat).all()
print("numpy reads", len(ix["arrays"]), "arrays")
PY
fi
command -v chromium >/dev/null || { echo "chromium absent: render check skipped"; exit 77; }
for f in pca convergence heatmap lens; do
  rm -f "$T/$f.png"
  timeout 120 chromium --headless --no-sandbox --disable-gpu --window-size=1000,900 \
    --screenshot="$T/$f.png" "file://$T/run/$f.svg" >/dev/null 2>&1 || true
  [ -s "$T/$f.png" ] || { echo "FAIL: chromium did not render $f.svg"; exit 1; }
done
echo "ok: 4 SVGs well-formed and rendered"
