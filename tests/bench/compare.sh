#!/usr/bin/env bash
# The comparison behind issue 16, in one command: the floor (tests/bench/bench_floor, a bare
# libcurl loop), pollster and vmagent (Debian's victoria-metrics package) scrape the same nginx
# targets for the same window, one program at a time, alternating their order from repeat to
# repeat, on two workloads:
#   single    TARGETS URLs on one host:port (a handful of keep-alive connections serve them all)
#   distinct  TARGETS URLs on TARGETS distinct ports of the same nginx (one connection each)
# pollster forwards with an http output (format vm) and vmagent with remote write, both into one
# victoria-metrics on loopback; the floor forwards nothing. For each run it prints scrapes,
# CPU seconds (user+sys, from /proc at the end of the window; the floor's own getrusage),
# CPU per million samples and peak RSS (VmHWM); then per workload the means and the ratios
# pollster/floor and vmagent/pollster. Samples = successful scrapes x samples per page (lines of
# the fixture that are neither empty nor comments), the same count for every program.
#
#   tests/bench/scrape.sh compare [TARGETS [INTERVAL_S [DURATION_S]]]   (defaults 500 5 40)
#   REPEATS=3 WORKLOADS="distinct" PROGRAMS="floor pollster" tests/bench/scrape.sh compare
#   FORWARD=remote_write: pollster forwards with a remote_write output (/api/v1/write, protobuf
#   + snappy, as vmagent does) instead of the http output with format vm.
#   PERF_OUT=/tmp/perf.data: profiles pollster (perf record -g) in its last run of each workload
#   (the workload's name is appended to the file name); PERF_CALLGRAPH="--call-graph dwarf" for
#   call chains through libraries built without frame pointers.
#
# Needs nginx, curl, python3, victoria-metrics, vmagent; `make bench` for the floor.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
targets=${1:-500}
interval=${2:-5}
duration=${3:-40}
repeats=${REPEATS:-2}
workloads=${WORKLOADS:-single distinct}
programs=${PROGRAMS:-floor pollster vmagent}
pollster=${POLLSTER:-$top/pollster}
floor=${FLOOR:-$top/tests/bench/bench_floor}
fixture=${FIXTURE:-$top/tests/fixtures/node_exporter.prom}

for c in nginx curl python3 victoria-metrics vmagent; do
    command -v "$c" >/dev/null || { echo "compare: $c not found" >&2; exit 77; }
