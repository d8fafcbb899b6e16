#!/usr/bin/env bash
# numbat vs node oidc-provider, full flow, on this machine (see README.md).
#
#   cargo build --release -p numbat && (cd crates/numbat/bench/node-oidc-provider && npm ci)
#   crates/numbat/bench/node-oidc-provider/compare.sh
#
# For each server (numbat with its default workers, numbat with one worker, oidc-provider): start
# it, one unmeasured warm-up run (1000 flows), then RUNS runs of FLOWS flows at concurrency 16 and
# at 64, then stop it. Prints the median of the runs; the raw outputs stay in OUT.
# Env: NUMBAT_BIN (target/release/numbat), RUNS (3), FLOWS (4000), OUT (/tmp/numbat-vs-oidc-provider).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
NUMBAT=${NUMBAT_BIN:-target/release/numbat}
RUNS=${RUNS:-3}
FLOWS=${FLOWS:-4000}
OUT=${OUT:-/tmp/numbat-vs-oidc-provider}
mkdir -p "$OUT"
rm -f "$OUT"/*.txt

wait_up() {
  for _ in $(seq 100); do
    curl -sf -o /dev/null "$1/.well-known/openid-configuration" && return 0
    sleep 0.1
  done
  echo "no server at $1" >&2
  return 1
}

# series NAME TARGET URL PID
series() {
  wait_up "$3"
  "$NUMBAT" bench --target "$2" --server "$3" --flows 1000 --concurrency 16 --server-pid "$4" >"$OUT/$1-warmup.txt"
  for c in 16 64; do
    for r in $(seq "$RUNS"); do
      "$NUMBAT" bench --target "$2" --server "$3" --flows "$FLOWS" --concurrency "$c" --server-pid "$4" \
        >"$OUT/$1-c$c-r$r.txt"
    done
  done
  kill "$4"
  wait "$4" 2>/dev/null || true
}

NUMBAT_LOG=warn "$NUMBAT" serve >"$OUT/numbat.log" 2>&1 &
series numbat numbat http://127.0.0.1:8080 $!

NUMBAT_LOG=warn NUMBAT_SERVER__WORKERS=1 "$NUMBAT" serve >"$OUT/numbat-1w.log" 2>&1 &
series numbat-1worker numbat http://127.0.0.1:8080 $!

node crates/numbat/bench/node-oidc-provider/server.js >"$OUT/oidc-provider.log" 2>&1 &
series oidc-provider oidc-provider http://127.0.0.1:3000 $!

python3 - "$OUT" "$RUNS" <<'EOF'
import re, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
def fig(name, c):
    rows = []
    for r in range(1, runs + 1):
        t = open(f"{out}/{name}-c{c}-r{r}.txt").read()
        if not re.search(r" 0 failed", t):
            sys.exit(f"{name} c{c} run {r} had failures:\n{t}")
        rows.append((float(re.search(r"server CPU: ([\d.]+)", t)[1]), float(re.search(r"throughput: (\d+)", t)[1]),
                     float(re.search(r"p50 ([\d.]+)", t)[1]), float(re.search(r"p99 ([\d.]+)", t)[1])))
    return [statistics.median(col) for col in zip(*rows)]
print(f"median of {runs} runs            CPU ms/flow  flows/s   p50 ms   p99 ms")
res = {}
for name in ["numbat", "numbat-1worker", "oidc-provider"]:
    for c in (16, 64):
        res[name, c] = f = fig(name, c)
        print(f"{name:15} c={c:<3}          {f[0]:8.3f} {f[1]:9.0f} {f[2]:8.2f} {f[3]:8.2f}")
for name in ["numbat", "numbat-1worker"]:
    for c in (16, 64):
        n, o = res[name, c], res["oidc-provider", c]
        print(f"{name} / oidc-provider c={c}: CPU per flow {o[0] / n[0]:.1f}x less, throughput {n[1] / o[1]:.1f}x, "
              f"p50 {o[2] / n[2]:.1f}x lower")
EOF
