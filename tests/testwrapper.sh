#!/bin/sh
# Runs one test program, under valgrind when VALGRIND is set (VALGRIND=valgrind make check).
# Check's fork mode is turned off under valgrind so every test runs in the process it watches.
if [ -n "$VALGRIND" ]; then
    CK_FORK=no
    export CK_FORK
    exec $VALGRIND --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
        --show-leak-kinds=definite,indirect,possible --child-silent-after-fork=yes "$@"
fi
exec "$@"
