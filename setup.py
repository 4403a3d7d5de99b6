from setuptools import setup

setup(
  name="tinyarith",
  version="0.1.0",
  description="Small, fast tinygrad transformers that learn arithmetic: grokking and digit-reversed addition",
  packages=["tinyarith"],
  python_requires=">=3.10",
  install_requires=["tinygrad>=0.14,<0.15", "numpy", "matplotlib"],
  extras_require={"test": ["pytest"], "bench": ["torch>=2"]},  # torch only to compare speeds in bench/
)
