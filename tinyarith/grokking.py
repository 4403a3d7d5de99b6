"""Grokking: a 1-layer transformer memorises modular arithmetic on a fraction of the pairs, then generalises.
Defaults are the setup of Nanda et al. 2023, "Progress measures for grokking via mechanistic interpretability".

  from tinyarith import grokking
  rows = grokking.run(p=53, train_frac=0.4, lr=3e-3, steps=3000, out="runs/notebook")  # the flags' names and defaults
  grokking.main()                                                                       # experiments/grokking.py"""
import os
from dataclasses import asdict, dataclass
import numpy as np
from tinygrad import Tensor
from tinyarith import cli, measures, sweep
from tinyarith.config import RunConfig
from tinyarith.device import check_device
from tinyarith.errors import BadInput
from tinyarith.loss import IGNORE, target_span
from tinyarith.metrics import summary
from tinyarith.model import Config
from tinyarith.rundir import make_run_dir
from tinyarith.settings import check_types, check_unpacked, defaults_of, resolve
from tinyarith.train import Data, train

# ---- the problems: a op b mod p, for every pair

MODULAR_OPS = {  # name -> (f(a, b, p) on int64 arrays, which pairs exist)
  "+": (lambda a, b, p: (a + b) % p, None),
  "-": (lambda a, b, p: (a - b) % p, None),
  "*": (lambda a, b, p: (a * b) % p, None),
  "/": (lambda a, b, p: (a * np.array([pow(int(x), -1, p) for x in b], dtype=np.int64)) % p, lambda b, p: np.gcd(b, p) == 1),
  "x2+y2": (lambda a, b, p: (a * a + b * b) % p, None),
}
OP_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div", "x2+y2": "sqsum"}  # for run directory names

@dataclass(frozen=True)
class ProblemSettings:
  p: int = 113            # the modulus; tokens are 0..p-1 and "=" is p
  op: str = "+"
  train_frac: float = 0.3  # of all pairs; the rest is the test set
  batch_size: int | None = None  # training pairs a step, drawn afresh each step without replacement; None: all (full batch)
  def __post_init__(self):
    check_types(self)
    if self.batch_size is not None and self.batch_size < 1: raise BadInput("batch_size", f"must be a positive integer, got {self.batch_size}")
    if self.p < 2: raise BadInput("p", f"the modulus must be at least 2, got {self.p}")
    if self.op not in MODULAR_OPS: raise BadInput("op", f"unknown op {self.op!r}, choose from {', '.join(MODULAR_OPS)}")
    if not 0 < self.train_frac < 1: raise BadInput("train_frac", f"must be strictly between 0 and 1, got {self.train_frac}")

