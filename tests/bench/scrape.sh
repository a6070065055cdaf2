#!/usr/bin/env bash
# Scrape benchmark: nginx on 127.0.0.1 serves tests/fixtures/node_exporter.prom as TARGETS
# distinct URLs; pollster scrapes them every INTERVAL for DURATION with its output going to
# /dev/null (OUT=file writes a file instead), then prints what it did and what it cost.
#
#   tests/bench/scrape.sh [TARGETS [INTERVAL_S [DURATION_S]]]     (defaults: 500 5 60)
#   POLLSTER=/path/to/pollster GZIP=0 tests/bench/scrape.sh 100 5 30
#   PERF_OUT=/tmp/perf.data tests/bench/scrape.sh      (also profiles pollster with perf)
#   FORWARD=vm tests/bench/scrape.sh                 (forwarding mode, below)
#   FORWARD=remote_write tests/bench/scrape.sh       (remote write next to vm, below)
#   FORWARD=nats tests/bench/scrape.sh               (NATS JetStream, below)
#   tests/bench/scrape.sh compare [TARGETS [INTERVAL_S [DURATION_S]]]
#                       (the floor, pollster and vmagent, both workloads: tests/bench/compare.sh)
#
# Forwarding mode (FORWARD=vm): the same targets, but the output is `type: http, format: vm`
# into a real VictoriaMetrics on loopback (Debian's victoria-metrics, temporary data dir), with
# SPOOL=1 (default) a spool_dir, COMPRESSION=auto|gzip|none (default auto: none on loopback). After the run pollster is
# stopped (it drains), and the script prints the samples pollster delivered and the samples
# found in VictoriaMetrics (sum of count_over_time over everything).
#
# FORWARD=remote_write: two pollster processes run side by side on the same targets for the same
# time, one forwarding with format vm to /api/v1/import, the other with a remote_write output to
# /api/v1/write of the same VictoriaMetrics (an external label `via` tells their samples apart);
# the script prints the figures of both. MAX_SAMPLES_PER_SEND and MAX_SHARDS set those
# queue_config keys (default: pollster's, 2000 and 50, which means 8 senders).
#
# FORWARD=nats: the output is `type: nats` (format NATS_FORMAT, default json; SPOOL as above)
# into a real nats-server with JetStream on loopback (temporary store, stream created by pollster
# with 1 replica); the script prints the messages and bytes the stream holds after the drain.
# With RELAY=1 (format vm), a second pollster relays the stream (an input of type nats) into
# VictoriaMetrics (http output, format vm, spool): the script waits for the consumer to be empty,
# then prints the relay's CPU per million samples and the samples found in VictoriaMetrics.
#
# Needs nginx (Debian package nginx-light or nginx), curl and python3; victoria-metrics for
# FORWARD=vm, nats-server for FORWARD=nats. Never part of make check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# `scrape.sh compare ...`: the floor, pollster and vmagent side by side (tests/bench/compare.sh).
if [ "${1:-}" = compare ]; then
    shift
    exec "$here/compare.sh" "$@"
fi
top=$(cd "$here/../.." && pwd)
targets=${1:-500}
interval=${2:-5}
duration=${3:-60}
pollster=${POLLSTER:-$top/pollster}
fixture=${FIXTURE:-$top/tests/fixtures/node_exporter.prom}
gzip=${GZIP:-1}
out=${OUT:-/dev/null}
forward=${FORWARD:-}
spool=${SPOOL:-1}
compression=${COMPRESSION:-auto}

command -v nginx >/dev/null || { echo "scrape.sh: nginx not found (apt-get install nginx-light)" >&2; exit 77; }
[ -x "$pollster" ] || { echo "scrape.sh: $pollster not built" >&2; exit 1; }

