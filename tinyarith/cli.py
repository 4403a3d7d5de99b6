"""The command line, on top of the library: the experiments' flags (their defaults read from the settings' own, shown in
--help and otherwise left to run()), --ask, and the one error path: bad input is one line on stderr naming the flag, exit 2;
a stop says what was kept. The library raises; only this module and the commands that use it exit."""
import argparse, re, shlex, signal, sys, threading
from typing import Callable, NoReturn
from tinyarith.abacus import SCHEMES
from tinyarith.config import DECAYS, MIN_LR, OPTIMIZERS
from tinyarith.device import check_device
from tinyarith.errors import BadInput, DiskFull, Diverged, Interrupted, Stop, flag
from tinyarith.loss import LOSSES, LOSS_DTYPES
from tinyarith.model import ATTN_SCALES, POSITIONS
from tinyarith.rundir import load_run
from tinyarith.settings import as_text

def fail(message:str, code:int=2) -> NoReturn:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(code)

class ArgumentParser(argparse.ArgumentParser):
  """argparse's, with its errors raised as BadInput naming the setting (guarded prints them as one line, without the usage
  argparse prints first), and any value that begins with a minus and a digit read as a value: argparse takes --lr -1e-3,
  --shard -1/3 and --ask -3+4 for a flag missing its value."""
  def __init__(self, **kwargs):
    super().__init__(formatter_class=argparse.ArgumentDefaultsHelpFormatter, **kwargs)
    self._negative_number_matcher = re.compile(r"^-\.?\d")  # no flag of ours begins with a digit
  def error(self, message:str) -> NoReturn:
    if m := re.fullmatch(r"argument (?:-\w/)?--([\w-]+): (.*)", message, re.S): raise BadInput(m[1].replace("-", "_"), m[2])
    raise BadInput(None, message)

def option(group, name:str, defaults:dict, help:str, **kwargs):
  """--name, its help ending in the default that defaults holds for it. A flag not given is left out of the parsed flags
  (argparse.SUPPRESS), so that run() knows which settings the command line set: a resume takes the rest from its run."""
  if (default := defaults.get(name.replace("-", "_"))) is not None: help += f" (default: {as_text(default)})"
  group.add_argument(f"--{name}", default=argparse.SUPPRESS, help=help, **kwargs)

MOST_VALUES = 10**6  # values one flag may list

def values(kind:type) -> Callable[[str], object]:
  """The argparse type of a flag a sweep may list: "0.3" is one value; "0.2,0.3,0.5" several, and for integers "0-9" a
  range, both ends included, as a list. A bad item is an error naming it; argparse adds the flag."""
  what = "an integer" if kind is int else "a number"
  def parse(text:str):
    items = []
    for part in text.split(","):
      if kind is int and re.fullmatch(r"\d+-\d+", part.strip()):
        low, high = map(int, part.split("-"))
        if low > high: raise argparse.ArgumentTypeError(f"the range {part} is empty (write low-high)")
        if high - low >= MOST_VALUES:  # before the list grows: the sweep checks its memory only once the flags are read
          raise argparse.ArgumentTypeError(f"the range {part} lists {high - low + 1:,} values, more than the {MOST_VALUES:,} a flag may list")
        items += range(low, high + 1)
        continue
      try: items.append(kind(part))
      except ValueError: raise argparse.ArgumentTypeError(f"{part!r} is not {what}" + (f", in the list {text!r}" if "," in text else "")) from None
    return items[0] if len(items) == 1 else items
  parse.__name__ = kind.__name__  # for argparse's "invalid int value" on an unknown error
  return parse

SWEEP = "; a list (a,b,c) sweeps"  # the help of a flag a sweep may list
POSITION_HELP = {"learned": "learned position embeddings", "rope": "rotary", "none": "none (NoPE: only the causal mask orders tokens)",
                 "abacus": "abacus (each digit's place in its number, McLeish et al. 2024)",
                 "coupled": "coupled (position coupling, Cho et al. 2024: abacus's places, the operator and '=' beside the "
                            "units digit, and in the plain format both operands zero-padded to one length)"}
UNPACKED = tuple(p for p in POSITIONS if p not in SCHEMES)  # the --pos choices of an experiment that does not pack digit places

