"""Every kernel of the experiments' steps compiles for CUDA without a GPU: tinygrad's NULL device with a CUDA renderer
schedules and compiles each one (NVRTC from pip's nvidia-cuda-nvrtc-cu12) and runs none. A kernel that cannot compile for
CUDA fails here, not on the first GPU it meets. Skipped where those packages are not installed (.ci/run installs them)."""
import importlib.util, os, subprocess, sys
from pathlib import Path
import pytest

STEPS = """
import numpy as np
from tinygrad import Tensor
from tinygrad.engine import realize
from tinyarith.config import adamw
from tinyarith.addition import addition_tokens
from tinyarith.grokking import modular_split
from tinyarith.vocab import next_token_targets
from tinyarith.decode import make_greedy_decoder
from tinyarith.model import Config, Transformer, stack
from tinyarith.batches import chunks, stack_rows
from tinyarith.train import make_evaluator, make_train_step

def steps(model, opt, sets, span, runs=False):  # each JIT runs, captures and replays: every kernel of its step compiles
  train, evaluate = make_train_step(model, opt, span, runs), make_evaluator(model, span, runs)
  for _ in range(3): train(*map(Tensor, sets[0])), evaluate(chunks(*map(Tensor, sets[1])))

grok = Config(vocab=14, ctx_len=3, d_model=32, n_heads=2, d_mlp=64, n_out=13)
splits = [modular_split(13, "+", f, seed) for seed, f in enumerate((0.3, 0.4, 0.5))]
steps(m := Transformer(grok), adamw(m), [splits[0][:2], splits[0][2:]], slice(2, 3))  # grokking
stacked = stack([Transformer(grok, seed=s) for s in range(3)])  # a 3-run sweep
steps(stacked, adamw(stacked, [1e-3, 3e-3, 1e-2], weight_decay=[0.3, 1.0, 3.0]), [stack_rows([s[:2] for s in splits]),
      stack_rows([s[2:] for s in splits])], slice(2, 3), runs=True)
a, b = np.arange(64) % 100, np.arange(64) * 7 % 100
tokens = addition_tokens(a, b, 2)
for pos in ("rope", "learned", "abacus"):  # the GPTs of addition and the calculator
  gpt = Config(vocab=16, ctx_len=tokens.shape[1], n_layers=2, d_model=32, n_heads=2, d_mlp=64, layernorm=True, pos=pos)
  steps(m := Transformer(gpt), adamw(m), [(tokens, next_token_targets(tokens))] * 2, slice(5, None))
  make_greedy_decoder(m)(tokens, 6)
from tinyarith.loss import has_float64
print("compiled", len(realize.runtime_cache), "programs; float64 loss", has_float64())
"""

def nvidia(name:str) -> Path|None:
  spec = importlib.util.find_spec("nvidia")
  return next((Path(p) / name for p in (spec.submodule_search_locations if spec else []) if (Path(p) / name).is_dir()), None)

# CUDA C through NVRTC, and PTX. On PTX the loss takes the path of a device without float64 (Metal's): ptxas refuses the
# float64 log2 and reciprocal tinygrad 0.14's PTX renderer writes (loss.has_float64)
@pytest.mark.parametrize("renderer, float64", [("CUDA", "True"), ("PTX", "False")])
def test_every_kernel_of_the_experiments_steps_compiles_for_cuda(renderer, float64):
  nvrtc, runtime, jitlink = nvidia("cuda_nvrtc"), nvidia("cuda_runtime"), nvidia("nvjitlink")
  if None in (nvrtc, runtime) or (renderer == "PTX" and jitlink is None):
    pytest.skip("pip install nvidia-cuda-nvrtc-cu12 nvidia-cuda-runtime-cu12 (and nvidia-nvjitlink-cu12 for PTX) to compile here")
  env = {**os.environ, "DEV": f"NULL:{renderer}:sm_90", "NVRTC_PATH": str(nvrtc / "lib" / "libnvrtc.so.12"), "CUDA_PATH": str(runtime),
         "NVJITLINK_PATH": str(jitlink / "lib" / "libnvJitLink.so.12") if jitlink else "",
         "NULL_ALLOW_COPYOUT": "1"}  # reads return garbage: the steps run their Python, no numbers are checked
  result = subprocess.run([sys.executable, "-c", STEPS], capture_output=True, text=True, timeout=900, env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  assert int(result.stdout.split("compiled ")[1].split()[0]) > 300 and result.stdout.split()[-1] == float64, result.stdout
