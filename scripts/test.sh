#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (Debian's prometheus/promtool, node_exporter, alertmanager/amtool,
# victoria-metrics, blackbox_exporter and process-exporter, used as real
# peers; Chromium for the UI; aiosmtpd from PyPI as the SMTP server), then
# builds and runs
# every test. Usage: ./scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v promtool >/dev/null 2>&1 || need_pkgs+=(prometheus)
command -v prometheus-node-exporter >/dev/null 2>&1 || need_pkgs+=(prometheus-node-exporter)
command -v amtool >/dev/null 2>&1 || need_pkgs+=(prometheus-alertmanager)
# Debian's Chromium for the web UI's browser test; a Korean font so its
# screenshots of the Korean UI are readable.
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
[ -d /usr/share/fonts/truetype/nanum ] || need_pkgs+=(fonts-nanum)
command -v victoria-metrics >/dev/null 2>&1 || need_pkgs+=(victoria-metrics)
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || need_pkgs+=(prometheus-blackbox-exporter)
command -v prometheus-process-exporter >/dev/null 2>&1 || need_pkgs+=(prometheus-process-exporter)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  # the packages' own services must not hold our test ports
  for s in prometheus prometheus-node-exporter prometheus-alertmanager victoria-metrics prometheus-blackbox-exporter prometheus-process-exporter; do
    $SUDO systemctl stop "$s" >/dev/null 2>&1 || true
    # (the kernel keeps 15 characters of a process name: prometheus-proc…)
    $SUDO pkill -x "${s:0:15}" >/dev/null 2>&1 || true
  done
fi

# aiosmtpd (PyPI): the real SMTP server the email integration's tests talk to.
if ! python3 -c "import aiosmtpd" >/dev/null 2>&1; then
  echo "== installing aiosmtpd (PyPI)"
  python3 -m pip install -q aiosmtpd >/dev/null 2>&1 \
    || python3 -m pip install -q --user --break-system-packages aiosmtpd >/dev/null 2>&1 \
    || echo "!! could not install aiosmtpd: the email tests will say so and fail under CI=true" >&2
fi

# The web UI's test dependencies (playwright-core drives Chromium). The UI
# itself is committed pre-built in ui/dist; a test checks it matches ui/src.
if command -v npm >/dev/null 2>&1; then
  if [ ! -d ui/node_modules/playwright-core ]; then
    echo "== npm ci (ui/)"
    (cd ui && npm ci --no-audit --no-fund >/dev/null 2>&1) || echo "!! npm ci in ui/ failed: the browser test will say so" >&2
  fi
else
  echo "!! npm not found: the browser test will be skipped (and fail under CI=true)" >&2
fi

# Upstream conformance data (PromQL scripts, exposition samples, …).
export BONGSU_CONFORMANCE_DIR="${BONGSU_CONFORMANCE_DIR:-$(cd .. && pwd)/shared/conformance}"
if [ ! -d "$BONGSU_CONFORMANCE_DIR" ]; then
  echo "!! conformance data not found at $BONGSU_CONFORMANCE_DIR (set BONGSU_CONFORMANCE_DIR)" >&2
  [ "${CI:-}" = "true" ] && exit 1
fi

export RUSTFLAGS="${RUSTFLAGS:--D warnings}"
export CARGO_TERM_COLOR=never
echo "== cargo test (workspace)"
cargo test --workspace --locked "$@" 2>&1
