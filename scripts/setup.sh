#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for cvae-edge: the Fashion-MNIST dataset package, Chromium
# (browser test) and the npm dependencies. Safe to run again. Without root, it tells you how to get the data instead.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${FASHION_MNIST_DIR:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian package dataset-fashion-mnist"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist
  else
    echo "setup: Fashion-MNIST not found. Either: sudo apt-get install dataset-fashion-mnist," >&2
    echo "       or set FASHION_MNIST_DIR, or after this script: npm run cvae -- datasets fetch fashion-mnist" >&2
  fi
fi

# Debian's Chromium: the playground's browser test drives it (playwright-core never downloads a browser).
if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM_PATH:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian package chromium (for the browser test)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    echo "setup: chromium not found; the browser test needs it: sudo apt-get install chromium (or set CHROMIUM_PATH)" >&2
  fi
fi

echo "setup: installing npm dependencies"
npm ci --no-audit --no-fund
echo "setup: done. Try: npm run cvae -- --help"
