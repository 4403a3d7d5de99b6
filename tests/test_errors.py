"""The one error path: bad input is one line naming its flag, a bug keeps its traceback, an interrupt says whether there is
anything to resume. And the files a run writes reach the disk whole, directory entry included."""
import errno, os, signal, stat
from importlib.util import find_spec
from pathlib import Path
import pytest
from tinygrad import Tensor
from conftest import experiment, grok_config
from tinyarith import checkpoint, cli, files
from tinyarith.grokking import modular_split
from tinyarith.errors import BadInput, DiskFull, Interrupted
from tinyarith.metrics import read_metrics
from tinyarith.train import Data, train

def run_guarded(error:BaseException):
  def main(): raise error
  cli.guarded(main)()

def test_bad_input_is_one_line_naming_its_flag(capsys):
  with pytest.raises(SystemExit) as exit: run_guarded(BadInput("n_heads", "must divide d_model (128), got 3"))
  assert exit.value.code == 2 and capsys.readouterr().err == "error: --n-heads: must divide d_model (128), got 3\n"

@pytest.mark.parametrize("bug", [ValueError("a bug deep in numpy"), KeyError("weights"), AssertionError("shape")])
def test_a_bug_is_not_bad_input_and_keeps_its_traceback(bug, capsys):
  with pytest.raises(type(bug)): run_guarded(bug)
  assert capsys.readouterr().err == ""

def test_an_interrupt_before_any_checkpoint_says_there_is_nothing_to_resume(capsys):
  with pytest.raises(SystemExit) as exit: run_guarded(Interrupted(0, signal.SIGINT, Path("runs/x"), saved=None))
  err = capsys.readouterr().err
  assert exit.value.code == 130 and "nothing to resume" in err and "--resume" not in err
  with pytest.raises(SystemExit) as exit: run_guarded(Interrupted(40, signal.SIGTERM, Path("runs/x"), saved=40))
  assert exit.value.code == 143 and "last checkpoint is step 40" in capsys.readouterr().err
  with pytest.raises(SystemExit) as exit: run_guarded(Interrupted(40, signal.SIGINT, Path("runs/my run"), saved=40))
  assert "--resume 'runs/my run'" in capsys.readouterr().err  # quoted, so that pasting it works
  with pytest.raises(SystemExit) as exit: run_guarded(KeyboardInterrupt())
  assert exit.value.code == 130 and "wrote no checkpoint" in capsys.readouterr().err

def test_a_ctrl_c_during_the_first_evaluation_leaves_no_checkpoint_and_says_so(tmp_path):
  run = grok_config(tmp_path / "run", p=7, train_frac=0.5, steps=10, eval_every=5)
  x, y, x_test, y_test = modular_split(7, "+", 0.5, seed=0)
  def ctrl_c(): raise KeyboardInterrupt
  data = Data(lambda: (Tensor(x), Tensor(y)), {"train": (Tensor(x), Tensor(y))}, extra_metrics=ctrl_c)
  with pytest.raises(Interrupted) as stop: train(*run.build(), data, run)
  assert stop.value.saved is None and not (tmp_path / "run" / "checkpoint.json").exists()

def test_a_full_disk_mid_run_raises_diskfull_keeping_the_last_checkpoint_and_the_rows(tmp_path, monkeypatch):
  """As a disk that fills while checkpoint-20 is written (test_runs.py does it on a real tmpfs where it may mount one)."""
  run = grok_config(tmp_path / "run", p=7, train_frac=0.5, steps=40, eval_every=20)
  x, y, x_test, y_test = modular_split(7, "+", 0.5, seed=0)
  real_fsync = files.fsync
  def fsync(path:Path):
    if path.name == "checkpoint-20.safetensors.tmp": raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    real_fsync(path)
  monkeypatch.setattr(files, "fsync", fsync)
  data = Data(lambda: (Tensor(x), Tensor(y)), {"train": (Tensor(x), Tensor(y))})
  with pytest.raises(DiskFull) as full: train(*run.build(), data, run)
  assert full.value.saved == 0 and "checkpoint-20.safetensors" in str(full.value)
  assert checkpoint.read_record(run.out)["step"] == 0 and not list(Path(run.out).glob("*.tmp"))
  assert [r["step"] for r in read_metrics(run.out)] == [0, 20]

def test_a_full_disk_is_one_line_naming_the_last_good_checkpoint_and_exit_1(capsys):
  with pytest.raises(SystemExit) as exit: run_guarded(DiskFull("the disk is full: writing x failed", Path("runs/my run"), saved=40))
  err = capsys.readouterr().err.strip()
  assert exit.value.code == 1 and len(err.splitlines()) == 1
  assert "last good checkpoint is step 40" in err and err.endswith("--resume 'runs/my run'")
  with pytest.raises(SystemExit) as exit: run_guarded(DiskFull("the disk is full: writing x failed", Path("runs/x"), saved=None))
  err = capsys.readouterr().err
  assert exit.value.code == 1 and "no checkpoint was written" in err and "--resume" not in err

def test_a_replaced_file_is_flushed_and_so_is_its_directory(tmp_path, monkeypatch):
  synced = []
  real_fsync = os.fsync
  monkeypatch.setattr(os, "fsync", lambda fd: synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)) or real_fsync(fd))
  files.write_text(tmp_path / "config.json", "{}\n")
  assert (tmp_path / "config.json").read_text() == "{}\n" and not (tmp_path / "config.json.tmp").exists()
  assert synced == [False, True]  # the file, then the directory that holds its new name

BARE = dict(DEV="", OCL_ICD_VENDORS="/nonexistent")  # and, below, no clang on the PATH and empty caches: a fresh machine

def bare_machine(tmp_path, **env) -> dict:
  (tmp_path / "bin").mkdir()
  return {**BARE, "PATH": str(tmp_path / "bin"), "CACHEDB": str(tmp_path / "cache.db"), "XDG_CACHE_HOME": str(tmp_path / "cache"), **env}

@pytest.mark.skipif(find_spec("ziglang") is None, reason="ziglang is not installed (pip install -e '.[zig]')")
def test_without_clang_or_opencl_zig_from_pip_compiles_the_cpu_kernels(tmp_path):
  """tinygrad's CPU device compiles helper programs of its own with clang whatever its code generator: with an empty cache
  database and no clang, only a compiler from pip (ziglang, a test dependency) lets a run start."""
  result = experiment("grokking", "--p", "5", "--d-model", "16", "--d-mlp", "32", "--steps", "2", "--eval-every", "1",
                      "--out", tmp_path / "run", env=bare_machine(tmp_path), timeout=900)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "zig's C compiler" in result.stderr and len(read_metrics(tmp_path / "run")) == 3

def test_without_clang_opencl_or_zig_a_run_is_one_line_naming_what_to_install(tmp_path):
  (shadow := tmp_path / "shadow" / "ziglang").mkdir(parents=True)
  (shadow / "__init__.py").write_text("")  # a ziglang without its zig binary
  env = bare_machine(tmp_path, PYTHONPATH=os.pathsep.join(filter(None, [str(shadow.parent), os.environ.get("PYTHONPATH")])))
  result = experiment("grokking", "--p", "5", "--steps", "2", "--out", tmp_path / "run", env=env, timeout=300)
  assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
  assert "apt-get install -y clang pocl-opencl-icd" in result.stderr and "pip install ziglang" in result.stderr
  assert not (tmp_path / "run").exists()
