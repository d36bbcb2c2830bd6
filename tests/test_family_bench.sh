#!/usr/bin/env bash
# test_family_bench.sh — bench/family/run.sh --quick end to end (issue #20): the script inits, quantizes
# and times both family shapes (narrowed) and prints its two tables and one JSON line. Checked: every row
# is there with positive figures; `huginn bench` counted the bytes a token reads as the architecture
# reads them (Ouro: every layer once per loop and no adapter; the retrofit: prelude and coda once, the
# adapter and core per iteration, K/V rows Hkv·d wide under grouped-query attention), recomputed here from
# the config the script used; the fixed rows run every loop; an exit row never runs more loops than the
# fixed one, and under --exit-compute all it runs all of them. No timing is asserted.
set -u
: "${HUGINN:?}" "${HG_SOURCE_DIR:?}" "${HG_TEST_TMP:?}"
build=$(dirname "$HUGINN")
[ -x "$build/bench/roofline" ] || { echo "no $build/bench/roofline (bench/ not built): skipped"; exit 77; }
dir="$HG_TEST_TMP/family_bench"
rm -rf "$dir" && mkdir -p "$dir"
export OMP_NUM_THREADS=2
HG_FAMILY_DIR="$dir" bash "$HG_SOURCE_DIR/bench/family/run.sh" "$build" --quick > "$dir/out.txt" 2>&1
rc=$?
cat "$dir/out.txt"
[ $rc -eq 0 ] || { echo "FAIL: bench/family/run.sh --quick exited $rc"; exit 1; }
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
out = open(d + "/out.txt").read()
j = json.loads([l for l in out.splitlines() if l.startswith("JSON: ")][-1][6:])
ok = True
def check(cond, what):
    global ok
    print(("ok " if cond else "FAIL: ") + what)
    ok &= bool(cond)

def expect_bytes(cfg, r, bpp, prompt, gen, kv_elem=4):
    ouro = cfg.get("model_type") == "ouro"
    h = cfg["hidden_size"] if ouro else cfg["n_embd"]
    H = cfg["num_attention_heads"] if ouro else cfg["n_heads"]
    hd, kv, I, V = cfg["head_dim"], cfg["num_key_value_heads"], cfg["intermediate_size"], cfg["vocab_size"]
    layer = (H * hd + 2 * kv * hd) * h + h * H * hd + 3 * I * h
    if ouro:
        outer, core, adapter = 0, cfg["num_hidden_layers"], 0
    else:
        outer = cfg["n_layers_in_prelude"] + cfg["n_layers_in_coda"]
        core, adapter = cfg["n_layers_in_recurrent_block"], 2 * h * h
    params = layer * outer + r * (adapter + layer * core) + V * h + h
    apps = outer + core * r
    np_ = prompt - 1  # the bench prefills all but the last prompt token, then decodes at np .. np+gen-1
    kvb = sum(apps * (p + 1) * 2 * kv * hd * kv_elem for p in range(np_, np_ + gen)) / gen
    return params * bpp + kvb

for name, r in (("ouro", 4), ("retrofit", 32)):
    cfg = json.load(open(f"{d}/{name}-quick/config.json"))
    for w in ("bf16", "q8_0"):
        b = j["full_depth"].get(f"{name}_{w}")
        check(b is not None, f"{name} {w}: a full-depth row")
        if b is None:
            continue
        check(b["steps"] == r, f"{name} {w}: run at depth {r}")
        check(all(b[k] > 0 for k in ("prefill_GFLOPs", "decode_GBps", "decode_tokens_per_s", "bw_before", "bw_after")),
              f"{name} {w}: positive figures")
        want = expect_bytes(cfg, r, b["bytes_per_param"], b["prompt"], b["gen"])
        check(abs(b["decode_bytes_per_token"] - want) <= 1e-4 * want + 1,  # bytes_per_param is printed to 4 decimals
              f"{name} {w}: bytes per token {b['decode_bytes_per_token']:.0f} = the architecture's {want:.0f}")
        check(abs(b["ratio"] - b["decode_GBps"] / ((b["bw_before"] + b["bw_after"]) / 2)) < 1e-9, f"{name} {w}: ratio")
        a = j["adaptive"]
        fixed, ex = a.get(f"{name}_{w}_fixed"), a.get(f"{name}_{w}_exit")
        check(fixed is not None and ex is not None, f"{name} {w}: fixed and exit rows")
        if fixed is None or ex is None:
            continue
        check(fixed["loops_run"] == r and fixed["exit_loop"] == r, f"{name} {w}: the fixed row runs every loop")
        check(1 <= ex["loops_run"] <= r and ex["decode_tokens_per_s"] > 0, f"{name} {w}: the exit row runs 1..{r} loops")
        if name == "ouro":
            al = a.get(f"{name}_{w}_all")
            check(al is not None and al["loops_run"] == r and 1 <= al["exit_loop"] <= r,
                  f"{name} {w}: --exit-compute all runs every loop")
for line in ("full depth (Ouro: 4 loops", "adaptive vs fixed depth", "load average now"):
    check(line in out, f"the table prints '{line}'")
sys.exit(0 if ok else 1)
PY
rc=$?
[ $rc -eq 0 ] && echo "test_family_bench: all checks passed"
exit $rc
