"""The calculator's problems: a op b for the four operations on N-digit operands, in one format a single model learns.

A problem is its prompt, the operands zero-padded to N digits around the operator's token, then "=", then its answer:
every number in the answer zero-padded to its width and written least significant digit first, as addition's. The answers:
  a+b  the sum, N+1 digits
  a-b  |a-b|, N digits, then its sign: "+" for a >= b, "-" below (the usual "-12", reversed: "21-")
  a*b  the product, 2N digits
  a/b  the quotient a // b, N digits, then the remainder a % b, N digits (b = 0 is never generated)
and "_" after the shorter ones, so that every problem has the same 4N+2 tokens: one JIT capture serves a run and each
digit has its fixed place. 13-51 at N=2 is "13-51=" + "83-" + "_"; the targets are the next tokens from "=" on, pads
included, so the model also learns where its answer ends.

With scratchpad=True a product is worked out first: the partial products a * (digit j of b), N+1 digits each, for j from
the least significant digit up, then the product; 13*51 is "13*51=" + "310" (13*1) + "560" (13*5) + "3660". Every
answer is then N(N+1)+2N tokens long, the others padded."""
import numpy as np
from tinyarith.data import EQUALS, STOI, VOCAB, decode, next_token_targets
from tinyarith.decode import exact_match, make_greedy_decoder
from tinyarith.errors import BadInput

OPS = "+-*/"
PAD = STOI["_"]

