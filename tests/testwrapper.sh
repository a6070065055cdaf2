#!/bin/sh
# Runs one test program, under valgrind when VALGRIND is set (VALGRIND=valgrind make check).
# Check's fork mode is turned off under valgrind so every test runs in the process it watches.
#
# Each test runs in a session (and process group) of its own: Check answers a SIGTERM by
# killing its whole process group, and a test that got one must fail alone, visibly, instead
# of taking make and the rest of the run with it.
if [ -n "$VALGRIND" ]; then
    CK_FORK=no
    export CK_FORK
    exec setsid -w $VALGRIND --quiet --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect,possible \
        --show-leak-kinds=definite,indirect,possible --child-silent-after-fork=yes "$@"
fi
exec setsid -w "$@"
