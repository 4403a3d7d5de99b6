"""One training loop for every experiment: JIT'd train and eval steps, metrics, config, checkpoint and plot in a run directory."""
import json, math, signal, sys, threading, time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Callable
import numpy as np
from tinygrad import Tensor, TinyJit, Context, Device
from tinygrad.helpers import tqdm
from tinygrad.engine import worker
from tinygrad.nn.state import get_state_dict
from tinyarith.batches import Batch, chunks, pad_rows
from tinyarith.loss import IGNORE, cross_entropy, correct, kept_axes
from tinyarith import checkpoint, files
from tinyarith.config import RunConfig, scheduled, set_lr
from tinyarith.errors import BadInput, Diverged, Interrupted
from tinyarith.figures import draw_run
from tinyarith.metrics import MetricsLog, read_metrics
from tinyarith.stepcache import KeptJit, model_key

SYNC_EVERY = 4  # steps queued on the device at most: the bar counts finished steps, and a stop waits for no more than these
def make_train_step(model, opt, span:slice=slice(None), runs:bool=False, loss:str="softmax",
                    loss_dtype:str="float64") -> Callable[[Tensor, Tensor], Tensor]:
  """A JIT'd step on a batch x, y (B, T) whose kept targets all lie in the positions span (see loss.target_span), returning
  its loss (loss.cross_entropy's of that kind and dtype). With runs=True the model is a stack of runs (model.stack), x, y
  are (R, B, T) and the loss is each run's, (R,). An opt.grokfast filters the gradients first (tinyarith.grokfast), then
  an opt.l2 adds its weight decay to them (config.optimizer)."""
  @TinyJit
  @Context(TRAINING=1)
  def train_step(x:Tensor, y:Tensor) -> Tensor:
    opt.zero_grad()
    x, y = pad_rows(x, y)
    value = cross_entropy(model(x, span), y[..., span], runs, loss, loss_dtype)
    (value.sum() if runs else value).backward()  # the runs' weights are apart, so each gets its own loss's gradient
    state = opt.grokfast.filter(opt.params) if hasattr(opt, "grokfast") else []
    if hasattr(opt, "l2"):
      for p in opt.params: p.grad = p.grad + opt.l2 * p.detach()
    return value.realize(*state, *opt.schedule_step())
  key = model_key(model, opt, getattr(opt, "grokfast", None), span=str(span), runs=runs, loss=loss, loss_dtype=loss_dtype, l2=hasattr(opt, "l2"))
  return KeptJit(train_step, "train", key, lambda: checkpoint.training_state(model, opt))

def make_evaluator(model, span:slice=slice(None), runs:bool=False, loss:str="softmax") -> Callable[[list[Batch]], tuple]:
  """evaluate(chunks(x, y)) -> (loss, accuracy) over the kept targets of the set x, y (each run's, two (R,) arrays, with
  runs=True: see make_train_step). The loss is the accurate one of its kind whatever dtype the run trains with: a curve
  shows what the model does, not float32's rounding. Each chunk runs through a JIT'd step (one per chunk shape) that sums
  the loss, the right answers and the kept targets; the host adds the sums up."""
  def sums(x:Tensor, y:Tensor) -> Tensor:
    logits, y = model(x, span), y[..., span]
    kept = (y != IGNORE).sum(kept_axes(y, runs))
    value, hits = cross_entropy(logits, y, runs, loss) * kept, correct(logits, y, runs)  # counts, not fractions × kept: exact
    Tensor.realize(value, hits, kept)  # together: realizing them one by one, or stacking them first, ran the forward pass for each
    return Tensor.stack(value, hits.cast(value.dtype), kept.cast(value.dtype), dim=-1).realize()  # (3,) or (R, 3): one read per chunk
  steps: dict[tuple, KeptJit] = {}
  key = model_key(model, span=str(span), runs=runs, loss=loss)
  def evaluate(parts:list[Batch]) -> tuple:
    total = 0
    for x, y in parts:
      if x.shape not in steps: steps[x.shape] = KeptJit(TinyJit(sums), "eval", key, lambda: get_state_dict(model))
      total = total + steps[x.shape](x, y).numpy()
    return total[..., 0] / np.maximum(total[..., 2], 1), total[..., 1] / np.maximum(total[..., 2], 1)
  evaluate.steps = steps  # the captured step of each chunk shape
  return evaluate

