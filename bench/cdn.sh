#!/usr/bin/env bash
# CDN benchmark (issue 8): POP cache hits on a ledge CloudFront distribution against nginx
# proxy_cache and Varnish hits, all three in front of the same origin, on one machine; and
# the origin requests each sends while a hot entry expires under load.
# Setups follow ../shared/reference/perf-anchors.md exactly:
#   origin   Python ThreadingHTTPServer, HTTP/1.1 keep-alive, 20 ms sleep per request,
#            Content-Length, TCP_NODELAY; /1k.json is 1024 B and /100k.json 102400 B with
#            Cache-Control: max-age=300; /short/1k.json is the same 1 KiB with max-age=2
#   nginx    2 workers, access_log off, sendfile on, tcp_nodelay on, keepalive_requests
#            1000000, proxy_cache_path <tmpfs> keys_zone=edge:16m max_size=256m
#            use_temp_path=off, proxy_cache_lock on, upstream keepalive 32,
#            proxy_http_version 1.1, X-Cache-Status; tcp_nopush on for 1 KiB (the anchor's
#            main row) and off for 100 KiB (on stalls every keep-alive response ~44 ms)
#   varnish  varnishd -F -a 127.0.0.1:PORT -b 127.0.0.1:ORIGIN -s malloc,256m -n <scratch>
#            (default VCL, default thread pools)
#   ledge    an AWS::CloudFront::Distribution, custom origin http://127.0.0.1:ORIGIN,
#            CachingOptimized, one POP's own listener; served by `ledge up` when it lists
#            `distributions` in its ready file, else by crates/edge/examples/edge_only.rs
#            (EDGE_VIA=up|example forces one)
#   load     wrk -t2 -c64 -d$DURATION --latency URL/{1k,100k}.json (wrk shares the 2 cores)
#
#   bench/cdn.sh                        # RUNS=5 DURATION=10s
#   RUNS=3 DURATION=5s NO_BUILD=1 bench/cdn.sh
#   SIDES="ledge nginx" bench/cdn.sh    # leave a side out
#
# Scenarios, RUNS times each, the sides in rotating order (which goes first moves per run):
#   hit 1k     wrk against /1k.json, warmed and confirmed a hit first
#   hit 100k   wrk against /100k.json
#   expiry     one request fills /short/1k.json (max-age=2), then wrk for 10 s at once;
#              origin requests counted at the origin (perf-anchors: nginx with only
#              proxy_cache_lock 192, Varnish 4)
# The origin's request counter is read before and after every run: hits must not reach it.
# Results: bench/results/cdn-<UTC date>.md (tables, ratios, exact commands) and .jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-5}
DURATION=${DURATION:-10s}
EXPIRY_DURATION=${EXPIRY_DURATION:-10s}
SIDES=${SIDES:-nginx varnish ledge}
EDGE_VIA=${EDGE_VIA:-auto}
PY=/usr/bin/python3.11
SCRATCH=${SCRATCH:-$ROOT/target/bench-cdn}
TMPFS=${TMPFS:-/dev/shm/ledge-bench-cdn-nginx}
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUT_MD=$ROOT/bench/results/cdn-$STAMP.md
OUT_RAW=$ROOT/bench/results/cdn-$STAMP.jsonl
mkdir -p "$SCRATCH" "$ROOT/bench/results"

