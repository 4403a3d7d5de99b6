"""Datasets as numpy arrays of tokens and per-position targets (IGNORE where a position does not count)."""
import os
import numpy as np
from tinyarith.errors import BadInput
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
  if p < 2: raise BadInput("p", f"the modulus must be at least 2, got {p}")
  if op not in OPS: raise BadInput("op", f"unknown op {op!r}, choose from {', '.join(OPS)}")
  if (need := 4 * p**3) > (memory := os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")):  # float32 logits, p per pair
    raise BadInput("p", f"{p} is too large: the logits of its {p * p:.3g} pairs alone take {need / 2**30:.3g} GiB, and this machine "
                        f"has {memory / 2**30:.3g} GiB")
  f, exists = OPS[op]
  a, b = (g.ravel().astype(np.int64) for g in np.meshgrid(np.arange(p), np.arange(p), indexing="ij"))
  if exists is not None: a, b = a[keep := exists(b, p)], b[keep]
  return np.stack([a, b, np.full_like(a, p)], axis=1), f(a, b, p)

def modular_split(p:int, op:str, train_frac:float, seed:int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """A seeded permutation of the table cut at train_frac: each pair is in exactly one of train and test.
  Returns x_train, y_train, x_test, y_test; x is (N, 3) tokens, y is (N, 3) targets with only the last position kept."""
  if not 0 < train_frac < 1: raise BadInput("train_frac", f"must be strictly between 0 and 1, got {train_frac}")
  tokens, labels = modular_table(p, op)
  n_train = int(train_frac * len(tokens))
  if not 0 < n_train < len(tokens): raise BadInput("train_frac", f"{train_frac} of {len(tokens)} pairs leaves train or test empty")
  targets = np.full_like(tokens, IGNORE)
  targets[:, -1] = labels  # the model reads the answer off the '=' position
  perm = np.random.default_rng(seed).permutation(len(tokens))
  train, test = perm[:n_train], perm[n_train:]
  return tokens[train], targets[train], tokens[test], targets[test]

# Addition: "13+51=" followed by the answer, as characters over this vocabulary. '-', '*', '/' and '_' are reserved for
# other operations and padding; no problem uses them yet, but they keep the token ids, and so trained models, as they are.
VOCAB = list("0123456789+=-*/") + ["_"]
STOI = {s: i for i, s in enumerate(VOCAB)}
PLUS, EQUALS = STOI["+"], STOI["="]

def encode(text:str) -> list[int]: return [STOI[ch] for ch in text]
def decode(tokens) -> str: return "".join(VOCAB[int(t)] for t in tokens)

def next_token_targets(tokens:np.ndarray) -> np.ndarray:
  """Next-token targets with the prompt masked: the target at t is token t+1 from the '=' position on, IGNORE before it
  and at the last position. tokens (..., T) -> targets (..., T)
  >>> next_token_targets(np.array(encode("47+6=35")))  # the walkthrough of seed 000
  array([-1, -1, -1, -1,  3,  5, -1])"""
  targets = np.full_like(tokens, IGNORE)
  targets[..., :-1] = tokens[..., 1:]
  targets[np.cumsum(tokens == EQUALS, axis=-1) == 0] = IGNORE  # the prompt, up to the '='
  return targets

def addition_tokens(a:np.ndarray, b:np.ndarray, digits:int, reverse:bool=True) -> np.ndarray:
  """Problems a+b with operands zero-padded to `digits` and the answer to digits+1, answer reversed (least significant digit
  first, the order the carry runs) unless reverse=False. Every problem then has the same 3*digits+3 tokens and each digit
  its fixed place. 13+51 at digits=2: "13+51=" + "460" (reversed 064). a, b (B,) -> tokens (B, 3*digits+3)"""
  def digits_of(x, n):  # (B,) -> (B, n), most significant first
    return (x[:, None] // 10 ** np.arange(n - 1, -1, -1)) % 10
  answer = digits_of(a + b, digits + 1)
  if reverse: answer = answer[:, ::-1]
  sep = lambda tok: np.full((len(a), 1), tok)
  return np.concatenate([digits_of(a, digits), sep(PLUS), digits_of(b, digits), sep(EQUALS), answer], axis=1).astype(np.int64)

def answer_value(answer_tokens:np.ndarray, reverse:bool=True) -> np.ndarray:
  """The integers that answer digit tokens spell, undoing the reversal. (B, digits+1) -> (B,)"""
  if reverse: answer_tokens = answer_tokens[:, ::-1]
  return (answer_tokens * 10 ** np.arange(answer_tokens.shape[1] - 1, -1, -1)).sum(1)

def carries(a:np.ndarray, b:np.ndarray, digits:int) -> np.ndarray:
  """How many digit positions of a+b produce a carry. (B,) -> (B,)"""
  count, carry = np.zeros_like(a), np.zeros_like(a)
  for k in range(digits):
    carry = ((a // 10 ** k) % 10 + (b // 10 ** k) % 10 + carry) >= 10
    count += carry
  return count

class AdditionProblems:
  """A held-out test set of distinct problems, and a seeded stream of training problems that never produces one of them."""
  def __init__(self, digits:int, test_size:int|None, seed:int, batch_size:int=256):
    """test_size None: 10,000 held-out problems, or a fifth of all problems if fewer."""
    if batch_size < 1: raise BadInput("batch_size", f"must be a positive integer, got {batch_size}")
    if not 1 <= digits <= 9: raise BadInput("digits", f"must be 1 to 9 (a problem is coded in a 64-bit integer), got {digits}")
    self.digits, self.n_pairs, self.batch_size = digits, 10 ** (2 * digits), batch_size
    test_size = min(10_000, self.n_pairs // 5) if test_size is None else test_size
    if not 0 < test_size <= self.n_pairs // 2:
      raise BadInput("test_size", f"must be in 1..{self.n_pairs // 2} (half of the {self.n_pairs} problems) at {digits} digits, got {test_size}")
    self.rng = np.random.default_rng(seed)
    self.held_out = np.sort(self.rng.choice(self.n_pairs, size=test_size, replace=False))  # problem a*10^digits + b

  def split(self, codes:np.ndarray) -> tuple[np.ndarray, np.ndarray]: return np.divmod(codes, 10 ** self.digits)
  def test(self) -> tuple[np.ndarray, np.ndarray]: return self.split(self.held_out)

  def sample(self, size:int|None=None) -> tuple[np.ndarray, np.ndarray]:
    """`size` (default: batch_size) training problems, uniform over all problems not held out."""
    size = size or self.batch_size
    codes = np.empty(0, dtype=np.int64)
    while len(codes) < size:
      draw = self.rng.integers(0, self.n_pairs, size=size - len(codes))
      found = self.held_out[np.minimum(np.searchsorted(self.held_out, draw), len(self.held_out) - 1)] == draw
      codes = np.concatenate([codes, draw[~found]])
    return self.split(codes)