done
[ -x "$pollster" ] || { echo "compare: $pollster not built" >&2; exit 1; }
[ -x "$floor" ] || { echo "compare: $floor not built (make bench)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n 8192

work=$(mktemp -d /tmp/pollster-compare.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

# free_ports N: N distinct free loopback ports, held open together while chosen.
free_ports() {
    python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss: s.close()' "$1"
}
read -r -a ports <<< "$(free_ports $((targets + 4)))"
single_port=${ports[0]}
vm_port=${ports[1]}
status_port=${ports[2]}
agent_port=${ports[3]}
distinct_ports=("${ports[@]:4}")

cp "$fixture" "$work/metrics"
per_page=$(grep -cv -e '^#' -e '^$' "$fixture")
{
    echo "daemon off; worker_processes 1; worker_rlimit_nofile 65536;"
    echo "pid $work/nginx.pid; error_log $work/error.log warn;"
    echo "events { worker_connections 16384; }"
    echo "http { access_log off; client_body_temp_path $work; proxy_temp_path $work;"
    echo "  fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;"
    echo "  keepalive_requests 1000000; keepalive_timeout 300s;"
    echo "  gzip on; gzip_types *; gzip_min_length 1000; gzip_comp_level 1;"
    echo "  server { listen 127.0.0.1:$single_port;"
    for p in "${distinct_ports[@]}"; do echo "    listen 127.0.0.1:$p;"; done
    echo "    location ~ ^/t/[0-9]+/metrics\$ { default_type \"text/plain; version=0.0.4\"; alias $work/metrics; } } }"
} > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work" &
pids+=($!)
victoria-metrics -storageDataPath="$work/vmdata" -httpListenAddr="127.0.0.1:$vm_port" \
    -loggerLevel=ERROR > "$work/vm.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$single_port/t/0/metrics" >/dev/null &&
        curl -fs "http://127.0.0.1:$vm_port/health" >/dev/null && break
    sleep 0.1
done

# addresses WORKLOAD: one "host:port path" line per target.
addresses() {
    for i in $(seq 0 $((targets - 1))); do
        if [ "$1" = single ]; then
            echo "127.0.0.1:$single_port /t/$i/metrics"
        else
            echo "127.0.0.1:${distinct_ports[$i]} /t/$i/metrics"
        fi
    done
}

timeout_s=$((interval > 10 ? 10 : interval))
# scrape_config WORKLOAD: Prometheus-style scrape_configs (pollster and vmagent both read it).
scrape_config() {
    echo "global: {scrape_interval: ${interval}s, scrape_timeout: ${timeout_s}s}"
    echo "scrape_configs:"
    echo "  - job_name: node"
    echo "    static_configs:"
    local i=0
    addresses "$1" | while read -r addr path; do
        echo "      - {targets: ['$addr'], labels: {__metrics_path__: '$path', t: '$i'}}"
        i=$((i + 1))
    done
}

# proc_figures PID: "cpu_s hwm_kib" of a running process.
proc_figures() {
    local ut st
    read -r ut st < <(awk '{print $14, $15}' "/proc/$1/stat")
    echo "$(python3 -c "print(($ut + $st) / $(getconf CLK_TCK))") $(awk '/VmHWM/ {print $2}' "/proc/$1/status")"
}

# metric TEXT NAME: the value of the line whose first field is NAME (0 if absent).
metric() { echo "$1" | awk -v k="$2" '$1 == k {v = $2} END {print v + 0}'; }

# window PID METRICS_PORT PERF_FILE: waits out the window (profiling PID with perf into
# PERF_FILE unless empty), then sets m (its /metrics), cpu and hwm, and stops it.
window() {
    local perf_pid=""
    if [ -n "$3" ]; then
        perf record -q -e cpu-clock -F 2000 ${PERF_CALLGRAPH:--g} -p "$1" -o "$3" -- sleep "$duration" 2>/dev/null &
        perf_pid=$!
    fi
    sleep "$duration"
    if [ -n "$perf_pid" ]; then wait "$perf_pid" || true; fi
    m=$(curl -fs "http://127.0.0.1:$2/metrics")
    read -r cpu hwm < <(proc_figures "$1")
    kill -TERM "$1"
    wait "$1" || true
}

results="$work/results"
: > "$results"
# run PROGRAM WORKLOAD REPEAT: one window; appends "workload program repeat scrapes failed cpu hwm".
run() {
    local prog=$1 wl=$2 rep=$3 pid out scrapes failed perf_file
    case "$prog" in
    floor)
        out=$(addresses "$wl" | awk '{print "http://" $1 $2}' |
            "$floor" $((interval * 1000)) "$duration" -)
        scrapes=$(echo "$out" | awk '$1 == "scrapes" {print $2}')
        failed=$(echo "$out" | awk '$1 == "failed" {print $2}')
        cpu=$(echo "$out" | awk '$1 == "cpu_s" {print $2}')
        hwm=$(echo "$out" | awk '$1 == "peak_rss_kib" {print $2}')
        ;;
    pollster)
        {
            scrape_config "$wl"
            echo "outputs:"
            if [ "${FORWARD:-vm}" = remote_write ]; then
                echo "  - {type: remote_write, url: 'http://127.0.0.1:$vm_port/api/v1/write'}"
            else
                echo "  - {type: http, url: 'http://127.0.0.1:$vm_port/api/v1/import', format: vm}"
            fi
            echo "status: {listen: '127.0.0.1:$status_port'}"
        } > "$work/pollster.yaml"
        "$pollster" -c "$work/pollster.yaml" --log-level warn > /dev/null 2> "$work/pollster.log" &
        pid=$!
        pids+=($pid)
        perf_file=""
        [ -n "${PERF_OUT:-}" ] && [ "$rep" = "$repeats" ] && perf_file="$PERF_OUT.$wl"
        window "$pid" "$status_port" "$perf_file"
        scrapes=$(metric "$m" 'pollster_runs_total{job="node",result="ok"}')
        failed=$(metric "$m" 'pollster_runs_total{job="node",result="failed"}')
        scrapes=$((scrapes + failed))
        echo "  pollster connections opened: $(metric "$m" 'pollster_connections_opened_total{job="node"}')" >&2
        ;;
    vmagent)
        scrape_config "$wl" > "$work/vmagent.yaml"
        rm -rf "$work/vmagent-data"
        vmagent -promscrape.config="$work/vmagent.yaml" -httpListenAddr="127.0.0.1:$agent_port" \
            -remoteWrite.url="http://127.0.0.1:$vm_port/api/v1/write" \
            -remoteWrite.tmpDataPath="$work/vmagent-data" -loggerLevel=ERROR \
            > "$work/vmagent.log" 2>&1 &
        pid=$!
        pids+=($pid)
        window "$pid" "$agent_port" ""
        scrapes=$(metric "$m" 'vm_promscrape_scrapes_total{status_code="200"}')
        failed=$(metric "$m" 'vm_promscrape_scrapes_failed_total')
        scrapes=$((scrapes + failed))
        ;;
    esac
    echo "$wl $prog $rep $scrapes $failed $cpu $hwm" >> "$results"
    python3 -c "