def add_model_args(parser:argparse.ArgumentParser, defaults:dict, positions:tuple[str, ...]=UNPACKED):
  """The model's flags; positions: the --pos choices (abacus and coupled need an experiment that packs digit places: the calculator)."""
  g = parser.add_argument_group("model")
  option(g, "n-layers", defaults, "transformer blocks", type=int)
  option(g, "d-model", defaults, "width of the residual stream", type=int)
  option(g, "n-heads", defaults, "attention heads (must divide --d-model)", type=int)
  option(g, "d-mlp", defaults, "hidden width of the MLP", type=int)
  option(g, "layernorm", defaults, "pre-norm LayerNorm", action=argparse.BooleanOptionalAction)
  option(g, "emb-std", defaults, "std of the token and position embeddings at initialisation (default: 0.02 with --layernorm, "
         "1/sqrt(d_model) without; PyTorch's nn.Embedding draws them with std 1)", type=float)
  option(g, "attn-scale", defaults, "attention scores q.k/sqrt(d_head) (sqrt), or that times log n, n the keys a query sees "
         "(log: Scalable-Softmax, Nakanishi 2025, with its learned factor left to the query weights), which holds attention as "
         "sharp on sequences longer than the trained ones", choices=ATTN_SCALES)
  option(g, "pos", defaults, ", ".join(POSITION_HELP[p] for p in positions), choices=positions)

def add_train_args(parser:argparse.ArgumentParser, defaults:dict, sweep:bool=False):
  """The optimizer's and the loop's flags. sweep=True: --lr, --weight-decay and --seed take lists (values), and --shard and
  --devices split a sweep across machines and devices (tinyarith.sweep)."""
  number, integer, more = (values(float), values(int), SWEEP) if sweep else (float, int, "")
  g = parser.add_argument_group("training")
  option(g, "optimizer", defaults, "adamw: Adam with decoupled weight decay; adam: with L2 weight decay added to the gradient "
         "(torch.optim.Adam's, the Grokfast paper's)", choices=OPTIMIZERS)
  option(g, "lr", defaults, "learning rate" + more, type=number)
  option(g, "beta1", defaults, "Adam beta1", type=float)
  option(g, "beta2", defaults, "Adam beta2", type=float)
  option(g, "weight-decay", defaults, "weight decay (see --optimizer)" + more, type=number)
  option(g, "warmup", defaults, "steps over which the learning rate rises linearly to --lr (0: none)", type=int)
  option(g, "decay", defaults, f"the learning rate after warm-up: constant (none), or a half cosine down to {MIN_LR:g} of --lr at the "
         "last step of the --steps given (cosine, nanoGPT's; a resume to more steps stretches it)", choices=DECAYS)
  option(g, "steps", defaults, "optimizer steps", type=int)
  option(g, "eval-every", defaults, "steps between reads of the train/test loss and accuracy", type=int)
  option(g, "ckpt-every", defaults, "steps between checkpoints (default: at every evaluation)", type=int)
  option(g, "seed", defaults, "seeds the initialisation, the data split and the batch order" + more + (more and ", and so does a range 0-9"),
         type=integer)
  option(g, "loss", defaults, "the cross-entropy of softmax, or of StableMax (Prieto et al. 2025), whose s(x) = x + 1 above 0 and "
         "1/(1 - x) below grows linearly, not exponentially", choices=LOSSES)
  option(g, "loss-dtype", defaults, "; ".join(f"{k}: {v}" for k, v in LOSS_DTYPES.items()) + " (the spikes of the blog post this "
         "project started from); the logged losses are always the accurate ones", choices=list(LOSS_DTYPES))
  option(g, "grokfast-alpha", defaults, "Grokfast-EMA (Lee et al. 2024): the decay of the gradients' moving average", type=float)
  option(g, "grokfast-lamb", defaults, "Grokfast-EMA: how much of the moving average is added to each gradient (0: off; the paper's 2)",
         type=float)
  option(g, "out", defaults, "run directory (default: runs/<name from the flags>)")
  option(g, "resume", defaults, "continue the run in RUN_DIR from its last checkpoint, with its flags"
         + (" (or every run of the sweep in a sweep's directory)" if sweep else "") + "; only --steps, --eval-every and --ckpt-every "
         "may change" + (" (and --shard, --devices)" if sweep else ""), metavar="RUN_DIR")
  if sweep:
    g = parser.add_argument_group("sweeps (a flag given a list: each combination of the values is a run, all trained as one model)")
    option(g, "shard", defaults, "I/N: train only the I-th of N equal slices of the sweep's runs (I from 0), e.g. one per machine; "
           "python -m tinyarith.sweep merges the slices' directories", metavar="I/N")
    option(g, "devices", defaults, "devices to split the runs across, e.g. CUDA:0,CUDA:1 (default: the one DEV names)")

def add_drawn_problem_args(g:argparse._ArgumentGroup, defaults:dict, example:str):
  """The flags of an experiment whose problems are drawn afresh each step and answered by greedy decoding (addition, the
  calculator): --batch-size, and --ask and --run, a question for a trained run's model instead of training."""
  option(g, "batch-size", defaults, "training problems per step, drawn fresh each step", type=int)
  g.add_argument("--ask", help=f"a question like '{example}' for the model saved in --run")
  g.add_argument("--run", help="run directory whose model --ask uses")