def modular_table(p:int, op:str="+") -> tuple[np.ndarray, np.ndarray]:
  """Every pair as tokens [a, b, =] with = being token p, and its label (a op b) mod p. Division keeps the b invertible mod p.
  Returns tokens (N, 3) and labels (N,)."""
  ProblemSettings(p, op)
  if (need := 4 * p**3) > (memory := os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")):  # float32 logits, p per pair
    raise BadInput("p", f"{p} is too large: the logits of its {p * p:.3g} pairs alone take {need / 2**30:.3g} GiB, and this machine "
                        f"has {memory / 2**30:.3g} GiB")
  f, exists = MODULAR_OPS[op]
  a, b = (g.ravel().astype(np.int64) for g in np.meshgrid(np.arange(p), np.arange(p), indexing="ij"))
  if exists is not None: a, b = a[keep := exists(b, p)], b[keep]
  return np.stack([a, b, np.full_like(a, p)], axis=1), f(a, b, p)

def modular_split(p:int, op:str, train_frac:float, seed:int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """A seeded permutation of the table cut at train_frac: each pair is in exactly one of train and test.
  Returns x_train, y_train, x_test, y_test; x is (N, 3) tokens, y is (N, 3) targets with only the last position kept."""
  ProblemSettings(p, op, train_frac)
  tokens, labels = modular_table(p, op)
  n_train = int(train_frac * len(tokens))
  if not 0 < n_train < len(tokens): raise BadInput("train_frac", f"{train_frac} of {len(tokens)} pairs leaves train or test empty")
  targets = np.full_like(tokens, IGNORE)
  targets[:, -1] = labels  # the model reads the answer off the '=' position
  perm = np.random.default_rng(seed).permutation(len(tokens))
  train, test = perm[:n_train], perm[n_train:]
  return tokens[train], targets[train], tokens[test], targets[test]

# ---- the run: settings, then training

DEFAULTS = {**defaults_of(Config, RunConfig, ProblemSettings), "steps": 25000, "resume": None, "shard": None, "devices": None}

def variant(settings:dict) -> str:
  """What sets a run's directory name apart from the default recipe's: -stablemax, -float32, -grokfast2 (its lamb), -adam,
  -batch512, -emb1 (its --emb-std), -logattn, -warmup100, -cosine."""
  s = settings
  names = [s["loss"] != "softmax" and s["loss"], s["loss_dtype"] != "float64" and s["loss_dtype"],
           s["grokfast_lamb"] > 0 and f"grokfast{s['grokfast_lamb']:g}", s["optimizer"] != "adamw" and s["optimizer"],
           s["batch_size"] and f"batch{s['batch_size']}", s["emb_std"] is not None and f"emb{s['emb_std']:g}",
           s["attn_scale"] == "log" and "logattn", s["warmup"] and f"warmup{s['warmup']}", s["decay"] != "none" and s["decay"]]
  return "".join(f"-{name}" for name in names if name)

def config_of(settings:dict) -> RunConfig:
  """The RunConfig of one run's settings; its directory is --resume's, or --out, or runs/<a name from the settings>."""
  check_unpacked(settings["pos"])
  # first: the model's shape comes from p
  data = asdict(ProblemSettings(settings["p"], settings["op"], settings["train_frac"], settings["batch_size"]))
  name = f"grokking-{OP_NAMES[data['op']]}-p{data['p']}-seed{settings['seed']}{variant(settings)}"
  out = settings["resume"] or settings["out"] or f"runs/{name}"
  return RunConfig.from_flags({**settings, "out": out}, "grokking", data, vocab=data["p"] + 1, ctx_len=3, n_out=data["p"])

def split_of(run:RunConfig): return modular_split(run.data["p"], run.data["op"], run.data["train_frac"], run.seed)

def minibatches(x:np.ndarray, y:np.ndarray, size:int, rng:np.random.Generator):
  """A function that returns the next step's batch: size rows of x, y drawn without replacement, each step afresh."""
  if size > len(x): raise BadInput("batch_size", f"must be at most the {len(x)} training pairs, got {size}")
  def batch() -> tuple[Tensor, Tensor]:
    rows = rng.choice(len(x), size, replace=False)
    return Tensor(x[rows]), Tensor(y[rows])
  return batch

def run(**settings) -> list[dict]:
  """Train from Python: settings by the flags' names (p=31, train_frac=[0.3, 0.5], seed=range(3), shard="0/2", ...), the
  rest their defaults; resume="DIR" goes on with a run or sweep, with its own settings but for steps, eval_every,
  ckpt_every. A bad setting raises BadInput (a ValueError) naming it, as the command line refuses the flag. Returns a run's
  metrics rows or, when a setting holds a list, the sweep's runs' outcomes (as in its sweep.json)."""
  settings = resolve(settings, DEFAULTS, tuple(sweep.SWEPT))
  check_device()
  table = modular_table(settings["p"])[0] if settings["op"] == "+" else None  # the progress measures: a + b only
  if sweep.is_sweep(settings):
    if settings["batch_size"]: raise BadInput("batch_size", "draws one run's minibatches; a sweep trains each run on its full batch")
    measure = table is not None and (lambda model, splits: measures.tracker(model, table, [s[0] for s in splits], stacked=True))
    name = f"grokking-{OP_NAMES[settings['op']]}-p{settings['p']}{variant(settings)}"
    return sweep.run(settings, name, config_of, split_of, measure or None)
  for name in ("shard", "devices"):
    if settings[name]: raise BadInput(name, "splits a sweep (a setting given a list); this is one run")
  run, resume = config_of(settings), bool(settings["resume"])
  x_train, y_train, x_test, y_test = split_of(run)
  rng = np.random.default_rng((run.seed, 1)) if run.data["batch_size"] else None  # not the split's stream
  next_batch = minibatches(x_train, y_train, run.data["batch_size"], rng) if rng else None
  out = make_run_dir(run, resume)
  print(f"{len(x_train)} train / {len(x_test)} test pairs of a {run.data['op']} b mod {run.data['p']}; writing {out}/")
  train_set, test_set = (Tensor(x_train), Tensor(y_train)), (Tensor(x_test), Tensor(y_test))
  model, opt = run.build()
  rows = train(model, opt, Data(next_batch or (lambda: train_set), {"train": train_set, "test": test_set}, span=target_span(y_train, y_test),
                                extra_metrics=measures.tracker(model, table, [x_train]) if table is not None else None, rng=rng), run, resume)
  print(summary(rows))
  print(f"wrote {out}/config.json, metrics.jsonl, checkpoint.json, model.safetensors, loss.png" + (", progress.png" * (table is not None)))
  return rows

# ---- the command line

def parser() -> cli.ArgumentParser:
  parser = cli.ArgumentParser(prog="experiments/grokking.py", description=__doc__.split("\n\n")[0])
  g = parser.add_argument_group("data")
  cli.option(g, "p", DEFAULTS, "the modulus; tokens are 0..p-1 and '=' is p", type=int)
  cli.option(g, "op", DEFAULTS, "a op b mod p (/ keeps b invertible mod p)", choices=list(MODULAR_OPS))
  cli.option(g, "train-frac", DEFAULTS, "fraction of all pairs to train on; the rest is the test set" + cli.SWEEP, type=cli.values(float))
  cli.option(g, "batch-size", DEFAULTS, "training pairs a step, drawn afresh each step without replacement (default: all of them, "
             "the full batch; one run, not a sweep)", type=int)
  cli.add_model_args(parser, DEFAULTS)
  cli.add_train_args(parser, DEFAULTS, sweep=True)
  return parser

@cli.guarded
def main(argv:list[str]|None=None): run(**cli.parse(parser(), argv))