def drop_compile_workers():
  """Kill tinygrad's pool of compile workers and forget it (a later compile starts a new one). A SIGTERM sent to the whole
  process group (timeout, a batch scheduler) reaches the workers too, and a pool whose idle worker died waits at exit,
  for good, for the lock that worker held: the run checkpointed, then hung."""
  if (pool := worker.worker_pool) is None: return
  pool._terminate.cancel()  # that wait is in the pool's finalizer
  for process in pool._pool: process.kill()
  worker.worker_pool = None

@contextmanager
def stop_requests():
  """Yields a list that SIGINT or SIGTERM appends its number to, for the loop to honour after its step; a second signal
  raises KeyboardInterrupt at once. The handlers before are restored after."""
  stop = []
  def on_signal(signum, frame):
    if stop: raise KeyboardInterrupt
    stop.append(signum)
  main = threading.current_thread() is threading.main_thread()  # only it may set handlers
  handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
  try: yield stop
  finally:
    for s, handler in handlers.items(): signal.signal(s, handler)
    if stop: drop_compile_workers()

@dataclass
class Data:
  """What the loop trains and evaluates on."""
  next_batch: Callable[[], Batch]                 # the batch of the next step: drawn afresh, or the same full batch
  eval_sets: dict[str, Batch]                     # name -> a whole set, evaluated in one step ("train", "test")
  span: slice = field(default_factory=lambda: slice(None))  # the positions that hold every kept target (loss.target_span)
  extra_metrics: Callable[[], dict|list[dict]] | None = None  # more metrics for each evaluation's row (addition: exact match;
                                                              # grokking: progress measures), a list: each stacked run's
  rng: np.random.Generator | None = None          # the generator next_batch draws from, kept in checkpoints

def train(model, opt, data:Data, run:RunConfig|list[RunConfig], resume:bool=False) -> list[dict]|list[list[dict]]:
  """Train for run.steps steps, evaluating every run.eval_every steps (and at 0 and the end) on each of data's eval sets
  (loss and accuracy over its kept targets), plus whatever data.extra_metrics() returns.
  A checkpoint (tinyarith.checkpoint) is written every run.ckpt_every steps (default: at every evaluation), at the end
  and on SIGINT/SIGTERM, which then raise Interrupted. resume=True continues from run.out's checkpoint: the metrics rows
  logged after it are dropped and logged again. A non-finite loss or weight raises Diverged, leaving the last good checkpoint.
  A full disk raises DiskFull, and keeps what was written before. One process at a time writes a run directory (files.locked).
  Leaves run.out/{config.json (the RunConfig, tinygrad and numpy versions, device), metrics.jsonl, checkpoint.json and its
  tensors, model.safetensors, loss.png (and progress.png: plot.draw_run)}; returns the metrics rows.
  A list of runs (a sweep: their directories in one, which Interrupted and DiskFull name) trains as one stack: model and opt
  are the stack (model.stack, config.adamw with lists), data's batches and sets hold every run's, (R, B, T) (stack_rows),
  and the runs share steps, eval_every and ckpt_every. Each run's directory is as it alone would leave it (--resume RUN_DIR
  goes on with that run alone); returns each run's rows."""
  runs = run if isinstance(run, list) else [run]
  out_dirs = [Path(r.out) for r in runs]
  with files.full_disk_is_diskfull(resume_dir(runs, isinstance(run, list)), lambda: checkpoint.saved_step(out_dirs)), ExitStack() as locks:
    for out_dir in out_dirs:
      out_dir.mkdir(parents=True, exist_ok=True)
      locks.enter_context(files.locked(out_dir, "resume" if resume else "out"))
    rows = train_locked(model, opt, data, runs, isinstance(run, list), resume)
  return rows if isinstance(run, list) else rows[0]

