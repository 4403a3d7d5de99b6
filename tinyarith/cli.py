"""The command line both experiments share: their flags, --resume, the run directory, and the one error path for bad input
(one line on stderr, exit 2). Values are checked where they are used (RunConfig, Config, the data); this module names the flag."""
import argparse, json, os, platform, re, shlex, shutil, signal, sys, threading
from pathlib import Path
from typing import Callable, NoReturn
from tinygrad import Device, Tensor
from tinygrad.helpers import DEV
from tinyarith.config import LATER, RunConfig
from tinyarith.loss import LOSSES, LOSS_DTYPES
from tinyarith.model import POSITIONS
from tinyarith import files
from tinyarith.errors import BadInput, DiskFull, Diverged, Interrupted, Stop

def fail(message:str, code:int=2) -> NoReturn:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(code)

def flag(field:str) -> str: return "--" + field.replace("_", "-")

class ArgumentParser(argparse.ArgumentParser):
  """argparse's, with its errors raised as BadInput naming the setting (guarded prints them as one line, without the usage
  argparse prints first; the Python API raises them), and any value that begins with a minus and a digit read as a value:
  argparse takes --lr -1e-3, --shard -1/3 and --ask -3+4 for a flag missing its value."""
  def __init__(self, **kwargs):
    super().__init__(formatter_class=argparse.ArgumentDefaultsHelpFormatter, **kwargs)
    self._negative_number_matcher = re.compile(r"^-\.?\d")  # no flag of ours begins with a digit
  def error(self, message:str) -> NoReturn:
    if m := re.fullmatch(r"argument (?:-\w/)?--([\w-]+): (.*)", message, re.S): raise BadInput(m[1].replace("-", "_"), m[2])
    raise BadInput(None, message)

UNPACKED = tuple(p for p in POSITIONS if p != "abacus")  # the --pos choices of an experiment that does not pack digit places
POSITION_HELP = {"learned": "learned position embeddings", "rope": "rotary", "none": "none (NoPE: only the causal mask orders tokens)",
                 "abacus": "abacus (each digit's place in its number, McLeish et al. 2024)"}

def add_model_args(parser:argparse.ArgumentParser, positions:tuple[str, ...]=UNPACKED):
  """The model's flags; positions: the --pos choices (abacus needs an experiment that packs digit places: the calculator)."""
  g = parser.add_argument_group("model")
  g.add_argument("--n-layers", type=int, default=1, help="transformer blocks")
  g.add_argument("--d-model", type=int, default=128, help="width of the residual stream")
  g.add_argument("--n-heads", type=int, default=4, help="attention heads (must divide --d-model)")
  g.add_argument("--d-mlp", type=int, default=512, help="hidden width of the MLP")
  g.add_argument("--layernorm", action=argparse.BooleanOptionalAction, default=False, help="pre-norm LayerNorm")
  g.add_argument("--pos", choices=positions, default="learned", help=", ".join(POSITION_HELP[p] for p in positions))

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
    if len(set(items)) < len(items): raise argparse.ArgumentTypeError(f"{text!r} lists a value twice")
    return items[0] if len(items) == 1 else items
  parse.__name__ = kind.__name__  # for argparse's "invalid int value" on an unknown error
  return parse

SWEEP = "; a list (a,b,c) sweeps"  # the help of a flag a sweep may list

def add_train_args(parser:argparse.ArgumentParser, sweep:bool=False):
  """The optimizer's and the loop's flags. sweep=True: --lr, --weight-decay and --seed take lists (values), and --shard and
  --devices split a sweep across machines and devices (tinyarith.sweep)."""
  number, integer, more = (values(float), values(int), SWEEP) if sweep else (float, int, "")
  g = parser.add_argument_group("training")
  g.add_argument("--lr", type=number, default=1e-3, help="AdamW learning rate" + more)
  g.add_argument("--beta1", type=float, default=0.9, help="AdamW beta1")
  g.add_argument("--beta2", type=float, default=0.98, help="AdamW beta2")
  g.add_argument("--weight-decay", type=number, default=1.0, help="AdamW decoupled weight decay" + more)
  g.add_argument("--steps", type=int, default=1000, help="optimizer steps")
  g.add_argument("--eval-every", type=int, default=100, help="steps between reads of the train/test loss and accuracy")
  g.add_argument("--ckpt-every", type=int, help="steps between checkpoints (default: at every evaluation)")
  g.add_argument("--seed", type=integer, default=0,
                 help="seeds the initialisation, the data split and the batch order" + more + (more and ", and so does a range 0-9"))
  g.add_argument("--loss", choices=LOSSES, default="softmax", help="the cross-entropy of softmax, or of StableMax (Prieto et al. 2025), "
                 "whose s(x) = x + 1 above 0 and 1/(1 - x) below grows linearly, not exponentially")
  g.add_argument("--loss-dtype", choices=list(LOSS_DTYPES), default="float64",
                 help="; ".join(f"{k}: {v}" for k, v in LOSS_DTYPES.items()) + " (the spikes of the blog post this project started from); "
                 "the logged losses are always the accurate ones")
  g.add_argument("--grokfast-alpha", type=float, default=0.98, help="Grokfast-EMA (Lee et al. 2024): the decay of the gradients' moving average")
  g.add_argument("--grokfast-lamb", type=float, default=0.0,
                 help="Grokfast-EMA: how much of the moving average is added to each gradient (0: off; the paper's 2)")
  g.add_argument("--out", help="run directory (default: runs/<name from the flags>)")
  g.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint, with its flags"
                 + (" (or every run of the sweep in a sweep's directory)" if sweep else "") + "; "
                 "only --steps, --eval-every and --ckpt-every may change" + (" (and --shard, --devices)" if sweep else ""))
  if sweep:
    g = parser.add_argument_group("sweeps (a flag given a list: each combination of the values is a run, all trained as one model)")
    g.add_argument("--shard", type=shard, metavar="I/N", help="I/N: train only the I-th of N equal slices of the sweep's runs (I from 0), "
                   "e.g. one per machine; python -m tinyarith.sweep merges the slices' directories")
    g.add_argument("--devices", type=lambda s: tuple(s.split(",")), help="devices to split the runs across, e.g. CUDA:0,CUDA:1 "
                   "(default: the one DEV names)")

