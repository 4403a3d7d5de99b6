import os, re, subprocess, sys
from pathlib import Path
import pytest
from tinyarith import grokking
from tinyarith.config import RunConfig
from tinyarith.model import Config

# Under pytest-xdist each worker keeps its own POCL kernel cache, which it and the runs it starts inherit: two processes
# building one kernel into one cache at once can read the other's half-written binary (pocl_binary.c: "Assertion `len > 0'
# failed", seen when two workers trained the same run)
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
  pocl = os.environ.get("POCL_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pocl"
  os.environ["POCL_CACHE_DIR"] = str(Path(pocl) / worker)

# A grokking run small enough for CI: see test_learning.py for why this config
GROK = dict(p=31, train_frac=0.5, lr=1e-2, weight_decay=3.0, steps=1000, eval_every=25, seed=0)

def grok_config(out, p:int, train_frac:float, **train_settings) -> RunConfig:
  return RunConfig("grokking", Config(vocab=p + 1, ctx_len=3, n_out=p), {"p": p, "op": "+", "train_frac": train_frac}, out=str(out), **train_settings)

@pytest.fixture(scope="session")
def grok_run(tmp_path_factory):
  """The GROK run through the library's one-run path (tinyarith.grokking.run), progress measures and all."""
  out = tmp_path_factory.mktemp("grok") / "run"
  grokking.run(**GROK, out=str(out))
  return out

TRAINED = ("grok_run", "addition_run")  # the session fixtures: each a run trained once per test process that asks for it

def pytest_configure(config):
  config.addinivalue_line("markers", "xdist_group(name): the tests pytest -n N --dist loadgroup runs on one worker")

@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups
def pytest_collection_modifyitems(items):
  """For `pytest -n N --dist loadgroup` (pytest-xdist, what CI runs): a file's tests go to one worker, so that its module
  fixtures are built once, and every test of a TRAINED run to one worker, so that each run is trained once."""
  for item in items: item.add_marker(pytest.mark.xdist_group("trained" if set(TRAINED) & set(item.fixturenames) else item.path.name))

EXPERIMENTS = Path(__file__).parent.parent / "experiments"
ADDITION_SMALL = ["--digits", "2", "--n-layers", "2", "--d-model", "64", "--d-mlp", "256", "--lr", "2e-3", "--steps", "500",
                  "--eval-every", "50", "--test-size", "1000", "--seed", "0"]

def addition(*args, timeout=1800):
  return subprocess.run([sys.executable, str(EXPERIMENTS / "addition.py"), *map(str, args)], capture_output=True, text=True, timeout=timeout)

@pytest.fixture(scope="session")
def addition_run(tmp_path_factory):
  """A 2-digit addition run as a user starts it (LayerNorm, rotary positions), trained until it adds: its directory and output."""
  out = tmp_path_factory.mktemp("addition")
  result = addition(*ADDITION_SMALL, "--out", out)
  assert result.returncode == 0, result.stderr[-3000:]
  return out, result.stdout

def experiment(name:str, *args, env:dict|None=None, timeout:int=900) -> subprocess.CompletedProcess:
  """Run experiments/<name>.py as a user would, capturing its output."""
  return subprocess.run([sys.executable, str(EXPERIMENTS / f"{name}.py"), *map(str, args)], capture_output=True, text=True,
                        timeout=timeout, env=None if env is None else {**os.environ, **env})

def flag_defaults(help_text:str) -> dict[str, str|None]:
  """Every flag an argparse --help lists, mapped to the default its own entry shows (None where it shows none).
  Entries are read one by one, so a default or a flag name is matched only in the entry it belongs to."""
  entries = []  # [option strings, help text]
  for line in help_text.splitlines():
    if line.startswith("  -"): entries.append(list(line.strip().partition("  ")[::2]))
    elif line.startswith("   ") and entries and entries[-1] is not None: entries[-1][1] += " " + line.strip()
    else: entries.append(None)  # a heading, a blank line or the usage: the entry before has ended
  defaults = {}
  for options, text in filter(None, entries):
    shown = re.findall(r"\(default: ([^)]*)\)", text)
    for name in re.findall(r"--[\w-]+", options): defaults[name] = shown[-1] if shown else None
  return defaults
