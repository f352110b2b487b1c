# Shared by the bench scripts (sourced): tool installs, ports, waiting, stopping the side
# under test, and the nginx proxy_cache configuration of ../shared/reference/perf-anchors.md.
# Expects PY (a python3) and, for the nginx part, NGX, TMPFS, ORIGIN_PORT and NGINX_PORT.

# Installs the Debian packages named by `command:package` pairs whose command is missing.
ensure_tools() {
  local need=() pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%%:*} pkg=${pair#*:}
    command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] || [ -x "/usr/bin/$cmd" ] || need+=("$pkg")
  done
  if ((${#need[@]})); then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    echo "bench: installing ${need[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() { for _ in $(seq 1 500); do curl -s -o /dev/null "$1" && return 0; sleep 0.02; done; echo "bench: $1 never answered" >&2; exit 1; }

# A response header of a GET, by lower-case name.
header() { curl -s -D - -o /dev/null "$1" | tr -d '\r' | awk -F': ' -v h="$2" 'tolower($1)==h{print $2}'; }

SERVER_PID=
# Stops the side under test (SIGINT, then waits for it).
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -INT "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}

# Writes the anchors' nginx proxy_cache config to $1 with `tcp_nopush $2`.
write_nginx_proxy_cache() {
  mkdir -p "$NGX/logs" "$NGX/tmp"
  cat > "$1" <<NGINX
worker_processes 2;
daemon off;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush $2;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $NGX/tmp/body;
  proxy_temp_path $NGX/tmp/proxy;
  fastcgi_temp_path $NGX/tmp/fastcgi;
  uwsgi_temp_path $NGX/tmp/uwsgi;
  scgi_temp_path $NGX/tmp/scgi;
  proxy_cache_path $TMPFS keys_zone=edge:16m max_size=256m use_temp_path=off;
  upstream origin {
    server 127.0.0.1:$ORIGIN_PORT;
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache edge;
      proxy_cache_lock on;
      add_header X-Cache-Status \$upstream_cache_status;
    }
  }
}
NGINX
}
