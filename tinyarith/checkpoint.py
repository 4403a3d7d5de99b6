"""Checkpoints a run can resume from: weights, optimizer state (moments, step counts, lr), the data stream's generator
state, the step and the elapsed time, kept safe against a kill at any moment.

RUN_DIR/checkpoint.json is the commit record. It names the tensors file (checkpoint-<step>.safetensors) with its size and
sha256. Each file is written to a temporary name, flushed to disk and renamed into place (tinyarith.files), the tensors first; the older
tensors file, and any a killed save left half-written, are removed only once the new record is in place. A kill at any
moment leaves the old checkpoint or the new one."""
import hashlib, json, math
from pathlib import Path
import numpy as np
from tinygrad import Tensor
from tinygrad.nn.state import get_state_dict, safe_load
from tinyarith import files
from tinyarith.errors import BadInput
from tinyarith.model import to_device

RECORD = "checkpoint.json"

class CheckpointError(BadInput):
  def __init__(self, message:str): super().__init__("resume", message)

def training_state(model, opt) -> dict[str, Tensor]:
  """Every Tensor a run needs to go on: the model's, and the optimizer's own (its params.* are the model's)."""
  return {**{f"model.{k}": v for k, v in get_state_dict(model).items()},
          **{f"opt.{k}": v for k, v in get_state_dict(opt).items() if not k.startswith("params.")}}

def finite(state:dict[str, np.ndarray]) -> bool:
  """Whether every entry of a training state (weights, optimizer moments), read to the host, is finite."""
  return all(np.isfinite(a).all() for a in state.values())

def run_states(state:dict[str, Tensor], single:dict[str, Tensor]) -> list[dict[str, np.ndarray]]:
  """The training state of a stack of runs (model.stack, config.adamw with lists) as each run alone would have it, on the host.
  single: one run's training state. An entry of the same shape in both is shared (AdamW's b1_t, b2_t); one that a run
  alone does not have (the per-run weight decay) is dropped."""
  arrays = {k: t.numpy() for k, t in state.items() if k in single}
  n_runs = next(a.shape[0] for k, a in arrays.items() if k.startswith("model."))
  return [{k: a if a.shape == single[k].shape else a[r].reshape(single[k].shape) for k, a in arrays.items()} for r in range(n_runs)]

def save(run_dir:Path, state:dict[str, Tensor|np.ndarray], step:int, elapsed:float, rng:np.random.Generator|None=None,
         keep_previous:bool=False):
  """Write state (training_state's, or a run's of run_states) as run_dir's checkpoint of step. keep_previous: a run of a sweep,
  whose record also names the checkpoint before, kept until every run of the sweep has saved this step (drop_stale), so
  that a kill between two runs' saves leaves a step that all of them can return to."""
  run_dir, name = Path(run_dir), f"checkpoint-{step}.safetensors"
  data = files.write_tensors(run_dir / name, state)
  record = {"step": step, "elapsed": elapsed, "tensors": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "rng": None if rng is None else rng.bit_generator.state}
  if keep_previous and (run_dir / RECORD).exists() and (before := record_of(run_dir))["step"] != step:
    record["previous"] = {k: v for k, v in before.items() if k != "previous"}
  files.write_text(run_dir / RECORD, json.dumps(record) + "\n")
  if not keep_previous: drop_stale(run_dir)

def drop_stale(run_dir:Path):
  """Remove the tensors files the record does not name: an older checkpoint, or what a killed save left (.tmp)."""
  name = record_of(run_dir)["tensors"]
  for stale in Path(run_dir).glob("checkpoint-*.safetensors*"):
    if stale.name != name: stale.unlink(missing_ok=True)

def check_fields(record) -> str|None:
  """What is wrong with a checkpoint record's fields, or None. save() names the tensors file after the step, so an edited
  step no longer matches it."""
  if not isinstance(record, dict): return "it is not a JSON object"
  step, elapsed = record.get("step"), record.get("elapsed")
  if isinstance(step, bool) or not isinstance(step, int) or step < 0: return f"its step is {step!r}"
  if record.get("tensors") != f"checkpoint-{step}.safetensors": return f"step {step} is not the step of its tensors file {record.get('tensors')!r}"
  if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not 0 <= elapsed < math.inf: return f"its elapsed time is {elapsed!r}"
  if record.get("rng") is not None:
    try: np.random.PCG64().state = record["rng"]
    except (TypeError, ValueError, KeyError) as e: return f"its data stream's state is unreadable ({e})"
  return None

