#!/usr/bin/env bash
# HTTP API benchmark (issue 5): ledge vs serverless-offline, same Python handler, same
# machine, wrk on loopback. Setups follow ../shared/reference/perf-anchors.md.
#
#   bench/http_api.sh            # RUNS=3 DURATION=10s by default
#   RUNS=5 DURATION=10s bench/http_api.sh
#
# Scenarios, each run RUNS times with the two sides alternating, medians reported:
#   hello c8   wrk -t2 -c8   GET /hello   ledge | serverless-offline (the anchor's setup)
#   hello c2   wrk -t1 -c2   GET /hello   ledge (2 warm environments) | serverless-offline
#   jwt c8/c2  the same route behind a JWT authorizer (RS256, loopback JWKS), ledge only
#   cold       first request after start (curl time_total), ledge | serverless-offline
#   gateway c8 wrk -t2 -c8 against the gateway alone, its function answering in-process
#              (crates/gateway/examples/gateway_only.rs): the gateway's own ceiling
# Results: bench/results/http_api-<UTC date>.md (table + exact commands) and .jsonl (raw).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
PY=/usr/bin/python3.11
SCRATCH=${SCRATCH:-$ROOT/target/bench-http-api}
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUT_MD=$ROOT/bench/results/http_api-$STAMP.md
OUT_RAW=$ROOT/bench/results/http_api-$STAMP.jsonl
mkdir -p "$SCRATCH" "$ROOT/bench/results"

# --- tools -----------------------------------------------------------------------------
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
ensure_tools wrk:wrk
command -v node >/dev/null || { echo "bench: node is required for serverless-offline" >&2; exit 1; }
# NO_BUILD=1 uses the release binary as it is.
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release -q -p ledge
  cargo build --release -q -p ledge-gateway --example gateway_only
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
LEDGE=$TARGET/release/ledge
GATEWAY_ONLY=$TARGET/release/examples/gateway_only

# serverless@3 + serverless-offline@13 in a scratch folder (npm, once).
SLS=$SCRATCH/sls
if [ ! -x "$SLS/node_modules/serverless/bin/serverless.js" ] || [ ! -d "$SLS/node_modules/serverless-offline" ]; then
  mkdir -p "$SLS"
  (cd "$SLS" && npm init -y >/dev/null && npm i --no-audit --no-fund --silent serverless@3 serverless-offline@13 >/dev/null)
fi
# PyJWT + cryptography for the JWT scenario (pip, once).
PYDEPS=$SCRATCH/pydeps
if [ ! -f "$PYDEPS/.complete" ]; then
  rm -rf "$PYDEPS.tmp"
  $PY -m pip install --quiet --disable-pip-version-check --target "$PYDEPS.tmp" 'PyJWT[crypto]==2.10.1'
  touch "$PYDEPS.tmp/.complete" && rm -rf "$PYDEPS" && mv "$PYDEPS.tmp" "$PYDEPS"
fi

# --- the app, both sides ----------------------------------------------------------------
HANDLER='def hello(event, context):
    return {"statusCode": 200, "body": "{\"ok\":true}"}
'
mkdir -p "$SLS/app" "$SCRATCH/ledge/src" "$SCRATCH/idp"
printf '%s' "$HANDLER" > "$SLS/handler.py"
printf '%s' "$HANDLER" > "$SCRATCH/ledge/src/handler.py"
cat > "$SLS/serverless.yml" <<'YAML'
service: bench
frameworkVersion: '3'
provider: {name: aws, runtime: python3.11}
functions:
  hello:
    handler: handler.hello
    events: [{httpApi: {method: GET, path: /hello}}]
plugins: [serverless-offline]
YAML

