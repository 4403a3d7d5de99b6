"""Masked cross-entropy whose value and gradient stay accurate when the model is nearly certain, and accuracy."""
import numpy as np
from tinygrad import Tensor, Device, dtypes
from tinyarith.errors import BadInput

IGNORE = -1  # target of a position that does not count

def has_float64(device:str|None=None) -> bool:
  """Whether the device's kernels can compute the loss in float64. tinygrad 0.14's PTX renderer lists float64, but ptxas
  refuses the float64 log2 and reciprocal it writes (tests/test_cuda.py); Metal has no float64."""
  renderer = Device[device or Device.DEFAULT].renderer
  return dtypes.float64 in renderer.supported_dtypes() and type(renderer).__name__ != "PTXRenderer"

def log1p(s:Tensor) -> Tensor:
  """log(1 + s) for s >= 0 without losing small s to rounding (tinygrad has no log1p): a series below the switch, whose
  truncation costs s^8/9 relative, and log(1 + s) above it, whose rounding of 1 + s costs eps/s. The switch balances the two:
  relative error below 1e-14 in float64 and 1e-6 in float32 (measured worst 8.1e-15 and 5.0e-7, tests/test_loss.py)."""
  series = s * (1 - s * (1/2 - s * (1/3 - s * (1/4 - s * (1/5 - s * (1/6 - s * (1/7 - s / 8)))))))
  return (s < (1e-2 if s.dtype == dtypes.float64 else 1e-1)).where(series, (1 + s).log())

def with_gradient(value:Tensor, x:Tensor, grad:Tensor) -> Tensor:
  """value, whose gradient with respect to x is grad: x - x.detach() is 0 in the forward pass and the identity backward.
  A value of shape (R,) (one per stacked run) takes the gradient of x[r] at entry r."""
  return value.detach() + ((x - x.detach()) * grad.detach()).sum(tuple(range(value.ndim, x.ndim)))

def kept_axes(targets:Tensor, runs:bool) -> tuple[int, ...]:
  """The axes a loss or accuracy averages over: all, or with runs=True all but the first, a stack of runs (model.stack)."""
  return tuple(range(1 if runs else 0, targets.ndim))

def cross_entropy(logits:Tensor, targets:Tensor, runs:bool=False, kind:str="softmax", dtype:str="float64") -> Tensor:
  """Mean -log p(target) over the positions whose target is not IGNORE (0 when every target is). logits (..., C), targets (...) int.
  With runs=True, the first axis holds stacked runs and the result is each run's mean, (R,).

  Late in grokking the train loss is ~1e-7..1e-12, where the textbook forms fail: float32 log_softmax rounds the loss to 0,
  and autograd through any shifted form gives the target's gradient as 1/(1+S) - 1 with S = sum over j != target of
  exp(z_j - z_target), which cancels to 0 once S < eps. So the loss is computed in float64 where the device has it, its
  value as  m + log1p(sum over j != argmax of exp(d_j - m)),  d = z - z_target, m = max(d) >= 0,  and its gradient is
  written out: softmax(z) - onehot(target), the target's entry as -S/(1+S) from the other classes' terms, none of which
  depends on which entry of a tied maximum argmax picked.
  kind="stablemax": StableMax's cross-entropy instead (stablemax). dtype="float32": the textbook float32 log-softmax, through
  autograd, which rounds tiny losses and their gradients to 0 (LOSS_DTYPES: to show what that does to training)."""
  if kind not in LOSSES: raise BadInput("loss", f"unknown loss {kind!r}: choose from {', '.join(LOSSES)}")
  if dtype not in LOSS_DTYPES: raise BadInput("loss_dtype", f"unknown loss dtype {dtype!r}: choose from {', '.join(LOSS_DTYPES)}")
  if kind == "stablemax" or dtype == "float32":
    z = logits.cast(dtypes.float64) if dtype == "float64" and has_float64(device_of(logits)) else logits.float()
    row_loss = stablemax(z, targets) if kind == "stablemax" else -(z.log_softmax(-1) * one_hot(targets, z.shape[-1])).sum(-1)
    return kept_mean(row_loss, targets, runs)
  z, keep, n_classes = logits.detach(), targets != IGNORE, logits.shape[-1]
  if has_float64(device_of(logits)): z = z.cast(dtypes.float64)
  is_target = one_hot(targets, n_classes).cast(dtypes.bool)  # (..., C)
  d = z - (z * is_target).sum(-1, keepdim=True)  # (..., C), 0 at the target
  m = d.max(-1, keepdim=True)
  e = (d - m).exp()  # (..., C), 1 at the maximum
  row_loss = m.squeeze(-1) + log1p((e * (d.argmax(-1).one_hot(n_classes) == 0)).sum(-1))  # (...)
  others = (e * is_target.logical_not()).sum(-1, keepdim=True)  # S exp(-m); the denominator below is (1 + S) exp(-m)
  grad = is_target.where(-others, e) / (others + (e * is_target).sum(-1, keepdim=True))  # softmax - onehot, (..., C)
  axes = kept_axes(targets, runs)
  n_kept = keep.sum(axes, keepdim=True).maximum(1).contiguous()  # one kernel: fused, every gradient entry would count them again
  grad = (grad * keep.unsqueeze(-1) / n_kept.unsqueeze(-1)).cast(logits.dtype)  # the matmuls it flows into read their own dtype
  return with_gradient(((row_loss * keep).sum(axes, keepdim=True) / n_kept).sum(axes), logits, grad)