def resume_dir(runs:list[RunConfig], stacked:bool) -> Path:
  """What --resume takes to go on: the run's directory, or the sweep's, which holds its runs'."""
  return Path(runs[0].out).parent if stacked else Path(runs[0].out)

def logged_rows(out_dir:Path, first:int) -> list[dict]:
  """The rows a run resumed at step `first` keeps: those up to it. Without a metrics file the run can still go on."""
  if (out_dir / "metrics.jsonl").exists(): return [r for r in read_metrics(out_dir) if r["step"] <= first]
  print(f"warning: {out_dir / 'metrics.jsonl'} is missing: the rows before step {first} are lost, and the log starts again there",
        file=sys.stderr)
  return []

def bar_text(rows:list[list[dict]]) -> str:
  """The progress bar's description: the last losses of a run, or of a sweep their medians and how many runs are at 95%."""
  last = [r[-1] for r in rows]
  if len(last) == 1: return " ".join(f"{k} {v:.3g}" for k, v in last[0].items() if k.endswith(("_loss", "exact")))
  medians = " ".join(f"{k} {np.median([r[k] for r in last]):.3g}" for k in last[0] if k.endswith("_loss"))
  return f"median {medians}, test_acc>=0.95 in {sum(r.get('test_acc', 0) >= 0.95 for r in last)}/{len(last)}"

