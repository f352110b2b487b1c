#!/usr/bin/env bash
# REST stage cache benchmark (issue 6, the headline): cache hits on a ledge REST API stage
# against nginx proxy_cache hits, both in front of the same origin, on one machine.
# Setups follow ../shared/reference/perf-anchors.md exactly:
#   origin       Python ThreadingHTTPServer, HTTP/1.1 keep-alive, 20 ms sleep per request,
#                Cache-Control: max-age=300, Content-Length, TCP_NODELAY; /1k.json is 1024 B
#   nginx        2 workers, access_log off, sendfile on, tcp_nopush on, tcp_nodelay on,
#                keepalive_requests 1000000, proxy_cache_path <tmpfs> keys_zone=edge:16m
#                max_size=256m use_temp_path=off, proxy_cache_lock on, upstream keepalive 32,
#                proxy_http_version 1.1, X-Cache-Status
#   ledge        ledge up (release) with an AWS::Serverless::Api stage: CacheClusterEnabled,
#                TTL 3600, GET /1k.json -> HTTP_PROXY to the origin
#   load         wrk -t2 -c64 -d$DURATION --latency URL/1k.json (wrk shares the 2 cores)
#
#   bench/rest_cache.sh                 # RUNS=5 DURATION=10s
#   RUNS=3 DURATION=5s bench/rest_cache.sh
#
# Scenarios, RUNS times each, nginx and ledge alternating (which goes first flips per run):
#   hit memory   ledge's in-process stage cache   | nginx proxy_cache
#   hit redis    ledge with --cache redis://… (a local redis-server), reported with its hit
#                rate (CacheHitCount / (CacheHitCount + CacheMissCount) from ledge cache stats)
# The origin's request counter is read before and after every run: hits must not reach it.
# Results: bench/results/rest_cache-<UTC date>.md (table, ratio, exact commands) and .jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-5}
DURATION=${DURATION:-10s}
PY=/usr/bin/python3.11
SCRATCH=${SCRATCH:-$ROOT/target/bench-rest-cache}
TMPFS=${TMPFS:-/dev/shm/ledge-bench-nginx-cache}
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUT_MD=$ROOT/bench/results/rest_cache-$STAMP.md
OUT_RAW=$ROOT/bench/results/rest_cache-$STAMP.jsonl
mkdir -p "$SCRATCH" "$ROOT/bench/results"

# --- tools -----------------------------------------------------------------------------
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
ensure_tools wrk:wrk nginx:nginx redis-server:redis-server
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
REDIS=$(command -v redis-server || echo /usr/bin/redis-server)
if [ -z "${NO_BUILD:-}" ]; then cargo build --release -q -p ledge; fi
LEDGE=${CARGO_TARGET_DIR:-$ROOT/target}/release/ledge

ORIGIN_PORT=$(free_port)
NGINX_PORT=$(free_port)
REDIS_PORT=$(free_port)

# --- the origin ------------------------------------------------------------------------
cat > "$SCRATCH/origin.py" <<'PYEOF'
import http.server, json, sys, threading, time
port = int(sys.argv[1])
body = json.dumps({"data": "x" * 1012}).encode()
assert len(body) == 1024, len(body)
count = 0
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *a): pass
    def do_GET(self):
        global count
        if self.path == "/__count":
            out = str(count).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        with lock:
            count += 1
        time.sleep(0.02)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PYEOF
$PY "$SCRATCH/origin.py" "$ORIGIN_PORT" &
ORIGIN_PID=$!
origin_count() { curl -s "http://127.0.0.1:$ORIGIN_PORT/__count"; }

# --- nginx proxy_cache -----------------------------------------------------------------
NGX=$SCRATCH/nginx
rm -rf "$TMPFS" && mkdir -p "$TMPFS"
write_nginx_proxy_cache "$NGX/nginx.conf" on

# --- ledge -----------------------------------------------------------------------------
mkdir -p "$SCRATCH/ledge"
cat > "$SCRATCH/ledge/template.yaml" <<YAML
Transform: AWS::Serverless-2016-10-31
Resources:
  Cached:
    Type: AWS::Serverless::Api
    Properties:
      StageName: bench
      CacheClusterEnabled: true
      CacheClusterSize: '0.5'
      MethodSettings:
        - {ResourcePath: '/*', HttpMethod: '*', CachingEnabled: true, CacheTtlInSeconds: 3600}
      DefinitionBody:
        swagger: '2.0'
        paths:
          /1k.json:
            get:
              x-amazon-apigateway-integration:
                type: http_proxy
                httpMethod: GET
                uri: http://127.0.0.1:$ORIGIN_PORT/1k.json
