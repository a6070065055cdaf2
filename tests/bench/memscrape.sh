#!/usr/bin/env bash
# Memory per scrape (issue 13 item 1: at most 3x the body): `pollster --once` scrapes one target
# serving a body of each shape below, RUNS times, and prints the peak RSS of the process, the
# peak of the same run against a one-line body (the base), and (peak - base) / body:
#   tiny      "a 1" lines: the smallest sample a body can hold (4 bytes a sample)
#   series    SERIES series of big_total{shard="N",idx="M"} (hostile.sh's big target)
#   node      node_exporter.prom's samples, repeated with a distinct label until SIZE_MIB
#
#   tests/bench/memscrape.sh [SIZE_MIB [SERIES]]     (defaults 10 200000)
#   POLLSTER=/path/to/pollster RUNS=3 FORMAT=json SHAPES="tiny series node" tests/bench/memscrape.sh
#
# FORMAT is --format (json, the native encoder, by default; table prints one line per sample).
# Output goes to /dev/null. Needs python3. Never part of make check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
size_mib=${1:-10}
series=${2:-200000}
runs=${RUNS:-3}
format=${FORMAT:-json}
shapes=${SHAPES:-tiny series node}
pollster=${POLLSTER:-$top/pollster}
fixture=${FIXTURE:-$top/tests/fixtures/node_exporter.prom}

[ -x "$pollster" ] || { echo "memscrape.sh: $pollster not built" >&2; exit 1; }
work=$(mktemp -d /tmp/pollster-memscrape.XXXXXX)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work" "$size_mib" "$series" "$fixture" <<'PY'
import sys
work, size, series, fixture = sys.argv[1], int(sys.argv[2]) << 20, int(sys.argv[3]), sys.argv[4]
open(f"{work}/base", "w").write("a 1\n")
open(f"{work}/tiny", "w").write("a 1\n" * (size // 4))
with open(f"{work}/series", "w") as out:
    out.write("# TYPE big_total counter\n")
    for i in range(series):
        out.write(f'big_total{{shard="{i % 64}",idx="{i}"}} {i * 3}\n')
lines = [l for l in open(fixture) if l.strip() and not l.startswith("#")]
with open(f"{work}/node", "w") as out:
    n, copy = 0, 0
    while n < size:  # up to SIZE_MIB, not past it (the default body_size_limit is 10 MiB)
        for l in lines:
            sp, br = l.find(" "), l.find("{")
            if 0 <= br < sp:  # name{labels} value: the copy label goes first
                s = f'{l[:br]}{{copy="{copy}",{l[br + 1:]}'
            else:  # name value
                s = f'{l[:sp]}{{copy="{copy}"}}{l[sp:]}'
            if n + len(s) > size:
                n = size
                break
            out.write(s)
            n += len(s)
        copy += 1
PY

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
(cd "$work" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server_pid=$!
for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/base')" 2>/dev/null && break
    sleep 0.1
done

# peak_kib PATH: the peak RSS (KiB) of one `pollster --once` of /PATH, and its exit status.
peak_kib() {
    python3 - "$pollster" "http://127.0.0.1:$port/$1" "$format" <<'PY'
import resource, subprocess, sys
rc = subprocess.call([sys.argv[1], "--once", "--kind", "prometheus", "--target", sys.argv[2],
                      "--format", sys.argv[3]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)
PY
}

echo "memscrape: pollster --once --format $format, $runs run(s) each, peak RSS in MiB"
printf '%-8s %9s %10s %10s %10s %12s\n' shape "body MiB" samples "base MiB" "peak MiB" "(peak-base)/body"
for shape in $shapes; do
    body=$(stat -c %s "$work/$shape")
    samples=$(grep -cv -e '^#' -e '^$' "$work/$shape")
    for r in $(seq "$runs"); do
        read -r base _ < <(peak_kib base)
        read -r peak rc < <(peak_kib "$shape")
        python3 -c "
b, base, peak, rc = $body, $base, $peak, $rc
print(f'{\"$shape\":<8} {b / 1048576:9.2f} {$samples:10d} {base / 1024:10.1f} {peak / 1024:10.1f} '
      f'{(peak - base) * 1024 / b:12.2f}x' + ('' if rc == 0 else f'  (exit {rc}: the run failed)'))"
    done
done