# A loopback OIDC issuer (discovery + JWKS) and a token, made with PyJWT.
IDP_PORT=$(free_port)
ISSUER=http://127.0.0.1:$IDP_PORT
PYTHONPATH=$PYDEPS $PY - "$ISSUER" "$SCRATCH/idp" > "$SCRATCH/token" <<'PYEOF'
import json, sys, time, os, jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
iss, out = sys.argv[1], sys.argv[2]
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key())); jwk.update(kid="k1", use="sig", alg="RS256")
os.makedirs(out + "/.well-known", exist_ok=True)
json.dump({"issuer": iss, "jwks_uri": iss + "/jwks.json"}, open(out + "/.well-known/openid-configuration", "w"))
json.dump({"keys": [jwk]}, open(out + "/jwks.json", "w"))
now = int(time.time())
print(jwt.encode({"iss": iss, "aud": "bench", "sub": "u", "iat": now, "exp": now + 7200, "scope": "read"},
                 key, algorithm="RS256", headers={"kid": "k1"}))
PYEOF
TOKEN=$(cat "$SCRATCH/token")
(cd "$SCRATCH/idp" && exec $PY -m http.server --bind 127.0.0.1 "$IDP_PORT" >/dev/null 2>&1) &
IDP_PID=$!

cat > "$SCRATCH/ledge/template.yaml" <<YAML
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          Jwt:
            IdentitySource: \$request.header.Authorization
            JwtConfiguration: {issuer: '$ISSUER', audience: [bench]}
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src/
      Handler: handler.hello
      MemorySize: 1769
      Events:
        Hello: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /hello, Method: GET}}
        Secure: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /secure, Method: GET, Auth: {Authorizer: Jwt}}}
YAML

cleanup() { stop_server; kill "$IDP_PID" 2>/dev/null || true; }
trap cleanup EXIT

now_ms() { date +%s%3N; }

start_ledge() {
  rm -rf "$SCRATCH/ledge/state"
  "$LEDGE" up "$SCRATCH/ledge/template.yaml" --state-dir "$SCRATCH/ledge/state" --quiet --no-watch \
    >"$SCRATCH/ledge.out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 500); do
    [ -f "$SCRATCH/ledge/state/ready.json" ] && break
    sleep 0.02
  done
  BASE=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["apis"]["Api"]["url"])' "$SCRATCH/ledge/state/ready.json")
}

SLS_PORT=18100
start_sls() {
  (cd "$SLS" && SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
    PATH=/usr/bin:$PATH exec node node_modules/serverless/bin/serverless.js offline --host 127.0.0.1 \
    --httpPort $SLS_PORT >"$SCRATCH/sls.out" 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 1 1000); do
    curl -s -o /dev/null "http://127.0.0.1:$SLS_PORT/" 2>/dev/null && break
    sleep 0.02
  done
  BASE=http://127.0.0.1:$SLS_PORT
}

# First request after start: curl's time_total, in ms.
first_request() { curl -s -o /dev/null -w '%{time_total}' "$BASE/hello" | awk '{printf "%.1f", $1*1000}'; }

warm() { # n concurrent warm-ups so that c environments exist
  local c=$1 path=$2; shift 2
  local pids
  for _ in $(seq 1 5); do
    pids=()
    for _ in $(seq 1 "$c"); do curl -s -o /dev/null "$@" "$BASE$path" & pids+=($!); done
    wait "${pids[@]}"
  done
}

# wrk run → one JSON line: {side, scenario, run, rps, p50_ms, p99_ms, non2xx, cmd}
run_wrk() {
  local side=$1 scenario=$2 run=$3 threads=$4 conns=$5 path=$6; shift 6
  local cmd=(wrk -t"$threads" -c"$conns" -d"$DURATION" --latency "$@" "$BASE$path")
  local out; out=$("${cmd[@]}")
  echo "$out" > "$SCRATCH/wrk-$side-$scenario-$run.txt"
  $PY - "$side" "$scenario" "$run" "${cmd[*]}" <<PYEOF >> "$OUT_RAW"
import json, re, sys
out = """$out"""
side, scenario, run, cmd = sys.argv[1:5]
cmd = re.sub(r"Bearer \S+", "Bearer \$TOKEN", re.sub(r"http://\S+", "URL", cmd))
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))
p99 = ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
print(json.dumps({"side": side, "scenario": scenario, "run": int(run), "rps": rps, "p50_ms": p50,
                  "p99_ms": p99, "non2xx": int(bad.group(1)) if bad else 0, "cmd": cmd}))
PYEOF
  sleep 1
}