LOSSES = ("softmax", "stablemax")
LOSS_DTYPES = {"float64": "accurate at any margin: float64 where the device has it, else a float32 form that keeps small terms",
               "float32": "the textbook float32 log-softmax, which rounds tiny losses and their gradients to 0"}

def device_of(t:Tensor) -> str|None: return t.device if isinstance(t.device, str) else None  # None: split across devices
def one_hot(targets:Tensor, n_classes:int) -> Tensor: return (targets != IGNORE).where(targets, 0).one_hot(n_classes)  # (..., C)

def kept_mean(row_loss:Tensor, targets:Tensor, runs:bool) -> Tensor:
  """The mean of row_loss (...) over the positions whose target is kept (each run's with runs=True), 0 if none is."""
  keep, axes = targets != IGNORE, kept_axes(targets, runs)
  return keep.where(row_loss, 0).sum(axes) / keep.sum(axes).maximum(1)

def stablemax(z:Tensor, targets:Tensor) -> Tensor:
  """-log of StableMax's probability of the target (Prieto et al. 2025, "Grokking at the edge of numerical stability"):
  p_i = s(z_i) / sum_j s(z_j), s(x) = x + 1 for x >= 0 and 1 / (1 - x) below, which grows linearly, not exponentially.
  Written as log1p(sum over j != target of s(z_j) / s(z_target)): no cancellation at tiny losses, and autograd's
  gradient through it keeps the target's entry, -S/(1+S) times s'/s, as accurate as the loss. z (..., C) -> (...)"""
  s = (z >= 0).where(z.maximum(0) + 1, 1 / (1 - z.minimum(0)))  # each branch finite everywhere: where's gradient is clean
  is_target = one_hot(targets, z.shape[-1]).cast(dtypes.bool)
  return log1p((is_target.logical_not().where(s, 0)).sum(-1) / is_target.where(s, 0).sum(-1))

def correct(logits:Tensor, targets:Tensor, runs:bool=False) -> Tensor:
  """How many kept positions have the target as their argmax (each run's, (R,), with runs=True: see cross_entropy)."""
  return ((logits.argmax(-1) == targets) & (targets != IGNORE)).sum(kept_axes(targets, runs))

def accuracy(logits:Tensor, targets:Tensor, runs:bool=False) -> Tensor:
  """Fraction of the kept positions whose argmax is the target (each run's, (R,), with runs=True: see cross_entropy)."""
  return correct(logits, targets, runs) / (targets != IGNORE).sum(kept_axes(targets, runs)).maximum(1)

def target_span(*targets:np.ndarray) -> slice:
  """The smallest run of positions that holds every kept target of these (N, T) arrays: the only positions the model
  needs logits for (model(x, out=span)). [[-1, -1, 5], [-1, -1, 7]] -> slice(2, 3)"""
  kept = np.flatnonzero(np.any(np.concatenate([t.reshape(-1, t.shape[-1]) for t in targets]) != IGNORE, axis=0))
  if len(kept) == 0: raise ValueError("no kept targets: every target is IGNORE")
  return slice(int(kept[0]), int(kept[-1]) + 1)
