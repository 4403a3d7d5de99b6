"""tinyarith against the same model in PyTorch eager, in one run on one machine: train and eval steps/s, time to the first step.

  python bench/bench.py                       # every row; DEV=CPU|CL|CUDA picks tinygrad's device
  python bench/bench.py --rows grok-train addition-train --windows 7
  python bench/bench.py --rows sweep --sweep-runs 8 --sweep-p 23 59 113   # R separate runs against one sweep of R

Each rate is the median of --windows timed windows (about --window-s seconds each) after warm-up, with the device
synchronised before every clock read. The first-step rows run a fresh process and time it from launch to the end of
its first train step: with empty caches (tinygrad's CACHEDB, with tinyarith's programs and kept steps beside it, and POCL's
POCL_CACHE_DIR in a new folder), and with them warm. The peak-rss rows run each experiment's defaults for 300 steps from
empty caches and report its maximum resident set. The sweep
rows time grokking's train step for one run and for R seeds stacked into one model, in run-steps per second."""
import argparse, math, os, platform, statistics, subprocess, sys, tempfile, time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Callable
import numpy as np
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tinyarith.addition import AdditionProblems, addition_tokens
from tinyarith.grokking import modular_split
from tinyarith.vocab import VOCAB, next_token_targets
from tinyarith.loss import target_span
from tinyarith.model import Config

@dataclass
class Workload:
  cfg: Config
  opt: dict                                                   # AdamW hyperparameters
  next_batch: Callable[[], tuple[np.ndarray, np.ndarray]]     # tokens (B, T), targets (B, T)
  eval_set: tuple[np.ndarray, np.ndarray] | None = None
  fixed_batch: bool = False                                   # full batch: the same arrays every step

def grokking() -> Workload:  # experiments/grokking.py defaults: p=113, 30% of pairs, full batch
  x_train, y_train, x_test, y_test = modular_split(113, "+", 0.3, 0)
  return Workload(Config(vocab=114, ctx_len=3, n_out=113), dict(lr=1e-3, beta1=0.9, beta2=0.98, weight_decay=1.0),
                  lambda: (x_train, y_train), (x_test, y_test), fixed_batch=True)

def addition() -> Workload:  # experiments/addition.py defaults: 3 digits, batch 256, 4 layers, LayerNorm, RoPE
  problems = AdditionProblems(3, 10_000, 0)
  def next_batch():
    tokens = addition_tokens(*problems.sample(256), 3)
    return tokens, next_token_targets(tokens)
  return Workload(Config(vocab=len(VOCAB), ctx_len=12, n_layers=4, layernorm=True, pos="rope", n_out=10),
                  dict(lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.01), next_batch)

WORKLOADS = {"grok": grokking, "addition": addition}

# ---- the two frameworks: each gives (train step, eval step, sync) for a workload

def tinyarith_steps(w:Workload):
  from tinygrad import Tensor, Device
  from tinyarith.model import Transformer
  from tinyarith.config import adamw
  from tinyarith.batches import chunks
  from tinyarith.train import make_train_step, make_evaluator
  model = Transformer(w.cfg, seed=0)
  span = target_span(w.eval_set[1] if w.eval_set else w.next_batch()[1])  # fixed layouts: any batch shows the positions
  train_step = make_train_step(model, adamw(model, **w.opt), span)
  fixed = [Tensor(a).realize() for a in w.next_batch()] if w.fixed_batch else None
  def train(): train_step(*(fixed or [Tensor(a) for a in w.next_batch()]))
  evaluate, parts = make_evaluator(model, span), chunks(*(Tensor(a) for a in w.eval_set)) if w.eval_set else None
  return train, (lambda: evaluate(parts)), Device[Device.DEFAULT].synchronize

def torch_steps(w:Workload, span:bool=False):
  """PyTorch eager on the same model; span=True: its logits only at the positions that reach the loss, as tinyarith's."""
  import torch
  from bench.torch_model import Transformer, loss_and_accuracy
  device = "cuda" if os.environ.get("DEV", "").startswith(("CUDA", "NV")) and torch.cuda.is_available() else "cpu"
  torch.manual_seed(0)
  model = Transformer(w.cfg).to(device)
  opt = torch.optim.AdamW(model.parameters(), lr=w.opt["lr"], betas=(w.opt["beta1"], w.opt["beta2"]), weight_decay=w.opt["weight_decay"])
  as_torch = lambda arrays: [torch.from_numpy(a).long().to(device) for a in arrays]
  fixed = as_torch(w.next_batch()) if w.fixed_batch else None
  out = target_span(w.eval_set[1] if w.eval_set else w.next_batch()[1]) if span else slice(None)
  def train():
    x, y = fixed or as_torch(w.next_batch())
    opt.zero_grad(set_to_none=True)
    loss_and_accuracy(model(x, out), y[:, out])[0].backward()
    opt.step()
  evals = as_torch(w.eval_set) if w.eval_set else None
  @torch.no_grad()
  def evaluate(): loss_and_accuracy(model(evals[0], out), evals[1][:, out])
  return train, evaluate, (torch.cuda.synchronize if device == "cuda" else (lambda: None))

