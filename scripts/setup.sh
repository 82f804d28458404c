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

# PyTorch (Debian's python3-torch with OpenBLAS, the BLAS it recommends; ~1 GB): the reference column of `npm run bench:train` and the
# test that keeps it in step with the catalogue. Opt in with CVAE_SETUP_TORCH=1 (CI does).
if [ "${CVAE_SETUP_TORCH:-0}" = 1 ] && ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian package python3-torch (PyTorch reference for bench:train)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch libopenblas0
  else
    echo "setup: CVAE_SETUP_TORCH=1 needs root: sudo apt-get install python3-torch libopenblas0" >&2
  fi
fi

echo "setup: installing npm dependencies"
# Which dependencies may run install scripts is package.json's allowScripts (npm >= 11.16 lists
# the others after installing, npm 12 skips them): the packages with native binaries (esbuild,
# workerd, sharp, onnxruntime-node, the optional tfjs-node builds) yes; core-js' banner and
# protobufjs' folder for its CLI no. onnxruntime-node's script still obeys .npmrc's skip.
npm ci --no-audit --no-fund
echo "setup: done. Try: npm run cvae -- --help"