def parse(parser:argparse.ArgumentParser, argv:list[str]|None=None) -> dict:
  """The flags given on the command line (default: sys.argv), by setting name; those not given are left out."""
  return vars(parser.parse_args(argv))

QUESTION = re.compile(r"\s*(\d+)\s*(\S)\s*(\d+)\s*")  # a op b

def ask(flags:dict, experiment:str, example:str, knows:Callable[[dict], tuple[str, int]],
        answer:Callable[[dict, object, str, int, int], tuple[str, str, str]]) -> bool:
  """Answer --ask with the newest model of --run's run and return True; False when flags hold no --ask (and no --run).
  knows(config) -> the operators the run's model learned and the most digits an operand may have; answer(config, model,
  op, a, b) -> its answer, the true one and the tokens it wrote."""
  question, run_dir = flags.pop("ask", None), flags.pop("run", None)
  if question is None and run_dir: raise BadInput("run", "names the run whose model --ask asks: give --ask too (a new run goes in --out)")
  if question is None: return False
  if not run_dir: raise BadInput("run", "--ask needs --run RUN_DIR")
  check_device()
  config, model, step = load_run(run_dir)
  if config.get("experiment") != experiment:
    raise BadInput("run", f"{run_dir} is a {config.get('experiment')} run, not {'an' if experiment[0] in 'aeiou' else 'a'} {experiment} run")
  quoted = f"{question[:40]!r}{'...' if len(question) > 40 else ''}"
  if not (m := QUESTION.fullmatch(question)): raise BadInput("ask", f"wants a question like '{example}', got {quoted}")
  ops, longest = knows(config)
  if m[2] not in ops: raise BadInput("ask", f"{m[2]!r} is not an operator this model learned: it knows {' '.join(ops)}")
  if max(len(m[1].lstrip("0")), len(m[3].lstrip("0"))) > longest:  # before int(): Python refuses to parse 4,300 digits or more
    raise BadInput("ask", f"this model's context holds operands of up to {longest} digits, got {quoted}")
  a, op, b = int(m[1]), m[2], int(m[3])
  if op == "/" and b == 0: raise BadInput("ask", f"{question.strip()!r} divides by zero")
  given, true, written = answer(config, model, op, a, b)
  weights = "model.safetensors" if step is None else f"step {step}"
  print(f"{a}{op}{b}={given}  (true {true}, {'right' if given == true else 'WRONG'}; the model wrote {written}; weights of {weights})")
  return True

def guarded(main:Callable[..., None]) -> Callable[..., None]:
  """Run main. Bad input (BadInput, from wherever the library found it) is one line naming its flag, exit 2; a diverged
  run or a full disk exits 1; an interrupt (SIGINT, or SIGTERM: raised as Stop wherever the training loop does not catch
  it first) says what was kept and how to go on, and exits 128 + the signal's number, as a shell does. Any other exception
  is a bug and keeps its traceback."""
  def run(*args):
    sys.stdout.reconfigure(errors="surrogateescape")  # a path that is not valid UTF-8 prints as the bytes it is
    before = signal.signal(signal.SIGTERM, stop) if threading.current_thread() is threading.main_thread() else None
    try: main(*args)
    except BadInput as e: fail(f"{flag(e.field)}: {e.message}" if e.field else e.message)
    except DiskFull as e:
      print(file=sys.stderr)
      hint = "" if e.saved is None else f": free some space, then resume with: {resume_command(e.out_dir)}"
      kept = "no checkpoint was written" if e.saved is None else f"the last good checkpoint is step {e.saved}, and the metrics logged so far are kept"
      fail(f"{e}; {kept}{hint}", 1)
    except Diverged as e:
      print(file=sys.stderr)  # off the progress bar's line
      fail(str(e), 1)
    except Interrupted as e:
      if e.saved is None: print(f"\ninterrupted at step {e.step}, before any checkpoint was written: there is nothing to resume", file=sys.stderr)
      else:
        drawn = "the plot is written" if e.plotted else "its pictures were not all drawn (the resume draws them)"
        print(f"\ninterrupted at step {e.step}; its last checkpoint is step {e.saved}, and {drawn}. Resume with: {resume_command(e.out_dir)}",
              file=sys.stderr)
      sys.exit(128 + e.signum)
    except KeyboardInterrupt as e:
      print("\nstopped before training began: this command wrote no checkpoint (any from before are kept)", file=sys.stderr)
      sys.exit(128 + getattr(e, "signum", signal.SIGINT))
    finally:
      if before is not None: signal.signal(signal.SIGTERM, before)
  return run

def stop(signum, frame): raise Stop()

def resume_command(out_dir) -> str: return f"python {shlex.quote(sys.argv[0])} --resume {shlex.quote(str(out_dir))}"
