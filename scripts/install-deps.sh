#!/usr/bin/env bash
# Installs the Debian packages tpc needs to build and test (run as root, or with sudo available).
set -euo pipefail
packages=(
  cmake ninja-build gcc g++ make   # gcc: LLVM's CMake config probes C headers; cc links the tpc compile example in the tests
  llvm-19-dev          # LLVM 19.1: the JIT backend (one shared libLLVM)
  libboost-dev         # Boost.Multiprecision: exact rational width exponents
  nlohmann-json3-dev   # JSON reports, data and parametrization files
  libgtest-dev         # unit, golden and numeric tests
  libcli11-dev         # the command-line parser
  chromium             # the browser test of tpc report's page (tests/browser/report_renders.sh)
  clang libclang-rt-dev  # libFuzzer (scripts/fuzz.sh): Debian's default clang and its sanitizer runtimes
  zlib1g-dev libzstd-dev libedit-dev libffi-dev libxml2-dev libncurses-dev  # libLLVM's CMake config names these
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
