#!/usr/bin/env bash
# The whole test suite: what the README names and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The managed Python runtime against a fake Runtime API (stdlib unittest).
python3 -m unittest discover -s crates/runtime/python -p 'test_*.py'
# Every crate: unit tests, and end-to-end tests with real processes and real HTTP.
cargo test --workspace "$@"