# --- tools -----------------------------------------------------------------------------
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
ensure_tools wrk:wrk nginx:nginx varnishd:varnish
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
VARNISHD=$(command -v varnishd || echo /usr/sbin/varnishd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
LEDGE=$TARGET/release/ledge
EDGE_ONLY=$TARGET/release/examples/edge_only
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release -q -p ledge-edge --example edge_only
  cargo build --release -q -p ledge
fi

ORIGIN_PORT=$(free_port)
NGINX_PORT=$(free_port)
VARNISH_PORT=$(free_port)

# --- the origin ------------------------------------------------------------------------
cat > "$SCRATCH/origin.py" <<'PYEOF'
import http.server, json, sys, threading, time
port = int(sys.argv[1])
small = json.dumps({"data": "x" * 1012}).encode()
large = json.dumps({"data": "x" * 102388}).encode()
assert len(small) == 1024 and len(large) == 102400
objects = {"/1k.json": (small, "max-age=300"), "/100k.json": (large, "max-age=300"),
           "/short/1k.json": (small, "max-age=2")}
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
        body, cc = objects.get(self.path, (b"not found", None))
        self.send_response(200 if cc else 404)
        self.send_header("Content-Type", "application/json")
        if cc:
            self.send_header("Cache-Control", cc)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PYEOF
$PY "$SCRATCH/origin.py" "$ORIGIN_PORT" &
ORIGIN_PID=$!
origin_count() { curl -s "http://127.0.0.1:$ORIGIN_PORT/__count"; }
# Waits until the origin's counter stops moving (requests a stopped server left queued at
# the origin are counted by then, not in the next run).
settle() {
  local a b
  a=$(origin_count)
  for _ in $(seq 1 50); do sleep 0.2; b=$(origin_count); [ "$a" = "$b" ] && return 0; a=$b; done
}

# --- nginx proxy_cache -----------------------------------------------------------------
NGX=$SCRATCH/nginx
for nopush in on off; do write_nginx_proxy_cache "$NGX/nginx-nopush-$nopush.conf" $nopush; done

# --- ledge -----------------------------------------------------------------------------
mkdir -p "$SCRATCH/ledge"
cat > "$SCRATCH/ledge/template.yaml" <<YAML
Resources:
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins:
          - Id: origin
            DomainName: 127.0.0.1
            CustomOriginConfig: {OriginProtocolPolicy: http-only, HTTPPort: $ORIGIN_PORT}
        DefaultCacheBehavior:
          TargetOriginId: origin
          ViewerProtocolPolicy: allow-all
          Compress: false
          CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6
YAML

cleanup() {
  stop_server
  kill "$ORIGIN_PID" 2>/dev/null || true
  rm -rf "$TMPFS"
}
trap cleanup EXIT

wait_http "http://127.0.0.1:$ORIGIN_PORT/__count"

# A POP URL from a ready-file-shaped JSON: distributions.Cdn.pops as {code: url},
# [[code, url]] or [{code, url}]; FRA when there is one, else the first.
pop_url() {
  $PY - "$1" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))["distributions"]
d = d["Cdn"] if isinstance(d, dict) else next(x for x in d if x.get("logical_id") == "Cdn")
pops = d["pops"]
if isinstance(pops, dict): pops = list(pops.items())
pops = [(p["code"], p["url"]) if isinstance(p, dict) else tuple(p) for p in pops]
print(dict(pops).get("FRA", pops[0][1]))
PYEOF
}

# Does `ledge up` serve distributions? (the ready file lists them)
if [ "$EDGE_VIA" = auto ]; then
  EDGE_VIA=example
  if [ -x "$LEDGE" ]; then
    rm -rf "$SCRATCH/ledge/probe"
    "$LEDGE" up "$SCRATCH/ledge/template.yaml" --state-dir "$SCRATCH/ledge/probe" --quiet --no-watch \
      >"$SCRATCH/ledge-probe.out" 2>&1 &
    probe=$!
    for _ in $(seq 1 250); do [ -f "$SCRATCH/ledge/probe/ready.json" ] && break; kill -0 $probe 2>/dev/null || break; sleep 0.02; done
    if [ -f "$SCRATCH/ledge/probe/ready.json" ] && pop_url "$SCRATCH/ledge/probe/ready.json" >/dev/null 2>&1; then
      EDGE_VIA=up
    fi
    kill -INT $probe 2>/dev/null || true
    wait $probe 2>/dev/null || true
  fi
fi
echo "bench: ledge's edge runs through: $EDGE_VIA" >&2

start_nginx() { # $1: tcp_nopush on|off
  rm -rf "$TMPFS" && mkdir -p "$TMPFS"
  "$NGINX" -c "$NGX/nginx-nopush-$1.conf" -p "$NGX" >"$NGX/logs/stdout.log" 2>&1 &
  SERVER_PID=$!
  BASE=http://127.0.0.1:$NGINX_PORT
  wait_http "$BASE/1k.json"
}

start_varnish() {
  rm -rf "$SCRATCH/varnish"
  "$VARNISHD" -F -a "127.0.0.1:$VARNISH_PORT" -b "127.0.0.1:$ORIGIN_PORT" -s malloc,256m \
    -n "$SCRATCH/varnish" >"$SCRATCH/varnish.out" 2>&1 &
  SERVER_PID=$!
  BASE=http://127.0.0.1:$VARNISH_PORT
  wait_http "$BASE/1k.json"
}

