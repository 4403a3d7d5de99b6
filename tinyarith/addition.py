"""Addition: a GPT learns a+b=c with the answer's digits reversed and the loss masked on the prompt (as in seed 000),
and reports how often it gets every digit right on problems it never saw. --ask "123+456" --run RUN_DIR asks a trained one.

  from tinyarith import addition
  rows = addition.run(digits=2, n_layers=2, d_model=64, d_mlp=256, lr=2e-3, steps=500, out="runs/notebook")
  addition.main()                                                                   # experiments/addition.py"""
import argparse
from dataclasses import asdict, dataclass
from typing import Callable
import numpy as np
from tinygrad import Tensor
from tinyarith import cli
from tinyarith.config import RunConfig, check_memory
from tinyarith.decode import exact_match, make_greedy_decoder
from tinyarith.device import check_device
from tinyarith.errors import BadInput
from tinyarith.loss import target_span
from tinyarith.metrics import summary
from tinyarith.model import Config
from tinyarith.rundir import make_run_dir
from tinyarith.settings import GPT_DEFAULTS, check_types, check_unpacked, defaults_of, resolve
from tinyarith.train import Data, train
from tinyarith.vocab import EQUALS, PLUS, VOCAB, next_token_targets

# ---- the problems: a+b=c, operands zero-padded, the answer reversed

@dataclass(frozen=True)
class ProblemSettings:
  digits: int = 3                # per operand, 1 to 9: operands zero-padded to this, the answer to one more
  reverse: bool = True           # the answer least significant digit first
  test_size: int | None = None   # held-out problems; None: 10,000, or a fifth of all problems if fewer
  batch_size: int = GPT_DEFAULTS["batch_size"]  # training problems per step, drawn fresh each step
  def __post_init__(self): check_types(self)

