"""Grokfast-EMA (Lee et al. 2024, "Grokfast: accelerated grokking by amplifying slow gradients"): a low-pass filter on the
gradients. Each gradient g gets lamb times its exponential moving average h added before the optimizer reads it,
h = alpha h + (1 - alpha) g, with h = g at the first step (as the paper's gradfilter_ema). Inside the JIT'd train step."""
import numpy as np
from tinygrad import Tensor
from tinyarith.model import to_device

class Grokfast:
  def __init__(self, params:list[Tensor], alpha:float, lamb:float):
    self.alpha, self.lamb = alpha, lamb
    self.ema = [Tensor.zeros_like(p).contiguous().realize() for p in params]  # split across devices as its weight is
    self.started = to_device(np.zeros(1, dtype=np.float32), params[0].device, axis=None)  # 0 until the first step: then h = g

  def filter(self, params:list[Tensor]) -> list[Tensor]:
    """Add lamb h to each param's gradient, h updated with it; returns the state to realize with the step. The state is
    the optimizer's (config.optimizer puts it at opt.grokfast), so its checkpoint holds it and a resumed run goes on exactly."""
    decay = self.started * self.alpha  # (1,): the first step keeps none of the zeros h starts from
    for p, h in zip(params, self.ema):
      h.assign(decay * h + (1 - decay) * p.grad)
      p.grad = p.grad + self.lamb * h
    return [*self.ema, self.started.assign(self.started * 0 + 1)]
