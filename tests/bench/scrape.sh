#!/usr/bin/env bash
# Scrape benchmark: nginx on 127.0.0.1 serves tests/fixtures/node_exporter.prom as TARGETS
# distinct URLs; pollster scrapes them every INTERVAL for DURATION with its output going to
# /dev/null (OUT=file writes a file instead), then prints what it did and what it cost.
#
#   tests/bench/scrape.sh [TARGETS [INTERVAL_S [DURATION_S]]]     (defaults: 500 5 60)
#   POLLSTER=/path/to/pollster GZIP=0 tests/bench/scrape.sh 100 5 30
#   PERF_OUT=/tmp/perf.data tests/bench/scrape.sh      (also profiles pollster with perf)
#
# Needs nginx (Debian package nginx-light or nginx) and curl. Never part of make check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
targets=${1:-500}
interval=${2:-5}
duration=${3:-60}
pollster=${POLLSTER:-$top/pollster}
fixture=${FIXTURE:-$top/tests/fixtures/node_exporter.prom}
gzip=${GZIP:-1}
out=${OUT:-/dev/null}

command -v nginx >/dev/null || { echo "scrape.sh: nginx not found (apt-get install nginx-light)" >&2; exit 77; }
[ -x "$pollster" ] || { echo "scrape.sh: $pollster not built" >&2; exit 1; }

work=$(mktemp -d /tmp/pollster-bench.XXXXXX)
nginx_pid=""
pollster_pid=""
cleanup() {
    [ -n "$pollster_pid" ] && kill "$pollster_pid" 2>/dev/null || true
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
port=$(free_port)
status_port=$(free_port)
cp "$fixture" "$work/metrics"
gzip_conf="gzip off;"
[ "$gzip" = 1 ] && gzip_conf="gzip on; gzip_types *; gzip_min_length 1000; gzip_comp_level 1;"
cat > "$work/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work;
    proxy_temp_path $work;
    fastcgi_temp_path $work;
    uwsgi_temp_path $work;
    scgi_temp_path $work;
    keepalive_requests 100000;
    $gzip_conf
    server {
        listen 127.0.0.1:$port;
        location ~ ^/t/[0-9]+/metrics\$ {
            default_type "text/plain; version=0.0.4";
            alias $work/metrics;
        }
    }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/t/0/metrics" >/dev/null && break; sleep 0.1; done

args=()
for i in $(seq 1 "$targets"); do args+=(--target "http://127.0.0.1:$port/t/$i/metrics"); done
timeout_s=$(( interval > 10 ? 10 : interval ))
"$pollster" --kind prometheus --job node --interval "${interval}s" --timeout "${timeout_s}s" \
    --status-listen "127.0.0.1:$status_port" --log-level warn "${args[@]}" > "$out" 2> "$work/pollster.log" &
pollster_pid=$!
if [ -n "${PERF_OUT:-}" ]; then
    # Profile: perf record -e cpu-clock attached to pollster for the whole run.
    perf record -q -e cpu-clock -F 4000 ${PERF_CALLGRAPH:--g} -p "$pollster_pid" -o "$PERF_OUT" -- sleep "$duration" 2>/dev/null
else
    sleep "$duration"
fi

metrics=$(curl -fs "http://127.0.0.1:$status_port/metrics")
read -r utime stime < <(awk '{print $14, $15}' "/proc/$pollster_pid/stat")
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pollster_pid/status")
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pollster_pid/status")
kill -TERM "$pollster_pid"; wait "$pollster_pid" || true; pollster_pid=""

get() { echo "$metrics" | awk -v k="$1" '$1 == k {print $2}'; }
ok=$(get 'pollster_runs_total{job="node",result="ok"}')
failed=$(get 'pollster_runs_total{job="node",result="failed"}')
overlap=$(get 'pollster_skipped_overlaps_total{job="node"}')
late=$(get 'pollster_skipped_late_total{job="node"}')
samples=$(get 'pollster_samples_total{job="node"}')
lag_max=$(get 'pollster_schedule_lag_max_seconds{job="node"}')
lag_sum=$(get 'pollster_schedule_lag_seconds_sum{job="node"}')
lag_count=$(get 'pollster_schedule_lag_seconds_count{job="node"}')
tck=$(getconf CLK_TCK)
python3 - "$targets" "$interval" "$duration" "$ok" "$failed" "$overlap" "$late" "$samples" \
    "$utime" "$stime" "$tck" "$hwm_kb" "$rss_kb" "$lag_max" "$lag_sum" "$lag_count" "$gzip" <<'PY'
import sys
(t, iv, d, ok, failed, overlap, late, samples, ut, st, tck, hwm, rss, lag_max, lag_sum,
 lag_count, gz) = sys.argv[1:]
t, iv, d = int(t), float(iv), float(d)
ok, failed, overlap, late, samples = (int(float(x or 0)) for x in (ok, failed, overlap, late, samples))
cpu = (int(ut) + int(st)) / int(tck)
expected = t * d / iv
print(f"targets              {t}")
print(f"interval             {iv:g} s")
print(f"duration             {d:g} s (gzip {'on' if gz == '1' else 'off'})")
print(f"scrapes expected     ~{expected:.0f} (targets x duration / interval; +-1 tick per target)")
print(f"scrapes done         {ok + failed}")
print(f"scrapes failed       {failed}")
print(f"ticks skipped        {overlap} overlap, {late} late")
print(f"schedule lag         max {float(lag_max or 0)*1000:.1f} ms, mean {float(lag_sum or 0)/max(1,int(lag_count or 0))*1000:.2f} ms")
print(f"samples              {samples} ({samples / d:.0f}/s)")
print(f"cpu (user+sys)       {cpu:.2f} s")
print(f"cpu per 1M samples   {cpu / samples * 1e6 if samples else float('nan'):.3f} s")
print(f"peak RSS             {int(hwm)/1024:.1f} MiB (now {int(rss)/1024:.1f} MiB)")
PY
