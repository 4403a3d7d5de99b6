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
from tinygrad.nn.state import get_parameters, get_state_dict, safe_load
from tinyarith import files
from tinyarith.errors import BadInput

RECORD = "checkpoint.json"

class CheckpointError(BadInput):
  def __init__(self, message:str): super().__init__("resume", message)

def training_state(model, opt) -> dict[str, Tensor]:
  """Every Tensor a run needs to go on: the model's, and the optimizer's own (its params.* are the model's)."""
  return {**{f"model.{k}": v for k, v in get_state_dict(model).items()},
          **{f"opt.{k}": v for k, v in get_state_dict(opt).items() if not k.startswith("params.")}}

def finite(model) -> bool:
  """Whether every weight is finite: a NaN or inf anywhere makes the sum one (one small kernel, one host read)."""
  return math.isfinite(Tensor.stack(*[p.float().sum() for p in get_parameters(model)]).sum().item())

def save(run_dir:Path, model, opt, step:int, elapsed:float, rng:np.random.Generator|None=None):
  run_dir, name = Path(run_dir), f"checkpoint-{step}.safetensors"
  data = files.write_tensors(run_dir / name, training_state(model, opt))
  record = {"step": step, "elapsed": elapsed, "tensors": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "rng": None if rng is None else rng.bit_generator.state}
  files.write_text(run_dir / RECORD, json.dumps(record) + "\n")
  for stale in run_dir.glob("checkpoint-*.safetensors*"):  # only now that the record names the new file; .tmp: a killed save's
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

def read_record(run_dir:Path) -> dict:
  """The checkpoint record of run_dir, its fields checked, its tensors file checked against the size and checksum it names."""
  path = Path(run_dir) / RECORD
  try: record = json.loads(path.read_text())
  except FileNotFoundError: raise CheckpointError(f"no checkpoint in {run_dir} ({RECORD} is missing)") from None
  except (OSError, ValueError) as e: raise CheckpointError(f"the checkpoint record {path} is unreadable ({e})") from None
  if why := check_fields(record): raise CheckpointError(f"the checkpoint record {path} is corrupt: {why}")
  try: data = (Path(run_dir) / record["tensors"]).read_bytes()
  except FileNotFoundError: raise CheckpointError(f"no checkpoint in {run_dir} ({record['tensors']} is missing)") from None
  except OSError as e: raise CheckpointError(f"the checkpoint {Path(run_dir) / record['tensors']} is unreadable ({e})") from None
  if len(data) != record.get("bytes") or hashlib.sha256(data).hexdigest() != record.get("sha256"):
    raise CheckpointError(f"the checkpoint {Path(run_dir) / record['tensors']} is corrupt: its size or checksum is not the one {RECORD} records")
  return record

def load(run_dir:Path, model, opt, rng:np.random.Generator|None=None) -> dict:
  """Put run_dir's checkpoint into model, opt and rng (in place: whatever reads them sees the loaded values); returns its record.
  A missing, corrupt or mismatched checkpoint is a CheckpointError, raised before anything is changed."""
  record = read_record(run_dir)
  saved, state = safe_load(str(Path(run_dir) / record["tensors"])), training_state(model, opt)
  kind = lambda d, k: (d[k].shape, d[k].dtype) if k in d else None
  if diff := sorted(k for k in saved.keys() | state.keys() if kind(saved, k) != kind(state, k)):
    k = diff[0]
    theirs, ours = (f"{d[k].dtype.name}{list(d[k].shape)}" if k in d else "absent" for d in (saved, state))
    raise CheckpointError(f"the checkpoint in {run_dir} is from a different model or optimizer: {k} is {theirs} there, {ours} here")
  if (record["rng"] is None) != (rng is None): raise CheckpointError(f"the checkpoint in {run_dir} is from a run with a different data stream")
  for k, t in state.items(): t.assign(saved[k].to(t.device)).realize()
  if rng is not None: rng.bit_generator.state = record["rng"]
  return record
