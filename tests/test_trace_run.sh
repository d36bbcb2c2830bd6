#!/usr/bin/env bash
# test_trace_run.sh — `huginn trace` generates what `huginn run` generates with the same options: the
# same ids and the same iterations per token, with random initial states and sampling (so the seed
# schedule of both loops is followed) and with every generation loop trace supports: plain, warm start
# (normalised, raw), adaptive exit with logit and latent criteria, and a logit criterion checked every
# 3rd iteration (whose token comes from an earlier check: the lens must restore that check's coda K/V).
set -euo pipefail
H=${HUGINN:?}
M=${HG_TEST_DATA:?}/golden_model/tiny
T=${HG_TEST_TMP:-/tmp}/trace_run
rm -rf "$T" && mkdir -p "$T"
fail=0
while IFS= read -r extra; do
  # shellcheck disable=SC2086
  a=$("$H" run -m "$M" --ids 5,7,9,11,400 --steps 8 -n 12 --seed 5 $extra --json |
      python3 -c "import json,sys; print([(g['id'], g['steps']) for g in json.load(sys.stdin)['generated']])")
  # shellcheck disable=SC2086
  "$H" trace -m "$M" --ids 5,7,9,11,400 --steps 8 -n 12 --seed 5 $extra --out "$T/t" >/dev/null
  b=$(python3 -c "import json,sys; print([(t['id'], t['produced_by_steps']) for t in json.load(open(sys.argv[1]))['tokens'] if t['kind'] == 'generated'])" "$T/t/index.json")
  if [ "$a" = "$b" ]; then echo "ok [$extra]"; else echo "FAIL [$extra]: run $a, trace $b"; fail=1; fi
done <<'CASES'

--temp 0
--warm-start
--warm-start --warm-state raw
--exit kl
--exit latent-diff --warm-start
--exit entropy-diff --check-every 3
--exit kl --check-every 3 --warm-start --warm-state normalized
--exit minp-kl --check-every 5 --min-steps 1
--exit cosine --no-exit-in-prefill
CASES
exit $fail
