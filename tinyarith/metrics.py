"""The metrics log: one JSON object per evaluation in RUN_DIR/metrics.jsonl, flushed as written."""
import json
from pathlib import Path
from tinyarith import files
from tinyarith.errors import BadInput

class MetricsLog:
  def __init__(self, path:Path, keep:list[dict]|None=None):
    """A fresh log at path, or with keep: the log continues after those rows (a resumed run), every later row dropped."""
    if keep is not None:
      files.write_text(path, "".join(json.dumps(row) + "\n" for row in keep))
    self.file = open(path, "w" if keep is None else "a")
  def write(self, row:dict):
    self.file.write(json.dumps(row) + "\n")
    self.file.flush()  # an interrupted run keeps every row it logged
  def close(self): self.file.close()

def read_metrics(path:str|Path) -> list[dict]:
  """The rows of a metrics.jsonl, or of RUN_DIR/metrics.jsonl. A missing, empty or garbled file is BadInput naming the
  file and line: every row is a JSON object of numbers (nested objects and lists of numbers too) with an integer step and the keys of
  the first row. A last line without its newline is a row a kill cut short, and is left out."""
  path = Path(path)
  if path.is_dir(): path = path / "metrics.jsonl"
  if not path.is_file(): raise BadInput(None, f"no metrics file at {path}")
  try: text = path.read_text()
  except (OSError, UnicodeDecodeError) as e: raise BadInput(None, f"{path} is unreadable ({e})") from None
  rows, keys = [], None
  for n, line in enumerate(text[:text.rfind("\n") + 1].splitlines(), 1):
    if not line.strip(): continue
    try: row = json.loads(line)
    except json.JSONDecodeError as e: raise BadInput(None, f"{path}, line {n}: not valid JSON ({e})") from None
    if why := bad_row(row, keys): raise BadInput(None, f"{path}, line {n}: {why}")
    rows.append(row)
    keys = keys or row.keys()
  if not rows: raise BadInput(None, f"{path} holds no metrics")
  return rows

def numbers(value) -> bool:
  if isinstance(value, dict): return all(numbers(v) for v in value.values())
  if isinstance(value, list): return all(numbers(v) for v in value)  # a spectrum, key frequencies
  return isinstance(value, (int, float)) and not isinstance(value, bool)

def bad_row(row, keys) -> str|None:
  """What is wrong with one row of a metrics file whose first row had `keys` (None: this is the first), or None."""
  if not isinstance(row, dict): return "not a JSON object"
  if not isinstance(row.get("step"), int) or isinstance(row["step"], bool) or row["step"] < 0: return f"its step is {row.get('step')!r}"
  if wrong := next((k for k, v in row.items() if not numbers(v)), None): return f"{wrong!r} is {row[wrong]!r}, not a number"
  if keys is not None and row.keys() != keys: return f"its keys {sorted(row)} are not those of the first row {sorted(keys)}"
  return None

def first_step(rows:list[dict], key:str, level:float, below:bool=False) -> int|None:
  """The first logged step at which rows[key] >= level (below=True: < level), or None."""
  return next((r["step"] for r in rows if key in r and (r[key] < level if below else r[key] >= level)), None)

def summary(rows:list[dict]) -> str:
  """Steps to 100% train accuracy and to 99% test accuracy, final figures, wall time and steps/s."""
  if not rows: raise BadInput(None, "no metrics rows to summarise")
  last = rows[-1]
  seen = lambda s: "not reached" if s is None else f"step {s}"
  return (f"train acc 100% at {seen(first_step(rows, 'train_acc', 1.0))}, test acc >= 99% at {seen(first_step(rows, 'test_acc', 0.99))}\n"
          f"final (step {last['step']}): train loss {last['train_loss']:.3g} acc {last['train_acc']:.4f}, "
          f"test loss {last['test_loss']:.3g} acc {last['test_acc']:.4f}\n"
          + (f"test exact match {last['test_exact']:.4f}\n" if "test_exact" in last else "")
          + f"wall {last['elapsed']:.1f} s, {last['step'] / last['elapsed']:.2f} steps/s (with evaluations)")
