"""Masked cross-entropy that stays accurate when the model is nearly certain, and accuracy."""
import numpy as np
from tinygrad import Tensor, Device, dtypes

IGNORE = -1  # target of a position that does not count

def has_float64(device:str|None=None) -> bool:
  return dtypes.float64 in Device[device or Device.DEFAULT].renderer.supported_dtypes()

def log1p(s:Tensor) -> Tensor:
  """log(1 + s) for s >= 0 without losing small s to rounding (tinygrad has no log1p); both branches stay finite for the gradient"""
  series = s * (1 - s * (1/2 - s * (1/3 - s / 4)))  # relative error < s^4/5 = 2e-9 below 1e-2
  return (s < 1e-2).where(series, (1 + s).log())

def cross_entropy(logits:Tensor, targets:Tensor) -> Tensor:
  """Mean -log p(target) over the positions whose target is not IGNORE. logits (..., C), targets (...) int.

  Late in grokking the train loss is ~1e-7..1e-12: log_softmax in float32 rounds it to 0 (seed 001's spikes).
  We compute in float64 where the device has it, and in either dtype write the loss of each row as
    m + log1p(sum over j != argmax of exp(d_j - m)),  d = logits - logit[target],  m = max(d) >= 0
  so a confident correct row (m = 0) keeps its tiny terms instead of computing log(1 + tiny)."""
  if has_float64(logits.device if isinstance(logits.device, str) else None): logits = logits.cast(dtypes.float64)
  keep = targets != IGNORE
  d = logits - logits.gather(-1, keep.where(targets, 0).unsqueeze(-1))  # (..., C), 0 at the target
  m = d.max(-1, keepdim=True)
  not_max = d.argmax(-1).one_hot(d.shape[-1]) == 0
  row_loss = m.squeeze(-1) + log1p(((d - m).exp() * not_max).sum(-1))  # (...)
  return (row_loss * keep).sum() / keep.sum().maximum(1)

def accuracy(logits:Tensor, targets:Tensor) -> Tensor:
  """Fraction of the kept positions whose argmax is the target."""
  keep = targets != IGNORE
  return ((logits.argmax(-1) == targets) & keep).sum() / keep.sum().maximum(1)

def target_span(*targets:np.ndarray) -> slice:
  """The smallest run of positions that holds every kept target of these (N, T) arrays: the only positions the model
  needs logits for (model(x, out=span)). [[-1, -1, 5], [-1, -1, 7]] -> slice(2, 3)"""
  kept = np.flatnonzero(np.any(np.concatenate([t.reshape(-1, t.shape[-1]) for t in targets]) != IGNORE, axis=0))
  if len(kept) == 0: raise ValueError("no kept targets: every target is IGNORE")
  return slice(int(kept[0]), int(kept[-1]) + 1)
