import json, os, subprocess, sys
import numpy as np
import pytest

# three JIT'd train steps of a tiny grokking model, run in a fresh process on the device named by DEV
STEPS = """
import json
from tinygrad import Tensor, Device
from tinyarith.grokking import modular_split
from tinyarith.model import Config, Transformer
from tinyarith.config import adamw
from tinyarith.train import make_train_step
model = Transformer(Config(vocab=8, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=7), seed=0)
x, y, _, _ = modular_split(7, "+", 0.5, seed=0)
x, y = Tensor(x).realize(), Tensor(y).realize()
step = make_train_step(model, adamw(model))
print(json.dumps({"device": Device.DEFAULT, "losses": [step(x, y).item() for _ in range(4)]}))
"""

def losses_on(device:str) -> list[float]:
  result = subprocess.run([sys.executable, "-c", STEPS], capture_output=True, text=True, env={**os.environ, "DEV": device}, timeout=600)
  if result.returncode != 0 and device == "CL" and "CL" in result.stderr and not os.environ.get("CI"):
    pytest.skip(f"no OpenCL device here (CI installs pocl-opencl-icd): {result.stderr.strip().splitlines()[-1]}")
  assert result.returncode == 0, result.stderr
  out = json.loads(result.stdout.strip().splitlines()[-1])
  assert out["device"] == device
  return out["losses"]

def test_the_same_training_steps_give_the_same_losses_on_cpu_and_opencl():
  cpu, cl = losses_on("CPU"), losses_on("CL")
  assert cpu[-1] < cpu[0]  # it trained
  np.testing.assert_allclose(cpu, cl, rtol=1e-4)
