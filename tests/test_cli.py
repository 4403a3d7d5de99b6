import subprocess, sys
from pathlib import Path

GROKKING = Path(__file__).parent.parent / "experiments" / "grokking.py"
FLAGS = ["--p", "--op", "--train-frac", "--n-layers", "--d-model", "--n-heads", "--d-mlp", "--layernorm", "--no-layernorm", "--pos",
         "--lr", "--beta1", "--beta2", "--weight-decay", "--steps", "--eval-every", "--ckpt-every", "--seed", "--out", "--resume"]

def grokking(*args):
  return subprocess.run([sys.executable, str(GROKKING), *args], capture_output=True, text=True, timeout=120)

def test_help_documents_every_flag_with_its_default():
  result = grokking("--help")
  assert result.returncode == 0
  help_text = " ".join(result.stdout.split())
  for flag in FLAGS: assert flag in help_text
  for default in ("(default: 113)", "(default: 0.3)", "(default: 25000)", "(default: 1.0)", "(default: 0.98)"): assert default in help_text
