#!/usr/bin/env bash
# CI stage (Debian 12, as root): build the .deb from a clean clone of this repository with
# packaging/build-deb.sh (lintian errors fail it), install it with apt, run the installed
# pollster, purge it and check it is gone. Idempotent: a pollster package left by an earlier
# run is purged first. Systemd need not be PID 1 (the maintainer scripts cope). Runs on its own
# on a fresh Debian 12 root: it installs everything it needs (build-essential included).
#   packaging/ci-deb.sh [OUTDIR]     (OUTDIR keeps the .deb; default /tmp/pollster-deb-out)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/pollster-deb-out}
clone=/tmp/pollster-deb
export DEBIAN_FRONTEND=noninteractive

step() { echo "== deb: $*"; }

step "versions: configure.ac AC_INIT, debian/changelog, rpm/pollster.spec"
v_ac=$(sed -n 's/^AC_INIT(\[pollster\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac")
v_deb=$(sed -n '1s/^pollster (\([^)]*\)).*/\1/p' "$top/packaging/debian/changelog")
v_rpm=$(sed -n 's/^Version:[[:space:]]*//p' "$top/packaging/rpm/pollster.spec")
echo "configure.ac $v_ac, debian/changelog $v_deb, pollster.spec $v_rpm"
if [ -z "$v_ac" ] || [ "$v_ac" != "$v_deb" ] || [ "$v_ac" != "$v_rpm" ]; then
    echo "FAIL: the package versions do not follow AC_INIT in configure.ac" >&2
    exit 1
fi

step "install the packaging tools and the Build-Depends of packaging/debian/control"
[ -n "$(find /var/lib/apt/lists -name '*_Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq
# The Build-Depends field, its continuation lines joined.
builddeps=$(awk '/^Build-Depends:/ { f = 1; sub(/^Build-Depends:/, ""); print; next }
                 f && /^[ \t]/ { print; next } { f = 0 }' "$top/packaging/debian/control" |
            tr -d '\n' | sed 's/,[[:space:]]*$//')
# build-essential: dpkg-buildpackage insists on it (a fresh root has no compiler either).
apt-get install -y -qq --no-install-recommends build-essential dpkg-dev debhelper lintian git >/dev/null
apt-get satisfy -y -qq --no-install-recommends "$builddeps" >/dev/null

step "clean clone of $top in $clone"
rm -rf "$clone" "$out"
git clone -q "$top" "$clone"

step "build (packaging/build-deb.sh $out)"
"$clone/packaging/build-deb.sh" "$out"
deb=$(ls "$out"/pollster_*.deb)

if dpkg-query -W -f='${Status}' pollster 2>/dev/null | grep -qv 'not-installed'; then
    step "purge the pollster package of an earlier run"
    dpkg --purge pollster
fi

step "install $deb"
apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
dpkg -L pollster

step "run the installed pollster"
test "$(command -v pollster)" = /usr/sbin/pollster
pollster --version
pollster --check-config -c /etc/pollster/pollster.yaml
dpkg-query -W -f='${Conffiles}\n' pollster | grep -q '^ /etc/pollster/pollster.yaml '
dpkg-query -W -f='${Conffiles}\n' pollster | grep -q '^ /etc/logrotate.d/pollster '
unit=$(dpkg -L pollster | grep '/systemd/system/pollster.service$')
test -f "$unit"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$unit"
fi
# the bash completion, where bash-completion finds it on demand
dpkg -L pollster | grep -qx /usr/share/bash-completion/completions/pollster
bash -n /usr/share/bash-completion/completions/pollster
if command -v man >/dev/null; then
    # Images that exclude /usr/share/man from dpkg (path-exclude) install no page: warn only.
    man -w pollster || echo "warning: man -w pollster found no page (path-exclude in /etc/dpkg/dpkg.cfg.d?)"
fi

step "purge"
dpkg --purge pollster
hash -r
if command -v pollster >/dev/null || [ -e /usr/sbin/pollster ] || [ -e /etc/pollster/pollster.yaml ] ||
    [ -e "$unit" ] || [ -e /etc/logrotate.d/pollster ]; then
    echo "FAIL: pollster files are left after dpkg --purge" >&2
    exit 1
fi
rm -rf "$clone"
step "passed ($deb)"
