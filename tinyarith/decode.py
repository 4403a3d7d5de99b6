"""Batched greedy decoding of fixed-length answers, one JIT capture for every step, and exact-match accuracy."""
import numpy as np
from tinygrad import Tensor, TinyJit
from tinygrad.nn.state import get_state_dict
from tinyarith.batches import chunk_size
from tinyarith.stepcache import KeptJit, model_key

def make_greedy_decoder(model):
  """decode(tokens (B, T), start) -> tokens with the positions from start on (an int, or each row's, (B,)) replaced by the
  model's greedy predictions, in order. Whatever a token carries beside it (abacus.pack's place) stays."""
  vocab = model.cfg.vocab if getattr(model, "place_emb", None) is not None else None  # abacus: tokens are packed with a place
  @TinyJit
  def fill_next(x:Tensor, read:Tensor, open_:Tensor) -> Tensor:  # x (B, T) int; read (T,) one-hot of the position whose
    pred = (model(x) * read.reshape(1, -1, 1)).sum(1).argmax(-1)  # (B,)                    prediction fills the next
    write = (read.pad(((1, 0),))[:-1] > 0).reshape(1, -1) * open_  # (B, T) the position after the one read, in a row's answer
    packed = pred.reshape(-1, 1).cast(x.dtype) + (x - x % vocab if vocab else 0)
    return write.where(packed, x).contiguous().realize()
  fill_next = KeptJit(fill_next, "decode", model_key(model), lambda: get_state_dict(model))

  def decode(tokens:np.ndarray, start:int|np.ndarray) -> np.ndarray:
    (n, T), size = tokens.shape, chunk_size(*tokens.shape)  # in chunks, as the evaluation: memory for one chunk's activations
    padded, reads = np.pad(tokens.astype(np.int32), ((0, -n % size), (0, 0))), np.eye(T, dtype=np.float32)
    opens = np.pad(np.arange(T) >= np.broadcast_to(start, (n,))[:, None], ((0, -n % size), (0, 0)))  # (B, T) answer positions
    out = []
    for i in range(0, len(padded), size):
      x, open_ = Tensor(padded[i:i + size]).realize(), Tensor(opens[i:i + size]).realize()
      for pos in range(int(np.min(start)) - 1, T - 1):  # causal: the still unfilled positions after pos cannot change its prediction
        x = fill_next(x, Tensor(reads[pos]).realize(), open_)
      out.append(x.numpy())
    return np.concatenate(out)[:n]
  return decode

def exact_match(predicted:np.ndarray, expected:np.ndarray, groups:dict[str, np.ndarray]) -> dict:
  """Fraction of rows whose every answer digit is right, overall and per value of each grouping (e.g. carries: 0, 1, 2...)."""
  right = (predicted == expected).all(axis=1)
  out = {"exact": float(right.mean())}
  for name, keys in groups.items():
    out[f"exact_by_{name}"] = {str(k): {"n": int((keys == k).sum()), "exact": float(right[keys == k].mean())} for k in np.unique(keys)}
  return out
