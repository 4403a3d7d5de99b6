"""Batched greedy decoding of fixed-length answers, one JIT capture for every step, and exact-match accuracy."""
from typing import Callable
import numpy as np
from tinygrad import Tensor, TinyJit
from tinyarith.data import addition_tokens, carries
from tinyarith.train import chunk_size

def make_greedy_decoder(model):
  """decode(tokens (B, T), start) -> tokens with positions start..T-1 replaced by the model's greedy predictions, in order."""
  @TinyJit
  def fill_next(x:Tensor, read:Tensor) -> Tensor:  # x (B, T) int; read (T,) one-hot of the position whose prediction fills the next
    pred = (model(x) * read.reshape(1, -1, 1)).sum(1).argmax(-1)  # (B,)
    write = read.pad(((1, 0),))[:-1] > 0  # (T,) the position after the one read
    return write.reshape(1, -1).where(pred.reshape(-1, 1).cast(x.dtype), x).contiguous().realize()

  def decode(tokens:np.ndarray, start:int) -> np.ndarray:
    (n, T), size = tokens.shape, chunk_size(*tokens.shape)  # in chunks, as the evaluation: memory for one chunk's activations
    padded, reads = np.pad(tokens.astype(np.int32), ((0, -n % size), (0, 0))), np.eye(T, dtype=np.float32)
    out = []
    for i in range(0, len(padded), size):
      x = Tensor(padded[i:i + size]).realize()
      for pos in range(start - 1, T - 1):  # causal: the still unfilled positions after pos cannot change its prediction
        x = fill_next(x, Tensor(reads[pos]).realize())
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

def addition_answers(decode, a:np.ndarray, b:np.ndarray, digits:int, reverse:bool) -> np.ndarray:
  """A greedy decoder's answer digits to a+b, in the order the model writes them. (B,) -> (B, digits+1)"""
  start = 2 * digits + 2  # after "a+b="
  prompt = addition_tokens(a, b, digits, reverse)
  prompt[:, start:] = 0
  return decode(prompt, start)[:, start:]

def addition_exact_match(model, a:np.ndarray, b:np.ndarray, digits:int, reverse:bool) -> Callable[[], dict]:
  """A metrics function for train(): exact match of the model's greedy answers to the problems a+b, overall, by number of
  carries and by operand length (the longer operand's digits)."""
  decode, expected = make_greedy_decoder(model), addition_tokens(a, b, digits, reverse)[:, 2 * digits + 2:]
  groups = {"carries": carries(a, b, digits), "operand_digits": np.maximum(*(np.char.str_len(x.astype(str)) for x in (a, b)))}
  return lambda: {f"test_{k}": v for k, v in exact_match(addition_answers(decode, a, b, digits, reverse), expected, groups).items()}
