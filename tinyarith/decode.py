"""Batched greedy decoding of fixed-length answers, one JIT capture for every step, and exact-match accuracy."""
import numpy as np
from tinygrad import Tensor, TinyJit, dtypes

def make_greedy_decoder(model):
  """decode(tokens (B, T), start) -> tokens with positions start..T-1 replaced by the model's greedy predictions, in order."""
  @TinyJit
  def fill_next(x:Tensor, read:Tensor) -> Tensor:  # x (B, T) int; read (T,) one-hot of the position whose prediction fills the next
    pred = (model(x) * read.reshape(1, -1, 1)).sum(1).argmax(-1)  # (B,)
    write = read.pad(((1, 0),))[:-1] > 0  # (T,) the position after the one read
    return write.reshape(1, -1).where(pred.reshape(-1, 1).cast(x.dtype), x).contiguous().realize()

  def decode(tokens:np.ndarray, start:int) -> np.ndarray:
    x, T = Tensor(tokens.astype(np.int32)).realize(), tokens.shape[1]
    for pos in range(start - 1, T - 1):  # causal: the still unfilled positions after pos cannot change its prediction
      x = fill_next(x, Tensor(np.eye(T, dtype=np.float32)[pos]).realize())
    return x.numpy()
  return decode

def exact_match(predicted:np.ndarray, expected:np.ndarray, groups:dict[str, np.ndarray]) -> dict:
  """Fraction of rows whose every answer digit is right, overall and per value of each grouping (e.g. carries: 0, 1, 2...)."""
  right = (predicted == expected).all(axis=1)
  out = {"exact": float(right.mean())}
  for name, keys in groups.items():
    out[f"exact_by_{name}"] = {str(k): {"n": int((keys == k).sum()), "exact": float(right[keys == k].mean())} for k in np.unique(keys)}
  return out
