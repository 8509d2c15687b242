#!/usr/bin/env bash
# The project's test command (see README): builds the binaries, runs the Rust tests with
# nextest, then the end-to-end suite (tests/e2e) with the official OpenAI Python SDK.
# Works from any directory. The e2e virtualenv lives in .venv and is (re)built from
# tests/e2e/requirements.txt when it is missing or the requirements changed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

echo "==> cargo build --workspace --bins"
cargo build --workspace --bins

echo "==> cargo nextest run --workspace"
cargo nextest run --workspace

req=tests/e2e/requirements.txt
venv=.venv
stamp=$venv/.requirements.sha256
python=${PYTHON:-python3}
want=$( { sha256sum "$req"; "$python" --version 2>&1; } | sha256sum | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    echo "==> creating $venv from $req"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    have=""
fi
if [ "$have" != "$want" ]; then
    echo "==> installing $req into $venv"
    rm -f "$stamp"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
fi

target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
export SWITCHYARD_BIN_DIR=${SWITCHYARD_BIN_DIR:-$target_dir/debug}

echo "==> pytest tests/e2e (binaries from $SWITCHYARD_BIN_DIR)"
status=0
"$venv/bin/python" -m pytest tests/e2e -q || status=$?
if [ "$status" -eq 5 ]; then
    echo "error: pytest collected no tests in tests/e2e" >&2
    exit 1
fi
exit "$status"
