#!/bin/sh
# The man pages lint clean and document every option and every config key.
#
# (a) lint: both pages through every available checker, "mandoc -Tlint
#     -Wwarning" and "groff -man -Tutf8 -ww -z"; any message fails. With
#     neither installed this part is skipped (nothing is installed here).
# (b) every option of "$POLLSTER_BIN --help" has a tag (the line after .TP)
#     in the OPTIONS section of man/pollster.8.
# (c) every key of "$POLLSTER_BIN --help-config" (config_reference(): one key
#     per line, indented two spaces per level, then its type and default)
#     has a tag in the .SS block of man/pollster.yaml.5 named after its parent
#     key (a top-level key has a .SS of its own), the tag states the same
#     default ("default VALUE"), and every "not supported yet" key appears in
#     the page. Skipped only while --help-config does not exist (exit 2).
#
# Exit: 1 when a check failed; otherwise 77 when a part was skipped for a
# missing prerequisite; otherwise 0. Every part runs in any case.
#
# make check runs this from the build directory with POLLSTER_BIN set; the
# pages are found relative to this script, so srcdir may be elsewhere
# (distcheck). By hand: POLLSTER_BIN=./pollster sh tests/check_docs.sh

LC_ALL=C
export LC_ALL

here=$(dirname "$0")
man8=$here/../man/pollster.8
man5=$here/../man/pollster.yaml.5

if [ -z "${POLLSTER_BIN:-}" ]; then
    for b in ./pollster "$here/../pollster"; do
        if [ -x "$b" ]; then
            POLLSTER_BIN=$b
            break
        fi
    done
fi
if [ -z "${POLLSTER_BIN:-}" ] || [ ! -x "$POLLSTER_BIN" ]; then
    echo "SKIP: no pollster binary (set POLLSTER_BIN)"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_docs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

failed=0
skipped=0

fail() {
    echo "FAIL: $*"
    failed=1
}

for page in "$man8" "$man5"; do
    if [ ! -r "$page" ]; then
        fail "$page: missing"
    fi
done
if [ "$failed" -ne 0 ]; then
    exit 1
fi

# (a) lint

# lint COMMAND...: runs COMMAND PAGE for both pages; any message fails.
lint() {
    for page in "$man8" "$man5"; do
        if "$@" "$page" >"$tmp/lint" 2>&1 && [ ! -s "$tmp/lint" ]; then
            echo "ok: $* $page"
        else
            cat "$tmp/lint"
            fail "$* $page"
        fi
    done
}

linted=0
if command -v mandoc >/dev/null 2>&1; then
    linted=1
    lint mandoc -Tlint -Wwarning
fi
if command -v groff >/dev/null 2>&1; then
    linted=1
    lint groff -man -Tutf8 -ww -z
fi
if [ "$linted" -eq 0 ]; then
    echo "SKIP: lint (neither mandoc nor groff is installed)"
    skipped=1
fi