def digits_of(x:np.ndarray, n:int) -> np.ndarray:
  """x (B,) -> (B, n): its n lowest digits, least significant first."""
  return (x[:, None] // 10 ** np.arange(n)) % 10

def answer_width(n:int, scratchpad:bool=False) -> int: return n * (n + 1) + 2 * n if scratchpad else 2 * n
def scratch_width(op:str, n:int, scratchpad:bool) -> int: return n * (n + 1) if scratchpad and op == "*" else 0  # before the answer

def answer_tokens(op:str, a:np.ndarray, b:np.ndarray, n:int, scratchpad:bool=False) -> np.ndarray:
  """The answers of a op b, as the module's docstring writes them, before padding. (B,) -> (B, width of op's answer)"""
  if op == "+": return digits_of(a + b, n + 1)
  if op == "-": return np.concatenate([digits_of(np.abs(a - b), n), np.where(a >= b, STOI["+"], STOI["-"])[:, None]], 1)
  if op == "*" and scratchpad: return np.concatenate([digits_of(a * (b // 10 ** j % 10), n + 1) for j in range(n)] + [digits_of(a * b, 2 * n)], 1)
  if op == "*": return digits_of(a * b, 2 * n)
  if op == "/": return np.concatenate([digits_of(a // b, n), digits_of(a % b, n)], 1)
  raise BadInput("ops", f"unknown operator {op!r}: choose from {OPS}")

def problem_tokens(ops:np.ndarray, a:np.ndarray, b:np.ndarray, n:int, scratchpad:bool=False) -> np.ndarray:
  """Problems ops[i] applied to a[i], b[i] (ops: an array of operator characters), as tokens. (B,) -> (B, 2n+2 + answer_width)"""
  tokens = np.full((len(a), 2 * n + 2 + answer_width(n, scratchpad)), PAD, dtype=np.int64)
  tokens[:, :n], tokens[:, n + 1:2 * n + 1] = digits_of(a, n)[:, ::-1], digits_of(b, n)[:, ::-1]  # operands as written
  tokens[:, n], tokens[:, 2 * n + 1] = [STOI[op] for op in ops], EQUALS
  for op in set(ops):
    rows = ops == op
    answer = answer_tokens(op, a[rows], b[rows], n, scratchpad)
    tokens[np.flatnonzero(rows)[:, None], 2 * n + 2 + np.arange(answer.shape[1])] = answer
  return tokens

def answer_of(ops:np.ndarray, answers:np.ndarray, n:int, scratchpad:bool=False) -> list[str]:
  """Answer tokens (B, answer_width) to the operators ops (B,) read back as a person writes them: "64", "-12", "3 r 1";
  "?" for an answer that is not well formed. A product's scratchpad is skipped."""
  def number(digits) -> str: return str(int(decode(digits[::-1]))) if all(t < 10 for t in digits) else "?"
  def read(op:str, answer:np.ndarray) -> str:
    if op == "+": return number(answer[:n + 1])
    if op == "-": return {"+": "", "-": "-"}.get(VOCAB[answer[n]], "?") + number(answer[:n])
    if op == "*": return number(answer[scratch_width(op, n, scratchpad):][:2 * n])
    return f"{number(answer[:n])} r {number(answer[n:])}"
  return [read(op, answer) for op, answer in zip(ops, answers)]

def true_answer(op:str, a:int, b:int) -> str:
  return {"+": str(a + b), "-": str(a - b), "*": str(a * b)}.get(op) or f"{a // b} r {a % b}"

def carries(op:str, a:np.ndarray, b:np.ndarray, n:int) -> np.ndarray:
  """How many carries or borrows the schoolbook method makes for a op b: + its carries; - the borrows of the larger number
  minus the smaller; * the columns of long multiplication whose sum, with the carry into it, reaches 10; / how many digits
  the quotient has (long division's steps that write a digit). (B,) -> (B,)"""
  if op == "/": return np.char.str_len((a // b).astype(str)) * (a // b > 0)
  count, carry = np.zeros_like(a), np.zeros_like(a)
  if op == "*":
    da, db = digits_of(a, n), digits_of(b, n)
    for k in range(2 * n):
      column = sum(da[:, i] * db[:, k - i] for i in range(max(0, k - n + 1), min(k, n - 1) + 1)) + carry
      carry = column // 10
      count += carry > 0
    return count
  high, low = np.maximum(a, b), np.minimum(a, b)
  for k in range(n):
    x, y = (high if op == "-" else a) // 10 ** k % 10, (low if op == "-" else b) // 10 ** k % 10
    carry = (x - y - carry < 0) if op == "-" else (x + y + carry >= 10)
    count += carry
  return count

class CalculatorProblems:
  """A held-out test set of distinct problems, spread evenly over the operators, and a seeded stream of training problems
  that never produces one of them. A problem is coded as op_index * 10^2n + a * 10^n + b."""
  def __init__(self, digits:int, ops:str, test_size:int, seed:int, batch_size:int=256):
    if not 1 <= digits <= 6: raise BadInput("digits", f"must be 1 to 6 (a product's 2n digits fit a 64-bit integer), got {digits}")
    if not ops or (bad := set(ops) - set(OPS)) or len(set(ops)) < len(ops):
      raise BadInput("ops", f"must list distinct operators of {OPS!r}, got {ops!r}" + (f" ({''.join(sorted(bad))} is none)" if ops and bad else ""))
    if batch_size < 1: raise BadInput("batch_size", f"must be a positive integer, got {batch_size}")
    self.digits, self.ops, self.batch_size, self.size = digits, ops, batch_size, 10 ** digits
    most = min(self.size * (self.size - (op == "/")) for op in ops) // 2 * len(ops)  # half of the fewest problems of an operator, each
    if not 0 < test_size <= most: raise BadInput("test_size", f"must be in 1..{most} (half of each operator's problems) at {digits} digits, got {test_size}")
    self.rng = np.random.default_rng(seed)
    per_op = np.diff(np.linspace(0, test_size, len(ops) + 1).astype(int))
    self.held_out = np.sort(np.concatenate([self.draw(i, k, replace=False) for i, k in enumerate(per_op)]))

  def draw(self, op_index:int, count:int, replace:bool=True) -> np.ndarray:
    """count problem codes of one operator, uniform over its problems (b >= 1 for /)."""
    low = self.size if self.ops[op_index] == "/" else 0  # the codes a*10^n + b with b = 0 are a multiple of 10^n: skip them below
    pairs = self.size * self.size
    if replace: codes = self.rng.integers(0, pairs, size=count)
    else: codes = self.rng.choice(pairs, size=count, replace=False) if not low else self.rng.choice(pairs - self.size, size=count, replace=False)
    if low:  # map 0..pairs-size-1 onto the pairs whose b is not 0, and redraw b = 0 when drawn with replacement
      if replace:
        while (zero := codes % self.size == 0).any(): codes[zero] = self.rng.integers(0, pairs, size=zero.sum())
      else: codes = codes // (self.size - 1) * self.size + codes % (self.size - 1) + 1
    return op_index * pairs + codes

  def split(self, codes:np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """codes -> (operator characters, a, b)"""
    op_index, pair = np.divmod(codes, self.size * self.size)
    return np.array(list(self.ops))[op_index], *np.divmod(pair, self.size)

  def test(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]: return self.split(self.held_out)

  def sample(self, size:int|None=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`size` (default: batch_size) training problems: each operator equally likely, then uniform over its problems not held out."""
    size, codes = size or self.batch_size, np.empty(0, dtype=np.int64)
    while len(codes) < size:
      ops = self.rng.integers(0, len(self.ops), size=size - len(codes))
      draw = np.concatenate([self.draw(i, int((ops == i).sum())) for i in range(len(self.ops))])
      found = self.held_out[np.minimum(np.searchsorted(self.held_out, draw), len(self.held_out) - 1)] == draw
      codes = np.concatenate([codes, self.rng.permutation(draw[~found])])
    return self.split(codes)

def batch_arrays(ops:np.ndarray, a:np.ndarray, b:np.ndarray, digits:int, scratchpad:bool=False) -> tuple[np.ndarray, np.ndarray]:
  """Tokens and their masked next-token targets (the answer's and its pads'), (B, 2n+2 + answer_width) each."""
  tokens = problem_tokens(ops, a, b, digits, scratchpad)
  return tokens, next_token_targets(tokens)

def written_answers(decode, ops:np.ndarray, a:np.ndarray, b:np.ndarray, digits:int, scratchpad:bool=False) -> np.ndarray:
  """A greedy decoder's (decode.make_greedy_decoder) answer tokens to the problems, padding included. (B,) -> (B, answer_width)"""
  start = 2 * digits + 2  # after "a op b ="
  prompt = problem_tokens(ops, a, b, digits, scratchpad)
  prompt[:, start:] = 0
  return decode(prompt, start)[:, start:]

def exact_match_metrics(model, ops:np.ndarray, a:np.ndarray, b:np.ndarray, digits:int, scratchpad:bool=False):
  """A metrics function for train(): exact match of the model's greedy answers (every answer token right: padding, and a
  product's scratchpad, included) overall, per operator, and per operator and operand length (the longer operand's digits)
  or carry/borrow count (carries): test_exact_by_op {"+": ...}, test_exact_by_op_digits {"+3": ...},
  test_exact_by_op_carries {"*5": ...}."""
  decode, expected = make_greedy_decoder(model), problem_tokens(ops, a, b, digits, scratchpad)[:, 2 * digits + 2:]
  lengths = np.maximum(*(np.char.str_len(x.astype(str)) for x in (a, b)))
  counts = np.zeros_like(a)
  for op in set(ops): counts[ops == op] = carries(op, a[ops == op], b[ops == op], digits)
  groups = {"op": ops, "op_digits": np.char.add(ops, lengths.astype(str)), "op_carries": np.char.add(ops, counts.astype(str))}
  return lambda: {f"test_{k}": v for k, v in exact_match(written_answers(decode, ops, a, b, digits, scratchpad), expected, groups).items()}
