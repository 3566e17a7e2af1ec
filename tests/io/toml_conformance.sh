#!/bin/sh
# Runs the TOML 1.0 conformance cases (toml-test, kept in ../shared/toml-test
# beside the project) against tests/toml-decoder. SKIP (77) without python3
# or without the cases.
suite="$top_srcdir/../shared/toml-test"
py=${PYTHON3:-python3}
if [ -z "$PYTHON3" ] && ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: no python3"
    exit 77
fi
if [ ! -f "$suite/run.py" ]; then
    echo "SKIP: no conformance cases at $suite"
    exit 77
fi
"$py" "$suite/run.py" "$top_builddir/tests/toml-decoder" --verbose
