"""The argument pieces both experiments share, and the one error path for bad input: one line on stderr, exit 2."""
import argparse, sys
from typing import Callable, NoReturn
from tinyarith.model import Config, Transformer
from tinyarith.train import adamw

def fail(message:str) -> NoReturn:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)

class ArgumentParser(argparse.ArgumentParser):
  def __init__(self, **kwargs): super().__init__(formatter_class=argparse.ArgumentDefaultsHelpFormatter, **kwargs)
  def error(self, message:str) -> NoReturn: fail(message)  # argparse would print the whole usage first

def add_model_args(parser:argparse.ArgumentParser):
  g = parser.add_argument_group("model")
  g.add_argument("--n-layers", type=int, default=1, help="transformer blocks")
  g.add_argument("--d-model", type=int, default=128, help="width of the residual stream")
  g.add_argument("--n-heads", type=int, default=4, help="attention heads (must divide --d-model)")
  g.add_argument("--d-mlp", type=int, default=512, help="hidden width of the MLP")
  g.add_argument("--layernorm", action=argparse.BooleanOptionalAction, default=False, help="pre-norm LayerNorm")
  g.add_argument("--pos", choices=("learned", "rope"), default="learned", help="learned position embeddings or rotary")

def add_train_args(parser:argparse.ArgumentParser):
  g = parser.add_argument_group("training")
  g.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
  g.add_argument("--beta1", type=float, default=0.9, help="AdamW beta1")
  g.add_argument("--beta2", type=float, default=0.98, help="AdamW beta2")
  g.add_argument("--weight-decay", type=float, default=1.0, help="AdamW decoupled weight decay")
  g.add_argument("--steps", type=int, default=1000, help="optimizer steps")
  g.add_argument("--eval-every", type=int, default=100, help="steps between reads of the train/test loss and accuracy")
  g.add_argument("--seed", type=int, default=0, help="seeds the initialisation and the data")
  g.add_argument("--out", help="run directory (default: runs/<name from the flags>)")

def build_model(args:argparse.Namespace, vocab:int, ctx_len:int, n_out:int|None=None) -> tuple[Config, Transformer, object]:
  """The Config from the model flags, a Transformer initialised from --seed, and its AdamW from the training flags."""
  for flag in ("steps", "eval_every", "lr"):
    if getattr(args, flag) <= 0: fail(f"--{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}")
  try: cfg = Config(vocab=vocab, ctx_len=ctx_len, n_layers=args.n_layers, d_model=args.d_model, n_heads=args.n_heads,
                    d_mlp=args.d_mlp, layernorm=args.layernorm, pos=args.pos, n_out=n_out)
  except ValueError as e: fail(str(e))
  model = Transformer(cfg, seed=args.seed)
  return cfg, model, adamw(model, args.lr, args.beta1, args.beta2, args.weight_decay)

def guarded(main:Callable[[], None]) -> Callable[[], None]:
  """Run main; a ValueError from the library (bad input it found) becomes the one-line error."""
  def run():
    try: main()
    except ValueError as e: fail(str(e))
  return run