start_ledge() {
  rm -rf "$SCRATCH/ledge/state" "$SCRATCH/ledge/listeners.json"
  local ready
  if [ "$EDGE_VIA" = up ]; then
    ready=$SCRATCH/ledge/state/ready.json
    "$LEDGE" up "$SCRATCH/ledge/template.yaml" --state-dir "$SCRATCH/ledge/state" --quiet --no-watch \
      >"$SCRATCH/ledge.out" 2>&1 &
  else
    ready=$SCRATCH/ledge/listeners.json
    "$EDGE_ONLY" "$SCRATCH/ledge/template.yaml" "$ready" >"$SCRATCH/ledge.out" 2>&1 &
  fi
  SERVER_PID=$!
  for _ in $(seq 1 500); do [ -f "$ready" ] && break; sleep 0.02; done
  [ -f "$ready" ] || { echo "bench: ledge did not start:" >&2; cat "$SCRATCH/ledge.out" >&2; exit 1; }
  BASE=$(pop_url "$ready")
  wait_http "$BASE/1k.json"
}

# Fills $path, then checks the next request is a hit that never reached the origin.
warm() { # side path
  local side=$1 path=$2 before status
  curl -s -o /dev/null "$BASE$path"
  before=$(origin_count)
  case $side in
    nginx) status=$(header "$BASE$path" x-cache-status); [ "$status" = HIT ] ;;
    varnish) status=$(header "$BASE$path" x-varnish); [ "$(wc -w <<<"$status")" = 2 ] ;;
    ledge) status=$(header "$BASE$path" x-cache); [ "$status" = "Hit from cloudfront" ] ;;
  esac || { echo "bench: $side did not serve $path from its cache ($status)" >&2; exit 1; }
  [ "$(origin_count)" = "$before" ] || { echo "bench: $side's hit on $path reached the origin" >&2; exit 1; }
}

# wrk run → one JSON line: {side, scenario, run, rps, p50_ms, p99_ms, non2xx, origin_requests, cmd}
run_wrk() { # side scenario run path duration
  local side=$1 scenario=$2 run=$3 path=$4 duration=$5
  local cmd=(wrk -t2 -c64 -d"$duration" --latency "$BASE$path")
  local before after out
  before=$(origin_count)
  out=$("${cmd[@]}")
  after=$(origin_count)
  echo "$out" > "$SCRATCH/wrk-$side-${scenario// /_}-$run.txt"
  $PY - "$side" "$scenario" "$run" "${cmd[*]}" "$((after - before))" "$EDGE_VIA" <<PYEOF >> "$OUT_RAW"
import json, re, sys
out = """$out"""
side, scenario, run, cmd, origin, via = sys.argv[1:7]
cmd = re.sub(r"http://\S+?/", "URL/", cmd)
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))
p99 = ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
row = {"side": side, "scenario": scenario, "run": int(run), "rps": rps, "p50_ms": p50, "p99_ms": p99,
       "non2xx": int(bad.group(1)) if bad else 0, "origin_requests": int(origin), "cmd": cmd}
if side == "ledge": row["edge_via"] = via
print(json.dumps(row))
PYEOF
  sleep 1
}

bench_side() { # side run
  local side=$1 run=$2
  # The expiry run starts right after the fill, the same for every side: with max-age=2
  # the fifth expiry lands ~10.1 s after the fill, at the edge of wrk's 10 s window.
  case $side in
    nginx)
      start_nginx on
      settle; warm nginx /1k.json
      run_wrk nginx "hit 1k" "$run" /1k.json "$DURATION"
      settle; curl -s -o /dev/null "$BASE/short/1k.json"
      run_wrk nginx expiry "$run" /short/1k.json "$EXPIRY_DURATION"
      stop_server
      start_nginx off
      settle; warm nginx /100k.json
      run_wrk nginx "hit 100k" "$run" /100k.json "$DURATION"
      stop_server
      ;;
    varnish | ledge)
      "start_$side"
      settle; warm "$side" /1k.json
      run_wrk "$side" "hit 1k" "$run" /1k.json "$DURATION"
      settle; warm "$side" /100k.json
      run_wrk "$side" "hit 100k" "$run" /100k.json "$DURATION"
      settle; curl -s -o /dev/null "$BASE/short/1k.json"
      run_wrk "$side" expiry "$run" /short/1k.json "$EXPIRY_DURATION"
      stop_server
      ;;
  esac
}

