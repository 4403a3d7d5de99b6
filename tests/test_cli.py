import subprocess, sys
from pathlib import Path
import pytest

GROKKING = Path(__file__).parent.parent / "experiments" / "grokking.py"
FLAGS = ["--p", "--op", "--train-frac", "--n-layers", "--d-model", "--n-heads", "--d-mlp", "--layernorm", "--no-layernorm", "--pos",
         "--lr", "--beta1", "--beta2", "--weight-decay", "--steps", "--eval-every", "--seed", "--out"]

def grokking(*args):
  return subprocess.run([sys.executable, str(GROKKING), *args], capture_output=True, text=True, timeout=120)

def test_help_documents_every_flag_with_its_default():
  result = grokking("--help")
  assert result.returncode == 0
  help_text = " ".join(result.stdout.split())
  for flag in FLAGS: assert flag in help_text
  for default in ("(default: 113)", "(default: 0.3)", "(default: 25000)", "(default: 1.0)", "(default: 0.98)"): assert default in help_text

@pytest.mark.parametrize("args,names", [
  (["--p", "1"], "modulus"), (["--train-frac", "1.5"], "train fraction"), (["--train-frac", "0"], "train fraction"),
  (["--n-heads", "3"], "n_heads"), (["--op", "^"], "--op"), (["--p", "ten"], "--p"), (["--steps", "0"], "--steps"),
  (["--lr", "-1"], "--lr"), (["--bogus"], "--bogus")])
def test_bad_input_is_one_line_on_stderr_and_exit_2(args, names):
  result = grokking(*args, "--out", "/nonexistent/never-written")
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1 and names in result.stderr
