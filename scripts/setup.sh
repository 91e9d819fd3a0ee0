#!/usr/bin/env bash
# The main job on a fresh machine: install the Debian dependencies, build tpc, and run it on an example program.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build --target tpc   # the tests are built by scripts/test.sh
./build/tpc check programs/mlp2_tanh.tp
./build/tpc classify programs/mlp2_tanh.tp --param mup --json build/mlp2_tanh_mup_classify.json
./build/tpc limit programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json \
  --steps 5 --threads 2 --json build/mlp2_tanh_mup_limit.json
./build/tpc simulate programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json \
  --steps 5 --width 1024 --seeds 4 --threads 2 --json build/mlp2_tanh_mup.json
./build/tpc report build/mlp2_tanh_mup_classify.json build/mlp2_tanh_mup_limit.json build/mlp2_tanh_mup.json \
  -o build/mlp2_tanh_mup.html
echo "reports written to build/mlp2_tanh_mup*.json; open build/mlp2_tanh_mup.html in a browser"
