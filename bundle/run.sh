#!/usr/bin/env bash
# Installs whatever `cargo bundle` needs and is missing, then runs `cargo bundle "$@"`.
# Idempotent: on a prepared machine it only checks, in about a second.
# Usage: bundle/run.sh <build|dist|serve|test|bench> [args]
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$HOME/.cargo/bin:$PATH"

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=no
apt_install() {
    if [ "$apt_updated" = no ]; then
        sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update
        apt_updated=yes
    fi
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# Go builds the esbuild library inside the esbuild-rs crate; Chromium runs the browser tests.
if ! command -v go >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "run.sh: installing chromium, chromium-driver, golang-go" >&2
    apt_install chromium chromium-driver golang-go
fi

# Firefox ESR and WebKitGTK join Chromium in the end-to-end tests. WebKitGTK's MiniBrowser has no
# headless mode: it runs under xvfb-run (Debian's xvfb; xvfb-run needs xauth).
if ! command -v firefox-esr >/dev/null; then
    echo "run.sh: installing firefox-esr" >&2
    apt_install firefox-esr
fi
if ! command -v WebKitWebDriver >/dev/null || ! command -v xvfb-run >/dev/null || ! command -v xauth >/dev/null; then
    echo "run.sh: installing webkit2gtk-driver, xvfb, xauth" >&2
    apt_install webkit2gtk-driver xvfb xauth
fi

# geckodriver drives Firefox; crates.io has it (Debian does not). Pinned: its capabilities change.
geckodriver_version=0.37.1
if [ "$(geckodriver --version 2>/dev/null | awk 'NR == 1 {print $2}')" != "$geckodriver_version" ]; then
    echo "run.sh: installing geckodriver $geckodriver_version; takes about 3 minutes" >&2
    cargo install geckodriver --version "$geckodriver_version"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

# The test runner must match the wasm-bindgen crate in Cargo.lock exactly.
wasm_bindgen_version=$(awk '
    $0 == "name = \"wasm-bindgen\"" { found = 1; next }
    found && /^version = / { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock)
if [ -z "$wasm_bindgen_version" ]; then
    echo "run.sh: no wasm-bindgen package in Cargo.lock" >&2
    exit 1
fi
installed_runner=$(wasm-bindgen-test-runner --version 2>/dev/null || true)
if [ "$installed_runner" != "wasm-bindgen-test-runner $wasm_bindgen_version" ]; then
    echo "run.sh: installing wasm-bindgen-cli $wasm_bindgen_version (found: ${installed_runner:-none}); takes about 3 minutes" >&2
    # No --locked: the lock file shipped with wasm-bindgen-cli pins versions the registry lacks.
    cargo install wasm-bindgen-cli --version "$wasm_bindgen_version"
fi

# Pyodide (served to the demo and tests) and binaryen's wasm-opt, exact pins from package-lock.json.
# npm writes node_modules/.package-lock.json on every install, so an older one means a changed lock.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi

# Wheels for the install-imports tests, from PyPI: micropip, which the npm Pyodide package lacks (its
# CDN has it), and small pure-Python packages for the local package index the tests install from
# (tabulate; cheap_repr for the library_runner scenario, whose archive package.tar is made from the
# python-runner wheel, as pyodide-worker-runner's own tests make theirs).
pypi_wheels="micropip==0.11.1 tabulate==0.9.0 python-runner==0.6.1 cheap_repr==0.5.2"
if [ "$(cat target/pypi/wheels.txt 2>/dev/null || true)" != "$pypi_wheels" ] \
    || [ tests/pypi/make_index.py -nt target/pypi/wheels.txt ] \
    || [ tests/pypi/make_package_tar.py -nt target/pypi/wheels.txt ]; then
    rm -rf target/pypi
    # shellcheck disable=SC2086 # one argument per requirement
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.13 \
        --dest target/pypi/files $pypi_wheels
    python3 tests/pypi/make_index.py target/pypi
    python3 tests/pypi/make_package_tar.py target/pypi
    echo "$pypi_wheels" > target/pypi/wheels.txt
fi

if ! python3 -m pytest --version >/dev/null 2>&1; then
    # A system Python (PEP 668) refuses pip; Debian's package works there.
    python3 -m pip install pytest || apt_install python3-pytest
fi

# ruff checks python/ (lint + format) in `cargo bundle test`; pinned, since its rules change.
ruff_version=0.17.6
if [ "$(python3 -m ruff --version 2>/dev/null || true)" != "ruff $ruff_version" ]; then
    python3 -m pip install "ruff==$ruff_version"
fi

# matplotlib for python/'s picture tests, which are skipped without it; pinned, since its output changes.
matplotlib_version=3.10.9
if [ "$(python3 -c 'from importlib.metadata import version; print(version("matplotlib"))' 2>/dev/null || true)" != "$matplotlib_version" ]; then
    python3 -m pip install "matplotlib==$matplotlib_version" \
        || echo "run.sh: could not install matplotlib $matplotlib_version; its tests will be skipped" >&2
fi

exec cargo bundle "$@"
