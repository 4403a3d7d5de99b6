"""A run's settings in one object: the model, the optimizer, how long and how often, the seed, the data and where it goes.
Validated when made, saved as RUN_DIR/config.json, read back by --resume; RunConfig.build() makes the model and its optimizer."""
import math, os
from dataclasses import dataclass, field, asdict, fields
import numpy as np
from tinygrad import Tensor
from tinygrad.nn.optim import AdamW
from tinygrad.nn.state import get_parameters
from tinyarith.errors import BadInput
from tinyarith.grokfast import Grokfast
from tinyarith.loss import LOSSES, LOSS_DTYPES
from pathlib import Path
from tinyarith.model import RUN_RANK, Config, Transformer, to_device

POSITIVE_INT = (lambda v: isinstance(v, int) and v > 0, "a positive integer")
COUNT = (lambda v: isinstance(v, int) and v >= 0, "a non-negative integer")
BETA = (lambda v: 0 <= v < 1, "in [0, 1)")
CHECKS = {"lr": (lambda v: math.isfinite(v) and v > 0, "a positive number"), "beta1": BETA, "beta2": BETA,
          "weight_decay": (lambda v: math.isfinite(v) and v >= 0, "a non-negative number"),
          "warmup": COUNT, "steps": POSITIVE_INT, "eval_every": POSITIVE_INT, "ckpt_every": POSITIVE_INT, "seed": COUNT,
          "grokfast_alpha": (lambda v: 0 <= v < 1, "in [0, 1)"), "grokfast_lamb": (lambda v: math.isfinite(v) and v >= 0, "a non-negative number")}
OPTIMIZERS = ("adamw", "adam")  # decoupled weight decay, or L2 added to the gradient (torch.optim.Adam's weight_decay)
DECAYS = ("none", "cosine")  # the learning rate after warm-up: constant, or a half cosine down to MIN_LR of it at the last step
MIN_LR = 0.1  # nanoGPT's min_lr = learning_rate / 10
CHOICES = {"loss": LOSSES, "loss_dtype": tuple(LOSS_DTYPES), "optimizer": OPTIMIZERS, "decay": DECAYS}

SHAPE = ("vocab", "ctx_len", "n_out", "n_places")  # model settings the data sets, not flags
NOT_FLAGS = ("experiment", "model", "data")  # RunConfig fields that are not one flag each

@dataclass(frozen=True)
class RunConfig:
  experiment: str                   # "grokking", "addition": what made the data
  model: Config
  data: dict = field(default_factory=dict)  # the experiment's own settings (p, op, train_frac; digits, reverse, ...)
  optimizer: str = "adamw"          # OPTIMIZERS
  lr: float = 1e-3
  beta1: float = 0.9
  beta2: float = 0.98
  weight_decay: float = 1.0
  warmup: int = 0                   # steps over which the learning rate rises linearly from lr/warmup to lr
  decay: str = "none"               # DECAYS: after warm-up, "cosine" falls to lr * MIN_LR at the last step
  steps: int = 1000
  eval_every: int = 100             # steps between evaluations (also at step 0 and the last)
  ckpt_every: int | None = None     # steps between checkpoints; None: at every evaluation
  seed: int = 0                     # the initialisation, and whatever the data draws
  out: str | None = None            # the run directory
  loss: str = "softmax"             # the cross-entropy of softmax or of StableMax (loss.cross_entropy)
  loss_dtype: str = "float64"       # "float32": train on the textbook float32 log-softmax (loss.LOSS_DTYPES)
  grokfast_alpha: float = 0.98      # Grokfast-EMA's filter (tinyarith.grokfast); off while grokfast_lamb is 0
  grokfast_lamb: float = 0.0

  def __post_init__(self):
    if isinstance(self.model, dict): object.__setattr__(self, "model", Config(**self.model))
    for name, (ok, must) in CHECKS.items():
      value = getattr(self, name)
      if name == "ckpt_every" and value is None: continue
      if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value): raise BadInput(name, f"must be {must}, got {value!r}")
    for name, choices in CHOICES.items():
      if getattr(self, name) not in choices: raise BadInput(name, f"must be one of {', '.join(choices)}, got {getattr(self, name)!r}")

  def to_dict(self) -> dict: return asdict(self)

  @classmethod
  def from_dict(cls, d:dict) -> "RunConfig":
    """The RunConfig of a config.json; the keys it records beside the settings (versions, device) are left out. Every setting
    must be there: a config.json from before RunConfig (settings under "args") would otherwise resume with default settings."""
    if missing := [f.name for f in fields(cls) if f.name not in d and f.name not in LATER]: raise KeyError(f"no {', '.join(missing)}")
    return cls(**{f.name: d.get(f.name, LATER.get(f.name)) for f in fields(cls)})

  def flags(self) -> dict:
    """Every setting by the name of its command-line flag's dest: the model's (bar the shapes the data sets), the data's, the rest."""
    model = {k: v for k, v in self.model.to_dict().items() if k not in SHAPE}
    return {**model, **self.data, **{f.name: getattr(self, f.name) for f in fields(self) if f.name not in NOT_FLAGS}}

  @classmethod
  def from_flags(cls, flags:dict, experiment:str, data:dict, **shape) -> "RunConfig":
    """The inverse of flags(): the settings from flag values by dest, the model's shape (vocab, ctx_len, n_out, n_places) from the data."""
    model = Config(**shape, **{f.name: flags[f.name] for f in fields(Config) if f.name not in SHAPE})
    return cls(experiment, model, data, **{f.name: flags[f.name] for f in fields(cls) if f.name not in NOT_FLAGS})

  def build(self) -> tuple[Transformer, AdamW]:
    """The model initialised from the seed, and its AdamW (with its Grokfast filter and L2 weight decay, if on)."""
    model = Transformer(self.model, seed=self.seed)
    return model, optimizer(model, self)

