"""Run directories: where a run goes, what a run or a sweep was started with, which runs a directory holds, and a trained
run's model read back."""
import json, shlex
from pathlib import Path
from tinygrad.nn.state import safe_load, load_state_dict
from tinyarith import checkpoint, files
from tinyarith.config import LATER, RunConfig
from tinyarith.errors import BadInput
from tinyarith.model import Config, Transformer

SWEEP_RECORD = "sweep.json"  # in a sweep's directory: the settings it was started with, and each run's outcome (tinyarith.sweep)

def saved_settings(out_dir:Path) -> dict:
  """The settings, by flag name, that a run (its config.json) or a sweep (its sweep.json) was started with."""
  if not (out_dir / "config.json").exists() and (out_dir / SWEEP_RECORD).exists():
    return {**LATER, **json.loads((out_dir / SWEEP_RECORD).read_text())["flags"]}  # LATER: a sweep begun before those settings
  return RunConfig.from_dict(json.loads((out_dir / "config.json").read_text())).flags()

def make_run_dir(run:RunConfig, resume:bool) -> Path:
  """The run directory, created; a fresh run never overwrites a checkpointed one, nor one that another process writes
  (train() holds the lock; this says so before the run builds anything)."""
  out, field = Path(run.out), "resume" if resume else "out"
  files.check_free(out, field)
  if not resume and (out / "checkpoint.json").exists():
    raise BadInput("out", f"{out} already holds a run: continue it with --resume {shlex.quote(str(out))}, or choose another --out")
  files.make_dir(out, field)
  return out

def runs_in(path:str|Path) -> list[Path]:
  """The runs a path names: itself, or the runs of a sweep's directory (those of its subdirectories that hold metrics)."""
  path = Path(path)
  if not (path / SWEEP_RECORD).is_file() or (path / "metrics.jsonl").exists(): return [path]
  return sorted(d for d in path.iterdir() if (d / "metrics.jsonl").is_file())

def load_run(run_dir:str|Path) -> tuple[dict, Transformer, int|None]:
  """The config.json of a run, its model with the newest weights, and their step. The newest are the last checkpoint's:
  a run checkpoints at its last step too, and one resumed to go further leaves model.safetensors behind until it finishes.
  model.safetensors (step None) serves only a run without a checkpoint. A missing or unreadable run is BadInput."""
  run_dir = Path(run_dir)
  try:
    config = json.loads((run_dir / "config.json").read_text())
    model = Transformer(Config(**config["model"]))
    if (run_dir / checkpoint.RECORD).exists():
      step, tensors = (record := checkpoint.read_record(run_dir))["step"], record["tensors"]
      weights = {k.removeprefix("model."): v for k, v in safe_load(str(run_dir / tensors)).items() if k.startswith("model.")}
    else: step, weights = None, safe_load(str(run_dir / "model.safetensors"))
    load_state_dict(model, weights, verbose=False)
  except (OSError, KeyError, TypeError, ValueError, RuntimeError, AssertionError) as e:
    raise BadInput("run", f"cannot load the run in {run_dir}: {e.message if isinstance(e, BadInput) else e}") from None
  return config, model, step