GPT_DEFAULTS = dict(n_layers=4, layernorm=True, pos="rope", beta2=0.999, weight_decay=0.01, steps=5000, eval_every=250)  # seed 000's GPT

def add_problem_args(g:argparse._ArgumentGroup, example:str):
  """The flags of an experiment whose problems are drawn afresh each step and answered by greedy decoding (addition, calculator)."""
  g.add_argument("--batch-size", type=int, default=256, help="training problems per step, drawn fresh each step")
  g.add_argument("--ask", help=f"a question like '{example}' for the model saved in --run")
  g.add_argument("--run", help="run directory whose model --ask uses")

def parse_gpt_args(parser:argparse.ArgumentParser, ask:Callable[[str, str], None], positions:tuple[str, ...]=UNPACKED) -> argparse.Namespace|None:
  """Add the model's (with these --pos choices) and training's flags with GPT_DEFAULTS and parse the command line; with
  --ask, answer the question with ask(question, run_dir) and return None."""
  add_model_args(parser, positions)
  add_train_args(parser)
  parser.set_defaults(**GPT_DEFAULTS)
  args = parse_args(parser)
  if args.ask is None and args.run: raise BadInput("run", "names the run whose model --ask asks: give --ask too (a new run goes in --out)")
  if args.ask is None: return args
  if not args.run: raise BadInput("run", "--ask needs --run RUN_DIR")
  ask(args.ask, args.run)

def print_answer(question:str, answer, true, written:str, step:int|None):
  """--ask's line: the model's answer beside the true one, what it wrote, and which weights wrote it."""
  weights = "model.safetensors" if step is None else f"step {step}"
  print(f"{question}={answer}  (true {true}, {'right' if answer == true else 'WRONG'}; the model wrote {written}; weights of {weights})")

def shard(text:str) -> tuple[int, int]:
  if not (m := re.fullmatch(r"(\d+)/(\d+)", text.strip())): raise argparse.ArgumentTypeError(f"{text!r} is not I/N, e.g. 0/4")
  index, count = map(int, m.groups())
  if not 0 <= index < count: raise argparse.ArgumentTypeError(f"{text} is out of range: I must be 0 to {count - 1} for N = {count}")
  return index, count

RESUMABLE = {"steps", "eval_every", "ckpt_every", "shard", "devices"}  # how long a run goes on, how often it reports and
                                                                   # where it runs may change on --resume

def parse_args(parser:argparse.ArgumentParser, argv:list[str]|None=None) -> argparse.Namespace:
  """Parse argv (default: the command line); with --resume, the run's saved settings are the defaults and must not be
  contradicted. Also checks that DEV names a device that opens here. Bad input is BadInput naming the flag's dest."""
  args = parser.parse_args(argv)
  for name in ("out", "resume"):
    if getattr(args, name, None) == "": raise BadInput(name, "an empty path names no directory")
  if getattr(args, "resume", None):
    if args.out: raise BadInput("out", "--resume continues the run in its own directory: drop --out")
    try: saved = saved_flags(Path(args.resume))
    except (OSError, ValueError, KeyError, TypeError) as e:
      raise BadInput("resume", f"{args.resume}: not a run directory with a readable config.json, nor a sweep's with a sweep.json ({e})") from None
    parser.set_defaults(**{k: v for k, v in saved.items() if k != "out"})
    args = parser.parse_args(argv)
    if diff := [k for k, v in saved.items() if k not in RESUMABLE | {"out"} and getattr(args, k, v) != v]:
      raise BadInput(diff[0], f"{args.resume} was trained with {flag(diff[0])} {shown(saved[diff[0]])}, not {shown(getattr(args, diff[0]))}")
  check_device()
  return args

