"""The argument pieces both experiments share, and the one error path for bad input: one line on stderr, exit 2."""
import argparse, json, math, os, sys
from pathlib import Path
from typing import Callable, NoReturn
from tinygrad import Device
from tinyarith.checkpoint import CheckpointError
from tinyarith.model import Config, Transformer
from tinyarith.train import Interrupted, Diverged, adamw

def fail(message:str, code:int=2) -> NoReturn:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(code)

class ArgumentParser(argparse.ArgumentParser):
  def __init__(self, **kwargs): super().__init__(formatter_class=argparse.ArgumentDefaultsHelpFormatter, **kwargs)
  def error(self, message:str) -> NoReturn: fail(message)  # argparse would print the whole usage first

def checked(kind:type, ok:Callable, must:str) -> Callable[[str], object]:
  """An argparse type: parse with kind, then insist on ok(value); argparse names the flag in the error."""
  def parse(text:str):
    try: value = kind(text)
    except ValueError: raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    if not ok(value): raise argparse.ArgumentTypeError(f"must be {must}, got {text}")
    return value
  return parse

POSITIVE_INT = checked(int, lambda v: v > 0, "a positive integer")
POSITIVE = checked(float, lambda v: math.isfinite(v) and v > 0, "a positive number")
NON_NEGATIVE = checked(float, lambda v: math.isfinite(v) and v >= 0, "a non-negative number")
BETA = checked(float, lambda v: 0 <= v < 1, "in [0, 1)")
SEED = checked(int, lambda v: v >= 0, "a non-negative integer")
FRACTION = checked(float, lambda v: 0 < v < 1, "strictly between 0 and 1")

def add_model_args(parser:argparse.ArgumentParser):
  g = parser.add_argument_group("model")
  g.add_argument("--n-layers", type=POSITIVE_INT, default=1, help="transformer blocks")
  g.add_argument("--d-model", type=POSITIVE_INT, default=128, help="width of the residual stream")
  g.add_argument("--n-heads", type=POSITIVE_INT, default=4, help="attention heads (must divide --d-model)")
  g.add_argument("--d-mlp", type=POSITIVE_INT, default=512, help="hidden width of the MLP")
  g.add_argument("--layernorm", action=argparse.BooleanOptionalAction, default=False, help="pre-norm LayerNorm")
  g.add_argument("--pos", choices=("learned", "rope"), default="learned", help="learned position embeddings or rotary")

# flags that may change when a run is resumed: how long it runs and how often it reports
RESUMABLE = {"steps", "eval_every", "ckpt_every", "out", "resume"}

def add_train_args(parser:argparse.ArgumentParser):
  g = parser.add_argument_group("training")
  g.add_argument("--lr", type=POSITIVE, default=1e-3, help="AdamW learning rate")
  g.add_argument("--beta1", type=BETA, default=0.9, help="AdamW beta1")
  g.add_argument("--beta2", type=BETA, default=0.98, help="AdamW beta2")
  g.add_argument("--weight-decay", type=NON_NEGATIVE, default=1.0, help="AdamW decoupled weight decay")
  g.add_argument("--steps", type=POSITIVE_INT, default=1000, help="optimizer steps")
  g.add_argument("--eval-every", type=POSITIVE_INT, default=100, help="steps between reads of the train/test loss and accuracy")
  g.add_argument("--ckpt-every", type=POSITIVE_INT, help="steps between checkpoints (default: at every evaluation)")
  g.add_argument("--seed", type=SEED, default=0, help="seeds the initialisation, the data split and the batch order")
  g.add_argument("--out", help="run directory (default: runs/<name from the flags>)")
  g.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint, with its flags; "
                 "only --steps, --eval-every and --ckpt-every may change")

def parse_args(parser:argparse.ArgumentParser) -> argparse.Namespace:
  """Parse the command line; with --resume, the run's saved flags are the defaults and must not be contradicted.
  Also checks that DEV names a device that opens here."""
  args = parser.parse_args()
  if getattr(args, "resume", None):
    if args.out: fail("--resume continues the run in its own directory: drop --out")
    try: saved = json.loads((Path(args.resume) / "config.json").read_text())["args"]
    except (OSError, ValueError, KeyError, TypeError) as e: fail(f"--resume {args.resume}: not a run directory with a readable config.json ({e})")
    parser.set_defaults(**{k: v for k, v in saved.items() if k not in ("out", "resume")})
    args = parser.parse_args()
    if diff := [k for k, v in saved.items() if k not in RESUMABLE and getattr(args, k, v) != v]:
      fail(f"--resume {args.resume}: the run was trained with --{diff[0].replace('_', '-')} {saved[diff[0]]}, not {getattr(args, diff[0])}")
  try: Device[Device.DEFAULT]
  except Exception as e: fail(f"DEV={Device.DEFAULT} cannot be opened here ({str(e).splitlines()[-1] if str(e) else type(e).__name__}); `python -m tinygrad.device` lists what works")
  return args

def run_dir(args:argparse.Namespace, default:str) -> Path:
  """The run directory: --resume's, or --out (default: runs/<default>), created; a fresh run never overwrites a checkpointed one."""
  if args.resume: return Path(args.resume)
  out = Path(args.out or f"runs/{default}")
  if (out / "checkpoint.json").exists(): fail(f"--out {out} already holds a run: continue it with --resume {out}, or choose another --out")
  try: out.mkdir(parents=True, exist_ok=True)
  except OSError as e: fail(f"--out {out}: cannot create the run directory ({e.strerror}: {e.filename})")
  if not os.access(out, os.W_OK): fail(f"--out {out}: the run directory is not writable")
  args.out = str(out)  # config.json records where the run went
  return out

def build_model(args:argparse.Namespace, vocab:int, ctx_len:int, n_out:int|None=None) -> tuple[Config, Transformer, object]:
  """The Config from the model flags, a Transformer initialised from --seed, and its AdamW from the training flags."""
  if args.d_model % args.n_heads: fail(f"--n-heads {args.n_heads} must divide --d-model {args.d_model}")
  if args.pos == "rope" and args.d_model // args.n_heads % 2: fail(f"--pos rope needs an even head size, and --d-model / --n-heads is {args.d_model // args.n_heads}")
  cfg = Config(vocab=vocab, ctx_len=ctx_len, n_layers=args.n_layers, d_model=args.d_model, n_heads=args.n_heads,
               d_mlp=args.d_mlp, layernorm=args.layernorm, pos=args.pos, n_out=n_out)
  model = Transformer(cfg, seed=args.seed)
  return cfg, model, adamw(model, args.lr, args.beta1, args.beta2, args.weight_decay)

def guarded(main:Callable[[], None]) -> Callable[[], None]:
  """Run main. A ValueError from the library (bad input it found) becomes the one-line error (exit 2); a diverged run
  exits 1; an interrupted one says how to resume and exits 128 + the signal's number, as a shell does."""
  def run():
    try: main()
    except CheckpointError as e: fail(f"--resume: {e}")
    except ValueError as e: fail(str(e))
    except Diverged as e:
      print(file=sys.stderr)  # off the progress bar's line
      fail(str(e), 1)
    except Interrupted as e:
      print(f"\ninterrupted at step {e.step}; checkpoint and plot written. Resume with: python {sys.argv[0]} --resume {e.out_dir}", file=sys.stderr)
      sys.exit(128 + e.signum)
    except KeyboardInterrupt:
      print("\nstopped at once: the run can resume from its last checkpoint, and every metrics row logged is kept", file=sys.stderr)
      sys.exit(130)
  return run
