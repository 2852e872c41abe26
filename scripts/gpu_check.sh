#!/usr/bin/env bash
# The GPU checks of issue 13 in one call, for a lent GPU machine (its python3 already holds torch with CUDA,
# Triton, numba, h5py, scipy, tifffile, scikit-image and pytest; nothing is installed). Run from the
# repository root; writes the test log and the benchmark table to $OUT (or ./gpu-check).
#   bash scripts/gpu_check.sh [CPU_TRAIN_SECONDS]
# CPU_TRAIN_SECONDS: recon train of scripts/bench_gpu.py's case on the 2-core dev CPU (173.5 s measured there).
set -uo pipefail
out=${OUT:-gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi -L | tee "$out/gpu.txt"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" | tee -a "$out/gpu.txt"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/operators tests/test_doctests.py 2>&1 | tee "$out/tests.log"
timeout 330 python3 scripts/bench_gpu.py --cpu-seconds "${1:-173.5}" 2>&1 | tee "$out/bench.md"
# the cone-beam Triton kernels (issue 25): A, Aᵀ and FDK at 128³, 256³ and 512³ (360 views), on the GPU only
timeout 60 python3 scripts/bench_cone.py --sizes 128 256 512 --views 360 --repeat 3 --gpu-only --timeout 50 2>&1 | tee "$out/bench_cone.md"
