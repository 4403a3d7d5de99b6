"""Grokking: a 1-layer transformer memorises modular arithmetic on a fraction of the pairs, then generalises.
Defaults are the setup of Nanda et al. 2023, "Progress measures for grokking via mechanistic interpretability".
experiments/grokking.py is its command line; run() the same from Python, with the same defaults:

  from tinyarith.grokking import run
  rows = run(p=31, train_frac=0.5, lr=1e-2, weight_decay=3, steps=1000, eval_every=25, out="runs/notebook")"""
import argparse
from tinygrad import Tensor
from tinyarith import cli, progress, sweep
from tinyarith.config import RunConfig
from tinyarith.data import OPS, modular_split
from tinyarith.errors import BadInput
from tinyarith.loss import target_span
from tinyarith.metrics import summary
from tinyarith.train import Data, train

OP_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div", "x2+y2": "sqsum"}  # for run directory names

def parser() -> cli.ArgumentParser:
  parser = cli.ArgumentParser(prog="experiments/grokking.py", description=__doc__.split("\nexperiments/")[0])
  g = parser.add_argument_group("data")
  g.add_argument("--p", type=int, default=113, help="the modulus; tokens are 0..p-1 and '=' is p")
  g.add_argument("--op", choices=list(OPS), default="+", help="a op b mod p (/ keeps b invertible mod p)")
  g.add_argument("--train-frac", type=cli.values(float), default=0.3, help="fraction of all pairs to train on; the rest is the test set" + cli.SWEEP)
  cli.add_model_args(parser)
  cli.add_train_args(parser, sweep=True)
  parser.set_defaults(steps=25000, eval_every=100)
  return parser

def variant(args) -> str:
  """What sets a run's directory name apart from the default recipe's: -stablemax, -float32, -grokfast2 (its lamb)."""
  return ((args.loss != "softmax") * f"-{args.loss}" + (args.loss_dtype != "float64") * f"-{args.loss_dtype}"
          + (args.grokfast_lamb > 0) * f"-grokfast{args.grokfast_lamb:g}")

def config_of(args) -> RunConfig:
  return cli.run_config(args, "grokking", {"p": args.p, "op": args.op, "train_frac": args.train_frac},
                        f"grokking-{OP_NAMES[args.op]}-p{args.p}-seed{args.seed}{variant(args)}", vocab=args.p + 1, ctx_len=3, n_out=args.p)

def split_of(run:RunConfig): return modular_split(run.data["p"], run.data["op"], run.data["train_frac"], run.seed)

def train_flags(args:argparse.Namespace) -> list[dict]:
  """Train what the flags say: a run (returns its metrics rows) or, when a flag holds a list, a sweep (returns its runs'
  outcomes, as in its sweep.json)."""
  measure = (lambda model, splits: progress.tracker(model, args.p, [s[0] for s in splits], stacked=True)) if args.op == "+" else None
  if sweep.is_sweep(vars(args)): return sweep.run(args, f"grokking-{OP_NAMES[args.op]}-p{args.p}{variant(args)}", config_of, split_of, measure)
  for name in ("shard", "devices"):
    if getattr(args, name): raise BadInput(name, "splits a sweep (a flag given a list); this is one run")
  run = config_of(args)
  x_train, y_train, x_test, y_test = split_of(run)
  out = cli.make_run_dir(run, resume=bool(args.resume))
  print(f"{len(x_train)} train / {len(x_test)} test pairs of a {args.op} b mod {args.p}; writing {out}/")
  train_set, test_set = (Tensor(x_train), Tensor(y_train)), (Tensor(x_test), Tensor(y_test))
  model, opt = run.build()
  rows = train(model, opt, Data(lambda: train_set, {"train": train_set, "test": test_set}, span=target_span(y_train, y_test),
                                extra_metrics=progress.tracker(model, args.p, [x_train]) if args.op == "+" else None), run, resume=bool(args.resume))
  print(summary(rows))
  print(f"wrote {out}/config.json, metrics.jsonl, checkpoint.json, model.safetensors, loss.png" + (", progress.png" if args.op == "+" else ""))
  return rows

def run(**settings) -> list[dict]:
  """Train from Python: settings are the command line's flags by name (p=31, train_frac=[0.3, 0.5], seed=range(3),
  shard="0/2", ...), the rest its defaults; resume="DIR" goes on with a run or sweep, with its own settings but for steps,
  eval_every, ckpt_every. They pass through the command line's parser and checks (cli.argv_of), so bad settings raise
  BadInput (a ValueError) naming the setting, as the command line refuses them. Returns a run's metrics rows, or a
  sweep's outcomes."""
  parse = parser()
  return train_flags(cli.parse_args(parse, cli.argv_of(parse, settings)))

@cli.guarded
def main(): train_flags(cli.parse_args(parser()))
