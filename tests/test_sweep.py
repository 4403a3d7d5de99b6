import errno, json, os, shutil, signal, subprocess, sys, time
import numpy as np
import pytest
from conftest import EXPERIMENTS, experiment
from tinygrad import Tensor
from tinygrad.nn.state import get_state_dict
from tinyarith.config import LATER, adamw
from tinyarith.grokking import modular_split
from tinyarith.loss import cross_entropy
from tinyarith.metrics import read_metrics
from tinyarith import sweep
from tinyarith.model import Config, Transformer, stack
from tinyarith.batches import stack_rows
from tinyarith.train import make_train_step

CFG = Config(vocab=14, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=13)
# each run its own init, split (42, 50 and 59 of the 169 pairs: one padded size apart, fewer kernels to compile) and optimizer
RUNS = [dict(seed=0, train_frac=0.3, lr=1e-2, weight_decay=1.0), dict(seed=1, train_frac=0.35, lr=3e-3, weight_decay=0.3),
        dict(seed=2, train_frac=0.25, lr=1e-2, weight_decay=0.0)]

@pytest.fixture(scope="module")
def data(): return [modular_split(13, "+", r["train_frac"], r["seed"])[:2] for r in RUNS]

def test_a_stack_of_runs_gives_each_run_its_own_logits_loss_and_gradients(data):
  models = [Transformer(CFG, seed=r["seed"]) for r in RUNS]
  stacked, (x, y) = stack(models), stack_rows(data)
  losses = cross_entropy(stacked(Tensor(x)), Tensor(y), runs=True)
  losses.sum().backward()
  for r, (model, (x_r, y_r)) in enumerate(zip(models, data)):
    loss = cross_entropy(model(Tensor(x_r)), Tensor(y_r))
    loss.backward()
    assert losses.numpy()[r] == pytest.approx(loss.item(), rel=1e-6)
    for name, w in get_state_dict(stacked).items():
      own = get_state_dict(model)[name].grad.numpy()
      np.testing.assert_allclose(w.grad.numpy()[r].reshape(own.shape), own, rtol=1e-5, atol=1e-5 * np.abs(own).max(), err_msg=name)

def test_stacked_runs_train_as_the_same_runs_apart(data):
  apart = []
  for r, (x, y) in zip(RUNS, data):
    model = Transformer(CFG, seed=r["seed"])
    step = make_train_step(model, adamw(model, r["lr"], weight_decay=r["weight_decay"]), slice(2, 3))
    apart.append(([step(Tensor(x), Tensor(y)).item() for _ in range(5)], get_state_dict(model)))
  stacked = stack([Transformer(CFG, seed=r["seed"]) for r in RUNS])
  opt = adamw(stacked, [r["lr"] for r in RUNS], weight_decay=[r["weight_decay"] for r in RUNS])
  step, (x, y) = make_train_step(stacked, opt, slice(2, 3), runs=True), stack_rows(data)
  losses = np.array([step(Tensor(x), Tensor(y)).numpy() for _ in range(5)])  # (steps, runs)
  assert len({len(x) for x, _ in data}) == 3 and losses.shape == (5, 3)
  for r, (run_losses, weights) in enumerate(apart):
    np.testing.assert_allclose(losses[:, r], run_losses, rtol=1e-5)
    assert run_losses[-1] < run_losses[0]
    for name, w in get_state_dict(stacked).items():
      np.testing.assert_allclose(w.numpy()[r].reshape(weights[name].shape), weights[name].numpy(), rtol=1e-4, atol=1e-6, err_msg=name)

def test_a_stack_of_runs_is_evaluated_as_each_run_apart(monkeypatch):
  from tinyarith import batches, train
  monkeypatch.setattr(batches, "EVAL_POSITIONS", 64 * 3 * 3)  # the stack's 127 rows in two chunks of 64
  models = [Transformer(CFG, seed=r["seed"]) for r in RUNS]
  tests = [modular_split(13, "+", r["train_frac"], r["seed"])[2:] for r in RUNS]  # 127, 119 and 110 pairs
  parts = batches.chunks(*map(Tensor, stack_rows(tests)))
  loss, acc = train.make_evaluator(stack(models), slice(2, 3), runs=True)(parts)
  assert len(parts) == 2 and loss.shape == acc.shape == (3,)
  for r, (model, (x, y)) in enumerate(zip(models, tests)):
    own_loss, own_acc = train.make_evaluator(model, slice(2, 3))(batches.chunks(Tensor(x), Tensor(y)))
    assert loss[r] == pytest.approx(own_loss, rel=1e-6) and acc[r] == pytest.approx(own_acc, rel=1e-6)

# ---- the command line: experiments/grokking.py with lists, its directories, shards, devices and resume

SMALL = ["--p", "13", "--d-model", "16", "--n-heads", "2", "--d-mlp", "32", "--lr", "1e-2", "--steps", "40", "--eval-every", "20"]
SWEEP = [*SMALL, "--seed", "0-1", "--train-frac", "0.3,0.5"]  # 4 runs: (seed 0, 0.3), (0, 0.5), (1, 0.3), (1, 0.5)
NAMES = [f"seed{s}-frac{f}-wd1-lr0.01" for s in (0, 1) for f in (0.3, 0.5)]

def done(*args) -> str:
  result = experiment("grokking", *args)
  assert result.returncode == 0, result.stderr
  return result.stdout

def curves(run_dir) -> list[dict]: return [{k: v for k, v in r.items() if k != "elapsed"} for r in read_metrics(run_dir)]

def same_curves(a, b):
  assert [r["step"] for r in curves(a)] == [r["step"] for r in curves(b)]
  for ra, rb in zip(curves(a), curves(b)):
    for k in ra: assert ra[k] == pytest.approx(rb[k], rel=1e-4, abs=1e-7), (a, b, ra["step"], k)

def outcomes(sweep_dir) -> dict[str, dict]:
  return {r["run"]: {k: v for k, v in r.items() if k != "dir"} for r in json.loads((sweep_dir / "sweep.json").read_text())["runs"]}

@pytest.fixture(scope="module")
def whole(tmp_path_factory):
  out = tmp_path_factory.mktemp("sweep") / "whole"
  stdout = done(*SWEEP, "--out", out)
  assert "4 runs trained as one model" in stdout and "of 4 runs reached 95% test accuracy" in stdout
  return out

def test_a_sweep_gives_each_run_the_directory_and_curves_it_has_apart(whole, tmp_path):
  assert sorted(p.name for p in whole.iterdir() if p.is_dir()) == NAMES
  for name, seed, frac in (("seed1-frac0.3-wd1-lr0.01", 1, "0.3"), ("seed0-frac0.5-wd1-lr0.01", 0, "0.5")):
    done(*SMALL, "--seed", seed, "--train-frac", frac, "--out", apart := tmp_path / name)
    same_curves(whole / name, apart)
    config = json.loads((whole / name / "config.json").read_text())
    assert config["seed"] == seed and config["data"]["train_frac"] == float(frac) and config["out"] == str(whole / name)
    assert (whole / name / "checkpoint.json").is_file() and (whole / name / "loss.png").is_file()
  assert list(outcomes(whole)) == NAMES and all(r["steps"] == 40 for r in outcomes(whole).values())

