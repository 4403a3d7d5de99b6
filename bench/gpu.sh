#!/usr/bin/env bash
# One command for a GPU machine, in at most ~8 minutes: the device tests, the bench rows against PyTorch, the default
# grokking run to 99% test accuracy and a 10-seed sweep of it; one table on stdout, the figures in $OUT (bench/gpu-out).
#
#   bench/gpu.sh                    # DEV=CUDA; DEV=NV or DEV=CUDA:PTX pick another of tinygrad's NVIDIA paths
#   SMALL=1 DEV=CL bench/gpu.sh     # a dry run at toy sizes on the CPU (tests/test_gpu_script.py)
#
# The machine needs Python 3.10+, numpy, matplotlib, torch and pytest, not tinygrad or a network: tinygrad is installed
# from a wheel fetched beforehand on a machine with one, into bench/wheels (ignored by git):
#   pip download --no-deps -d bench/wheels tinygrad==0.14.0
set -euo pipefail
cd "$(dirname "$0")/.."
export DEV="${DEV:-CUDA}" OUT="${OUT:-bench/gpu-out}"
if ! python3 -c "import tinygrad" 2>/dev/null; then
  wheel=$(ls bench/wheels/tinygrad-0.14.0-*.whl 2>/dev/null | head -1)
  [ -n "$wheel" ] || { echo "error: no tinygrad here and no wheel in bench/wheels: pip download --no-deps -d bench/wheels tinygrad==0.14.0" >&2; exit 2; }
  python3 -m pip install -q --no-index --no-deps --target .gpu-site "$wheel"
  export PYTHONPATH="$PWD/.gpu-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # tinyarith from this tree, installed or not
# tinygrad compiles CUDA C with NVRTC and finds neither it nor the CUDA headers in pip's nvidia-* packages by itself;
# PyTorch's CUDA wheels bring them
nvidia=$(python3 -c "import nvidia, os; print(list(nvidia.__path__)[0])" 2>/dev/null || true)
if [ -n "$nvidia" ]; then
  [ -e "$nvidia/cuda_nvrtc/lib/libnvrtc.so.12" ] && export NVRTC_PATH="${NVRTC_PATH:-$nvidia/cuda_nvrtc/lib/libnvrtc.so.12}"
  [ -d "$nvidia/cuda_runtime/include" ] && export CUDA_PATH="${CUDA_PATH:-$nvidia/cuda_runtime}"
  [ -e "$nvidia/nvjitlink/lib/libnvJitLink.so.12" ] && export NVJITLINK_PATH="${NVJITLINK_PATH:-$nvidia/nvjitlink/lib/libnvJitLink.so.12}"
fi
exec python3 bench/gpu.py "$OUT"