work=$(mktemp -d /tmp/pollster-bench.XXXXXX)
nginx_pid=""
pollster_pid=""
pollster2_pid=""
vm_pid=""
nats_pid=""
relay_pid=""
[ "${RELAY:-0}" = 1 ] && NATS_FORMAT=${NATS_FORMAT:-vm}
cleanup() {
    [ -n "$pollster_pid" ] && kill "$pollster_pid" 2>/dev/null || true
    [ -n "$pollster2_pid" ] && kill "$pollster2_pid" 2>/dev/null || true
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    [ -n "$vm_pid" ] && kill "$vm_pid" 2>/dev/null || true
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null || true
    [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null || true
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

timeout_s=$(( interval > 10 ? 10 : interval ))
if [ -n "$forward" ]; then
    case "$forward" in vm | remote_write | nats) ;; *)
        echo "scrape.sh: FORWARD=vm, FORWARD=remote_write or FORWARD=nats" >&2; exit 1 ;;
    esac
    if [ "$forward" = nats ]; then
        command -v nats-server >/dev/null || { echo "scrape.sh: nats-server not found" >&2; exit 77; }
        nats_port=$(free_port)
        nats_mport=$(free_port)
        nats-server -js -sd "$work/nats" -a 127.0.0.1 -p "$nats_port" -m "$nats_mport" > "$work/nats.log" 2>&1 &
        nats_pid=$!
        for _ in $(seq 100); do curl -fs "http://127.0.0.1:$nats_mport/healthz" >/dev/null && break; sleep 0.1; done
    fi
    command -v victoria-metrics >/dev/null || { echo "scrape.sh: victoria-metrics not found" >&2; exit 77; }
    vm_port=$(free_port)
    victoria-metrics -storageDataPath="$work/vmdata" -httpListenAddr="127.0.0.1:$vm_port" \
        -search.latencyOffset=0s -loggerLevel=ERROR > "$work/vm.log" 2>&1 &
    vm_pid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$vm_port/health" >/dev/null && break; sleep 0.1; done
    # forward_config FORMAT STATUS_PORT: the config of a pollster forwarding with FORMAT.
    forward_config() {
        echo "global: {scrape_interval: ${interval}s, scrape_timeout: ${timeout_s}s, external_labels: {via: $1}}"
        echo "scrape_configs:"
        echo "  - job_name: node"
        echo "    static_configs:"
        for i in $(seq 1 "$targets"); do
            echo "      - {targets: ['127.0.0.1:$port'], labels: {__metrics_path__: /t/$i/metrics, t: '$i'}}"
        done
        echo "outputs:"
        if [ "$1" = nats ]; then
            echo "  - type: nats"
            echo "    url: nats://127.0.0.1:$nats_port"
            echo "    format: ${NATS_FORMAT:-json}"
        elif [ "$1" = vm ]; then
            echo "  - type: http"
            echo "    url: http://127.0.0.1:$vm_port/api/v1/import"
            echo "    format: vm"
            echo "    compression: $compression"
        else
            echo "  - type: remote_write"
            echo "    url: http://127.0.0.1:$vm_port/api/v1/write"
            echo "    queue_config: {batch_send_deadline: 1s${MAX_SAMPLES_PER_SEND:+, max_samples_per_send: $MAX_SAMPLES_PER_SEND}${MAX_SHARDS:+, max_shards: $MAX_SHARDS}}"
        fi
        [ "$spool" = 1 ] && echo "    spool_dir: $work/spool-$1"
        echo "status: {listen: '127.0.0.1:$2'}"
    }
    forward_config "$([ "$forward" = nats ] && echo nats || echo vm)" "$status_port" > "$work/pollster.yaml"
    "$pollster" -c "$work/pollster.yaml" --log-level warn > /dev/null 2> "$work/pollster.log" &
    if [ "$forward" = nats ] && [ "${RELAY:-0}" = 1 ]; then
        pollster_pid=$!
        relay_status=$(free_port)
        cat > "$work/relay.yaml" <<RELAY
inputs:
  - type: nats
    url: nats://127.0.0.1:$nats_port
    format: $NATS_FORMAT
outputs:
  - type: http
    url: http://127.0.0.1:$vm_port/api/v1/import
    format: $NATS_FORMAT
    compression: $compression
    spool_dir: $work/spool-relay
status: {listen: '127.0.0.1:$relay_status'}
RELAY
        "$pollster" -c "$work/relay.yaml" --log-level warn > /dev/null 2> "$work/relay.log" &
        relay_pid=$!
    fi
    if [ "$forward" = remote_write ]; then
        pollster_pid=$!
        status2_port=$(free_port)
        forward_config remote_write "$status2_port" > "$work/pollster-rw.yaml"
        "$pollster" -c "$work/pollster-rw.yaml" --log-level warn > /dev/null 2> "$work/pollster-rw.log" &
        pollster2_pid=$!
    fi
else
    args=()
    for i in $(seq 1 "$targets"); do args+=(--target "http://127.0.0.1:$port/t/$i/metrics"); done
    "$pollster" --kind prometheus --job node --interval "${interval}s" --timeout "${timeout_s}s" \
        --status-listen "127.0.0.1:$status_port" --log-level warn "${args[@]}" > "$out" 2> "$work/pollster.log" &
fi
[ -n "$pollster2_pid" ] || [ -n "$relay_pid" ] || pollster_pid=$!
if [ -n "${PERF_OUT:-}" ]; then
    # Profile: perf record -e cpu-clock attached to pollster for the whole run.
    perf record -q -e cpu-clock -F 4000 ${PERF_CALLGRAPH:--g} -p "${pollster2_pid:-$pollster_pid}" -o "$PERF_OUT" -- sleep "$duration" 2>/dev/null
else
    sleep "$duration"
fi

