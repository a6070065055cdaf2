#!/usr/bin/env bash
# Hostile-load benchmark (issue 13, items 1 and 2): pollster scrapes HEALTHY node_exporter-like
# targets plus one big target of SERIES series, all every INTERVAL seconds, output to /dev/null.
# After BIG_S seconds the big target shrinks to one sample; the script then waits AFTER_IV
# intervals and prints:
#   peak RSS          VmHWM of the pollster process over the whole run
#   RSS during big    the highest VmRSS sampled (every 0.5 s) while the big target was big
#   RSS after         VmRSS AFTER_IV intervals after the big target shrank
#   schedule lag      pollster_schedule_lag_max_seconds (a maximum since start) after a warm-up
#                     of WARM_IV intervals with the big target small, and again at the end of
#                     the big phase; the mean lag of the healthy job over the big phase (from
#                     the _sum and _count deltas)
#   big scrape        samples per big scrape and the body size (memory per scrape vs. body)
#   healthy intervals how far the starts of consecutive runs of a healthy target were from
#                     its interval apart over the big phase (p50, p99, max), from pollster's
#                     debug line of each run (its time minus the run's duration; each healthy
#                     target has its own instance label for that)
#
#   tests/bench/hostile.sh [HEALTHY [INTERVAL_S [BIG_S [SERIES]]]]   (defaults: 200 5 30 200000)
#   POLLSTER=/path/to/pollster AFTER_IV=2 KEEP=1 tests/bench/hostile.sh
#
# Needs nginx (nginx-light), curl and python3. Never part of make check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
healthy=${1:-200}
interval=${2:-5}
big_s=${3:-30}
series=${4:-200000}
after_iv=${AFTER_IV:-2}
warm_iv=${WARM_IV:-2}
pollster=${POLLSTER:-$top/pollster}
fixture=${FIXTURE:-$top/tests/fixtures/node_exporter.prom}

command -v nginx >/dev/null || { echo "hostile.sh: nginx not found (apt-get install nginx-light)" >&2; exit 77; }
[ -x "$pollster" ] || { echo "hostile.sh: $pollster not built" >&2; exit 1; }

