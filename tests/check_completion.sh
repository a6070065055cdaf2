#!/bin/bash
# The bash completion (packaging/bash-completion/pollster) completes the options of
# "$POLLSTER_BIN --help" and the values of the options with a fixed set, in plain bash (without
# the bash-completion package's helpers, as on a minimal system).
here=$(dirname "$0")
# shellcheck source=/dev/null
. "$here/../packaging/bash-completion/pollster" || exit 1
bin=${POLLSTER_BIN:-./pollster}
fail=0

# complete WORD... : COMPREPLY for the last word, space-separated
complete_line() {
    COMP_WORDS=("$bin" "$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _pollster
    echo "${COMPREPLY[*]}"
}

expect() {
    local want=$1
    shift
    local got
    got=$(complete_line "$@")
    if [ "$got" = "$want" ]; then
        echo "ok: $* -> $got"
    else
        echo "FAIL: $*: got '$got', want '$want'"
        fail=1
    fi
}

expect "--log-format --log-level" --log-
expect "--check-config" --check-c
expect "logfmt" --log-format l
expect "table telegraf" --once --format t
expect "prometheus probe" --kind pr
expect "debug" --log-level d
expect "" --interval 1
exit $fail