def train_locked(model, opt, data:Data, runs:list[RunConfig], stacked:bool, resume:bool) -> list[list[dict]]:
  run, out_dirs, first, elapsed = runs[0], [Path(r.out) for r in runs], 0, 0.0
  ckpt_every, where = run.ckpt_every or run.eval_every, resume_dir(runs, stacked)
  single = checkpoint.training_state(*run.build()) if stacked else None  # one run's state: what each run's checkpoint holds
  if resume:  # first: a bad checkpoint changes nothing
    records = checkpoint.load_runs(out_dirs, model, opt, single) if stacked else [checkpoint.load(where, model, opt, data.rng)]
    first, elapsed = records[0]["step"], records[0]["elapsed"]
    if first > run.steps: raise BadInput("steps", f"{where} already ran {first} steps: give a larger --steps to go on")
    if first == run.steps:  # a finished run, whose end a full disk or a signal may have cut short
      print(f"{where} already ran {first} steps: nothing to train; its model.safetensors and pictures are written again "
            "(give a larger --steps to go on)", file=sys.stderr)
  rows = [logged_rows(out_dir, first) if resume else [] for out_dir in out_dirs]  # later rows are logged again
  for r, out_dir in zip(runs, out_dirs):
    files.write_text(out_dir / "config.json", json.dumps({**r.to_dict(), "tinygrad": version("tinygrad"), "numpy": np.__version__,
                                                          "device": Device.DEFAULT}, indent=2) + "\n")
  logs = [MetricsLog(out_dir / "metrics.jsonl", kept if resume else None) for out_dir, kept in zip(out_dirs, rows)]
  evaluate_set = make_evaluator(model, data.span, stacked, run.loss)
  eval_chunks = {name: chunks(*eval_set) for name, eval_set in data.eval_sets.items()}
  train_step, start = make_train_step(model, opt, data.span, stacked, run.loss, run.loss_dtype), time.perf_counter() - elapsed
  step, saved = first, first if resume else None
  which = lambda r: f"the run {out_dirs[r].name}: " if stacked else ""
  def stopped(why:str) -> Diverged:
    kept = "no checkpoint was written" if saved is None else f"its last good checkpoint is step {saved} in {where}"
    return Diverged(f"{why}: the {'sweep' if stacked else 'run'} stopped; {kept}")

  def evaluate(step:int):
    sets = {name: evaluate_set(parts) for name, parts in eval_chunks.items()}  # (loss, acc), each (R,) when stacked
    extra, seconds = data.extra_metrics() if data.extra_metrics else {}, round(time.perf_counter() - start, 3)
    for r, (log, run_rows) in enumerate(zip(logs, rows)):
      row = {"step": step}
      for set_name, (loss, acc) in sets.items():
        row[f"{set_name}_loss"], row[f"{set_name}_acc"] = (float(v[r]) if stacked else float(v) for v in (loss, acc))
      row.update(extra[r] if isinstance(extra, list) else extra, elapsed=seconds)
      if run_rows: row = {k: row[k] for k in run_rows[0] if k in row}  # a resumed log keeps its columns (a run begun before a measure existed)
      log.write(row)
      run_rows.append(row)
    for r, run_rows in enumerate(rows):
      if bad := [k for k, v in run_rows[-1].items() if k.endswith("_loss") and not math.isfinite(v)]:
        raise stopped(f"{which(r)}{bad[0]} is {run_rows[-1][bad[0]]} at step {step}")

  def states() -> list[dict[str, np.ndarray]]:
    state = checkpoint.training_state(model, opt)
    return checkpoint.run_states(state, single) if stacked else [{k: t.numpy() for k, t in state.items()}]

  def save(step:int):
    nonlocal saved
    run_states = states()
    if bad := [r for r, state in enumerate(run_states) if not checkpoint.finite(state)]:
      raise stopped(f"{which(bad[0])}the weights are not finite at step {step}")
    for out_dir, state in zip(out_dirs, run_states):
      checkpoint.save(out_dir, state, step, round(time.perf_counter() - start, 3), data.rng, keep_previous=stacked)
    if stacked:  # every run has saved this step: the ones before may go
      for out_dir in out_dirs: checkpoint.drop_stale(out_dir)
    saved = step

  try:
    with stop_requests() as stop:
      if not resume:
        evaluate(0)
        save(0)
      elif not all(rows): evaluate(first)  # a metrics file was lost: its curve starts again at the checkpoint
      if stop: raise Interrupted(first, stop[0], where, saved)  # asked during the first evaluation, which compiles for minutes
      for step in (bar := tqdm(range(first + 1, run.steps + 1))):
        if scheduled(run): set_lr(opt, runs, step)
        train_step(*data.next_batch())  # losses are read only in evaluate
        if step % SYNC_EVERY == 0: Device[Device.DEFAULT].synchronize()
        if step % run.eval_every == 0 or step == run.steps:
          evaluate(step)
          bar.set_description(bar_text(rows))
        if step % ckpt_every == 0 or step == run.steps or stop: save(step)
        if stop: raise Interrupted(step, stop[0], where, saved)
    for out_dir, state in zip(out_dirs, states()):
      files.write_tensors(out_dir / "model.safetensors", {k.removeprefix("model."): a for k, a in state.items() if k.startswith("model.")})
  except KeyboardInterrupt as e: raise Interrupted(step, getattr(e, "signum", signal.SIGINT), where, saved) from None  # a second signal: at once
  finally:  # however the run ends, its log is closed and its plot drawn
    for log in logs:
      try: log.close()
      except OSError: pass  # a row a full disk cut short, already raised: read_metrics leaves out a last line without its newline
    try:
      for out_dir in out_dirs:
        try: draw_run(out_dir)
        except (ValueError, OSError) as e:
          if not files.disk_full(e): print(f"warning: no plot written: {e}", file=sys.stderr)
    except KeyboardInterrupt as e: raise Interrupted(step, getattr(e, "signum", signal.SIGINT), where, saved, plotted=False) from None
  return rows