work=$(mktemp -d /tmp/pollster-hostile.XXXXXX)
nginx_pid=""
pollster_pid=""
cleanup() {
    [ -n "$pollster_pid" ] && kill "$pollster_pid" 2>/dev/null || true
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
port=$(free_port)
status_port=$(free_port)
cp "$fixture" "$work/metrics"
python3 - "$series" > "$work/big.full" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
out.write("# HELP big_total A big target's series.\n# TYPE big_total counter\n")
for i in range(n):
    out.write(f'big_total{{shard="{i % 64}",idx="{i}"}} {i * 3}\n')
PY
printf '# TYPE big_total counter\nbig_total 1\n' > "$work/big.small"
cp "$work/big.small" "$work/big"
body_bytes=$(stat -c %s "$work/big.full")

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
    open_file_cache off;
    server {
        listen 127.0.0.1:$port;
        location ~ ^/t/[0-9]+/metrics\$ {
            default_type "text/plain; version=0.0.4";
            alias $work/metrics;
        }
        location = /big/metrics {
            default_type "text/plain; version=0.0.4";
            alias $work/big;
        }
    }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/t/0/metrics" >/dev/null && break; sleep 0.1; done

timeout_s=$(( interval > 10 ? 10 : interval ))
{
    echo "global: {scrape_interval: ${interval}s, scrape_timeout: ${timeout_s}s}"
    echo "scrape_configs:"
    echo "  - job_name: node"
    echo "    static_configs:"
    for i in $(seq 1 "$healthy"); do
        echo "      - {targets: ['127.0.0.1:$port'], labels: {__metrics_path__: /t/$i/metrics, t: '$i', instance: 'h$i'}}"
    done
    echo "  - job_name: big"
    echo "    metrics_path: /big/metrics"
    echo "    static_configs:"
    echo "      - {targets: ['127.0.0.1:$port']}"
    echo "outputs:"
    echo "  - {type: stdout}"
    echo "status: {listen: '127.0.0.1:$status_port'}"
} > "$work/pollster.yaml"
"$pollster" -c "$work/pollster.yaml" --log-level debug > /dev/null 2> "$work/pollster.log" &
pollster_pid=$!

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$pollster_pid/status"; }
# Warm-up with the big target small: the lag figures of the start (connections) come first.
sleep $(( interval * warm_iv ))
metrics_warm=$(curl -fs "http://127.0.0.1:$status_port/metrics")
rss_warm=$(rss_kb)
cp "$work/big.full" "$work/big"
big_from_ms=$(date +%s%3N)
max_big=0
end=$(( $(date +%s) + big_s ))
while [ "$(date +%s)" -lt "$end" ]; do
    r=$(rss_kb)
    [ "$r" -gt "$max_big" ] && max_big=$r
    sleep 0.5
done
metrics_big=$(curl -fs "http://127.0.0.1:$status_port/metrics")
big_to_ms=$(date +%s%3N)
cp "$work/big.small" "$work/big"
sleep $(( interval * after_iv + 1 ))
rss_after=$(rss_kb)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pollster_pid/status")
metrics=$(curl -fs "http://127.0.0.1:$status_port/metrics")
kill -TERM "$pollster_pid"; wait "$pollster_pid" || true
pollster_pid=""

get() { echo "$2" | awk -v k="$1" '$1 == k {print $2}'; }
python3 - "$healthy" "$interval" "$big_s" "$series" "$body_bytes" "$hwm" "$max_big" "$rss_after" \
    "$after_iv" \
    "$(get 'pollster_schedule_lag_max_seconds{job="node"}' "$metrics_big")" \
    "$(get 'pollster_schedule_lag_seconds_sum{job="node"}' "$metrics_big")" \
    "$(get 'pollster_schedule_lag_seconds_count{job="node"}' "$metrics_big")" \
    "$(get 'pollster_schedule_lag_max_seconds{job="big"}' "$metrics_big")" \
    "$(get 'pollster_runs_total{job="node",result="ok"}' "$metrics")" \
    "$(get 'pollster_runs_total{job="node",result="failed"}' "$metrics")" \
    "$(get 'pollster_runs_total{job="big",result="ok"}' "$metrics_big")" \
    "$(get 'pollster_runs_total{job="big",result="failed"}' "$metrics_big")" \
    "$(get 'pollster_skipped_late_total{job="node"}' "$metrics")" \
    "$(get 'pollster_schedule_lag_max_seconds{job="node"}' "$metrics_warm")" \
    "$(get 'pollster_schedule_lag_seconds_sum{job="node"}' "$metrics_warm")" \
    "$(get 'pollster_schedule_lag_seconds_count{job="node"}' "$metrics_warm")" "$rss_warm" \
    "$work/pollster.log" "$big_from_ms" "$big_to_ms" <<'PY'
import calendar, re, sys, time
a = sys.argv[1:]
healthy, iv, big_s, series, body = int(a[0]), float(a[1]), float(a[2]), int(a[3]), int(a[4])
hwm, max_big, after, after_iv = int(a[5]), int(a[6]), int(a[7]), int(a[8])
f = lambda x: float(x or 0)
lag_max, lag_sum, lag_n, big_lag = f(a[9]), f(a[10]), f(a[11]), f(a[12])
print(f"healthy targets      {healthy} at {iv:g} s, plus 1 target of {series} series ({body/1048576:.1f} MiB body)")
print(f"big phase            {big_s:g} s, big runs ok {int(f(a[15]))} failed {int(f(a[16]))}")
print(f"healthy runs         ok {int(f(a[13]))} failed {int(f(a[14]))}, skipped late {int(f(a[17]))}")
print(f"peak RSS (VmHWM)     {hwm/1024:.1f} MiB  ({hwm*1024/body:.1f}x the big body)")
print(f"RSS during big       max {max_big/1024:.1f} MiB")
print(f"RSS after            {after/1024:.1f} MiB ({after_iv} intervals + 1 s after the big target shrank)")
warm_max, warm_sum, warm_n, rss_warm = f(a[18]), f(a[19]), f(a[20]), int(a[21])
print(f"RSS after warm-up    {rss_warm/1024:.1f} MiB (before the target got big)")
print(f"schedule lag node    max {warm_max*1000:.1f} ms after warm-up (start included), "
      f"max {lag_max*1000:.1f} ms at the end of the big phase")
print(f"                     mean {(lag_sum-warm_sum)/max(1,lag_n-warm_n)*1000:.2f} ms over the big phase ({int(lag_n-warm_n)} runs)")
print(f"schedule lag big     max {big_lag*1000:.1f} ms")
# Healthy intervals: consecutive runs of a target (node/hN) during the big phase.
log_file, big_from, big_to = a[22], int(a[23]), int(a[24])
last, dev = {}, []
line_re = re.compile(r'^(\S+)T(\S+)\.(\d{3})Z debug engine: node/(h\d+): run \w+ in ([0-9.e+-]+)ms')
with open(log_file, errors="replace") as fh:
    for line in fh:
        m = line_re.match(line)
        if m is None:
            continue
        end = calendar.timegm(time.strptime(m.group(1) + " " + m.group(2), "%Y-%m-%d %H:%M:%S"))
        ts = end * 1000 + int(m.group(3)) - float(m.group(5))
        t = m.group(4)
        if t in last and big_from <= last[t] and ts <= big_to:
            dev.append(abs(ts - last[t] - iv * 1000))
        last[t] = ts
dev.sort()
q = lambda p: dev[min(len(dev) - 1, int(p * len(dev)))] if dev else float("nan")
print(f"healthy intervals    deviation p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms, "
      f"max {dev[-1] if dev else float('nan'):.0f} ms over the big phase ({len(dev)} intervals)")
PY
