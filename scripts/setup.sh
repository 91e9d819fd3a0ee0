#!/usr/bin/env bash
# The main job on a fresh machine: install the Debian dependencies, build tpc, and run it on an example program.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build --target tpc   # the tests are built by scripts/test.sh
./build/tpc check programs/mlp2_tanh.tp
./build/tpc simulate programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json \
  --steps 5 --width 1024 --seeds 4 --threads 2 --json build/mlp2_tanh_mup.json
echo "report written to build/mlp2_tanh_mup.json"
