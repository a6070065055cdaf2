#!/usr/bin/env bash
# Keep-alive check: how many connections nginx accepted (its stub_status "accepts") while
# pollster scraped N targets on N distinct ports every INTERVAL_S for SECONDS, next to the
# scrapes done and pollster_connections_opened_total. With keep-alive per target: N.
#
#   tests/bench/connections.sh [POLLSTER [N [INTERVAL_S [SECONDS]]]]     (defaults ./pollster 100 1 12)
#
# Needs nginx (with the stub_status module, as Debian's nginx-light has), curl, python3.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
pollster=${1:-$top/pollster}; n=${2:-100}; iv=${3:-1}; secs=${4:-12}
command -v nginx >/dev/null || { echo "connections.sh: nginx not found" >&2; exit 77; }
work=$(mktemp -d)
read -r -a ports <<< "$(python3 -c '
import socket, sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss: s.close()' $((n + 2)))"
st=${ports[0]}; sp=${ports[1]}
printf '# TYPE x gauge\nx 1\n' > $work/metrics
{ echo "daemon off; worker_processes 1; pid $work/nginx.pid; error_log $work/error.log warn; events { worker_connections 8192; }"
  echo "http { access_log off; keepalive_timeout 300s; keepalive_requests 100000; client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;"
  echo "server { listen 127.0.0.1:$st; location / { stub_status; } }"
  echo "server {"; for p in "${ports[@]:2}"; do echo "listen 127.0.0.1:$p;"; done
  echo "location / { default_type text/plain; alias $work/metrics; } } }"; } > $work/nginx.conf
nginx -c $work/nginx.conf -p $work & ng=$!
sleep 0.5
a0=$(curl -s http://127.0.0.1:$st/ | awk 'NR==3 {print $1}')
args=(); for p in "${ports[@]:2}"; do args+=(--target "http://127.0.0.1:$p/metrics"); done
$pollster --kind prometheus --job node --interval ${iv}s --timeout 1s --status-listen 127.0.0.1:$sp --log-level warn "${args[@]}" > /dev/null 2>$work/log & pp=$!
sleep $secs
m=$(curl -s http://127.0.0.1:$sp/metrics)
a1=$(curl -s http://127.0.0.1:$st/ | awk 'NR==3 {print $1}')
kill $pp; wait $pp || true
runs=$(echo "$m" | awk '$1 ~ /^pollster_runs_total/ {s += $2} END {print s}')
echo "targets $n, every ${iv}s for ${secs}s: scrapes $runs, connections accepted by nginx $((a1 - a0 - 1)) (stub_status accepts; minus this probe)"
echo "$m" | grep connections_opened || true
kill $ng; wait $ng 2>/dev/null || true; rm -rf $work
