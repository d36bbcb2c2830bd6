#!/usr/bin/env bash
# test_bench_cli.sh — `huginn bench` end to end (issue 5) on the shipped demo model:
#   1. --json prints one object whose figures are positive and consistent (bytes per token x tokens/s
#      = GB/s, batch speedup = batch tokens/s / batch-1 tokens/s) and names the kernels in use;
#   2. the kernels named follow HG_CPU / HG_AMX (scalar when forced; never "+amx" with HG_AMX=0);
#   3. the table form prints the same sections; bad options and a missing model fail with a message.
set -euo pipefail
: "${HUGINN:?}" "${HG_SOURCE_DIR:?}"
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive
model="$HG_SOURCE_DIR/models/default"
fail=0

out=$("$HUGINN" bench -m "$model" --steps 2 --prompt 6 --gen 3 --batch 3 --kv-type bf16 --json)
python3 - "$out" <<'PY' || fail=1
import json, sys
d = json.loads(sys.argv[1])
ok = True
def check(cond, what):
    global ok
    if not cond:
        print("FAIL:", what, d); ok = False
check(d["steps"] == 2 and d["prompt"] == 6 and d["gen"] == 3 and d["batch"] == 3, "settings echoed")
check(d["kv_type"] == "bf16", "kv type echoed")
check(d["prefill_tokens"] == 5, "prefill is all prompt tokens but the last")
for k in ("prefill_tokens_per_s", "prefill_GFLOPs", "decode_tokens_per_s", "decode_GBps", "batch1_tokens_per_s",
          "batch_tokens_per_s", "decode_bytes_per_token"):
    check(d[k] > 0, k + " > 0")
check(d["decode_bytes_per_token"] >= d["weight_bytes"], "a token reads at least the weights once")
gbps = d["decode_bytes_per_token"] * d["decode_tokens_per_s"] / 1e9
check(abs(gbps - d["decode_GBps"]) <= 0.01 * d["decode_GBps"] + 1e-3, "GB/s = bytes/token x tokens/s")
check(abs(d["batch_speedup"] - d["batch_tokens_per_s"] / d["batch1_tokens_per_s"]) < 0.01, "batch speedup")
check(d["kernels"] in ("scalar", "avx2", "avx512", "avx512+amx", "avx512+bf16dot", "avx512+vnni", "neon", "neon+sdot"), "kernels named")
sys.exit(0 if ok else 1)
PY

# --no-mmap: the weights are read into memory; the JSON says which
m=$("$HUGINN" bench -m "$model" --steps 1 --prompt 2 --gen 1 --no-mmap --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["mmap"])')
[ "$m" = False ] || { echo "FAIL: --no-mmap reports mmap '$m'"; fail=1; }
m=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["mmap"])')
[ "$m" = True ] || { echo "FAIL: the default reports mmap '$m'"; fail=1; }

k=$(HG_CPU=scalar "$HUGINN" bench -m "$model" --steps 1 --prompt 2 --gen 1 --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["kernels"])')
[ "$k" = scalar ] || { echo "FAIL: HG_CPU=scalar runs '$k'"; fail=1; }
k=$(HG_AMX=0 "$HUGINN" bench -m "$model" --steps 1 --prompt 2 --gen 1 --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["kernels"])')
case "$k" in *amx*) echo "FAIL: HG_AMX=0 still runs '$k'"; fail=1 ;; esac

txt=$("$HUGINN" bench -m "$model" --steps 1 --prompt 4 --gen 2 --batch 2)
for section in "model " "settings " "prefill " "decode " "batch 2 "; do
  grep -q "^$section" <<<"$txt" || { echo "FAIL: no '$section' line in:"; echo "$txt"; fail=1; }
done

expect_error() { # message-pattern args...
  local pat=$1; shift
  local err rc=0
  err=$("$HUGINN" bench "$@" 2>&1 >/dev/null) || rc=$?
  if [ $rc -eq 0 ] || ! grep -q -- "$pat" <<<"$err"; then
    echo "FAIL: bench $* -> rc $rc, '$err' (wanted '$pat')"; fail=1
  fi
}
expect_error "no such file" -m "$HG_TEST_TMP/no-such-model"
expect_error "batch" -m "$model" --batch 0
expect_error "steps" -m "$model" --steps -3
expect_error "block_size" -m "$model" --prompt 60 --gen 10
expect_error "KV-cache type" -m "$model" --kv-type f8

[ $fail -eq 0 ] && echo "test_bench_cli: all checks passed"
exit $fail
