"""Grokking's progress measures (Nanda et al. 2023, "Progress measures for grokking via mechanistic interpretability", §5),
computed on the host from a model of modular addition: the embedding's Fourier spectrum and its key frequencies, and the
restricted and excluded losses. A model that has grokked a + b mod p reads the answer off a few frequencies w_k = 2πk/p:
its logits are mostly cos(w_k(a + b - c)), which for each answer c is a mix of the directions cos(w_k(a + b)) and
sin(w_k(a + b)) over the table of all pairs (a, b)."""
from typing import Callable
import numpy as np
from tinygrad import TinyJit
from tinygrad.helpers import round_up
from tinygrad.nn.state import get_parameters
from tinyarith.batches import chunk_size
from tinyarith.model import to_device

def fourier_basis(p:int) -> np.ndarray:
  """(p, p): orthonormal rows over the inputs 0..p-1: the constant, then cos and sin of w_k x for k = 1..(p-1)//2 (for even
  p, last, cos(πx) alone)."""
  x, rows = np.arange(p), [np.full(p, p ** -0.5)]
  for k in range(1, (p - 1) // 2 + 1):
    rows += [np.cos(2 * np.pi * k * x / p) * (2 / p) ** 0.5, np.sin(2 * np.pi * k * x / p) * (2 / p) ** 0.5]
  if p % 2 == 0: rows.append(np.cos(np.pi * x) * p ** -0.5)
  return np.stack(rows)

def spectrum(embedding:np.ndarray) -> np.ndarray:
  """The squared norm of the embedding (p, d_model: the rows of the tokens 0..p-1) in each frequency k = 1..(p-1)//2,
  cos and sin together: entry k-1 is frequency k."""
  p = len(embedding)
  coefficients = fourier_basis(p) @ embedding  # (p, d_model)
  paired = coefficients[1:1 + 2 * ((p - 1) // 2)].reshape(-1, 2, embedding.shape[1])
  return (paired ** 2).sum((1, 2))

def key_frequencies(power:np.ndarray, most:int=10) -> list[int]:
  """The few frequencies that stand out of a spectrum (power per frequency, entry k-1 for frequency k): the strongest, down
  to the largest drop in power among the first `most`. A grokked model's embedding has a handful (3-7 in the paper)."""
  order = np.argsort(-power)
  top = power[order[:min(most, len(power) - 1) + 1]]
  cut = int(np.argmax(top[:-1] / np.maximum(top[1:], 1e-30))) + 1
  return sorted(int(k) + 1 for k in order[:cut])

def gini(values:np.ndarray) -> float:
  """0 when every value is equal, towards 1 when one holds everything: how concentrated a spectrum is."""
  v = np.sort(np.asarray(values, dtype=np.float64))
  n = len(v)
  return float((2 * np.arange(1, n + 1) - n - 1) @ v / (n * v.sum())) if v.sum() > 0 else 0.0

def sum_directions(p:int, k:int) -> np.ndarray:
  """(2, p*p): unit vectors cos(w_k(a + b)) and sin(w_k(a + b)) over the table of pairs, a-major."""
  total = np.add.outer(np.arange(p), np.arange(p)).ravel()
  directions = np.stack([np.cos(2 * np.pi * k * total / p), np.sin(2 * np.pi * k * total / p)])
  return directions / np.linalg.norm(directions, axis=1, keepdims=True)

def in_frequencies(logits:np.ndarray, keys:list[int]) -> np.ndarray:
  """The part of the logits (p*p pairs, a-major; n_classes) along cos and sin of w_k(a + b) for the key frequencies."""
  p = int(round(len(logits) ** 0.5))
  directions = np.concatenate([sum_directions(p, k) for k in keys])  # (2K, p*p), orthonormal for distinct k < p/2
  return directions.T @ (directions @ logits)

def loss(logits:np.ndarray, labels:np.ndarray) -> float:
  """Mean cross-entropy, in float64. logits (N, C), labels (N,)"""
  z = logits.astype(np.float64)
  m = z.max(1, keepdims=True)
  return float(np.mean(np.log(np.exp(z - m).sum(1)) + m[:, 0] - z[np.arange(len(z)), labels]))

def restricted_and_excluded(logits:np.ndarray, labels:np.ndarray, train:np.ndarray, keys:list[int]) -> tuple[float, float]:
  """The train loss with only the key frequencies' part of the logits kept (and each class's mean over the pairs: the
  restricted loss), and with that part removed (the excluded loss). logits (p*p, C) over every pair, a-major; labels (p*p,);
  train: the indices of the train pairs."""
  keep = in_frequencies(logits, keys)
  restricted = keep + logits.mean(0, keepdims=True)
  return loss(restricted[train], labels[train]), loss((logits - keep)[train], labels[train])

def measures(logits:np.ndarray, embedding:np.ndarray, sum_sq_weights:float, train:np.ndarray) -> dict:
  """The progress measures of one model of a + b mod p: logits (p*p, p) over every pair, a-major; embedding (p, d_model), the
  rows of the tokens 0..p-1; train, the indices of its train pairs. Its embedding's norm per frequency (entry k-1:
  frequency k) and key frequencies, their share of the embedding's squared norm and the spectrum's Gini coefficient, the
  sum of squared weights, and the train loss restricted to the key frequencies and with them excluded."""
  labels = np.add.outer(np.arange(len(embedding)), np.arange(len(embedding))).ravel() % len(embedding)
  power = spectrum(embedding)
  keys = key_frequencies(power)
  restricted, excluded = restricted_and_excluded(logits, labels, train, keys)
  return {"restricted_loss": restricted, "excluded_loss": excluded, "sum_sq_weights": sum_sq_weights, "key_frequencies": keys,
          "key_share": float(power[np.array(keys) - 1].sum() / power.sum()), "gini": gini(power), "freq_norm": np.sqrt(power).tolist()}

def tracker(model, table:np.ndarray, x_trains:list[np.ndarray], stacked:bool=False) -> Callable[[], dict|list[dict]]:
  """measure() -> the progress measures of model's weights now (a dict, or with stacked=True each run's: a list), for
  Data.extra_metrics. table: every pair's tokens [a, b, =], a-major (p*p, 3); x_trains: each run's train pairs (N, 3).
  The table runs through one JIT'd forward pass per chunk, on the model's device(s), chunks as small as the evaluation's
  (its memory bound); the measures are computed on the host."""
  p, n, R = int(table[0, 2]), len(table), len(x_trains)  # "=" is token p
  size = chunk_size(n, table.shape[1] * R)
  padded = np.pad(table, ((0, round_up(n, size) - n), (0, 0)))
  if stacked: padded = np.broadcast_to(padded, (R, *padded.shape))  # every run reads the whole table
  parts = [to_device(np.ascontiguousarray(padded[..., i:i + size, :]), model.tok_emb.device) for i in range(0, padded.shape[-2], size)]
  forward = TinyJit(lambda x: model(x, slice(2, 3)).realize())  # (R?, size, 1, p)
  trains = [x[:, 0] * p + x[:, 1] for x in x_trains]
  def measure() -> dict|list[dict]:
    logits = np.concatenate([forward(x).numpy() for x in parts], axis=-3)[..., :n, 0, :].reshape(R, n, p)
    embeddings = model.tok_emb.numpy().reshape(R, -1, model.cfg.d_model)[:, :p]
    sum_sq = sum((w.numpy().astype(np.float64) ** 2).reshape(R, -1).sum(1) for w in get_parameters(model))
    found = [measures(logits[r], embeddings[r], float(sum_sq[r]), trains[r]) for r in range(R)]
    return found if stacked else found[0]
  return measure