def record_of(run_dir:Path) -> dict:
  """The checkpoint record of run_dir, its fields checked (not yet its tensors file)."""
  path = Path(run_dir) / RECORD
  try: record = json.loads(path.read_text())
  except FileNotFoundError: raise CheckpointError(f"no checkpoint in {run_dir} ({RECORD} is missing)") from None
  except (OSError, ValueError) as e: raise CheckpointError(f"the checkpoint record {path} is unreadable ({e})") from None
  if why := check_fields(record): raise CheckpointError(f"the checkpoint record {path} is corrupt: {why}")
  return record

def saved_step(run_dirs:list[Path]) -> int|None:
  """The step every one of run_dirs has a checkpoint of (the oldest of their records), None if one has none."""
  try: return min(record_of(d)["step"] for d in run_dirs)
  except CheckpointError: return None

def read_record(run_dir:Path, step:int|None=None) -> dict:
  """The checkpoint record of run_dir (of `step`: its record's, or the previous one it keeps), its fields checked, its tensors
  file checked against the size and checksum it names."""
  record = record_of(run_dir)
  if step is not None and record["step"] != step:
    if not isinstance(previous := record.get("previous"), dict) or previous.get("step") != step or check_fields(previous):
      raise CheckpointError(f"{run_dir} keeps no checkpoint of step {step} (its checkpoint is step {record['step']})")
    record = previous
  try: data = (Path(run_dir) / record["tensors"]).read_bytes()
  except FileNotFoundError: raise CheckpointError(f"no checkpoint in {run_dir} ({record['tensors']} is missing)") from None
  except OSError as e: raise CheckpointError(f"the checkpoint {Path(run_dir) / record['tensors']} is unreadable ({e})") from None
  if len(data) != record.get("bytes") or hashlib.sha256(data).hexdigest() != record.get("sha256"):
    raise CheckpointError(f"the checkpoint {Path(run_dir) / record['tensors']} is corrupt: its size or checksum is not the one {RECORD} records")
  return record

def read(run_dir:Path, state:dict[str, Tensor], rng:np.random.Generator|None=None, step:int|None=None) -> tuple[dict, dict[str, Tensor]]:
  """run_dir's checkpoint record and tensors (of `step`: see read_record), checked against the training state it is to go
  into (names, shapes, dtypes) and against whether the run has a data stream. A missing, corrupt or mismatched checkpoint
  is a CheckpointError."""
  record = read_record(run_dir, step)
  saved = safe_load(str(Path(run_dir) / record["tensors"]))
  kind = lambda d, k: (d[k].shape, d[k].dtype) if k in d else None
  if diff := sorted(k for k in saved.keys() | state.keys() if kind(saved, k) != kind(state, k)):
    k = diff[0]
    theirs, ours = (f"{d[k].dtype.name}{list(d[k].shape)}" if k in d else "absent" for d in (saved, state))
    raise CheckpointError(f"the checkpoint in {run_dir} is from a different model or optimizer: {k} is {theirs} there, {ours} here")
  if (record["rng"] is None) != (rng is None): raise CheckpointError(f"the checkpoint in {run_dir} is from a run with a different data stream")
  return record, saved

def load(run_dir:Path, model, opt, rng:np.random.Generator|None=None) -> dict:
  """Put run_dir's checkpoint into model, opt and rng (in place: whatever reads them sees the loaded values); returns its record.
  A missing, corrupt or mismatched checkpoint is a CheckpointError, raised before anything is changed."""
  record, saved = read(run_dir, state := training_state(model, opt), rng)
  for k, t in state.items(): t.assign(saved[k].to(t.device)).realize()
  if rng is not None: rng.bit_generator.state = record["rng"]
  return record

def load_runs(run_dirs:list[Path], model, opt, single:dict[str, Tensor]) -> list[dict]:
  """Put the checkpoints of run_dirs, one run each, into the stack of those runs (run_states' inverse); single is one run's
  training state, which each is checked against. A sweep killed between two runs' saves has runs one checkpoint ahead:
  they go back to the previous one they keep (save's keep_previous), the step of all. Returns their records; raises
  before changing anything."""
  step = saved_step(run_dirs)
  records, saved = zip(*(read(d, single, step=step) for d in run_dirs))
  for k, t in training_state(model, opt).items():
    if k not in single: continue
    runs = [s[k].numpy() for s in saved]
    array = runs[0] if single[k].shape == t.shape else np.stack(runs).reshape(t.shape)
    t.assign(to_device(array, t.device, t.uop.axis if isinstance(t.device, tuple) else None)).realize()  # split as t is
  return list(records)
