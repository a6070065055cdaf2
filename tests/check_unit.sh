#!/bin/sh
# The systemd unit runs only programs the package can count on: every absolute program of an
# Exec*= line (@sbindir@ is pollster's own) must belong to an Essential package or to one the
# package Depends on. /bin/kill (procps) was neither, so `systemd-analyze verify` failed on a
# minimal root. Needs dpkg (Debian); elsewhere it checks the unit names no /bin/kill.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
unit=$top/packaging/systemd/pollster.service.in
control=$top/packaging/debian/control
fail=0

progs=$(sed -n 's/^-\{0,1\}Exec[A-Za-z]*=[-@:+!]*\(\/[^ ]*\).*/\1/p' "$unit" | grep -v '^@' || true)
[ -n "$(sed -n 's/^ExecReload=//p' "$unit")" ] || { echo "FAIL: no ExecReload= in $unit"; exit 1; }
depends=$(awk '/^Depends:/ { sub(/^Depends:/, ""); print }' "$control" | tr ',|' '\n\n' |
          sed 's/[[:space:]]//g; s/(.*//' | grep -v '^\$' || true)
for p in $progs; do
    if ! command -v dpkg >/dev/null; then
        [ "$p" != /bin/kill ] || { echo "FAIL: $unit runs /bin/kill (procps)"; fail=1; }
        continue
    fi
    pkg=$(dpkg -S "$p" 2>/dev/null | sed -n 's/^\([^ :]*\)\(:[^ ]*\)\{0,1\}: .*/\1/p' | head -n 1)
    if [ -z "$pkg" ]; then
        echo "FAIL: $unit runs $p, which no installed package provides"
        fail=1
        continue
    fi
    essential=$(dpkg-query -W -f='${Essential}' "$pkg" 2>/dev/null || true)
    if [ "$essential" = yes ] || printf '%s\n' "$depends" | grep -qx "$pkg"; then
        echo "ok: $p ($pkg$( [ "$essential" = yes ] && echo ', Essential'))"
    else
        echo "FAIL: $unit runs $p from $pkg: neither Essential nor in Depends of $control"
        fail=1
    fi
done
exit $fail
