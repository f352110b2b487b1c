#!/usr/bin/env bash
# Lambda Invoke API benchmark (issue 4): warm synchronous Invoke round trips through
# ledge's aws_endpoint for a trivial Python handler, wrk on loopback.
#
#   bench/lambda_invoke.sh                  # DURATION=10s RUNS=3
#   NO_BUILD=1 LEDGE=path/to/ledge bench/lambda_invoke.sh
#
# Scenarios (each RUNS times, medians reported):
#   c1  wrk -t1 -c1 POST /2015-03-31/functions/bench/invocations   (one warm environment)
#   c8  wrk -t2 -c8 the same                                       (eight warm environments)
# ledge's own overhead per invoke = client-observed latency p50 minus the p50 of the
# handler's own time, as the REPORT line's Duration gives it for the same requests.
# Results: bench/results/lambda_invoke-<UTC stamp>.md (table and exact commands).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
SCRATCH=${SCRATCH:-$ROOT/target/bench-lambda-invoke}
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUT_MD=$ROOT/bench/results/lambda_invoke-$STAMP.md
mkdir -p "$SCRATCH" "$ROOT/bench/results"

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p ledge
LEDGE=${LEDGE:-$ROOT/target/release/ledge}

STATE=$SCRATCH/state
rm -rf "$STATE" && mkdir -p "$STATE"
"$LEDGE" up --state-dir "$STATE" --quiet --no-watch >"$SCRATCH/ledge.out" 2>&1 &
LEDGE_PID=$!
trap 'kill $LEDGE_PID 2>/dev/null || true; wait $LEDGE_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do [ -s "$STATE/ready.json" ] && break; sleep 0.05; done
EP=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['aws_endpoint'])" "$STATE/ready.json")
URL=$EP/2015-03-31/functions/bench/invocations

# CreateFunction through the API itself (no auth: any credentials are accepted).
python3 - "$EP" <<'PY'
import base64, io, json, sys, urllib.request, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("app.py", "def handler(event, context):\n    return {'ok': True}\n")
body = json.dumps({"FunctionName": "bench", "Runtime": "python3.12", "Handler": "app.handler",
                   "Role": "arn:aws:iam::123456789012:role/bench", "MemorySize": 1769,
                   "Code": {"ZipFile": base64.b64encode(buf.getvalue()).decode()}}).encode()
req = urllib.request.Request(sys.argv[1] + "/2015-03-31/functions", data=body, method="POST",
                             headers={"Content-Type": "application/json"})
assert urllib.request.urlopen(req).status == 201
PY

cat >"$SCRATCH/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"bench": true}'
wrk.headers["Content-Type"] = "application/json"
LUA

LOG=$STATE/logs/bench.log
# Warm up eight environments (eight concurrent calls), then one more pass.
for _ in 1 2; do
  pids=()
  for _ in $(seq 1 8); do curl -s -o /dev/null -X POST -d '{}' "$URL" & pids+=($!); done
  wait "${pids[@]}"  # not ledge itself
done

# p50 of REPORT durations (ms) for lines after line $1 of the log.
durations_p50() {
  tail -n +"$(( $1 + 1 ))" "$LOG" | python3 -c "
import re, statistics, sys
d = sorted(float(m.group(1)) for m in re.finditer(r'REPORT RequestId: \S+\tDuration: ([0-9.]+) ms', sys.stdin.read()))
print(f'{statistics.median(d):.3f} {len(d)}' if d else 'nan 0')"
}
# wrk latency percentile in ms from its --latency output.
pct() { awk -v p="$1" '$1 == p { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 } print v }'; }

RESULTS=$SCRATCH/results.tsv
: >"$RESULTS"
for scenario in "c1 -t1 -c1" "c8 -t2 -c8"; do
  set -- $scenario
  name=$1; shift
  for run in $(seq 1 "$RUNS"); do
    before=$(wc -l <"$LOG")
    out=$(wrk "$@" -d"$DURATION" --latency -s "$SCRATCH/post.lua" "$URL")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | pct 50%)
    p99=$(echo "$out" | pct 99%)
    read -r handler n <<<"$(durations_p50 "$before")"
    errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$run" "$rps" "$p50" "$p99" "$handler" "$n" "${errors:-0}" >>"$RESULTS"
    echo "$name run $run: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, handler p50 ${handler} ms (${n} REPORTs), non-2xx ${errors:-0}" >&2
  done
done

python3 - "$RESULTS" "$OUT_MD" "$DURATION" "$RUNS" "$(nproc)" "$("$LEDGE" --version)" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
out, duration, runs, cores, version = sys.argv[2:]
lines = [
    f"# Lambda Invoke API — warm round trips ({version})", "",
    f"`bench/lambda_invoke.sh` (DURATION={duration} RUNS={runs}); {cores} cores; medians of the runs.",
    "Handler: `def handler(event, context): return {'ok': True}` (python3.12 on the host's Python, 1769 MB).",
    "Overhead = client-observed p50 minus the p50 of the REPORT line's Duration for the same requests.", "",
    "| scenario | command | req/s | p50 ms | p99 ms | handler p50 ms | ledge overhead p50 ms |",
    "|---|---|---|---|---|---|---|",
]
cmds = {"c1": "wrk -t1 -c1 -d{d} --latency -s post.lua URL", "c8": "wrk -t2 -c8 -d{d} --latency -s post.lua URL"}
for name in ("c1", "c8"):
    rs = [r for r in rows if r[0] == name]
    med = lambda i: statistics.median(float(r[i]) for r in rs)
    rps, p50, p99, handler = med(2), med(3), med(4), med(5)
    lines.append(f"| {name} | `{cmds[name].format(d=duration)}` | {rps:.0f} | {p50:.3f} | {p99:.3f} | {handler:.3f} | {p50 - handler:.3f} |")
lines += ["", "Raw runs (scenario, run, req/s, p50, p99, handler p50, REPORT lines, non-2xx):", "", "```"]
lines += ["\t".join(r) for r in rows] + ["```", ""]
open(out, "w").write("\n".join(lines))
print("\n".join(lines))
PY
echo "bench: results in $OUT_MD" >&2