# report PID STATUS_PORT VIA: stops the pollster PID and prints its figures.
report() {
local pid=$1 sport=$2 via=$3
metrics=$(curl -fs "http://127.0.0.1:$sport/metrics")
read -r utime stime < <(awk '{print $14, $15}' "/proc/$pid/stat")
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"; wait "$pid" || true
delivered=""
found=""
if [ -n "$forward" ]; then
    # What reached VictoriaMetrics: the drain at SIGTERM delivered the rest (or spooled it).
    delivered=$(echo "$metrics" | awk '$1 ~ /^pollster_output_delivered_samples_total/ {print $2}')
    pending=$(echo "$metrics" | awk '$1 ~ /^pollster_output_pending_samples/ {print $2}')
    spool_bytes=$(echo "$metrics" | awk '$1 ~ /^pollster_output_spool_bytes/ {print $2}')
    curl -fs "http://127.0.0.1:$vm_port/internal/force_flush" >/dev/null
    sleep 2
    found=$(curl -fs "http://127.0.0.1:$vm_port/api/v1/query" \
        --data-urlencode "query=sum(count_over_time({__name__=~\".+\",via=\"$via\"}[1d]))" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
    if [ "$forward" = nats ]; then
        found=""
        sleep 1
        curl -fs "http://127.0.0.1:$nats_mport/jsz" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("JetStream            %d messages, %d bytes in the stream" % (d["messages"], d["bytes"]))'
        echo "forwarding           type nats, format ${NATS_FORMAT:-json}, spool $([ "$spool" = 1 ] && echo on || echo off)"
    elif [ "$via" = vm ]; then
        echo "forwarding           format vm, compression $compression, spool $([ "$spool" = 1 ] && echo on || echo off)"
    else
        echo "forwarding           remote_write (protobuf + snappy), spool $([ "$spool" = 1 ] && echo on || echo off)"
    fi
    echo "at the last /metrics delivered $delivered samples, pending $pending, spool $spool_bytes bytes"
fi

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
    "$utime" "$stime" "$tck" "$hwm_kb" "$rss_kb" "$lag_max" "$lag_sum" "$lag_count" "$gzip" \
    "$found" <<'PY'
import sys
(t, iv, d, ok, failed, overlap, late, samples, ut, st, tck, hwm, rss, lag_max, lag_sum,
 lag_count, gz, found) = sys.argv[1:]
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
if found:
    print(f"found in VictoriaMetrics {int(float(found))} of {samples} scraped (sum of count_over_time)")
PY
}
if [ -n "$pollster2_pid" ]; then
    # CPU per million samples is per process: the few ms one runs longer do not matter.
    report "$pollster2_pid" "$status2_port" remote_write; pollster2_pid=""
    echo
fi
report "$pollster_pid" "$status_port" "$([ "$forward" = nats ] && echo nats || echo vm)"; pollster_pid=""
if [ -n "$relay_pid" ]; then
    # The relay: once the consumer has nothing pending, its CPU per million samples delivered.
    for _ in $(seq 600); do
        left=$(curl -fs "http://127.0.0.1:$nats_mport/jsz?consumers=true" | python3 -c 'import json,sys
d=json.load(sys.stdin); c=[c for a in d.get("account_details",[]) for s in a.get("stream_detail",[]) for c in s.get("consumer_detail",[])]
print(sum(x["num_pending"] + x["num_ack_pending"] for x in c) if c else 1)')
        [ "$left" = 0 ] && break
        sleep 0.1
    done
    sleep 1
    rmetrics=$(curl -fs "http://127.0.0.1:$relay_status/metrics")
    rdelivered=$(echo "$rmetrics" | awk '$1 ~ /^pollster_output_delivered_samples_total/ {print $2}')
    read -r rutime rstime < <(awk '{print $14, $15}' "/proc/$relay_pid/stat")
    rhwm=$(awk '/VmHWM/ {print $2}' "/proc/$relay_pid/status")
    kill -TERM "$relay_pid"; wait "$relay_pid" || true; relay_pid=""
    curl -fs "http://127.0.0.1:$vm_port/internal/force_flush" >/dev/null
    sleep 2
    rfound=$(curl -fs "http://127.0.0.1:$vm_port/api/v1/query" \
        --data-urlencode 'query=sum(count_over_time({__name__=~".+",via="nats"}[1d]))' |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
    python3 - "$rdelivered" "$rutime" "$rstime" "$(getconf CLK_TCK)" "$rhwm" "$rfound" <<'PY'
import sys
d, ut, st, tck, hwm, found = sys.argv[1:]
d = int(float(d or 0)); cpu = (int(ut) + int(st)) / int(tck)
print()
print(f"relay delivered      {d} samples to VictoriaMetrics")
print(f"relay cpu            {cpu:.2f} s, {cpu / d * 1e6 if d else float('nan'):.3f} s per 1M samples")
print(f"relay peak RSS       {int(hwm)/1024:.1f} MiB")
print(f"found in VictoriaMetrics {int(float(found))} (sum of count_over_time, via=nats)")
PY
fi
