#!/usr/bin/env bash
# The README's test command: installs the build dependencies (Debian 12, as root), builds with
# warnings as errors and runs the whole test suite, then `make distcheck`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Everything the suite uses, so that nothing SKIPs on a fresh machine: the libraries, Check,
# Debian's victoria-metrics (tests/check_vm), prometheus (tests/check_prom_relabel), nats-server
# (tests/check_nats),
# prometheus-blackbox-exporter (tests/check_blackbox), libssl-dev (probes' TLS facts), mandoc
# (tests/check_docs.sh), openssl and nghttp2-server (tests/check_auth_tls: s_server and nghttpd
# with certificates made at test time), chromium (tests/check_status_browser: the status page).
pkgs="build-essential autoconf automake pkg-config libevent-dev libcurl4-openssl-dev libjson-c-dev
      libyaml-dev zlib1g-dev libc-ares-dev libssl-dev check mandoc victoria-metrics openssl nghttp2-server prometheus
      libsnappy-dev libprotobuf-c-dev protobuf-c-compiler prometheus-blackbox-exporter chromium
      libnats-dev nats-server"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    dpkg -s $pkgs >/dev/null 2>&1 || {
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
        # The package starts its own service; the tests start theirs on free ports.
        systemctl stop victoria-metrics >/dev/null 2>&1 || true
        pkill -f '^/usr/bin/victoria-metrics' >/dev/null 2>&1 || true
        systemctl stop prometheus >/dev/null 2>&1 || true
        systemctl stop prometheus-blackbox-exporter >/dev/null 2>&1 || true
        pkill -f '^/usr/bin/prometheus-blackbox-exporter' >/dev/null 2>&1 || true
        systemctl stop nats-server >/dev/null 2>&1 || true
    }
fi
autoreconf -fi
./configure --enable-werror -q
make -j"$(nproc)" -s
make -j"$(nproc)" -s check || { cat tests/*.log; exit 1; }
# A skipped test proves nothing: with the packages above installed, none may skip.
if grep -q '^# SKIP: *[1-9]' test-suite.log; then
    grep -l '^SKIP\|^# SKIP\|SKIP:' tests/*.log | sed 's/^/skipped: /'
    echo "run-tests.sh: some tests were skipped (see above); every prerequisite should be installed" >&2
    exit 1
fi
make -j"$(nproc)" -s distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror
