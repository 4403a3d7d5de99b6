"""Runs that survive: a killed or interrupted run resumes to the metrics of one that never stopped; a corrupt checkpoint
is refused without touching anything; a diverging run stops and keeps its last good checkpoint; the same seed gives the
same numbers. Small runs of both experiments, as a user starts them."""
import json, os, random, shutil, signal, subprocess, sys, time
import pytest
from conftest import EXPERIMENTS, experiment
from tinyarith import checkpoint
from tinygrad.nn.state import get_state_dict, safe_save
from tinyarith.metrics import read_metrics
from tinyarith.model import Config, Transformer
from tinyarith.config import adamw
from tinyarith.rundir import load_run

ADD = ["--digits", "1", "--n-layers", "1", "--d-model", "32", "--n-heads", "2", "--d-mlp", "64", "--test-size", "20",
       "--batch-size", "64", "--steps", "400", "--eval-every", "40", "--seed", "3"]
GROK = ["--p", "7", "--train-frac", "0.6", "--d-model", "32", "--d-mlp", "64", "--steps", "200", "--eval-every", "20"]

def metrics(run) -> list[dict]: return [{k: v for k, v in row.items() if k != "elapsed"} for row in read_metrics(run)]
def contents(run) -> dict[str, bytes]:
  """What the run directory holds, but its lock file: that names the last process to open the run as its writer."""
  return {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}
def ckpt_step(run) -> int: return json.loads((run / "checkpoint.json").read_text())["step"]

def finished(name:str, *args):
  result = experiment(name, *args)
  assert result.returncode == 0, result.stderr[-3000:]
  return result

@pytest.fixture(scope="module")
def add_reference(tmp_path_factory):
  finished("addition", *ADD, "--out", out := tmp_path_factory.mktemp("add") / "run")
  return out

@pytest.fixture(scope="module")
def grok_reference(tmp_path_factory):
  finished("grokking", *GROK, "--out", out := tmp_path_factory.mktemp("grok") / "run")
  return out

def start(name:str, *args, **popen) -> subprocess.Popen:
  return subprocess.Popen([sys.executable, str(EXPERIMENTS / f"{name}.py"), *map(str, args)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, **popen)

def wait_for_checkpoint(run, proc:subprocess.Popen, past:int):
  """Until the run has checkpointed a step after `past`."""
  while True:
    try:
      if ckpt_step(run) > past: return
    except (OSError, ValueError): pass
    assert proc.poll() is None, f"the run ended before checkpointing a step after {past}: {proc.stderr.read()[-2000:]}"
    time.sleep(0.01)

def test_a_killed_run_resumes_to_the_metrics_of_an_uninterrupted_one(add_reference, tmp_path):
  run, rng = tmp_path / "run", random.Random(4)  # seeded, so a failure names a kill point that can be tried again
  past, delay = rng.choice([0, 40, 80, 120]), rng.uniform(0, 0.3)
  proc = start("addition", *ADD, "--out", run)
  wait_for_checkpoint(run, proc, past)
  time.sleep(delay)
  proc.kill()
  assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
  kept, logged = ckpt_step(run), read_metrics(run)[-1]["step"]
  print(f"killed {delay:.2f} s after a checkpoint past step {past}: checkpoint at step {kept}, last row logged at step {logged}")
  finished("addition", "--resume", run)
  assert metrics(run) == metrics(add_reference)  # exactly: same kernels, same data order, no gaps or repeats

@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_checkpoints_says_how_to_resume_and_resumes_exactly(grok_reference, tmp_path, signum):
  run = tmp_path / "run"
  proc = start("grokking", *GROK, "--out", run)
  wait_for_checkpoint(run, proc, past=0)
  proc.send_signal(signum)
  stderr = proc.communicate(timeout=300)[1]
  assert proc.returncode == 128 + signum and "Traceback" not in stderr
  assert f"--resume {run}" in stderr.strip().splitlines()[-1]
  assert ckpt_step(run) > 0 and (run / "loss.png").is_file() and not (run / "model.safetensors").exists()
  finished("grokking", "--resume", run)
  assert metrics(run) == metrics(grok_reference)

def test_a_sigterm_to_the_whole_process_group_stops_the_run_and_the_process_exits(grok_reference, tmp_path):
  """As timeout(1) or a batch scheduler sends it: tinygrad's compile workers get it too, and a pool whose worker died
  hung the run at exit, after its checkpoint."""
  proc = start("grokking", *GROK, "--steps", "100000", "--out", run := tmp_path / "run", start_new_session=True)
  wait_for_checkpoint(run, proc, past=0)
  os.killpg(proc.pid, signal.SIGTERM)
  try: proc.wait(timeout=120)
  except subprocess.TimeoutExpired:
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail("the run checkpointed but did not exit after a SIGTERM to its process group")
  assert proc.returncode == 128 + signal.SIGTERM, proc.stderr.read()[-2000:]
  finished("grokking", "--resume", run, "--steps", str(ckpt_step(run) + 20))

EDITS = {"step 100": {"step": 100}, "step -5": {"step": -5}, "step '400'": {"step": "400"}, "elapsed 'x'": {"elapsed": "x"},
         "rng 'garbage'": {"rng": "garbage"}}  # edits of a record whose step is 400

@pytest.mark.parametrize("damage", ["truncate tensors", "garble record", "delete tensors", *EDITS])
def test_a_corrupt_checkpoint_is_refused_and_nothing_is_overwritten(add_reference, tmp_path, damage):
  shutil.copytree(add_reference, run := tmp_path / "run")
  record = json.loads((run / "checkpoint.json").read_text())
  tensors = run / record["tensors"]
  if damage == "truncate tensors": tensors.write_bytes(tensors.read_bytes()[:tensors.stat().st_size // 2])
  if damage == "garble record": (run / "checkpoint.json").write_text('{"step": 4')
  if damage == "delete tensors": tensors.unlink()
  if damage in EDITS: (run / "checkpoint.json").write_text(json.dumps({**record, **EDITS[damage]}))
  before = contents(run)
  result = experiment("addition", "--resume", run, "--steps", "800")
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1 and "--resume" in result.stderr
  assert contents(run) == before

def test_a_diverging_run_stops_naming_the_step_and_keeps_its_last_good_checkpoint(tmp_path):
  result = experiment("grokking", *GROK, "--lr", "1e30", "--out", run := tmp_path / "run")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  message = result.stderr.strip().splitlines()[-1]
  assert "at step 20" in message and "last good checkpoint is step 0" in message, message
  assert ckpt_step(run) == 0 and (run / "loss.png").is_file() and not (run / "model.safetensors").exists()
  config, model, step = load_run(run)  # the last good checkpoint's weights
  assert step == 0
  assert checkpoint.finite({k: t.numpy() for k, t in get_state_dict(model).items()})

def test_the_same_seed_gives_identical_metrics_and_config_records_versions_and_device(add_reference, tmp_path):
  finished("addition", *ADD, "--out", run := tmp_path / "run")
  assert metrics(run) == metrics(add_reference)
  config = json.loads((run / "config.json").read_text())
  assert config["seed"] == 3 and config["tinygrad"] and config["device"] and config["steps"] == 400 and config["out"] == str(run)
  assert config["data"] == {"digits": 1, "reverse": True, "test_size": 20, "batch_size": 64}

def test_a_finished_run_resumed_with_more_steps_goes_on(grok_reference, tmp_path):
  shutil.copytree(grok_reference, run := tmp_path / "run")
  finished("grokking", "--resume", run, "--steps", "240")
  steps = [r["step"] for r in read_metrics(run)]
  assert steps == list(range(0, 241, 20)) and ckpt_step(run) == 240
  config = json.loads((run / "config.json").read_text())
  assert config["steps"] == 240 and config["out"] == str(run)  # the run's own directory, not null

def test_ask_answers_with_the_newest_weights_and_names_their_step(add_reference, tmp_path):
  shutil.copytree(add_reference, run := tmp_path / "run")
  # as after --resume --steps N killed before the end: the checkpoint (step 400 here) is newer than model.safetensors
  safe_save(get_state_dict(Transformer(Config(**json.loads((run / "config.json").read_text())["model"]), seed=9)),
            str(run / "model.safetensors"))
  result = experiment("addition", "--ask", "3+4", "--run", run)
  assert result.returncode == 0, result.stderr
  assert result.stdout.rstrip().endswith("weights of step 400)"), result.stdout

def test_a_save_leaves_one_tensors_file_and_clears_what_a_killed_save_left(tmp_path):
  model = Transformer(Config(vocab=5, ctx_len=4, d_model=8, n_heads=2, d_mlp=16), seed=0)
  opt = adamw(model)
  checkpoint.save(tmp_path, checkpoint.training_state(model, opt), step=10, elapsed=1.0)
  (tmp_path / "checkpoint-15.safetensors.tmp").write_bytes(b"half written")  # a save killed before its rename
  checkpoint.save(tmp_path, checkpoint.training_state(model, opt), step=20, elapsed=2.0)
  assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-20.safetensors"]
  assert checkpoint.load(tmp_path, model, opt)["step"] == 20

def test_a_second_writer_is_refused_at_once_a_reader_is_not_and_a_killed_writers_lock_is_free(tmp_path):
  run = tmp_path / "run"
  proc = start("grokking", *GROK, "--steps", "100000", "--out", run)
  try:
    wait_for_checkpoint(run, proc, past=0)
    config = (run / "config.json").read_bytes()
    for second in ([*GROK, "--out", run], ["--resume", run, "--steps", "200000"]):  # a fresh run there, and a resume
      result = experiment("grokking", *second, timeout=120)
      lines = result.stderr.strip().splitlines()
      assert result.returncode == 2 and len(lines) == 1 and str(run) in lines[0] and f"process {proc.pid}" in lines[0], result.stderr
    reader = subprocess.run([sys.executable, "-m", "tinyarith.plot", run, "-o", tmp_path / "read.png"], capture_output=True, timeout=120)
    assert reader.returncode == 0 and (tmp_path / "read.png").is_file()
    assert proc.poll() is None and (run / "config.json").read_bytes() == config  # the writer runs on, its files its own
  finally:
    proc.kill()
    proc.wait()
  finished("grokking", "--resume", run, "--steps", str(ckpt_step(run) + 20))  # kill -9 left the lock: it is free

def test_a_run_whose_metrics_file_was_deleted_resumes_logging_from_its_checkpoint(grok_reference, tmp_path):
  finished("grokking", *GROK, "--steps", "100", "--out", run := tmp_path / "run")
  (run / "metrics.jsonl").unlink()
  result = finished("grokking", "--resume", run, "--steps", "200")
  assert "metrics.jsonl is missing" in result.stderr
  assert metrics(run) == [r for r in metrics(grok_reference) if r["step"] >= 100]

@pytest.fixture
def small_disk(grok_reference, tmp_path):
  """A tmpfs with room for a small grokking run's first checkpoint and its small files, not for a second checkpoint
  beside the first. Mounting one needs root; test_errors.py fakes a full disk where this skips."""
  disk, page = tmp_path / "disk", os.sysconf("SC_PAGE_SIZE")
  disk.mkdir()
  pages = -(-(grok_reference / "checkpoint-200.safetensors").stat().st_size // page)
  size = (pages * 3 // 2 + 6) * page
  if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", disk], capture_output=True).returncode != 0:
    pytest.skip("cannot mount a tmpfs here (not root)")
  yield disk
  subprocess.run(["umount", "-l", disk])

def test_a_full_disk_mid_run_is_one_line_naming_the_last_good_checkpoint_and_the_run_resumes_exactly(grok_reference, small_disk):
  result = experiment("grokking", *GROK, "--out", run := small_disk / "run")
  last = result.stderr.strip().splitlines()[-1]
  assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
  assert "disk is full" in last and "last good checkpoint is step 0" in last and f"--resume {run}" in last, last
  assert ckpt_step(run) == 0 and not list(run.glob("*.tmp"))
  subprocess.run(["mount", "-o", "remount,size=8m", small_disk], check=True)  # space freed
  finished("grokking", "--resume", run)
  assert metrics(run) == metrics(grok_reference)

def test_a_full_disk_at_the_start_is_one_line(small_disk):
  with open(small_disk / "filler", "wb", buffering=0) as filler:
    try:
      while True: filler.write(b"\0" * 4096)
    except OSError: pass  # full
  result = experiment("grokking", *GROK, "--out", small_disk / "run")
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 1 and len(lines) == 1 and "disk is full" in lines[0], result.stderr[-3000:]

def test_a_run_or_sweep_on_a_read_only_disk_is_one_line_naming_the_flag(grok_reference, small_disk):
  subprocess.run(["mount", "-o", "remount,size=8m", small_disk], check=True)  # room for a finished run
  shutil.copytree(grok_reference, run := small_disk / "run")
  (sweep := small_disk / "sweep").mkdir()
  (sweep / "sweep.json").write_text(json.dumps({"flags": {"seed": [0, 1], "train_frac": 0.3, "weight_decay": 1.0, "lr": 1e-3}, "runs": []}))
  subprocess.run(["mount", "-o", "remount,ro", small_disk], check=True)
  for command, flag in (([sys.executable, EXPERIMENTS / "grokking.py", "--resume", run, "--steps", "400"], "--resume"),
                        ([sys.executable, "-m", "tinyarith.sweep", sweep], "--out")):
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.startswith(f"error: {flag}: ") and "not writable" in result.stderr, result.stderr[-3000:]
    assert len(result.stderr.strip().splitlines()) == 1