def addition_tokens(a:np.ndarray, b:np.ndarray, digits:int, reverse:bool=True) -> np.ndarray:
  """Problems a+b with operands zero-padded to `digits` and the answer to digits+1, answer reversed (least significant digit
  first, the order the carry runs) unless reverse=False. Every problem then has the same 3*digits+3 tokens and each digit
  its fixed place. 13+51 at digits=2: "13+51=" + "460" (reversed 064). a, b (B,) -> tokens (B, 3*digits+3)"""
  def written_digits(x, n):  # (B,) -> (B, n), most significant first, as written
    return (x[:, None] // 10 ** np.arange(n - 1, -1, -1)) % 10
  answer = written_digits(a + b, digits + 1)
  if reverse: answer = answer[:, ::-1]
  sep = lambda tok: np.full((len(a), 1), tok)
  return np.concatenate([written_digits(a, digits), sep(PLUS), written_digits(b, digits), sep(EQUALS), answer], axis=1).astype(np.int64)

def answer_value(answer_tokens:np.ndarray, reverse:bool=True) -> np.ndarray:
  """The integers that answer digit tokens spell, undoing the reversal. (B, digits+1) -> (B,)"""
  if reverse: answer_tokens = answer_tokens[:, ::-1]
  return (answer_tokens * 10 ** np.arange(answer_tokens.shape[1] - 1, -1, -1)).sum(1)

def carries(a:np.ndarray, b:np.ndarray, digits:int) -> np.ndarray:
  """How many digit positions of a+b produce a carry. (B,) -> (B,)"""
  count, carry = np.zeros_like(a), np.zeros_like(a)
  for k in range(digits):
    carry = ((a // 10 ** k) % 10 + (b // 10 ** k) % 10 + carry) >= 10
    count += carry
  return count

class AdditionProblems:
  """A held-out test set of distinct problems, and a seeded stream of training problems that never produces one of them."""
  def __init__(self, digits:int, test_size:int|None, seed:int, batch_size:int=ProblemSettings.batch_size):
    """test_size None: 10,000 held-out problems, or a fifth of all problems if fewer."""
    if batch_size < 1: raise BadInput("batch_size", f"must be a positive integer, got {batch_size}")
    if not 1 <= digits <= 9: raise BadInput("digits", f"must be 1 to 9 (a problem is coded in a 64-bit integer), got {digits}")
    self.digits, self.n_pairs, self.batch_size = digits, 10 ** (2 * digits), batch_size
    test_size = min(10_000, self.n_pairs // 5) if test_size is None else test_size
    if not 0 < test_size <= self.n_pairs // 2:
      raise BadInput("test_size", f"must be in 1..{self.n_pairs // 2} (half of the {self.n_pairs} problems) at {digits} digits, got {test_size}")
    self.rng = np.random.default_rng(seed)
    self.held_out = np.sort(self.rng.choice(self.n_pairs, size=test_size, replace=False))  # problem a*10^digits + b

  def split(self, codes:np.ndarray) -> tuple[np.ndarray, np.ndarray]: return np.divmod(codes, 10 ** self.digits)
  def test(self) -> tuple[np.ndarray, np.ndarray]: return self.split(self.held_out)

  def sample(self, size:int|None=None) -> tuple[np.ndarray, np.ndarray]:
    """`size` (default: batch_size) training problems, uniform over all problems not held out."""
    size = size or self.batch_size
    codes = np.empty(0, dtype=np.int64)
    while len(codes) < size:
      draw = self.rng.integers(0, self.n_pairs, size=size - len(codes))
      found = self.held_out[np.minimum(np.searchsorted(self.held_out, draw), len(self.held_out) - 1)] == draw
      codes = np.concatenate([codes, draw[~found]])
    return self.split(codes)

def batch(a:np.ndarray, b:np.ndarray, digits:int, reverse:bool) -> tuple[Tensor, Tensor]:
  tokens = addition_tokens(a, b, digits, reverse)
  return Tensor(tokens), Tensor(next_token_targets(tokens))

# ---- the metrics: exact match of greedy answers

def addition_answers(decode, a:np.ndarray, b:np.ndarray, digits:int, reverse:bool) -> np.ndarray:
  """A greedy decoder's answer digits to a+b, in the order the model writes them. (B,) -> (B, digits+1)"""
  start = 2 * digits + 2  # after "a+b="
  prompt = addition_tokens(a, b, digits, reverse)
  prompt[:, start:] = 0
  return decode(prompt, start)[:, start:]

def addition_exact_match(model, a:np.ndarray, b:np.ndarray, digits:int, reverse:bool) -> Callable[[], dict]:
  """A metrics function for train(): exact match of the model's greedy answers to the problems a+b, overall, by number of
  carries and by operand length (the longer operand's digits)."""
  decode, expected = make_greedy_decoder(model), addition_tokens(a, b, digits, reverse)[:, 2 * digits + 2:]
  groups = {"carries": carries(a, b, digits), "operand_digits": np.maximum(*(np.char.str_len(x.astype(str)) for x in (a, b)))}
  return lambda: {f"test_{k}": v for k, v in exact_match(addition_answers(decode, a, b, digits, reverse), expected, groups).items()}

# ---- the run: settings, then training

DEFAULTS = {**defaults_of(Config, RunConfig, ProblemSettings), **GPT_DEFAULTS, "resume": None}
TRAIN_SAMPLE = 1000  # fixed training problems whose loss draws the train curve

def config_of(settings:dict) -> RunConfig:
  """The RunConfig of the settings; its directory is --resume's, or --out, or runs/<a name from the settings>."""
  check_unpacked(settings["pos"])
  data = asdict(ProblemSettings(*(settings[k] for k in ("digits", "reverse", "test_size", "batch_size"))))
  name = f"addition-{data['digits']}d-{'rev' if data['reverse'] else 'plain'}-seed{settings['seed']}"
  out = settings["resume"] or settings["out"] or f"runs/{name}"
  return RunConfig.from_flags({**settings, "out": out}, "addition", data, vocab=len(VOCAB), ctx_len=3 * data["digits"] + 3, n_out=10)

def run(**settings) -> list[dict]:
  """Train from Python: settings by the flags' names, the rest their defaults; resume="DIR" goes on with a run. A bad
  setting raises BadInput naming it. Returns the run's metrics rows."""
  settings = resolve(settings, DEFAULTS)
  check_device()
  run, resume = config_of(settings), bool(settings["resume"])
  digits, reverse = run.data["digits"], run.data["reverse"]
  check_memory(run, run.data["batch_size"], "batch_size")  # before a batch is drawn
  problems = AdditionProblems(digits, run.data["test_size"], run.seed, run.data["batch_size"])
  model, opt = run.build()
  test_a, test_b = problems.test()
  out = make_run_dir(run, resume)
  print(f"{digits}-digit addition, {'reversed' if reverse else 'plain'} answers, {len(test_a)} held-out problems; writing {out}/")
  train_sample, test_set = batch(*problems.sample(TRAIN_SAMPLE), digits, reverse), batch(test_a, test_b, digits, reverse)
  feed = Data(lambda: batch(*problems.sample(), digits, reverse), {"train": train_sample, "test": test_set},
              span=target_span(train_sample[1].numpy()),  # the "=" and the answer digits: the same positions in every problem
              extra_metrics=addition_exact_match(model, test_a, test_b, digits, reverse), rng=problems.rng)
  rows = train(model, opt, feed, run, resume)
  print(summary(rows))
  for name in ("carries", "operand_digits"):
    print(f"exact match by {name}: " + ", ".join(f"{k}: {v['exact']:.4f} (n={v['n']})" for k, v in rows[-1][f"test_exact_by_{name}"].items()))
  print(f"wrote {out}/config.json, metrics.jsonl, checkpoint.json, model.safetensors, loss.png")
  return rows

# ---- the command line

def knows(config:dict) -> tuple[str, int]: return "+", config["data"]["digits"]  # --ask: its operators, its longest operand

def answer(config:dict, model, op:str, a:int, b:int) -> tuple[str, str, str]:
  """--ask: the model's answer to a+b, the true one, and the digits it wrote."""
  written = addition_answers(make_greedy_decoder(model), np.array([a]), np.array([b]), config["data"]["digits"], config["data"]["reverse"])
  return str(int(answer_value(written, config["data"]["reverse"])[0])), str(a + b), "".join(map(str, written[0]))

def parser() -> cli.ArgumentParser:
  parser = cli.ArgumentParser(prog="experiments/addition.py", description=__doc__.split("\n\n")[0])
  g = parser.add_argument_group("data")
  cli.option(g, "digits", DEFAULTS, "digits per operand, 1 to 9 (operands zero-padded to this, the answer to one more)", type=int)
  cli.option(g, "reverse", DEFAULTS, "write the answer least significant digit first", action=argparse.BooleanOptionalAction)
  cli.option(g, "test-size", DEFAULTS, "held-out problems (default: 10000, or a fifth of all problems if fewer)", type=int)
  cli.add_drawn_problem_args(g, DEFAULTS, "123+456")
  cli.add_model_args(parser, DEFAULTS)
  cli.add_train_args(parser, DEFAULTS)
  return parser

@cli.guarded
def main(argv:list[str]|None=None):
  flags = cli.parse(parser(), argv)
  if not cli.ask(flags, "addition", "123+456", knows, answer): run(**flags)