s, f, cpu, hwm = $scrapes, $failed, $cpu, $hwm
samples = (s - f) * $per_page
print(f'$wl  $prog  repeat $rep: scrapes {s} (failed {f}, expected ~{$targets * $duration // $interval}), '
      f'cpu {cpu:.2f} s, {cpu / samples * 1e6 if samples else float(\"nan\"):.3f} s per 1M samples, '
      f'peak RSS {hwm / 1024:.1f} MiB')"
}

echo "compare: $targets targets, every ${interval}s, ${duration}s windows, $repeats repeat(s), $per_page samples per page, pollster forwarding ${FORWARD:-vm}"
read -r -a progs <<< "$programs"
for rep in $(seq 1 "$repeats"); do
    for wl in $workloads; do
        # Rotate the order every repeat so no program always runs first or last.
        n=${#progs[@]}
        for k in $(seq 0 $((n - 1))); do
            run "${progs[$(((k + rep - 1) % n))]}" "$wl" "$rep"
        done
    done
done

python3 - "$results" "$per_page" <<'PY'
import sys, collections
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
per_page = int(sys.argv[2])
agg = collections.defaultdict(lambda: [0.0, 0, 0])   # cpu, samples, max hwm
for wl, prog, rep, s, f, cpu, hwm in rows:
    a = agg[(wl, prog)]
    a[0] += float(cpu); a[1] += (int(s) - int(f)) * per_page; a[2] = max(a[2], int(hwm))
print()
print(f"{'workload':10} {'program':9} {'s per 1M samples':>17} {'peak RSS MiB':>13}")
per = {}
for (wl, prog), (cpu, samples, hwm) in sorted(agg.items()):
    per[(wl, prog)] = cpu / samples * 1e6 if samples else float("nan")
    print(f"{wl:10} {prog:9} {per[(wl, prog)]:17.3f} {hwm / 1024:13.1f}")
for wl in sorted({k[0] for k in per}):
    p, fl, va = per.get((wl, "pollster")), per.get((wl, "floor")), per.get((wl, "vmagent"))
    if p and fl:
        print(f"{wl}: pollster / floor = {p / fl:.2f} (target <= 1.15)")
    if p and va:
        print(f"{wl}: vmagent / pollster = {va / p:.2f} (target >= 5)")
PY