FRAMEWORKS = {"tinyarith": tinyarith_steps, "torch": torch_steps, "torch-span": lambda w: torch_steps(w, span=True)}

def rate(step:Callable[[], None], sync:Callable[[], None], windows:int, window_s:float, warmup:int=3) -> float:
  """steps/s: median over timed windows, after warm-up steps (tinygrad's JIT runs, captures, then replays)"""
  for _ in range(warmup): step()
  sync()
  t = time.perf_counter(); step(); sync()
  n = max(1, math.ceil(window_s / (time.perf_counter() - t)))
  times = []
  for _ in range(windows):
    sync(); t = time.perf_counter()
    for _ in range(n): step()
    sync(); times.append(time.perf_counter() - t)
  return n / statistics.median(times)

def first_step(framework:str, workload:str, env:dict) -> float:
  """seconds from launching a fresh process to the end of its first train step (it goes on to capture the step, as a run would)"""
  t = time.perf_counter()
  proc = subprocess.Popen([sys.executable, __file__, "--first-step-child", framework, workload], env={**os.environ, **env},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  for line in proc.stdout:
    if line.startswith("first step done"): seconds = time.perf_counter() - t
  if proc.wait(): sys.exit(f"first-step child failed:\n{proc.stderr.read()[-2000:]}")
  return seconds

def first_step_child(framework:str, workload:str):
  train, _, sync = FRAMEWORKS[framework](WORKLOADS[workload]())
  train(); sync()
  print("first step done", flush=True)
  for _ in range(2): train()  # capture (and keep) the step, as the first steps of a run do
  sync()

# Runs its arguments as a child and prints the child's maximum resident set. Linux counts into a process's maximum the
# resident set of the process it was forked from, at the fork, so the child is forked from this small process, not the bench.
MEASURE_RSS = "import os, subprocess, sys; child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); " \
              "_, status, usage = os.wait4(child.pid, 0); print(usage.ru_maxrss); sys.exit(os.waitstatus_to_exitcode(status))"

def peak_rss(experiment:str, steps:int=300) -> float:
  """GiB: the most memory a default run of experiments/<experiment>.py holds through its first `steps` steps and their
  evaluations (its maximum resident set, as /usr/bin/time -v reports it), on its first start: empty kernel caches."""
  with tempfile.TemporaryDirectory() as out:
    empty = {"CACHEDB": str(Path(out) / "cache.db"), "POCL_CACHE_DIR": str(Path(out) / "pocl")}
    proc = subprocess.run([sys.executable, "-c", MEASURE_RSS, sys.executable, str(ROOT / "experiments" / f"{experiment}.py"),
                           "--steps", str(steps), "--out", str(Path(out) / "run")], capture_output=True, text=True, env={**os.environ, **empty})
    if proc.returncode: sys.exit(f"{experiment} failed:\n{proc.stderr[-2000:]}")
  return int(proc.stdout) * (1 if sys.platform == "darwin" else 1024) / 2**30  # bytes on macOS, KiB on Linux

def sweep_steps(p:int, n_runs:int) -> tuple[Callable[[], None], Callable[[], None], Callable[[], None]]:
  """grokking's train step (defaults at modulus p) for one run, and for n_runs seeds stacked into one model
  (tinyarith.sweep); and the sync."""
  from tinygrad import Tensor, Device
  from tinyarith.config import RunConfig
  from tinyarith.batches import stack_rows
  from tinyarith.train import make_train_step
  from tinyarith import sweep
  runs = [RunConfig("grokking", Config(vocab=p + 1, ctx_len=3, n_out=p), {"p": p, "op": "+", "train_frac": 0.3}, seed=s) for s in range(n_runs)]
  splits = [modular_split(p, "+", 0.3, r.seed)[:2] for r in runs]
  one = make_train_step(*runs[0].build(), slice(2, 3))
  stacked = make_train_step(*sweep.build(runs), slice(2, 3), runs=True)
  x1, y1 = (Tensor(a).realize() for a in splits[0])
  xs, ys = (Tensor(a).realize() for a in stack_rows(splits))
  return (lambda: one(x1, y1)), (lambda: stacked(xs, ys)), Device[Device.DEFAULT].synchronize

def sweep_rates(p:int, n_runs:int, windows:int, window_s:float) -> tuple[float, float]:
  """Run-steps/s of one run, as each of n_runs separate runs goes, and of a sweep of n_runs stacked into one model."""
  one, stacked, sync = sweep_steps(p, n_runs)
  return rate(one, sync, windows, window_s), n_runs * rate(stacked, sync, windows, window_s)

ROWS = ["grok-train", "grok-eval", "addition-train", "first-step", "peak-rss", "sweep"]

def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--rows", nargs="+", choices=ROWS, default=ROWS)
  parser.add_argument("--windows", type=int, default=5)
  parser.add_argument("--window-s", type=float, default=3.0)
  parser.add_argument("--no-torch", action="store_true", help="tinyarith only")
  parser.add_argument("--sweep-runs", type=int, default=8, help="runs in the sweep rows' sweep")
  parser.add_argument("--sweep-p", type=int, nargs="+", default=[23, 59, 113], help="the sweep rows' moduli")
  parser.add_argument("--first-step-child", nargs=2, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.first_step_child: return first_step_child(*args.first_step_child)

  from tinygrad import Device
  frameworks = ["tinyarith"] + ([] if args.no_torch else ["torch", "torch-span"])
  torch_version = "-" if args.no_torch else version("torch")
  print(f"device {Device.DEFAULT}, tinygrad {version('tinygrad')}, torch {torch_version}, {os.cpu_count()} cpus, "
        f"{platform.processor() or platform.machine()}")
  results = []  # (row, unit, {framework: value}), higher is better for steps/s, lower for seconds
  for workload in ("grok", "addition"):
    kinds = [k for k in ("train", "eval") if f"{workload}-{k}" in args.rows]
    for framework in frameworks if kinds else []:
      train, evaluate, sync = FRAMEWORKS[framework](WORKLOADS[workload]())
      for kind in kinds:
        value = rate(train if kind == "train" else evaluate, sync, args.windows, args.window_s)
        row = next((r for r in results if r[0] == f"{workload} {kind}"), None) or results.append((f"{workload} {kind}", "steps/s", {})) or results[-1]
        row[2][framework] = value
        print(f"  {framework:10s} {workload} {kind}: {value:.3f} steps/s", flush=True)
  if "first-step" in args.rows:
    for workload in WORKLOADS:
      with tempfile.TemporaryDirectory() as tmp:
        kernels = {"CACHEDB": str(Path(tmp) / "cache.db"), "POCL_CACHE_DIR": str(Path(tmp) / "pocl")}  # POCL keeps its own
        for label in ("empty caches", "warm caches"):  # warm: the kernels and the captured step from the start before
          values = {"tinyarith": first_step("tinyarith", workload, kernels)}
          if "torch" in frameworks: values["torch"] = first_step("torch", workload, {})  # PyTorch keeps no cache: any start
          results.append((f"{workload} first step, {label}", "s", values))
          print(f"  {workload} first step, {label}: " + ", ".join(f"{k} {v:.1f} s" for k, v in values.items()), flush=True)

  if "peak-rss" in args.rows:
    for experiment in ("grokking", "addition"):
      results.append((f"{experiment}: peak memory, first start, 300 steps", "GiB", {"tinyarith": peak_rss(experiment)}))
      print(f"  {experiment} peak memory: {results[-1][2]['tinyarith']:.2f} GiB", flush=True)

  if "sweep" in args.rows:
    sweeps = []
    for p in args.sweep_p:
      sweeps.append((p, *sweep_rates(p, args.sweep_runs, args.windows, args.window_s)))
      print(f"  grok p={p}: one run {sweeps[-1][1]:.2f} steps/s, a sweep of {args.sweep_runs} {sweeps[-1][2]:.2f} run-steps/s", flush=True)
    print(f"\n| grokking train step, p | {args.sweep_runs} separate runs (run-steps/s) | one sweep of {args.sweep_runs} (run-steps/s) "
          "| sweep/separate |")
    print("|---|---|---|---|")
    for p, one, stacked in sweeps: print(f"| {p} | {one:.3g} | {stacked:.3g} | {stacked / one:.2f}x |")
    print("separate runs go one after another, each at one run's rate; a sweep trains its runs (seeds 0..) as one stacked model")
    if not results: return

  print(f"\n| {'':44s} | {'tinyarith':>10s} | {'PyTorch':>10s} | tinyarith/PyTorch | PyTorch, loss positions | tinyarith/that |")
  print(f"|{'-'*46}|{'-'*12}|{'-'*12}|{'-'*19}|{'-'*25}|{'-'*16}|")
  for name, unit, v in results:
    tiny = v.get("tinyarith")
    ratio = lambda ref: "" if ref is None else f"{(tiny / ref if unit == 'steps/s' else ref / tiny):.2f}x"
    fmt = lambda x: "-" if x is None else (f"{x:.3g}" if unit == "steps/s" else f"{x:.2f} GiB" if unit == "GiB" else f"{x:.1f} s")
    print(f"| {name + (' (steps/s)' if unit == 'steps/s' else ''):44s} | {fmt(tiny):>10s} | {fmt(v.get('torch')):>10s} | "
          f"{ratio(v.get('torch')):>17s} | {fmt(v.get('torch-span')) if 'torch-span' in v else '':>23s} | {ratio(v.get('torch-span')):>14s} |")
  print("ratio: tinyarith's speed over PyTorch's (above 1: tinyarith is faster); PyTorch, loss positions: the twin computing its\n"
        "last block and logits only where a target is, as tinyarith does; PyTorch has no kernel cache, its first-step rows are separate launches")

if __name__ == "__main__": main()