def argv_of(parser:argparse.ArgumentParser, settings:dict) -> list[str]:
  """The command line that says what settings say, by flag dest (p=31, train_frac=[0.3, 0.5], seed=range(3), layernorm=True,
  out=Path(...)): the Python API's settings go through the parser and its checks as the command line's do. None: the default."""
  actions = {a.dest: a for a in parser._actions if a.option_strings}
  if unknown := sorted(settings.keys() - actions.keys()): raise TypeError(f"unknown settings {unknown}: see {sorted(actions)}")
  argv = []
  for name, value in settings.items():
    if value is None: continue
    option = next(o for o in actions[name].option_strings if o.startswith("--"))  # --out of -o/--out; --layernorm of its --no-
    if isinstance(actions[name], argparse.BooleanOptionalAction):
      if not isinstance(value, bool): raise BadInput(name, f"must be True or False, got {value!r}")
      argv.append(option if value else option.replace("--", "--no-", 1))
      continue
    if isinstance(value, (list, tuple, range)):
      if not len(value): raise BadInput(name, "an empty list names no value")
      value = ",".join(map(str, value))
    argv.append(f"{option}={value}")  # with "=": a value may begin with a minus
  return argv

SWEEP_RECORD = "sweep.json"  # in a sweep's directory: the flags it was started with, and each run's outcome (tinyarith.sweep)

def saved_flags(out_dir:Path) -> dict:
  """The flags, by dest, that a run (its config.json) or a sweep (its sweep.json) was started with."""
  if not (out_dir / "config.json").exists() and (out_dir / SWEEP_RECORD).exists():
    return {**LATER, **json.loads((out_dir / SWEEP_RECORD).read_text())["flags"]}  # LATER: a sweep begun before those flags
  return RunConfig.from_dict(json.loads((out_dir / "config.json").read_text())).flags()

def shown(value) -> str: return ",".join(map(str, value)) if isinstance(value, list) else str(value)

NO_DEVICE = "install a C compiler and an OpenCL driver (apt-get install -y clang pocl-opencl-icd)"

def check_device():
  """Open the device: DEV's, else the first that works here. The CPU device compiles with the clang binary; where there is
  none (a bare machine after pip install), tinygrad's own X86 code generator stands in, which needs nothing outside pip."""
  chosen = os.environ.get("DEV") or None  # DEV="" is unset, for tinygrad too
  try: opens(Device.DEFAULT)
  except Exception as e:
    if chosen is None: return use_x86()
    raise BadInput(None, f"DEV={chosen} cannot be opened here ({why(e)}); `python -m tinygrad.device` lists what works") from None
  if Device.DEFAULT == "CPU" and type(Device["CPU"].renderer).__name__ == "ClangRenderer" and shutil.which("clang") is None:
    if chosen is not None: raise BadInput(None, f"DEV={chosen} needs the clang binary: {NO_DEVICE}")
    use_x86()

def why(e:Exception) -> str: return str(e).splitlines()[-1] if str(e) else type(e).__name__  # a device error's last line

def opens(device:str):
  """Run one small kernel on device and read its result back: a device that opens but cannot compile (DEV=CL:99) or
  cannot copy out (DEV=NULL) fails here, before the run writes anything."""
  if (Tensor([1.0], device=device) + 1).item() != 2.0: raise RuntimeError(f"1 + 1 is not 2 on {device}")

def use_x86():
  if platform.machine() not in ("x86_64", "AMD64"): raise BadInput(None, f"tinygrad found no device to run on: {NO_DEVICE}")
  DEV.value = os.environ["DEV"] = "CPU:X86"  # os.environ too: for the processes tinygrad spawns
  try: opens(Device.DEFAULT)
  except Exception: raise BadInput(None, f"tinygrad found no device to run on: {NO_DEVICE}") from None
  print(f"note: no clang and no OpenCL driver here, so tinygrad's X86 code generator runs on the CPU; for the faster clang: {NO_DEVICE}",
        file=sys.stderr)

def run_config(args:argparse.Namespace, experiment:str, data:dict, default_out:str, **shape) -> RunConfig:
  """The RunConfig of the flags; shape gives the model's vocab, ctx_len and n_out, which the data sets. The run directory is
  --resume's, or --out (default: runs/<default_out>)."""
  return RunConfig.from_flags({**vars(args), "out": args.resume or args.out or f"runs/{default_out}"}, experiment, data, **shape)

def make_run_dir(run:RunConfig, resume:bool) -> Path:
  """The run directory, created; a fresh run never overwrites a checkpointed one, nor one that another process writes
  (train() holds the lock; this says so before the run builds anything)."""
  out, field = Path(run.out), "resume" if resume else "out"
  files.check_free(out, field)
  if not resume and (out / "checkpoint.json").exists():
    raise BadInput("out", f"{out} already holds a run: continue it with --resume {shlex.quote(str(out))}, or choose another --out")
  files.make_dir(out, field)
  return out

def guarded(main:Callable[[], None]) -> Callable[[], None]:
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

def resume_command(out_dir:Path) -> str: return f"python {shlex.quote(sys.argv[0])} --resume {shlex.quote(str(out_dir))}"
