"""Sweeps: a run for every combination of some flags' values (seeds, train fractions, weight decays, learning rates), all of
one model shape, trained side by side as one stacked model (model.stack) by one JIT'd step, on full batches. Each run has its
own directory in the sweep's, as it alone would leave it. The sweep's directory holds sweep.json (the flags, and each run's
steps to 95% and 99% test accuracy), phase.png (two swept flags' grid, each cell coloured by steps to 95%) and loss.png
(every run's curves).

  python -m tinyarith.sweep SWEEP_DIR... [-o OUT] [--axes FLAG FLAG]   # merge the slices (--shard I/N) of a sweep
"""
import itertools, json, math, re, signal, sys
from pathlib import Path
from typing import Callable
import numpy as np
from tinygrad import Device, Tensor
from tinygrad.nn.state import get_parameters
from tinyarith import checkpoint, cli, files
from tinyarith.batches import stack_rows
from tinyarith.config import RunConfig, check_memory, optimizer
from tinyarith.device import opens, why
from tinyarith.errors import BadInput, Diverged, Interrupted, flag
from tinyarith.figures import phase_figure, plot_runs, save
from tinyarith.loss import target_span
from tinyarith.metrics import first_step, read_metrics
from tinyarith.model import Transformer, stack, to_device
from tinyarith.rundir import SWEEP_RECORD, saved_settings
from tinyarith.settings import RESUMABLE, as_text
from tinyarith.train import Data, train

SWEPT = {"seed": "seed", "train_frac": "frac", "weight_decay": "wd", "lr": "lr"}  # flags a sweep may list -> their names in run names
NOT_SWEEP_FLAGS = ("out", "resume", "shard", "devices")  # where and how a sweep runs, not what it computes

def listed(value) -> list: return value if isinstance(value, list) else [value]
def is_sweep(flags:dict) -> bool: return any(isinstance(flags.get(k), list) for k in SWEPT)

def grid(flags:dict) -> list[dict]:
  """Every combination of the swept flags' values, {dest: value} over all of SWEPT; the last flag varies fastest."""
  return [dict(zip(SWEPT, values)) for values in itertools.product(*(listed(flags[k]) for k in SWEPT))]

def run_name(settings:dict) -> str: return "-".join(f"{SWEPT[k]}{v:g}" for k, v in settings.items())  # seed3-frac0.3-wd1-lr0.001

def sweep_name(flags:dict) -> str:
  """The swept flags and their values, for the sweep's directory: seed0-9-wd0.3_1"""
  def values(v:list) -> str:
    if all(isinstance(x, int) for x in v) and v == list(range(v[0], v[-1] + 1)): return f"{v[0]}-{v[-1]}"
    return "_".join(f"{x:g}" for x in v)
  return "-".join(f"{SWEPT[k]}{values(flags[k])}" for k in SWEPT if isinstance(flags[k], list))

def parse_shard(text:str|None) -> tuple[int, int]|None:
  """--shard's "I/N" as (I, N); None: the whole sweep."""
  if text is None: return None
  if not (m := re.fullmatch(r"(\d+)/(\d+)", str(text).strip())): raise BadInput("shard", f"{text!r} is not I/N, e.g. 0/4")
  index, count = map(int, m.groups())
  if not 0 <= index < count: raise BadInput("shard", f"{text} is out of range: I must be 0 to {count - 1} for N = {count}")
  return index, count

