from setuptools import setup

setup(
  name="tinyarith",
  version="0.1.0",
  description="Small, fast tinygrad transformers that learn arithmetic: grokking, multi-digit addition and a calculator",
  packages=["tinyarith"],
  python_requires=">=3.10",
  install_requires=["tinygrad>=0.14,<0.15", "numpy", "matplotlib"],
  # zig: a C compiler from pip for tinygrad's CPU device, where there is no clang (.ci/run installs it for the tests)
  # torch only to compare speeds in bench/; interp: tinyarith.export's TransformerLens (install the CPU torch first, or pip
  # takes a CUDA build of several GB)
  extras_require={"zig": ["ziglang"], "test": ["pytest", "pytest-xdist"], "bench": ["torch>=2"], "interp": ["transformer-lens>=4.3,<5", "torch>=2.6"]},
)
