"""Datasets as numpy arrays of tokens and per-position targets (IGNORE where a position does not count)."""
import numpy as np
from tinyarith.loss import IGNORE

# modular operations: name -> (f(a, b, p) on int64 arrays, which pairs exist)
OPS = {
  "+": (lambda a, b, p: (a + b) % p, None),
  "-": (lambda a, b, p: (a - b) % p, None),
  "*": (lambda a, b, p: (a * b) % p, None),
  "/": (lambda a, b, p: (a * np.array([pow(int(x), -1, p) for x in b], dtype=np.int64)) % p, lambda b, p: np.gcd(b, p) == 1),
  "x2+y2": (lambda a, b, p: (a * a + b * b) % p, None),
}

def modular_table(p:int, op:str="+") -> tuple[np.ndarray, np.ndarray]:
  """Every pair as tokens [a, b, =] with = being token p, and its label (a op b) mod p. Division keeps the b invertible mod p.
  Returns tokens (N, 3) and labels (N,)."""
  if p < 2: raise ValueError(f"modulus p must be at least 2, got {p}")
  if op not in OPS: raise ValueError(f"unknown op {op!r}, choose from {', '.join(OPS)}")
  f, exists = OPS[op]
  a, b = (g.ravel().astype(np.int64) for g in np.meshgrid(np.arange(p), np.arange(p), indexing="ij"))
  if exists is not None: a, b = a[keep := exists(b, p)], b[keep]
  return np.stack([a, b, np.full_like(a, p)], axis=1), f(a, b, p)

def modular_split(p:int, op:str, train_frac:float, seed:int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """A seeded permutation of the table cut at train_frac: each pair is in exactly one of train and test.
  Returns x_train, y_train, x_test, y_test; x is (N, 3) tokens, y is (N, 3) targets with only the last position kept."""
  if not 0 < train_frac < 1: raise ValueError(f"train fraction must be in (0, 1), got {train_frac}")
  tokens, labels = modular_table(p, op)
  n_train = int(train_frac * len(tokens))
  if not 0 < n_train < len(tokens): raise ValueError(f"train fraction {train_frac} of {len(tokens)} pairs leaves train or test empty")
  targets = np.full_like(tokens, IGNORE)
  targets[:, -1] = labels  # the model reads the answer off the '=' position
  perm = np.random.default_rng(seed).permutation(len(tokens))
  train, test = perm[:n_train], perm[n_train:]
  return tokens[train], targets[train], tokens[test], targets[test]