AUTH=(-H "Authorization: Bearer $TOKEN")
for run in $(seq 1 "$RUNS"); do
  # Alternate which side goes first.
  if [ $((run % 2)) -eq 1 ]; then order="ledge sls"; else order="sls ledge"; fi
  for side in $order; do
    if [ "$side" = ledge ]; then start_ledge; else start_sls; fi
    cold=$(first_request)
    echo "{\"side\": \"$side\", \"scenario\": \"cold\", \"run\": $run, \"first_request_ms\": $cold}" >> "$OUT_RAW"
    warm 2 /hello
    run_wrk "$side" "hello c2" "$run" 1 2 /hello
    warm 8 /hello
    run_wrk "$side" "hello c8" "$run" 2 8 /hello
    if [ "$side" = ledge ]; then
      run_wrk ledge "jwt c2" "$run" 1 2 /secure "${AUTH[@]}"
      run_wrk ledge "jwt c8" "$run" 2 8 /secure "${AUTH[@]}"
    fi
    stop_server
  done
  rm -f "$SCRATCH/gw.port"
  "$GATEWAY_ONLY" "$SCRATCH/gw.port" >/dev/null 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 500); do [ -s "$SCRATCH/gw.port" ] && break; sleep 0.02; done
  BASE=http://127.0.0.1:$(cat "$SCRATCH/gw.port")
  run_wrk ledge "gateway c8" "$run" 2 8 /hello
  stop_server
done

# --- report -----------------------------------------------------------------------------
$PY - "$OUT_RAW" "$OUT_MD" "$RUNS" "$DURATION" "$(git rev-parse --short HEAD)" <<'PYEOF'
import json, statistics, sys, subprocess
raw, md, runs, duration, rev = sys.argv[1:6]
rows = [json.loads(l) for l in open(raw)]
def med(xs): return statistics.median(xs) if xs else float("nan")
out = [f"# HTTP API benchmark ({rev})", "",
       f"`bench/http_api.sh` with RUNS={runs} DURATION={duration}: wrk on 127.0.0.1, 2 shared cores, "
       "sides alternating, medians of the runs with [min–max]. Handler: "
       "`{\"statusCode\":200,\"body\":\"{\\\"ok\\\":true}\"}` on /usr/bin/python3.11 for both sides.", "",
       "| scenario | side | req/s median [min–max] | p50 ms | p99 ms | non-2xx |", "|---|---|---|---|---|---|"]
summary = {}
for scen in ["hello c2", "hello c8", "jwt c2", "jwt c8", "gateway c8"]:
    for side in ["ledge", "sls"]:
        rs = [r for r in rows if r["scenario"] == scen and r["side"] == side]
        if not rs: continue
        rps = [r["rps"] for r in rs]
        summary[(scen, side)] = (med(rps), med([r["p50_ms"] for r in rs]))
        out.append(f"| {scen} | {'serverless-offline 13' if side == 'sls' else 'ledge'} | {med(rps):,.0f} [{min(rps):,.0f}–{max(rps):,.0f}] | "
                   f"{med([r['p50_ms'] for r in rs]):.3f} | {med([r['p99_ms'] for r in rs]):.2f} | {sum(r['non2xx'] for r in rs)} |")
out += ["", "| first request after start | side | median ms [min–max] |", "|---|---|---|"]
for side in ["ledge", "sls"]:
    cs = [r["first_request_ms"] for r in rows if r["scenario"] == "cold" and r["side"] == side]
    if cs:
        out.append(f"| cold | {'serverless-offline 13' if side == 'sls' else 'ledge'} | {med(cs):.1f} [{min(cs):.1f}–{max(cs):.1f}] |")
out += ["", "Ratios (ledge / serverless-offline req/s):"]
for scen in ["hello c2", "hello c8"]:
    if (scen, "ledge") in summary and (scen, "sls") in summary:
        out.append(f"- {scen}: {summary[(scen,'ledge')][0] / summary[(scen,'sls')][0]:.2f}×")
cmds = sorted({r["cmd"] for r in rows if "cmd" in r})
out += ["", "wrk commands:", ""] + [f"- `{c}`" for c in cmds]
open(md, "w").write("\n".join(out) + "\n")
print("\n".join(out))
PYEOF
echo "bench: wrote $OUT_MD"