# The tags of a page, one per line: section TAB subsection TAB tag, where the
# subsection is the first word of the .SS title and the tag is the line after
# .TP, with macro names, quotes, font escapes and \- \& \e \(aq \(dq undone.
tags() {
    awk '
        /^\.SH/ { sh = $0; sub(/^\.SH[ \t]*/, "", sh); gsub(/"/, "", sh)
                  ss = ""; prev = ""; next }
        /^\.SS/ { t = $0; sub(/^\.SS[ \t]*/, "", t); gsub(/"/, "", t)
                  split(t, w, /[ \t]+/); ss = w[1]
                  sub(/[^A-Za-z0-9_]+$/, "", ss); prev = ""; next }
        prev ~ /^\.TP([ \t]|$)/ { t = $0; sub(/^\.[BIR]+[ \t]+/, "", t)
                                 gsub(/"/, "", t); print sh "\t" ss "\t" t }
        { prev = $0 }
    ' "$1" | sed -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\f\[[^]]*\]//g' \
        -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\e/\\/g' -e "s/\\\\(aq/'/g" \
        -e 's/\\(dq/"/g'
}

# (b) every option of --help is a tag in OPTIONS of pollster.8

if "$POLLSTER_BIN" --help >"$tmp/help" 2>"$tmp/help.err"; then
    {
        grep -o -e '--[a-z][a-z0-9-]*' "$tmp/help"
        grep -o -e '^ *-[A-Za-z],' "$tmp/help" | tr -d ' ,'
    } | sort -u >"$tmp/options"
    if [ ! -s "$tmp/options" ]; then
        fail "no option found in \"$POLLSTER_BIN --help\""
    fi
    tags "$man8" >"$tmp/tags8"
    # The words of each OPTIONS tag ("-c, --config FILE": -c --config FILE).
    awk -F '\t' '$1 == "OPTIONS" { print $3 }' "$tmp/tags8" |
        tr -cs 'A-Za-z0-9_-' '\n' | sort -u >"$tmp/words8"
    missing=$(comm -23 "$tmp/options" "$tmp/words8")
    if [ -n "$missing" ]; then
        for o in $missing; do
            fail "man/pollster.8: option $o of --help has no tag in OPTIONS"
        done
    else
        n=$(wc -l <"$tmp/options")
        echo "ok: man/pollster.8 documents all $n options of --help"
    fi
else
    cat "$tmp/help.err"
    fail "\"$POLLSTER_BIN --help\" failed"
fi

# (c) every key of --help-config is a tag of its section in pollster.yaml.5

"$POLLSTER_BIN" --help-config >"$tmp/ref" 2>"$tmp/ref.err"
rc=$?
if [ "$rc" -eq 2 ]; then
    echo "SKIP: config keys (no \"$POLLSTER_BIN --help-config\" yet)"
    skipped=1
elif [ "$rc" -ne 0 ]; then
    cat "$tmp/ref.err"
    fail "\"$POLLSTER_BIN --help-config\" exited $rc"
else
    # K TAB parent TAB key TAB default, and U TAB key for "not supported yet".
    awk '
        NR == 1 && $1 == "key" { next }
        NF == 0 { next }
        { match($0, /^ */); depth = int(RLENGTH / 2) }
        $1 == "not" && $2 == "supported" && $3 == "yet:" {
            for (i = 4; i <= NF; i++) print "U\t" $i
            next
        }
        $1 == "ignored" && $2 == "(Prometheus" {
            for (i = 5; i <= NF; i++) print "U\t" $i
            next
        }
        { stack[depth] = $1
          print "K\t" (depth > 0 ? stack[depth - 1] : "") "\t" $1 "\t" $3 }
    ' "$tmp/ref" >"$tmp/keys"
    if ! grep -q '^K' "$tmp/keys"; then
        fail "no key found in \"$POLLSTER_BIN --help-config\""
    fi
    tags "$man5" >"$tmp/tags5"
    awk -F '\t' -v page=man/pollster.yaml.5 '
        FILENAME == ARGV[1] {
            # a tag: its block, the words before its first "(", the whole tag
            if ($2 != "") blocks[$2] = 1
            head = $3; sub(/\(.*/, "", head)
            n = split(head, w, /[^A-Za-z0-9_]+/)
            for (i = 1; i <= n; i++)
                if (w[i] != "")
                    tag[$2 SUBSEP w[i]] = tag[$2 SUBSEP w[i]] "\n" $3
            next
        }
        $1 != "K" { next }
        seen[$2 SUBSEP $3]++ { next }
        $2 == "" {
            if (!($3 in blocks))
                print page ": top-level key " $3 " has no .SS " $3
            next
        }
        !(($2 SUBSEP $3) in tag) {
            print page ": key " $2 "." $3 " has no tag in .SS " $2
            next
        }
        $4 != "-" {
            t = tag[$2 SUBSEP $3] "\n"; want = "default " $4; ok = 0
            while ((p = index(t, want)) > 0) {
                c = substr(t, p + length(want), 1)
                if (c !~ /[A-Za-z0-9_.]/) { ok = 1; break }
                t = substr(t, p + length(want))
            }
            if (!ok)
                print page ": key " $2 "." $3 \
                      " does not say \"" want "\" in its tag"
        }
    ' "$tmp/tags5" "$tmp/keys" >"$tmp/missing5"
    # The unsupported keys, anywhere in the page's text.
    sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' "$man5" >"$tmp/text5"
    awk -F '\t' '$1 == "U" { print $2 }' "$tmp/keys" |
        sort -u >"$tmp/unsupported"
    while IFS= read -r k; do
        if ! grep -qF -e "$k" "$tmp/text5"; then
            echo "man/pollster.yaml.5: unsupported key $k is not mentioned"
        fi
    done <"$tmp/unsupported" >>"$tmp/missing5"
    if [ -s "$tmp/missing5" ]; then
        while IFS= read -r line; do
            fail "$line"
        done <"$tmp/missing5"
    else
        echo "ok: man/pollster.yaml.5 documents all" \
            "$(grep -c '^K' "$tmp/keys") keys of --help-config"
    fi
fi

if [ "$failed" -ne 0 ]; then
    exit 1
fi
if [ "$skipped" -ne 0 ]; then
    exit 77
fi
exit 0