YAML

REDIS_PID=
cleanup() {
  stop_server
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true
  kill "$ORIGIN_PID" 2>/dev/null || true
  rm -rf "$TMPFS"
}
trap cleanup EXIT

wait_http "http://127.0.0.1:$ORIGIN_PORT/__count"

start_nginx() {
  rm -rf "${TMPFS:?}"/*
  "$NGINX" -c "$NGX/nginx.conf" -p "$NGX" >"$NGX/logs/stdout.log" 2>&1 &
  SERVER_PID=$!
  BASE=http://127.0.0.1:$NGINX_PORT
  wait_http "$BASE/1k.json"
  local status; status=$(header "$BASE/1k.json" x-cache-status)
  [ "$status" = HIT ] || { echo "bench: nginx did not serve a HIT (X-Cache-Status: $status)" >&2; exit 1; }
}

start_ledge() { # $1: extra flags
  rm -rf "$SCRATCH/ledge/state"
  # shellcheck disable=SC2086
  "$LEDGE" up "$SCRATCH/ledge/template.yaml" --state-dir "$SCRATCH/ledge/state" --quiet --no-watch $1 \
    >"$SCRATCH/ledge.out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 500); do [ -f "$SCRATCH/ledge/state/ready.json" ] && break; sleep 0.02; done
  BASE=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["apis"]["Cached"]["url"])' "$SCRATCH/ledge/state/ready.json")
  curl -s -o /dev/null "$BASE/1k.json"
  local before; before=$(origin_count)
  curl -s -o /dev/null "$BASE/1k.json"
  [ "$(origin_count)" = "$before" ] || { echo "bench: ledge's second request reached the origin" >&2; exit 1; }
}

start_redis() {
  "$REDIS" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$SCRATCH" --logfile "$SCRATCH/redis.log" >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 500); do
    [ "$(printf 'PING\r\n' | timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT; cat >&3; head -c 7 <&3" 2>/dev/null | tr -d '\r\n')" = "+PONG" ] && return 0
    sleep 0.02
  done
  echo "bench: redis-server did not start" >&2; exit 1
}

# wrk run → one JSON line: {side, scenario, run, rps, p50_ms, p99_ms, non2xx, origin_requests, cmd}
run_wrk() {
  local side=$1 scenario=$2 run=$3
  local cmd=(wrk -t2 -c64 -d"$DURATION" --latency "$BASE/1k.json")
  local before after out
  before=$(origin_count)
  out=$("${cmd[@]}")
  after=$(origin_count)
  echo "$out" > "$SCRATCH/wrk-$side-${scenario// /_}-$run.txt"
  local extra='{}'
  if [ "$side" = ledge ]; then
    extra=$("$LEDGE" cache stats Cached bench --json --state-dir "$SCRATCH/ledge/state")
  fi
  $PY - "$side" "$scenario" "$run" "${cmd[*]}" "$((after - before))" "$extra" <<PYEOF >> "$OUT_RAW"
import json, re, sys
out = """$out"""
side, scenario, run, cmd, origin, extra = sys.argv[1:7]
cmd = re.sub(r"http://\S+/", "URL/", cmd)
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))
p99 = ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
row = {"side": side, "scenario": scenario, "run": int(run), "rps": rps, "p50_ms": p50, "p99_ms": p99,
       "non2xx": int(bad.group(1)) if bad else 0, "origin_requests": int(origin), "cmd": cmd}
stage = json.loads(extra).get("apis", {}).get("Cached", {}).get("stages", {}).get("bench")
if stage:
    row["hits"], row["misses"] = stage["CacheHitCount"], stage["CacheMissCount"]
print(json.dumps(row))
PYEOF
  sleep 1
}

start_redis
for run in $(seq 1 "$RUNS"); do
  if [ $((run % 2)) -eq 1 ]; then order="nginx ledge"; else order="ledge nginx"; fi
  for side in $order; do
    if [ "$side" = nginx ]; then
      start_nginx
      run_wrk nginx "hit" "$run"
    else
      start_ledge ""
      run_wrk ledge "hit" "$run"
    fi
    stop_server
  done
  start_ledge "--cache redis://127.0.0.1:$REDIS_PORT/"
  run_wrk ledge "hit redis" "$run"
  stop_server
done

# --- report ----------------------------------------------------------------------------
$PY - "$OUT_RAW" "$OUT_MD" "$RUNS" "$DURATION" "$(git rev-parse --short HEAD)" \
  "$("$NGINX" -v 2>&1 | sed 's/.*: //')" "$(wrk -v 2>&1 | head -1 | awk '{print $2}')" <<'PYEOF'
import json, statistics, sys
raw, md, runs, duration, rev, nginx_v, wrk_v = sys.argv[1:8]
rows = [json.loads(l) for l in open(raw)]
def med(xs): return statistics.median(xs)
out = [f"# REST stage cache benchmark ({rev})", "",
       f"`bench/rest_cache.sh` with RUNS={runs} DURATION={duration}: `wrk -t2 -c64 -d{duration} --latency URL/1k.json` "
       f"(wrk {wrk_v}) on 127.0.0.1, wrk sharing the 2 cores with the server; nginx and ledge alternating, "
       "medians of the runs with [min–max]. Origin: Python ThreadingHTTPServer, 20 ms per request, "
       f"1024-byte JSON, `Cache-Control: max-age=300`, TCP_NODELAY. nginx {nginx_v}: proxy_cache exactly as in "
       "perf-anchors.md (2 workers, sendfile, tcp_nopush on, tcp_nodelay on, tmpfs cache, proxy_cache_lock). "
       "ledge: release build, `ledge up`, an AWS::Serverless::Api stage with CacheClusterEnabled and TTL 3600, "
       "GET /1k.json → HTTP_PROXY to the same origin.", "",
       "| scenario | server | req/s median [min–max] | p50 ms | p99 ms | non-2xx | origin requests during runs |",
       "|---|---|---|---|---|---|---|"]
summary = {}
for scen, side, label in [("hit", "nginx", "nginx proxy_cache"), ("hit", "ledge", "ledge (in-process cache)"),
                          ("hit redis", "ledge", "ledge --cache redis://")]:
    rs = [r for r in rows if r["scenario"] == scen and r["side"] == side]
    if not rs: continue
    rps = [r["rps"] for r in rs]
    summary[(scen, side)] = (med(rps), med([r["p50_ms"] for r in rs]), med([r["p99_ms"] for r in rs]))
    out.append(f"| {scen} | {label} | {med(rps):,.0f} [{min(rps):,.0f}–{max(rps):,.0f}] | "
               f"{med([r['p50_ms'] for r in rs]):.3f} | {med([r['p99_ms'] for r in rs]):.2f} | "
               f"{sum(r['non2xx'] for r in rs)} | {sum(r['origin_requests'] for r in rs)} |")
n, l = summary.get(("hit", "nginx")), summary.get(("hit", "ledge"))
if n and l:
    out += ["", f"**Ratio ledge / nginx req/s: {l[0] / n[0]:.2f}×** (target ≥ 1.10×); "
                f"p99 ledge {l[2]:.2f} ms vs nginx {n[2]:.2f} ms ({'no worse' if l[2] <= n[2] else 'worse'}); "
                f"p50 ledge {l[1]:.3f} ms vs nginx {n[1]:.3f} ms."]
rr = [r for r in rows if r["scenario"] == "hit redis" and "hits" in r]
if rr:
    hits = sum(r["hits"] for r in rr); misses = sum(r["misses"] for r in rr)
    out += ["", f"Redis-backed stage cache: hit rate {hits / (hits + misses) * 100:.4f}% "
                f"({hits:,} CacheHitCount, {misses:,} CacheMissCount over {len(rr)} runs, from `ledge cache stats`), "
                f"{summary[('hit redis', 'ledge')][0]:,.0f} req/s median."]
cmds = sorted({r["cmd"] for r in rows})
out += ["", "Commands:", ""] + [f"- `{c}`" for c in cmds] + ["- `bench/rest_cache.sh` (this report)"]
open(md, "w").write("\n".join(out) + "\n")
print("\n".join(out))
PYEOF
echo "bench: wrote $OUT_MD"