def test_the_summary_records_each_runs_settings_and_its_steps_to_95_and_99_or_why_not(tmp_path):
  flags = {"seed": [0, 1], "train_frac": 0.3, "weight_decay": [0.3, 1.0], "lr": 1e-3, "steps": 300, **LATER}  # LATER: as a sweep records them
  (tmp_path / "sweep.json").write_text(json.dumps({"flags": flags, "runs": []}))
  accs = {"seed0-frac0.3-wd0.3-lr0.001": ([0.1, 0.96, 0.99, 1.0], 300), "seed0-frac0.3-wd1-lr0.001": ([0.1, 0.5, 0.97, 0.98], 300),
          "seed1-frac0.3-wd0.3-lr0.001": ([0.1, 0.2, 0.3], 200)}  # stopped at 200 of 300; seed 1 wd 1 never ran
  for name, (test_acc, steps) in accs.items():
    (run := tmp_path / name).mkdir()
    seed, wd = int(name[4]), float(name.split("-wd")[1].split("-")[0])
    (run / "config.json").write_text(json.dumps({"seed": seed, "data": {"train_frac": 0.3}, "weight_decay": wd, "lr": 1e-3, "steps": 300}))
    (run / "metrics.jsonl").write_text("".join(json.dumps({"step": 100 * i, "train_loss": 1.0, "train_acc": 1.0, "test_loss": 1.0,
                                                           "test_acc": a, "elapsed": i}) + "\n" for i, a in enumerate(test_acc)))
  runs = {r["run"]: r for r in sweep.merge([tmp_path], tmp_path, quiet=True)}
  assert [(r["seed"], r["weight_decay"]) for r in runs.values()] == [(0, 0.3), (0, 1.0), (1, 0.3), (1, 1.0)]
  assert [(r["steps_to_95"], r["steps_to_99"]) for r in runs.values()] == [
    (100, 200), (200, "not within budget"), ("not by step 200 of 300", "not by step 200 of 300"), ("not run", "not run")]
  assert json.loads((tmp_path / "sweep.json").read_text()) == {"flags": flags, "runs": list(runs.values())}
  assert sweep.report(list(runs.values())).splitlines() == ["2 of 3 runs reached 95% test accuracy, median step 150",
                                                            "1 of 3 runs reached 99% test accuracy, median step 200", "1 runs not run here"]
  for picture in ("phase.png", "loss.png"): assert (tmp_path / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  from tinyarith.rundir import runs_in  # python -m tinyarith.plot SWEEP_DIR draws the runs that ran
  assert [p.name for p in runs_in(tmp_path)] == list(accs) and runs_in(tmp_path / list(accs)[0]) == [tmp_path / list(accs)[0]]

def test_two_slices_of_a_sweep_merge_into_the_whole_sweep(whole, tmp_path):
  for i in (0, 1): done(*SWEEP, "--shard", f"{i}/2", "--out", tmp_path / f"slice{i}")
  slices = [sorted(p.name for p in (tmp_path / f"slice{i}").iterdir() if p.is_dir()) for i in (0, 1)]
  assert slices == [NAMES[:2], NAMES[2:]]
  assert [r["steps_to_95"] for r in outcomes(tmp_path / "slice0").values()][2:] == ["not run"] * 2
  merged = subprocess.run([sys.executable, "-m", "tinyarith.sweep", tmp_path / "slice0", tmp_path / "slice1", "-o", tmp_path / "merged"],
                          capture_output=True, text=True, timeout=300)
  assert merged.returncode == 0 and merged.stderr == "", merged.stderr
  summary, reference = outcomes(tmp_path / "merged"), outcomes(whole)
  assert list(summary) == NAMES and {k: {**v, "test_acc": 0} for k, v in summary.items()} == {k: {**v, "test_acc": 0} for k, v in reference.items()}
  for name in NAMES: assert summary[name]["test_acc"] == pytest.approx(reference[name]["test_acc"], rel=1e-4)
  assert (tmp_path / "merged" / "phase.png").is_file() and (tmp_path / "merged" / "loss.png").is_file()

def test_a_sweep_split_across_two_devices_trains_as_on_one(whole, tmp_path):
  stdout = done(*SWEEP, "--devices", "CPU:0,CPU:1", "--out", tmp_path / "two")
  assert "across 2 devices" in stdout
  for name in NAMES: same_curves(tmp_path / "two" / name, whole / name)

def test_a_sweep_resumes_as_a_whole_and_a_run_of_it_alone(whole, tmp_path):
  shutil.copytree(whole, sweep := tmp_path / "sweep")
  done("--resume", sweep, "--steps", "60")
  for name in NAMES:
    assert [r["step"] for r in read_metrics(sweep / name)] == [0, 20, 40, 60] and curves(sweep / name)[:3] == curves(whole / name)
  shutil.copytree(whole / NAMES[1], alone := tmp_path / "alone")
  done("--resume", alone, "--steps", "60")
  same_curves(alone, sweep / NAMES[1])

def test_a_resume_killed_outright_keeps_the_summary_it_began_with(whole, tmp_path):
  shutil.copytree(whole, sweep := tmp_path / "sweep")
  resumed = subprocess.Popen([sys.executable, EXPERIMENTS / "grokking.py", "--resume", sweep, "--steps", "1000000"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    while json.loads((sweep / "sweep.json").read_text())["flags"]["steps"] != 1000000:  # rewritten as it starts to train
      assert resumed.poll() is None, "the resume stopped before it rewrote sweep.json"
      time.sleep(0.1)
  finally: resumed.kill(); resumed.wait()
  assert outcomes(sweep) == outcomes(whole)

def test_a_diverging_run_stops_the_sweep_naming_it_and_every_run_keeps_its_last_good_checkpoint(tmp_path):
  result = experiment("grokking", *SMALL, "--seed", "0-1", "--lr", "1e-2,1e30", "--out", out := tmp_path / "sweep")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  message = result.stderr.strip().splitlines()[-1]
  assert "the run seed0-frac0.3-wd1-lr1e+30" in message and "at step 20" in message and "last good checkpoint is step 0" in message, message
  assert [json.loads((out / n / "checkpoint.json").read_text())["step"] for n in ("seed0-frac0.3-wd1-lr0.01", "seed0-frac0.3-wd1-lr1e+30")] == [0, 0]
  assert outcomes(out)["seed0-frac0.3-wd1-lr0.01"]["steps"] == 20  # the summary is written all the same

# ---- a sweep as safe as a single run: kills between the runs' checkpoints, refusals that write nothing, a full disk, signals

KILLED_AT_SAVE = """import os, signal, sys
from tinyarith import checkpoint, grokking
real, calls = checkpoint.save, []
def save(*args, **kwargs):
  real(*args, **kwargs)
  calls.append(1)
  if len(calls) == int(os.environ["KILL_AT_SAVE"]): os.kill(os.getpid(), signal.SIGKILL)
checkpoint.save = save
sys.argv = ["grokking.py", *sys.argv[1:]]
grokking.main()
"""

@pytest.mark.parametrize("saves", [6, 9])  # of 4 runs' saves at steps 0, 20, 40: 2 of 4 runs at step 20; 1 of 4 at step 40
def test_a_sweep_killed_between_two_runs_checkpoints_resumes_to_the_metrics_of_an_uninterrupted_one(whole, tmp_path, saves):
  killed = subprocess.run([sys.executable, "-c", KILLED_AT_SAVE, *map(str, SWEEP), "--out", sweep_dir := tmp_path / "sweep"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "KILL_AT_SAVE": str(saves)})
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
  steps = [json.loads((sweep_dir / name / "checkpoint.json").read_text())["step"] for name in NAMES]
  assert len(set(steps)) == 2  # the runs' checkpoints are of two steps
  done("--resume", sweep_dir)
  for name in NAMES: assert curves(sweep_dir / name) == curves(whole / name), name  # exactly: the same steps, resumed
  assert outcomes(sweep_dir) == outcomes(whole)
  assert [sorted(p.name for p in (sweep_dir / name).glob("checkpoint-*")) for name in NAMES] == [["checkpoint-40.safetensors"]] * 4

def tree(path) -> dict[str, int]:
  """Every file below path (but the locks, which name the last writer) with the time it was last written."""
  return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in sorted(path.rglob("*")) if p.name != ".lock"}

def refused(*args, program:str|None=None) -> str:
  command = [sys.executable, "-m", program] if program else [sys.executable, EXPERIMENTS / "grokking.py"]
  result = subprocess.run([*command, *map(str, args)], capture_output=True, text=True, timeout=120)
  assert result.returncode == 2 and "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
  return result.stderr

def test_a_refused_resume_or_merge_writes_nothing(whole, tmp_path):
  shutil.copytree(whole, sweep_dir := tmp_path / "sweep")
  before = tree(sweep_dir)
  assert "--steps" in refused("--resume", sweep_dir, "--steps", "20")  # it ran 40
  assert "--axes" in refused(sweep_dir, "-o", tmp_path / "merged", "--axes", "lr", "seed", program="tinyarith.sweep")  # lr is not swept
  assert tree(sweep_dir) == before and not (tmp_path / "merged").exists()
  (tmp_path / "file").write_text("")
  assert "--out" in refused(sweep_dir, "-o", tmp_path / "file", program="tinyarith.sweep")  # a file, not a directory
  other = json.loads((sweep_dir / "sweep.json").read_text())
  other["flags"]["steps"] = 60
  (other_dir := tmp_path / "other").mkdir()
  (other_dir / "sweep.json").write_text(json.dumps(other))
  assert "--steps 40 there, 60 here" in refused(sweep_dir, other_dir, "-o", tmp_path / "merged", program="tinyarith.sweep")

def test_a_slice_resumed_without_its_shard_or_a_sweep_without_checkpoints_is_refused_at_once(tmp_path):
  slice_dir = tmp_path / "slice"
  done(*SWEEP, "--shard", "1/2", "--out", slice_dir)
  before = tree(slice_dir)
  assert "--shard" in refused("--resume", slice_dir, "--steps", "60")
  assert tree(slice_dir) == before  # the other slice's run directories are not made
  for name in NAMES[2:]: (slice_dir / name / "checkpoint.json").unlink()
  assert "--resume" in refused("--resume", slice_dir, "--shard", "1/2", "--steps", "60")

def test_merging_a_sweep_none_of_whose_runs_ran_writes_its_summary_and_claims_no_pictures(tmp_path):
  flags = {"seed": [0, 1], "train_frac": 0.3, "weight_decay": 1.0, "lr": 1e-3, "steps": 300, **LATER}
  (tmp_path / "sweep.json").write_text(json.dumps({"flags": flags, "runs": []}))
  merged = subprocess.run([sys.executable, "-m", "tinyarith.sweep", tmp_path], capture_output=True, text=True, timeout=120)
  assert merged.returncode == 0 and "phase.png" not in merged.stdout and not (tmp_path / "phase.png").exists(), merged.stdout

def test_a_full_disk_at_a_sweeps_end_is_one_error_and_a_resume_writes_what_it_lacks(tmp_path, monkeypatch):
  from tinyarith import files, grokking
  from tinyarith.errors import DiskFull
  real_fsync, out = files.fsync, tmp_path / "sweep"
  def fsync(path):
    if path.name == "model.safetensors.tmp" and path.parent.name == NAMES[1]: raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    real_fsync(path)
  monkeypatch.setattr(files, "fsync", fsync)
  settings = dict(p=13, d_model=16, n_heads=2, d_mlp=32, lr=1e-2, steps=40, eval_every=20, seed=[0, 1], train_frac=[0.3, 0.5])
  with pytest.raises(DiskFull) as full: grokking.run(**settings, out=out)
  assert full.value.saved == 40 and "model.safetensors" in str(full.value)  # not a second error from writing the summary
  assert not (out / NAMES[1] / "model.safetensors").exists() and json.loads((out / "sweep.json").read_text())["runs"] == []
  monkeypatch.setattr(files, "fsync", real_fsync)  # space freed
  outcome = grokking.run(resume=out)  # nothing left to train: the end it lacks is written
  assert all((out / name / "model.safetensors").is_file() and (out / name / "loss.png").is_file() for name in NAMES)
  assert [r["steps"] for r in outcome] == [40] * 4 and (out / "phase.png").is_file()

def test_a_signal_while_the_runs_are_drawn_still_writes_the_summary_and_says_so(tmp_path, monkeypatch):
  import tinyarith.train as loop
  from tinyarith import grokking
  from tinyarith.errors import Interrupted, Stop
  def stopped(run_dir): raise Stop()
  monkeypatch.setattr(loop, "draw_run", stopped)  # the loop's last act: drawing each run's pictures
  with pytest.raises(Interrupted) as stop:
    grokking.run(p=13, d_model=16, n_heads=2, d_mlp=32, lr=1e-2, steps=40, eval_every=20, seed=[0, 1], out=tmp_path / "sweep")
  assert (stop.value.saved, stop.value.signum, stop.value.plotted) == (40, signal.SIGTERM, False)
  assert [r["steps"] for r in json.loads((tmp_path / "sweep" / "sweep.json").read_text())["runs"]] == [40, 40]

def test_a_sigterm_before_training_is_one_line_and_exit_143(tmp_path):
  proc = subprocess.Popen([sys.executable, EXPERIMENTS / "grokking.py", *SWEEP, "--out", tmp_path / "sweep"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
  assert "trained as one model" in proc.stdout.readline()  # said just before the runs are built
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=300)
  assert proc.returncode == 143 and "Traceback" not in err, err[-3000:]
  assert err.strip().splitlines()[-1].startswith(("stopped before training began", "interrupted at step 0")), err[-500:]
