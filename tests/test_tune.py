import os, subprocess, sys
import pytest

# A tiny train step, as a command tinyarith.tune can run
TRAIN = """
from tinygrad import Tensor
from tinyarith.config import adamw
from tinyarith.grokking import modular_split
from tinyarith.model import Config, Transformer
from tinyarith.train import make_train_step
model = Transformer(Config(vocab=8, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=7), seed=0)
x, y, _, _ = modular_split(7, "+", 0.5, seed=0)
step = make_train_step(model, adamw(model, lr=1e-2), slice(2, 3))
for _ in range(3): step(Tensor(x), Tensor(y))
"""

# Records the command's kernels; with "keep", stores for the largest one a program made without optimisations (NOOPT) as
# its tuned one; prints that kernel's key and the optimisations of the program this process serves for it
KERNEL = """
import sys
from tinygrad.codegen import do_to_program
from tinygrad.helpers import Context
from tinyarith import programs, tune
kernels = tune.record_kernels([sys.argv[1]])
disk_key, (key, ast, renderer, weight) = max(kernels.items(), key=lambda kv: len(kv[1][1].toposort()))
if sys.argv[2] == "keep":
  with Context(NOOPT=1): programs.keep_tuned(disk_key, do_to_program(ast, renderer))
print(disk_key, weight, len(programs.install()[key].src[0].arg.applied_opts))
"""

def test_a_tuned_kernel_is_served_to_later_processes_unless_turned_off(tmp_path):
  (script := tmp_path / "train.py").write_text(TRAIN)
  env = {**os.environ, "CACHEDB": str(tmp_path / "cache.db")}
  run = lambda mode, **more: subprocess.run([sys.executable, "-c", KERNEL, str(script), mode], env=env | more, capture_output=True,
                                            text=True, check=True, timeout=600).stdout.split()
  heuristic = run("look")
  assert heuristic[1] == "1.0" and int(heuristic[2]) > 0  # a train-step kernel that tinygrad's heuristics optimise
  kept = run("keep")
  assert kept[0] == heuristic[0] and kept[2] == "0"  # the tuned program is served at once...
  assert run("look") == kept  # ...and to a new process, with no search
  assert run("look", TINYARITH_TUNED="0") == heuristic

@pytest.mark.parametrize("flags, says", [([], "give an experiment's script"), (["--beam", "1", "experiments/grokking.py"], "--beam"),
                                          (["--budget-s", "0", "experiments/grokking.py"], "--budget-s"),
                                          (["--kernel-s", "-1", "experiments/grokking.py"], "--kernel-s")])
def test_the_tuner_refuses_what_it_cannot_do_in_one_line(flags, says):
  result = subprocess.run([sys.executable, "-m", "tinyarith.tune", *flags], capture_output=True, text=True)
  assert result.returncode == 2 and says in result.stderr.splitlines()[-1]

def test_the_budget_stops_a_search_that_runs_past_it_and_the_tuner_reports_what_it_did(tmp_path):
  (script := tmp_path / "train.py").write_text(TRAIN)  # takes and ignores the flags the tuner adds
  env = {**os.environ, "CACHEDB": str(tmp_path / "cache.db")}
  result = subprocess.run([sys.executable, "-m", "tinyarith.tune", "--budget-s", "1", str(script)], env=env, capture_output=True,
                          text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-2000:]
  searched = result.stdout.split("searched ")[1].split()
  assert int(searched[0]) <= 1 and searched[1:3] == ["of", searched[2]] and int(searched[2]) > 10

def test_a_search_still_running_when_the_budget_ends_is_dropped_and_no_later_one_starts(monkeypatch):
  import signal, threading, time
  from types import SimpleNamespace
  from tinyarith import tune
  program = SimpleNamespace(src=[SimpleNamespace(arg=SimpleNamespace(function_name="k"))])
  monkeypatch.setattr(tune.programs, "install", lambda: {"key": program})
  monkeypatch.setattr(tune, "seconds", lambda *args: 1.0)
  searches = []
  def slow_search(ast, renderer):  # as a search on POCL: minutes, waiting in a lock for its compile pool
    searches.append(1)
    threading.Event().wait(30)  # only a signal wakes a lock's wait before its time
    return program
  monkeypatch.setattr(tune, "do_to_program", slow_search)
  ast = SimpleNamespace(arg=SimpleNamespace(), replace=lambda arg: ast)
  monkeypatch.setattr(tune, "replace", lambda arg, beam: arg)
  before = signal.signal(signal.SIGINT, lambda *args: None)  # a handler left by someone else, which does not raise
  start = time.monotonic()
  try: assert tune.tune({f"k{i}": ("key", ast, None, 1.0) for i in range(3)}, beam=2, budget_s=0.5) == [("k", 1.0, 1.0, None)]
  finally: signal.signal(signal.SIGINT, before)
  assert searches == [1] and time.monotonic() - start < 25  # the first search was cut short in its wait, and no other began
  searches.clear()
  start = time.monotonic()
  assert tune.tune({f"k{i}": ("key", ast, None, 1.0) for i in range(3)}, beam=2, budget_s=60, kernel_s=0.3) == [("k", 1.0, 1.0, None)] * 3
  assert searches == [1, 1, 1] and time.monotonic() - start < 75  # each search cut short at --kernel-s, the next one begun
