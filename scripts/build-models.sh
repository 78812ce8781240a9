#!/bin/sh
# Builds the models the studio ships in public/models/ (its first screen), with the project's own
# CLI, seeded so a rerun reproduces them: a trained model per preset and its HE-PEx twin
# (prune 90% -> retrain -> permute -> drop tiles at density <= 1/16 + expand -> retrain, 4x8 tiles).
# Takes ~10 minutes on 2 cores. Usage: npm run models
set -eu
cd "$(dirname "$0")/.."
out=public/models
hepex() { scripts/node node_modules/tsx/dist/cli.mjs src/cli/main.ts "$@"; }

hepex train --arch mlp --layers 784,128,10 --seed 1 --out "$out/mlp"
hepex prune --model "$out/mlp" --method hepex --sparsity 0.9 --theta 0.0625 --tile 4x8 --seed 1 --out "$out/mlp/hepex"

hepex train --arch ae --layers 784,256,64,256,784 --seed 1 --out "$out/ae"
hepex prune --model "$out/ae" --method hepex --sparsity 0.9 --theta 0.0625 --tile 4x8 --seed 1 --out "$out/ae/hepex"

hepex train --arch dae --layers 784,128,32,128,784 --seed 1 --out "$out/dae"
hepex prune --model "$out/dae" --method hepex --sparsity 0.9 --theta 0.0625 --tile 4x8 --seed 1 --out "$out/dae/hepex"

# CNN: conv 8 x 5x5 stride 2 (12 x 12 x 8 = 1152 features) -> poly -> 64 -> poly -> 10 (~35 s to train).
hepex train --arch cnn --layers 784,64,10 --filters 8 --kernel 5 --stride 2 --seed 1 --out "$out/cnn"
# 16x8 tiles: the im2col input is 1,008 ciphertexts at 4x8 (288 at 16x8), so the unpruned CNN runs there only with
# streamed weights and ~4x slower; 16x8 keeps the studio's encrypted comparison to seconds (docs/convolution.md).
hepex prune --model "$out/cnn" --method hepex --sparsity 0.8 --theta 0.0625 --tile 16x8 --seed 1 --out "$out/cnn/hepex"