def slice_of(items:list, index_count:tuple[int, int]|None) -> list:
  """The index-th of count slices of items, as equal as can be (None: all of them)."""
  if index_count is None: return items
  index, count = index_count
  if count > len(items): raise BadInput("shard", f"{index}/{count}: the sweep has {len(items)} runs, fewer than {count} slices")
  return items[index * len(items) // count:(index + 1) * len(items) // count]

def build(runs:list[RunConfig], devices:tuple[str, ...]|None=None):
  """The runs' models, each initialised from its seed, as one stack, split across devices on the run axis; and its AdamW
  with each run's learning rate and weight decay (and the runs' Grokfast filter, if on)."""
  model = stack([Transformer(r.model, seed=r.seed) for r in runs])
  if devices:
    for w in get_parameters(model): w.shard_(devices, axis=0)
    Tensor.realize(*get_parameters(model))  # else the steps' JITs each hold their own copies of the lazy shards
  return model, optimizer(model, runs[0], [r.lr for r in runs], [r.weight_decay for r in runs])

Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test

def run(settings:dict, name:str, config_of:Callable[[dict], RunConfig], split_of:Callable[[RunConfig], Split],
        measure:Callable[[Transformer, list[Split]], Callable[[], list[dict]]]|None=None) -> list[dict]:
  """Train the sweep that settings list (its shard's slice, across its devices) into runs/<name>-<swept settings>/ (or out,
  or resume's), then write its summary and pictures, and return its runs' outcomes (merge). config_of makes a run's RunConfig
  from settings of one value each; split_of its data; measure(stacked model, splits), if given, each run's further metrics
  at each evaluation (Data.extra_metrics). Everything is checked before anything is written, the memory it needs before
  anything grows. A stopped or diverged sweep still writes its summary; a full disk or a bug writes nothing more."""
  flags = {k: v for k, v in settings.items() if k not in NOT_SWEEP_FLAGS}
  out, resume = Path(settings["resume"] or settings["out"] or f"runs/{name}-{sweep_name(flags)}"), bool(settings["resume"])
  part = parse_shard(settings["shard"])
  config = lambda s: config_of({**settings, **s, "resume": None, "out": str(out / run_name(s))})
  first = {k: listed(flags[k])[0] for k in SWEPT}
  probe = [config({**first, "train_frac": f}) for f in listed(flags["train_frac"])]  # only the fraction sets a split's size
  n_runs = len(slice_of(range(math.prod(len(listed(flags[k])) for k in SWEPT)), part))
  widest = max((k for k in SWEPT if isinstance(flags[k], list)), key=lambda k: len(flags[k]))
  check_memory(probe[0], max(len(split_of(r)[0]) for r in probe), widest, n_runs)  # before the grid: thousands of runs grow it
  runs = [config(s) for s in slice_of(grid(flags), part)]  # each checked: a bad value is BadInput naming its setting
  devices = check_devices(settings["devices"], len(runs))
  check_dirs(out, runs, flags, resume, part)
  splits = [split_of(r) for r in runs]
  record = out / SWEEP_RECORD  # a resume killed outright (no summary merged at its end) keeps the one it began with
  before = json.loads(record.read_text()).get("runs", []) if resume and record.exists() else []
  with files.full_disk_is_diskfull(out, lambda: checkpoint.saved_step([Path(r.out) for r in runs]) if resume else None):
    write_summary(out, flags, before)
  on = lambda a: to_device(a, devices or Device.DEFAULT)
  (x_train, y_train), (x_test, y_test) = (stack_rows([(s[i], s[i + 1]) for s in splits]) for i in (0, 2))
  train_set, test_set = (on(x_train), on(y_train)), (on(x_test), on(y_test))
  span = target_span(*(s[1] for s in splits), *(s[3] for s in splits))
  print(f"{len(runs)} runs{'' if part is None else f' (slice {part[0]}/{part[1]})'} trained as one model"
        f"{f' across {len(devices)} devices' if devices else ''}; writing {out}/")
  model, opt = build(runs, devices)
  data = Data(lambda: train_set, {"train": train_set, "test": test_set}, span=span, extra_metrics=measure and measure(model, splits))
  stopped = None
  try: train(model, opt, data, runs, resume)
  except (Interrupted, Diverged) as e: stopped = e  # what was trained is summarised all the same
  try: outcomes = merge([out], out, quiet=part is not None)
  except KeyboardInterrupt as e:
    saved = checkpoint.saved_step([Path(r.out) for r in runs])
    raise Interrupted(getattr(stopped, "step", saved), getattr(e, "signum", signal.SIGINT), out, saved, plotted=False) from None
  print(report(outcomes))
  if stopped: raise stopped
  return outcomes

def check_devices(devices:str|list[str]|tuple[str, ...]|None, n_runs:int) -> tuple[str, ...]|None:
  """--devices ("CUDA:0,CUDA:1", or a list of names) as a tuple of devices that open here; None: DEV's device alone."""
  if not devices: return None
  devices = tuple(devices.split(",")) if isinstance(devices, str) else tuple(devices)
  if len(set(devices)) < len(devices) or len(devices) > n_runs:
    raise BadInput("devices", f"{','.join(devices)}: give distinct devices, at most one per run ({n_runs} runs)")
  for device in devices:
    try: opens(device)
    except Exception as e: raise BadInput("devices", f"{device} cannot be opened here ({why(e)})") from None
  return devices

def recorded_flags(sweep_dir:Path, field:str|None) -> dict|None:
  """The flags sweep_dir's sweep.json records, None where it has none; an unreadable one is BadInput naming field."""
  if not (Path(sweep_dir) / SWEEP_RECORD).exists(): return None
  try: return saved_settings(Path(sweep_dir))
  except (OSError, ValueError, KeyError, TypeError) as e: raise BadInput(field, f"{Path(sweep_dir) / SWEEP_RECORD} is unreadable ({e})") from None

def check_dirs(out:Path, runs:list[RunConfig], flags:dict, resume:bool, part:tuple[int, int]|None):
  """Refuse, before writing anything: another sweep's directory, a fresh sweep over checkpointed runs, a run another process
  writes, a directory that cannot be written; and a resume whose runs have no checkpoint to go on from, or have run past --steps."""
  field = "resume" if resume else "out"
  if (theirs := recorded_flags(out, field)) is not None:
    if diff := [k for k in flags if k not in RESUMABLE and theirs.get(k) != flags[k]]:
      raise BadInput(field, f"{out} holds a sweep with {flag(diff[0])} {as_text(theirs.get(diff[0]))}, not {as_text(flags[diff[0]])}")
  elif (out / "config.json").exists(): raise BadInput(field, f"{out} holds a run, not a sweep")
  for r in runs: files.check_free(Path(r.out), field)
  if resume:
    steps = {r.out: (checkpoint.record_of(r.out)["step"] if (Path(r.out) / checkpoint.RECORD).exists() else None) for r in runs}
    if lacking := [Path(d).name for d, step in steps.items() if step is None]:
      hint = ": a slice resumes with the --shard I/N it was trained with" if part is None and len(lacking) < len(runs) else ""
      raise BadInput("shard" if hint else "resume", f"{out} holds no checkpoint of {len(lacking)} of the {len(runs)} runs to resume "
                                                    f"({lacking[0]}{', ...' if len(lacking) > 1 else ''}){hint}")
    if (done := min(steps.values())) > runs[0].steps:
      raise BadInput("steps", f"{out} already ran {done} steps: give a larger --steps to go on")
  elif taken := [r.out for r in runs if (Path(r.out) / checkpoint.RECORD).exists()]:
    raise BadInput("out", f"{out} already holds this sweep's run {Path(taken[0]).name}: continue with --resume {out}, or choose another --out")
  for d in [out, *(Path(r.out) for r in runs)]: files.make_dir(d, field)

# ---- the summary and the pictures, from the runs' directories

def outcome(run_dir:Path) -> dict:
  """A run's settings and its steps to 95% and 99% test accuracy: a step, "not within budget" if it ran all its steps without,
  or "not by step N of M" if it stopped before."""
  config, rows = json.loads((run_dir / "config.json").read_text()), read_metrics(run_dir)
  last, budget = rows[-1]["step"], config["steps"]
  def steps_to(level:float):
    if (step := first_step(rows, "test_acc", level)) is not None: return step
    return "not within budget" if last >= budget else f"not by step {last} of {budget}"
  return {"run": run_dir.name, "seed": config["seed"], "train_frac": config["data"]["train_frac"], "weight_decay": config["weight_decay"],
          "lr": config["lr"], "steps": last, "test_acc": rows[-1]["test_acc"], "steps_to_95": steps_to(0.95), "steps_to_99": steps_to(0.99),
          "dir": str(run_dir)}

def merge(sweep_dirs:list[Path], out:Path, axes:tuple[str, str]|None=None, quiet:bool=False) -> list[dict]:
  """The summary of the sweep whose runs are in sweep_dirs (its slices, wherever they ran), written to out/sweep.json, then
  phase.png and loss.png if any run ran; a run found in none is "not run" (a warning, unless quiet). Dirs of different
  sweeps, bad axes or an out that cannot be written are BadInput, raised before anything is written."""
  records = {d: recorded_flags(d, None) for d in sweep_dirs}
  if bare := next((d for d, f in records.items() if f is None), None):
    raise BadInput(None, f"SWEEP_DIR {bare} is not a sweep's directory (it has no {SWEEP_RECORD})")
  flags = records[sweep_dirs[0]]
  for d, theirs in records.items():
    if diff := next((k for k in flags.keys() | theirs.keys() if flags.get(k) != theirs.get(k)), None):
      raise BadInput(None, f"SWEEP_DIR {sweep_dirs[0]} and {d} hold different sweeps: {flag(diff)} {as_text(flags.get(diff))} "
                           f"there, {as_text(theirs.get(diff))} here")
  x_key, y_key = phase_axes(flags, axes)
  files.make_dir(Path(out), "out")
  names, found = {run_name(s): s for s in grid(flags)}, {}
  for d in sweep_dirs:
    for name in names:
      if (Path(d) / name / "metrics.jsonl").is_file() and (Path(d) / name / "config.json").is_file(): found.setdefault(name, Path(d) / name)
  runs = [outcome(found[name]) if name in found else {"run": name, **s, "steps_to_95": "not run", "steps_to_99": "not run"}
          for name, s in names.items()]
  if missing := [r["run"] for r in runs if r["steps_to_95"] == "not run"]:
    if not quiet: print(f"warning: {len(missing)} of the sweep's {len(runs)} runs are in none of {', '.join(map(str, sweep_dirs))}: "
                        f"{', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}", file=sys.stderr)
  with files.full_disk_is_diskfull(Path(out), lambda: checkpoint.saved_step(list(found.values())) if found else None):
    write_summary(Path(out), flags, runs)
    if found:
      plot_runs(list(found.values()), Path(out) / "loss.png")
      phase_diagram(runs, flags, Path(out) / "phase.png", x_key, y_key)
  return runs

def write_summary(out:Path, flags:dict, runs:list[dict]):
  files.write_text(out / SWEEP_RECORD, json.dumps({"flags": flags, "runs": runs}, indent=1) + "\n")

def report(runs:list[dict]) -> str:
  """How many runs reached 95% and 99% test accuracy, and the median steps of those that did."""
  ran = [r for r in runs if r["steps_to_95"] != "not run"]
  lines = []
  for level in (95, 99):
    steps = [r[f"steps_to_{level}"] for r in ran if isinstance(r[f"steps_to_{level}"], int)]
    lines.append(f"{len(steps)} of {len(ran)} runs reached {level}% test accuracy" + (f", median step {np.median(steps):.0f}" if steps else ""))
  return "\n".join(lines + ([f"{len(runs) - len(ran)} runs not run here"] if len(ran) < len(runs) else []))

def phase_axes(flags:dict, axes:tuple[str, str]|None=None) -> tuple[str, str|None]:
  """The phase diagram's x and y flags: axes, else the first two swept besides the seed (the seed where only it is swept;
  y None where only one is)."""
  swept = [k for k in SWEPT if isinstance(flags[k], list)]
  if axes and (not_swept := [k for k in axes if k not in swept]):
    raise BadInput("axes", f"{not_swept[0]} is not swept here: choose two of {', '.join(swept)}")
  x_key, y_key = axes or ([k for k in swept if k != "seed"] + ["seed"] * (len(swept) == 1) + [None, None])[:2]
  return x_key or "seed", y_key

def phase_diagram(runs:list[dict], flags:dict, out:Path, x_key:str, y_key:str|None) -> Path:
  """A grid of two swept flags (phase_axes; one row if y_key is None), each cell coloured by the median steps to 95% test
  accuracy of its runs (seeds and any other swept flag), with how many of them got there."""
  xs, ys = listed(flags[x_key]), listed(flags[y_key]) if y_key else [None]
  median, text = np.full((len(ys), len(xs)), np.nan), np.full((len(ys), len(xs)), "not run", dtype=object)
  for i, y in enumerate(ys):
    for j, x in enumerate(xs):
      cell = [r for r in runs if r[x_key] == x and (y_key is None or r[y_key] == y) and r["steps_to_95"] != "not run"]
      if not cell: continue
      steps = [r["steps_to_95"] if isinstance(r["steps_to_95"], int) else np.inf for r in cell]
      grokked = sum(np.isfinite(steps))
      median[i, j] = np.median(steps)
      text[i, j] = (f"{median[i, j]:.0f}" if np.isfinite(median[i, j]) else "did not grok") + f"\n{grokked}/{len(cell)}"
  return save(phase_figure(median, text, xs, ys, flag(x_key), flag(y_key) if y_key else ""), out)

@cli.guarded
def main(argv:list[str]|None=None):
  parser = cli.ArgumentParser(prog="python -m tinyarith.sweep", description="Merge the slices of a sweep (each trained with "
                              "--shard I/N) into its summary (sweep.json), phase diagram (phase.png) and overlaid curves (loss.png).")
  parser.add_argument("sweep_dirs", nargs="+", type=Path, help="the slices' sweep directories (the same one if they shared a disk)")
  parser.add_argument("-o", "--out", type=Path, help="where to write them (default: the first SWEEP_DIR)")
  parser.add_argument("--axes", nargs=2, choices=[k for k in SWEPT], metavar="FLAG",
                      help=f"the phase diagram's x and y: two of {', '.join(SWEPT)} (default: the first two swept besides seed)")
  args = parser.parse_args(argv)
  out = args.out or args.sweep_dirs[0]
  runs = merge(args.sweep_dirs, out, tuple(args.axes) if args.axes else None)
  print(report(runs))
  ran = any(r["steps_to_95"] != "not run" for r in runs)  # merge draws only the runs that ran
  print(f"wrote {out / SWEEP_RECORD}" + (f", {out / 'phase.png'}, {out / 'loss.png'}" if ran else " (no run has run: no pictures)"))

if __name__ == "__main__": main()