def adamw(model, lr:float|list[float]=RunConfig.lr, beta1:float=RunConfig.beta1, beta2:float=RunConfig.beta2,
          weight_decay:float|list[float]=RunConfig.weight_decay) -> AdamW:
  """AdamW with decoupled weight decay. Lists give each run of a stacked model (model.stack) its own learning rate and weight
  decay, as Tensors that the step reads, not constants compiled into its kernels."""
  if not isinstance(lr, (list, tuple)) and not isinstance(weight_decay, (list, tuple)):
    return AdamW(get_parameters(model), lr=lr, b1=beta1, b2=beta2, weight_decay=weight_decay)
  opt = AdamW(get_parameters(model), lr=1.0, b1=beta1, b2=beta2, weight_decay=0.0)
  opt.lr, opt.wd = per_run(lr, opt.device), per_run(weight_decay, opt.device)
  return opt

def lr_factor(run:RunConfig, step:int) -> float:
  """The fraction of run.lr that training step `step` (from 1) takes: step/warmup during the warm-up, then 1, or with
  decay="cosine" a half cosine from 1 to MIN_LR at run.steps (a resume that changes --steps stretches what is left)."""
  if step <= run.warmup: return step / run.warmup
  if run.decay == "none": return 1.0
  done = min(1.0, (step - run.warmup) / max(1, run.steps - run.warmup))
  return MIN_LR + (1 - MIN_LR) * (1 + math.cos(math.pi * done)) / 2

def scheduled(run:RunConfig) -> bool: return run.warmup > 0 or run.decay != "none"

def set_lr(opt:AdamW, runs:list[RunConfig], step:int):
  """Writes each run's learning rate at `step` into opt.lr, the buffer the captured train step reads (a stack's lrs: one
  per run, or one shared)."""
  lrs = np.array([r.lr * lr_factor(r, step) for r in runs], dtype=np.float32)
  stacked = opt.lr.ndim > 1  # per_run's (R, 1, 1, 1); else AdamW's own (1,), one lr for every run
  opt.lr.assign(to_device(lrs.reshape(opt.lr.shape) if stacked else lrs[:1], opt.lr.device, 0 if stacked else None)).realize()

def per_run(values:float|list[float], device) -> Tensor:
  """Each stacked run's value as (R, 1, 1, 1), split across devices as the weights are."""
  return to_device(np.array(values, dtype=np.float32).reshape(-1, *[1] * (RUN_RANK - 1)), device)

def optimizer(model, run:"RunConfig", lr:float|list[float]|None=None, weight_decay:float|list[float]|None=None) -> AdamW:
  """run's AdamW for model (lists of lr and weight decay: each stacked run's), with its Grokfast filter at opt.grokfast
  when --grokfast-lamb is above 0: a state of the optimizer's, kept in its checkpoints. With --optimizer adam the weight
  decay is L2, at opt.l2 (a float, or each stacked run's (R, 1, 1, 1)): the train step adds l2 * weight to each gradient,
  after the Grokfast filter, as torch.optim.Adam does inside its step; AdamW's own decay is then 0."""
  weight_decay = run.weight_decay if weight_decay is None else weight_decay
  l2 = run.optimizer == "adam"
  opt = adamw(model, run.lr if lr is None else lr, run.beta1, run.beta2, 0.0 if l2 else weight_decay)
  if l2: opt.l2 = per_run(weight_decay, opt.device) if isinstance(weight_decay, (list, tuple)) else weight_decay
  if run.grokfast_lamb > 0: opt.grokfast = Grokfast(opt.params, run.grokfast_alpha, run.grokfast_lamb)
  return opt

# settings added after runs were saved, with their defaults: a config.json or sweep.json without them had these
LATER = {f.name: f.default for f in fields(RunConfig) + fields(Config)
         if f.name in ("loss", "loss_dtype", "grokfast_alpha", "grokfast_lamb", "optimizer", "attn_scale", "warmup", "decay")}

def run_bytes(run:RunConfig, rows:int) -> int:
  """A rough upper estimate of the memory a run needs (or adds to a sweep) training on `rows` rows a step: its weights,
  gradients and AdamW moments, a step's activations (per position, ~10 d_model-wide and 3 d_mlp-wide float32 tensors a
  block) and the loss's (6 float64 tensors the size of the logits)."""
  cfg, positions = run.model, rows * run.model.ctx_len
  params = sum(w.numel() for w in get_parameters(Transformer(cfg)))
  return 16 * params + 4 * positions * cfg.n_layers * (10 * cfg.d_model + 3 * cfg.d_mlp) + 48 * positions * cfg.n_classes

def free_memory() -> int:
  try: return int(next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemAvailable")).split()[1]) * 1024
  except (OSError, StopIteration, ValueError): return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

def check_memory(run:RunConfig, rows:int, field:str, n_runs:int=1):
  """BadInput naming `field` if n_runs runs like run, training on `rows` rows a step, need more memory than is free: checked
  from the settings, before anything is built."""
  if (need := n_runs * run_bytes(run, rows)) > (have := free_memory()):
    what = f"a sweep of {n_runs} runs" if n_runs > 1 else "the run"
    raise BadInput(field, f"{what} needs about {need / 2**30:.3g} GiB and {have / 2**30:.3g} GiB is free: "
                          + ("list fewer values, or split the sweep with --shard I/N" if n_runs > 1 else "ask for less"))