read -r -a sides <<<"$SIDES"
for run in $(seq 1 "$RUNS"); do
  n=${#sides[@]}
  for k in $(seq 0 $((n - 1))); do
    bench_side "${sides[$(((k + run - 1) % n))]}" "$run"
  done
done

# --- report ----------------------------------------------------------------------------
$PY - "$OUT_RAW" "$OUT_MD" "$RUNS" "$DURATION" "$EXPIRY_DURATION" "$(git rev-parse --short HEAD)" \
  "$("$NGINX" -v 2>&1 | sed 's/.*: //')" "$("$VARNISHD" -V 2>&1 | head -1 | sed 's/varnishd (\(.*\) revision.*/\1/')" \
  "$(wrk -v 2>&1 | head -1 | awk '{print $2}')" "$EDGE_VIA" <<'PYEOF'
import json, statistics, sys
raw, md, runs, duration, exp_duration, rev, nginx_v, varnish_v, wrk_v, via = sys.argv[1:11]
rows = [json.loads(l) for l in open(raw)]
med = statistics.median
how = ("`ledge up` (release), the distribution's FRA POP listener" if via == "up" else
       "`crates/edge/examples/edge_only.rs` (release: the edge alone, default EdgeConfig, as `ledge up` "
       "would start it), the distribution's FRA POP listener")
out = [f"# CDN benchmark ({rev})", "",
       f"`bench/cdn.sh` with RUNS={runs} DURATION={duration}: `wrk -t2 -c64 -d{duration} --latency URL/{{1k,100k}}.json` "
       f"(wrk {wrk_v}) on 127.0.0.1, wrk sharing the 2 cores with the server; the three sides in rotating order, "
       "medians of the runs with [min–max]. Origin: Python ThreadingHTTPServer, 20 ms per request, "
       "`Cache-Control: max-age=300`, Content-Length, TCP_NODELAY. "
       f"nginx {nginx_v}: proxy_cache exactly as in perf-anchors.md (2 workers, sendfile, tcp_nodelay on, tmpfs cache, "
       "proxy_cache_lock, upstream keepalive 32), `tcp_nopush on` for 1 KiB and `off` for 100 KiB. "
       f"{varnish_v}: `varnishd -F -a … -b <origin> -s malloc,256m -n <scratch>`, default VCL. "
       f"ledge: {how}; a CloudFront distribution with the origin as a custom origin and CachingOptimized.", "",
       "| scenario | server | req/s median [min–max] | p50 ms | p99 ms | non-2xx | origin requests during runs |",
       "|---|---|---|---|---|---|---|"]
summary = {}
labels = {"nginx": "nginx proxy_cache", "varnish": "Varnish", "ledge": "ledge edge (POP hit)"}
for scen in ["hit 1k", "hit 100k"]:
    for side in ["nginx", "varnish", "ledge"]:
        rs = [r for r in rows if r["scenario"] == scen and r["side"] == side]
        if not rs: continue
        rps = [r["rps"] for r in rs]
        s = summary[(scen, side)] = (med(rps), med([r["p50_ms"] for r in rs]), med([r["p99_ms"] for r in rs]))
        out.append(f"| {scen} | {labels[side]} | {s[0]:,.0f} [{min(rps):,.0f}–{max(rps):,.0f}] | "
                   f"{s[1]:.3f} | {s[2]:.2f} | {sum(r['non2xx'] for r in rs)} | {sum(r['origin_requests'] for r in rs)} |")
out.append("")
for scen in ["hit 1k", "hit 100k"]:
    l = summary.get((scen, "ledge"))
    if not l: continue
    parts = []
    for other in ["nginx", "varnish"]:
        o = summary.get((scen, other))
        if o:
            parts.append(f"**{l[0] / o[0]:.2f}× {other}** (p50 {l[1]:.3f} vs {o[1]:.3f} ms, p99 {l[2]:.2f} vs {o[2]:.2f} ms)")
    if parts:
        out.append(f"- {scen}: ledge req/s = " + "; ".join(parts) + ".")
ex = [r for r in rows if r["scenario"] == "expiry"]
if ex:
    out += ["", f"Expiry under load: `/short/1k.json` with `Cache-Control: max-age=2`, filled by one request, then "
                f"`wrk -t2 -c64 -d{exp_duration}` at once; origin requests counted at the origin "
                "(perf-anchors: nginx with only proxy_cache_lock 192, Varnish 4).", "",
            "| server | origin requests per run | median | req/s median |", "|---|---|---|---|"]
    for side in ["nginx", "varnish", "ledge"]:
        rs = [r for r in ex if r["side"] == side]
        if not rs: continue
        counts = [r["origin_requests"] for r in rs]
        out.append(f"| {labels[side].replace(' (POP hit)', '')} | {', '.join(map(str, counts))} | {med(counts):g} | "
                   f"{med([r['rps'] for r in rs]):,.0f} |")
cmds = sorted({r["cmd"] for r in rows})
out += ["", "Commands:", ""] + [f"- `{c}`" for c in cmds] + ["- `bench/cdn.sh` (this report)"]
open(md, "w").write("\n".join(out) + "\n")
print("\n".join(out))
PYEOF
echo "bench: wrote $OUT_MD"
