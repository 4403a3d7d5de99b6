"""The calculator: one GPT learns a+b, a-b, a*b and a/b (quotient and remainder) on N-digit operands, the operator a token,
every answer reversed and the prompt masked, and reports exact match per operator, operand length and carry count on
problems it never saw. --format plain --test-digits M trains on operands of 1 to N digits and tests lengths up to M
(length generalisation). --ask "123*45" --run RUN_DIR asks a trained one.

  from tinyarith import calculator
  rows = calculator.run(digits=2, ops="+-", steps=500, out="runs/notebook")  # the flags' names and defaults
  calculator.main()                                                          # experiments/calculator.py

The problems: a op b for the four operations on N-digit operands, in one format a single model learns.

A problem is its prompt, the operands zero-padded to N digits around the operator's token, then "=", then its answer:
every number in the answer zero-padded to its width and written least significant digit first, as addition's. The answers:
  a+b  the sum, N+1 digits
  a-b  |a-b|, N digits, then its sign: "+" for a >= b, "-" below (the usual "-12", reversed: "21-")
  a*b  the product, 2N digits
  a/b  the quotient a // b, N digits, then the remainder a % b, N digits (b = 0 is never generated)
and "_" after the shorter ones, so that every problem has the same 4N+2 tokens: one JIT capture serves a run and each
digit has its fixed place. 13-51 at N=2 is "13-51=" + "83-" + "_"; the targets are the next tokens from "=" on, pads
included, so the model also learns where its answer ends.

With scratchpad=True a product and a quotient are worked out first. A product: the partial products a * (digit j of b),
N+1 digits each, for j from the least significant digit up, then the product; 13*51 is "13*51=" + "310" (13*1) + "560"
(13*5) + "3660". A quotient: long division as a person writes it, one step per digit of a from the most significant:
bring the digit down beside the remainder so far, write the quotient's digit there, then the new remainder (N digits);
then the quotient and the remainder. 97/05 is "97/05=" + "1" "40" (9 = 1*5 + 4) + "9" "20" (47 = 9*5 + 2) + "91" "20".
Every answer is then N(N+1)+2N tokens long, the others padded. With division="multiples", a quotient starts with the
multiples b, 2b, ..., 9b (N+1 digits each), the trials a person makes, so that each quotient digit is the count of them
not above the number brought down; and each step writes the multiple it subtracts (N+1 digits) between the digit and the
remainder: 97/05 is "97/05=" + "500" "010" ... "540" (5, 10, ..., 45) + "1" "500" "40" + "9" "540" "20" + "91" "20".
With division="subtract" each step finds its quotient digit by taking b away until what is left is below b: ten
slots, the count so far then what is left (N digits), the first the number brought down, and once it is
below b the slot repeated, so that the tenth holds the digit and the remainder: 97/05 is "97/05=" + "090" "140" "140" ...
(9, 9 - 5 = 4, then held) + "074" "124" "273" ... "920" (47, 42, 37, ..., 2) + "91" "20". Each token then follows from
the slot before it and b: one comparison, one subtraction.

The plain format, for length generalisation, writes numbers as a person does, with no leading zeros, and ends the answer
with "_": 13-512 is "13-512=994-_", the answer reversed as above. Training operands have 1 to N digits (each length equally
likely); the held-out set has operands of 1 to M digits (M > N: lengths never trained on), both of one length in a problem.
Rows are right-padded with "_" to the longest problem's length; only the answer and its end count in the loss. With
position coupling (--pos coupled) both operands are zero-padded to the longer one's length L and the answer to L+1 digits
(a difference's to L and its sign, a product's to 2L): 13-512 is "013-512=994-_", 13+512 is "013+512=5250_", and the "_"
is no target: the answer's length is known from the prompt. Operands of 10 to 40 digits are Python integers.
Division (its two numbers would need a separator) and the scratchpad are padded-format only."""
import argparse
from dataclasses import asdict, dataclass
import numpy as np
from tinygrad import Tensor
from tinyarith import abacus, cli
from tinyarith.config import RunConfig, check_memory
from tinyarith.decode import exact_match, make_greedy_decoder
from tinyarith.device import check_device
from tinyarith.errors import BadInput
from tinyarith.loss import IGNORE, target_span
from tinyarith.metrics import summary
from tinyarith.model import POSITIONS, Config
from tinyarith.rundir import make_run_dir
from tinyarith.settings import GPT_DEFAULTS, check_types, defaults_of, resolve
from tinyarith.train import Data, train
from tinyarith.vocab import EQUALS, STOI, VOCAB, decode, encode, next_token_targets

# ---- the problems: a op b, padded or plain, and their exact-match metrics

OPS = "+-*/"
PLAIN_OPS = "+-*"  # division is padded-format only
PAD = STOI["_"]
DIVISIONS = ("long", "multiples", "subtract")  # how a scratchpad writes long division (the module's docstring)

def low_digits(x:np.ndarray, n:int) -> np.ndarray:
  """x (B,) -> (B, n): its n lowest digits, least significant first."""
  return (x[:, None] // 10 ** np.arange(n)) % 10

def scratch_width(op:str, n:int, scratchpad:bool, division:str="long") -> int:
  """The tokens of op's scratchpad, before its answer."""
  if not scratchpad or op not in "*/": return 0
  if op == "*": return n * (n + 1)
  return {"long": n * (n + 1), "multiples": 9 * (n + 1) + n * (2 * n + 2), "subtract": n * 10 * (n + 1)}[division]
def answer_width(n:int, scratchpad:bool=False, division:str="long") -> int: return scratch_width("/", n, scratchpad, division) + 2 * n

def long_division(a:np.ndarray, b:np.ndarray, n:int, division:str="long") -> np.ndarray:
  """Long division's steps, one per digit of a from the most significant, written as division (DIVISIONS) says: the
  quotient's digit, then the remainder so far, n digits, least significant first; "multiples": b's multiples 1b..9b
  first, and in each step the multiple subtracted between the two (n+1 digits each); "subtract": in each step ten slots
  of a count k and the number brought down less k*b, k stopping at the quotient's digit. (B,) -> (B, scratch_width)"""
  steps, remainder = [low_digits(k * b, n + 1) for k in range(1, 10)] if division == "multiples" else [], np.zeros_like(a)
  for place in range(n - 1, -1, -1):
    number = 10 * remainder + a // 10 ** place % 10  # bring the next digit down: below 10^n, as it is at most a's leading digits
    digit, remainder = np.divmod(number, b)
    if division == "subtract": steps += [x for k in np.minimum(np.arange(10)[:, None], digit) for x in (k[:, None], low_digits(number - k * b, n))]
    else: steps += [digit[:, None]] + [low_digits(digit * b, n + 1)] * (division == "multiples") + [low_digits(remainder, n)]
  return np.concatenate(steps, 1)

def answer_tokens(op:str, a:np.ndarray, b:np.ndarray, n:int, scratchpad:bool=False, division:str="long") -> np.ndarray:
  """The answers of a op b, as the module's docstring writes them, before padding. (B,) -> (B, width of op's answer)"""
  if op == "+": return low_digits(a + b, n + 1)
  if op == "-": return np.concatenate([low_digits(np.abs(a - b), n), np.where(a >= b, STOI["+"], STOI["-"])[:, None]], 1)
  if op == "*" and scratchpad: return np.concatenate([low_digits(a * (b // 10 ** j % 10), n + 1) for j in range(n)] + [low_digits(a * b, 2 * n)], 1)
  if op == "*": return low_digits(a * b, 2 * n)
  if op == "/": return np.concatenate([long_division(a, b, n, division)] * scratchpad + [low_digits(a // b, n), low_digits(a % b, n)], 1)
  raise BadInput("ops", f"unknown operator {op!r}: choose from {OPS}")

def problem_tokens(ops:np.ndarray, a:np.ndarray, b:np.ndarray, n:int, scratchpad:bool=False, division:str="long") -> np.ndarray:
  """Problems ops[i] applied to a[i], b[i] (ops: an array of operator characters), as tokens. (B,) -> (B, 2n+2 + answer_width)"""
  tokens = np.full((len(a), 2 * n + 2 + answer_width(n, scratchpad, division)), PAD, dtype=np.int64)
  tokens[:, :n], tokens[:, n + 1:2 * n + 1] = low_digits(a, n)[:, ::-1], low_digits(b, n)[:, ::-1]  # operands as written
  tokens[:, n], tokens[:, 2 * n + 1] = [STOI[op] for op in ops], EQUALS
  for op in set(ops):
    rows = ops == op
    answer = answer_tokens(op, a[rows], b[rows], n, scratchpad, division)
    tokens[np.flatnonzero(rows)[:, None], 2 * n + 2 + np.arange(answer.shape[1])] = answer
  return tokens

def plain_answer(op:str, a:int, b:int) -> str:
  """The plain format's answer to a op b, least significant digit first, as text."""
  if op == "-": return str(abs(a - b))[::-1] + ("+" if a >= b else "-")
  return str(a + b if op == "+" else a * b)[::-1]

def plain_width(n:int, ops:str) -> int:
  """Tokens of the longest plain problem with operands of up to n digits: a, op, b, "=", the answer and its "_"."""
  return 2 * n + 3 + max({"+": n + 1, "-": n + 1, "*": 2 * n}[op] for op in ops)

def plain_tokens(ops:np.ndarray, a:np.ndarray, b:np.ndarray, width:int, coupled:bool=False) -> np.ndarray:
  """Problems in the plain format, right-padded with "_" to width. coupled: both operands zero-padded to the longer one's
  length L, the answer to L+1 digits (a difference's to L, then its sign; a product's to 2L). (B,) -> (B, width)"""
  tokens = np.full((len(a), width), PAD, dtype=np.int64)
  for row, (op, x, y) in enumerate(zip(ops, a.tolist(), b.tolist())):
    n = len(str(max(x, y))) * coupled  # 0: no padding
    answer = plain_answer(op, x, y)
    if coupled: answer = answer[:-1].ljust(n, "0") + answer[-1] if op == "-" else answer.ljust({"+": n + 1, "*": 2 * n}[op], "0")
    text = encode(f"{x:0{n}d}{op}{y:0{n}d}=" + answer + "_")
    tokens[row, :len(text)] = text
  return tokens

def read_plain(ops:np.ndarray, answers:list[str]) -> list[str]:
  """Plain answers, the text from after the "=" (up to a "_" or the end), read back as a person writes them; "?" for one
  that is not well formed."""
  def read(op:str, text:str) -> str:
    digits, sign = (text[:-1], {"+": "", "-": "-"}.get(text[-1:])) if op == "-" else (text, "")
    return sign + str(int(digits[::-1])) if digits.isdigit() and sign is not None else "?"
  return [read(op, text.split("_")[0]) for op, text in zip(ops, answers)]

def answer_of(ops:np.ndarray, answers:np.ndarray, n:int, scratchpad:bool=False, division:str="long") -> list[str]:
  """Answer tokens (B, answer_width) to the operators ops (B,) read back as a person writes them: "64", "-12", "3 r 1";
  "?" for an answer that is not well formed. A scratchpad is skipped."""
  def number(digits) -> str: return str(int(decode(digits[::-1]))) if all(t < 10 for t in digits) else "?"
  def read(op:str, answer:np.ndarray) -> str:
    if op == "+": return number(answer[:n + 1])
    if op == "-": return {"+": "", "-": "-"}.get(VOCAB[answer[n]], "?") + number(answer[:n])
    answer = answer[scratch_width(op, n, scratchpad, division):]
    if op == "*": return number(answer[:2 * n])
    return f"{number(answer[:n])} r {number(answer[n:2 * n])}"
  return [read(op, answer) for op, answer in zip(ops, answers)]

def true_answer(op:str, a:int, b:int) -> str:
  return {"+": str(a + b), "-": str(a - b), "*": str(a * b)}.get(op) or f"{a // b} r {a % b}"

def schoolbook_carries(op:str, a:np.ndarray, b:np.ndarray, n:int) -> np.ndarray:
  """How many carries or borrows the schoolbook method makes for a op b: + its carries; - the borrows of the larger number
  minus the smaller; * the columns of long multiplication whose sum, with the carry into it, reaches 10; / how many digits
  the quotient has (long division's steps that write a digit). (B,) -> (B,)"""
  if op == "/": return np.char.str_len((a // b).astype(str)) * (a // b > 0)
  count, carry = np.zeros_like(a), np.zeros_like(a)
  if op == "*":
    da, db = low_digits(a, n), low_digits(b, n)
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
  that never produces one of them, in the padded format; and what turns them into the model's inputs and targets (with
  a scheme its tokens packed with their places, at random offsets in training: tinyarith.abacus) and its answers into
  exact-match metrics. A problem is coded as op_index * 10^2n + a * 10^n + b, n the longest operand's digits (a Python
  integer in an object array where that passes 64 bits). scheme: the abacus.SCHEMES scheme whose places the tokens carry."""
  most_digits = 6  # a product's 2n digits fit a 64-bit integer
  def __init__(self, digits:int, ops:str, test_size:int, seed:int, batch_size:int=GPT_DEFAULTS["batch_size"], scratchpad:bool=False,
               scheme:str|None=None, division:str="long"):
    if not 1 <= digits <= self.most_digits: raise BadInput("digits", f"must be 1 to {self.most_digits}, got {digits}")
    if not ops or (bad := set(ops) - set(OPS)) or len(set(ops)) < len(ops):
      raise BadInput("ops", f"must list distinct operators of {OPS!r}, got {ops!r}" + (f" ({''.join(sorted(bad))} is none)" if ops and bad else ""))
    if batch_size < 1: raise BadInput("batch_size", f"must be a positive integer, got {batch_size}")
    self.digits, self.ops, self.batch_size, self.scratchpad, self.scheme = digits, ops, batch_size, scratchpad, scheme
    self.division = division
    self.size, self.rng = 10 ** self.longest, np.random.default_rng(seed)
    self.dtype = np.int64 if len(ops) * self.size ** 2 < 2 ** 63 else object
    self.held_out = np.sort(self.draw_held_out(test_size))

  longest = property(lambda self: self.digits)  # digits of the longest operand, trained or held out
  @property
  def ctx_len(self) -> int: return 2 * self.digits + 2 + answer_width(self.digits, self.scratchpad, self.division)
  @property
  def slots(self) -> int: return self.ctx_len - 2 * self.longest - 2  # the longest answer's tokens: a place each

  def draw_held_out(self, test_size:int) -> np.ndarray:
    most = min(self.size * (self.size - (op == "/")) for op in self.ops) // 2 * len(self.ops)  # half of the fewest problems of an operator, each
    if not 0 < test_size <= most:
      raise BadInput("test_size", f"must be in 1..{most} (half of each operator's problems) at {self.digits} digits, got {test_size}")
    per_op = np.diff(np.linspace(0, test_size, len(self.ops) + 1).astype(int))
    return np.concatenate([self.draw(i, k, replace=False) for i, k in enumerate(per_op)])

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
    op_index, pair = codes // self.size ** 2, codes % self.size ** 2  # not np.divmod: it has no loop for Python integers
    return np.array(list(self.ops))[op_index.astype(np.int64)], pair // self.size, pair % self.size

  def test(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The held-out problems whose loss and token accuracy the run logs: those of trained lengths."""
    return self.split(self.held_out)

  def sample(self, size:int|None=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`size` (default: batch_size) training problems: each operator equally likely, then uniform over its problems not held out."""
    size, codes = size or self.batch_size, np.empty(0, dtype=np.int64)
    while len(codes) < size:
      ops = self.rng.integers(0, len(self.ops), size=size - len(codes))
      draw = np.concatenate([self.draw(i, int((ops == i).sum())) for i in range(len(self.ops))])
      codes = np.concatenate([codes, self.rng.permutation(draw[~self.is_held_out(draw)])])
    return self.split(codes)

  def is_held_out(self, codes:np.ndarray) -> np.ndarray:
    return self.held_out[np.minimum(np.searchsorted(self.held_out, codes), len(self.held_out) - 1)] == codes

  def tokens(self, ops:np.ndarray, a:np.ndarray, b:np.ndarray) -> np.ndarray:
    return problem_tokens(ops, a, b, self.digits, self.scratchpad, self.division)

  def arrays(self, ops:np.ndarray, a:np.ndarray, b:np.ndarray, train:bool=False) -> tuple[np.ndarray, np.ndarray]:
    """The model's input and the masked next-token targets of the problems: the answer's, its padding's (padded format)
    or its end's (plain), (B, T) each. train=True draws the places' offsets."""
    tokens = self.tokens(ops, a, b)
    return self.packed(tokens, train), self.targets(tokens)

  def targets(self, tokens:np.ndarray) -> np.ndarray: return next_token_targets(tokens)
  def span(self, *targets:np.ndarray) -> slice:
    """The positions that hold every kept target of these sets' targets and of every training batch (loss.target_span)."""
    return target_span(*targets)

  def packed(self, tokens:np.ndarray, train:bool=False) -> np.ndarray:
    if not self.scheme: return tokens
    return abacus.pack(tokens, len(VOCAB), self.slots, self.rng if train else None, self.scheme)

  def batch(self) -> tuple[np.ndarray, np.ndarray]: return self.arrays(*self.sample(), train=True)

  def written(self, decode, ops:np.ndarray, a:np.ndarray, b:np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A greedy decoder's (decode.make_greedy_decoder) answers to the problems: the tokens it wrote, the true ones, and
    which positions are answer (B, T) each; the answer starts after each row's "=" and ends at its last target."""
    tokens = self.tokens(ops, a, b)
    answer = np.pad(self.targets(tokens) != IGNORE, ((0, 0), (1, 0)))[:, :-1]  # position t is a target of t-1
    start = np.argmax(answer, axis=-1)
    prompt = np.where(np.arange(tokens.shape[1]) < start[:, None], tokens, 0)
    return decode(self.packed(prompt), start) % len(VOCAB), tokens, answer

  def read(self, ops:np.ndarray, written:np.ndarray, answer:np.ndarray) -> list[str]:
    """Written answers as a person writes them ("64", "-12", "3 r 1"; a product's scratchpad skipped; "?": not well formed)."""
    return answer_of(ops, written[:, 2 * self.digits + 2:], self.digits, self.scratchpad, self.division)

  def exact_match_metrics(self, model):
    """A metrics function for train(): exact match of the model's greedy answers to the held-out problems (every answer
    token right: padding, a product's scratchpad and a plain answer's end included) overall, per operator, and per
    operator and operand length (the longer operand's digits) or carry/borrow count: test_exact_by_op {"+": ...},
    test_exact_by_op_digits {"+3": ...}, test_exact_by_op_carries {"*5": ...}."""
    ops, a, b = self.split(self.held_out)
    decode, lengths, counts = make_greedy_decoder(model), np.maximum(*(np.char.str_len(x.astype(str)) for x in (a, b))), np.zeros_like(a)
    for op in set(ops): counts[ops == op] = schoolbook_carries(op, a[ops == op], b[ops == op], self.longest)
    groups = {"op": ops, "op_digits": np.char.add(ops, lengths.astype(str)), "op_carries": np.char.add(ops, counts.astype(str))}
    def metrics() -> dict:
      written, expected, answer = self.written(decode, ops, a, b)
      return {f"test_{k}": v for k, v in exact_match(np.where(answer, written, -1), np.where(answer, expected, -1), groups).items()}
    return metrics

class PlainProblems(CalculatorProblems):
  """The plain format's problems (see the module's docstring): training operands of 1 to digits digits, each length
  equally likely, and a held-out set of test_size problems spread evenly over the operators and the operand lengths 1 to
  test_digits, both operands of one length; those of trained lengths are never trained on. With scheme="coupled" the
  operands are zero-padded to one length and the answer to its width (plain_tokens)."""
  most_digits = 40
  def __init__(self, digits:int, ops:str, test_size:int, seed:int, batch_size:int=GPT_DEFAULTS["batch_size"], test_digits:int|None=None,
               scheme:str|None=None, pack:int=1):
    self.test_digits, self.pack = digits if test_digits is None else test_digits, pack
    if not digits <= self.test_digits <= self.most_digits:
      raise BadInput("test_digits", f"must be from --digits ({digits}) to {self.most_digits}, got {self.test_digits}")
    if pack < 1 or batch_size % pack: raise BadInput("pack", f"must be a positive integer that divides --batch-size ({batch_size}), got {pack}")
    if "/" in ops: raise BadInput("ops", "division is padded-format only: its quotient and remainder would need a separator")
    super().__init__(digits, ops, test_size, seed, batch_size, scheme=scheme)
    need = plain_width(digits, ops) - 2 * digits - 1  # places 0 to the longest trained answer's end: each packed problem's
    if scheme and pack * need > (table := abacus.table_size(self.slots)):
      raise BadInput("pack", f"{pack} problems of up to {digits} digits need {pack * need} places apart, the table has {table}: "
                     "lower --pack or raise --test-digits")

  longest = property(lambda self: self.test_digits)
  @property
  def ctx_len(self) -> int: return max(plain_width(self.test_digits, self.ops), self.pack * plain_width(self.digits, self.ops))
  @property
  def slots(self) -> int: return plain_width(self.test_digits, self.ops) - 2 * self.longest - 2  # packed rows add none
  def tokens(self, ops:np.ndarray, a:np.ndarray, b:np.ndarray) -> np.ndarray:
    """Right-padded to the longest problem of the longest operands here, and of trained ones at least: training batches
    and the held-out problems of trained lengths share one width (and one JIT capture), the whole held-out set another."""
    longest = max(len(str(int(x.max(initial=0)))) for x in (a, b))
    return plain_tokens(ops, a, b, plain_width(max(longest, self.digits), self.ops), self.scheme == "coupled")

  def targets(self, tokens:np.ndarray) -> np.ndarray:
    """From the "=" to the answer's end, "_", and none after it. Coupled answers have L+1 digits (a difference's L and its
    sign, a product's 2L), their length known from the prompt, so their end is not a target (nor in Cho et al.'s format)."""
    targets, coupled = next_token_targets(tokens), self.scheme == "coupled"
    return np.where(np.cumsum(targets == PAD, axis=-1) - (targets == PAD) * (not coupled) > 0, IGNORE, targets)

  def span(self, *targets:np.ndarray) -> slice:
    kept = target_span(*targets)
    return kept if self.pack == 1 else slice(kept.start, None)  # a packed row's later problems' targets run to its end

  def number(self, length:int, count:int) -> np.ndarray:
    """count numbers of length digits, uniform (0 is a 1-digit number), of the codes' dtype."""
    if length <= 18: return self.rng.integers(0 if length == 1 else 10 ** (length - 1), 10 ** length, size=count).astype(self.dtype)
    digits = np.concatenate([self.rng.integers(1, 10, size=(count, 1)), self.rng.integers(0, 10, size=(count, length - 1))], 1)
    return np.array([int("".join(map(str, row))) for row in digits], dtype=object)  # past 64 bits: one digit at a time

  def draw_held_out(self, test_size:int) -> np.ndarray:
    cells = [(i, n) for i in range(len(self.ops)) for n in range(1, self.test_digits + 1)]
    if not len(cells) <= test_size <= 10_000 * len(cells):
      raise BadInput("test_size", f"must be in {len(cells)}..{10_000 * len(cells)} (1 to 10,000 per operator and operand length), got {test_size}")
    codes = []
    for (i, n), k in zip(cells, np.diff(np.linspace(0, test_size, len(cells) + 1).astype(int))):
      k = min(k, (10 if n == 1 else 9 * 10 ** (n - 1)) ** 2 // 2)  # at most half of the problems of one length (1 digit: 50)
      drawn = np.empty(0, dtype=np.int64)
      while len(drawn) < k:
        drawn = np.concatenate([drawn, i * self.size ** 2 + self.number(n, k) * self.size + self.number(n, k)])
        drawn = drawn[np.sort(np.unique(drawn, return_index=True)[1])][:k]  # distinct, in the order drawn
      codes.append(drawn)
    return np.concatenate(codes)

  def test(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ops, a, b = self.split(self.held_out)
    trained = np.maximum(a, b) < 10 ** self.digits
    return ops[trained], a[trained], b[trained]

  def sample(self, size:int|None=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`size` (default: batch_size) training problems: each operator equally likely, each operand's length too, then
    uniform over the numbers of that length; never a held-out problem."""
    size, codes = size or self.batch_size, np.empty(0, dtype=np.int64)
    while len(codes) < size:
      k = size - len(codes)
      a, b = (np.stack([self.number(n, k) for n in range(1, self.digits + 1)])[self.rng.integers(0, self.digits, size=k), np.arange(k)] for _ in "ab")
      draw = self.rng.integers(0, len(self.ops), size=k).astype(self.dtype) * self.size ** 2 + a * self.size + b
      codes = np.concatenate([codes, draw[~self.is_held_out(draw)]])
    return self.split(codes)

  def batch(self) -> tuple[np.ndarray, np.ndarray]:
    """With pack > 1, rows of `pack` problems one after another (batch_size // pack rows, batch_size problems), each with its
    own places, apart from the others' (abacus.pack_apart), and the row's end padded."""
    if self.pack == 1: return super().batch()
    tokens = self.tokens(*self.sample())
    targets, lengths = self.targets(tokens), np.argmax(tokens == PAD, axis=-1) + 1  # each problem through its "_"
    parts = lambda x: [x[k::self.pack] for k in range(self.pack)]
    x = abacus.pack_apart(parts(tokens), parts(lengths), len(VOCAB), self.slots, self.rng, self.scheme) if self.scheme else parts(tokens)
    return one_after_another(x, parts(lengths), PAD), one_after_another(parts(targets), parts(lengths), IGNORE)

  def read(self, ops:np.ndarray, written:np.ndarray, answer:np.ndarray) -> list[str]:
    return read_plain(ops, [decode(row[mask]) for row, mask in zip(written, answer)])

def one_after_another(parts:list[np.ndarray], lengths:list[np.ndarray], fill:int) -> np.ndarray:
  """Rows of parts[k] (B, T), the first lengths[k] (B,) of each, one after another. -> (B, K*T), filled after their end"""
  (B, T), start = parts[0].shape, np.zeros(len(parts[0]), dtype=np.int64)
  rows = np.full((B, len(parts) * T), fill, dtype=parts[0].dtype)
  for part, n in zip(parts, lengths):
    mine = np.arange(T) < n[:, None]
    rows[np.nonzero(mine)[0], (start[:, None] + np.arange(T))[mine]] = part[mine]
    start = start + n
  return rows

FORMATS = ("padded", "plain")

def make_problems(data:dict, seed:int, pos:str) -> CalculatorProblems:
  """The problem set of a run's data settings (its config's "data"), for a model with positions pos."""
  scheme = pos if pos in abacus.SCHEMES else None
  if data["scratchpad"] and not set("*/") & set(data["ops"]):
    raise BadInput("scratchpad", f"works out products and quotients: --ops {data['ops']} has neither * nor /")
  if (division := data.get("division", "long")) not in DIVISIONS:
    raise BadInput("division", f"must be one of {', '.join(DIVISIONS)}, got {division!r}")
  if division != "long" and not (data["scratchpad"] and "/" in data["ops"]):
    raise BadInput("division", "says how the scratchpad writes long division: add --scratchpad, and / to --ops")
  if data.get("format", "padded") == "padded":
    if data.get("test_digits") not in (None, data["digits"]):
      raise BadInput("test_digits", "tests longer operands in the plain format only: add --format plain")
    if data.get("pack", 1) != 1: raise BadInput("pack", "is plain-format only: add --format plain")
    return CalculatorProblems(data["digits"], data["ops"], data["test_size"], seed, data["batch_size"], data["scratchpad"], scheme,
                              division)
  if data["scratchpad"]: raise BadInput("scratchpad", "is padded-format only: drop --format plain")
  return PlainProblems(data["digits"], data["ops"], data["test_size"], seed, data["batch_size"], data.get("test_digits"), scheme,
                       data.get("pack", 1))

@dataclass(frozen=True)
class ProblemSettings:
  digits: int = 2                # per operand (padded: 1 to 6, every operand zero-padded to this; plain: 1 to this many, up to 40)
  ops: str | None = None         # the operators to learn; None: padded OPS, plain PLAIN_OPS
  format: str = "padded"         # FORMATS: zero-padded operands and answers of fixed width, or numbers as written
  test_digits: int | None = None  # plain: held-out operands of 1 to this many digits, up to 40; None: digits
  test_size: int = 4000          # held-out problems, spread evenly over the operators (plain: and the lengths)
  batch_size: int = GPT_DEFAULTS["batch_size"]  # training problems per step, drawn fresh each step
  scratchpad: bool = False       # work out products and quotients before their answers (padded only)
  division: str = "long"         # with scratchpad, how long division is written: DIVISIONS
  pack: int = 1                  # plain: training problems per row, one after another, each at places apart from the others'
  def __post_init__(self):
    if self.format not in FORMATS: raise BadInput("format", f"must be one of {', '.join(FORMATS)}, got {self.format!r}")
    if self.ops is None: object.__setattr__(self, "ops", OPS if self.format == "padded" else PLAIN_OPS)
    check_types(self)

# ---- the run: settings, then training

DEFAULTS = {**defaults_of(Config, RunConfig, ProblemSettings), **GPT_DEFAULTS, "resume": None}
TRAIN_SAMPLE = 1000  # fixed training problems whose loss draws the train curve
OP_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div"}  # for run directory names

def config_of(settings:dict) -> RunConfig:
  """The RunConfig of the settings; its directory is --resume's, or --out, or runs/<a name from the settings>."""
  data = asdict(ProblemSettings(**{k: settings[k] for k in defaults_of(ProblemSettings)}))
  problems = make_problems(data, settings["seed"], settings["pos"])  # checks the data settings first
  name = "-".join(OP_NAMES[op] for op in data["ops"]) + "-scratch" * data["scratchpad"] + f"-{data['division']}" * (data["division"] != "long")
  if data["format"] == "plain": name += f"-plain-test{problems.test_digits}d-{settings['pos']}" + f"-pack{data['pack']}" * (data["pack"] > 1)
  name += "-logattn" * (settings["attn_scale"] == "log") + f"-warmup{settings['warmup']}" * bool(settings["warmup"])
  name += f"-{settings['decay']}" * (settings["decay"] != "none")
  out = settings["resume"] or settings["out"] or f"runs/calculator-{data['digits']}d-{name}-seed{settings['seed']}"
  n_places = abacus.table_size(problems.slots) if problems.scheme else None
  return RunConfig.from_flags({**settings, "out": out}, "calculator", data, vocab=len(VOCAB), ctx_len=problems.ctx_len, n_places=n_places)

def run(**settings) -> list[dict]:
  """Train from Python: settings by the flags' names, the rest their defaults; resume="DIR" goes on with a run. A bad
  setting raises BadInput naming it. Returns the run's metrics rows."""
  settings = resolve(settings, DEFAULTS)
  check_device()
  run, resume = config_of(settings), bool(settings["resume"])
  problems = make_problems(run.data, run.seed, run.model.pos)
  check_memory(run, run.data["batch_size"], "batch_size")  # before a batch is drawn
  model, opt = run.build()
  out = make_run_dir(run, resume)
  print(f"{run.data['digits']}-digit {' '.join(run.data['ops'])}, {len(problems.held_out)} held-out problems; writing {out}/")
  train_sample, test_set = problems.arrays(*problems.sample(TRAIN_SAMPLE)), problems.arrays(*problems.test())
  feed = Data(lambda: tuple(map(Tensor, problems.batch())), {"train": tuple(map(Tensor, train_sample)), "test": tuple(map(Tensor, test_set))},
              span=problems.span(train_sample[1], test_set[1]), extra_metrics=problems.exact_match_metrics(model), rng=problems.rng)
  rows = train(model, opt, feed, run, resume)
  print(summary(rows))
  print("exact match by operator: " + ", ".join(f"{k}: {v['exact']:.4f} (n={v['n']})" for k, v in rows[-1]["test_exact_by_op"].items()))
  if run.data["format"] == "plain":
    by_length = sorted(rows[-1]["test_exact_by_op_digits"].items(), key=lambda kv: (kv[0][0], int(kv[0][1:])))  # +2 before +10
    print("exact match by operand length: " + ", ".join(f"{k}: {v['exact']:.4f}" for k, v in by_length))
  print(f"wrote {out}/config.json, metrics.jsonl, checkpoint.json, model.safetensors, loss.png")
  return rows

# ---- the command line

def knows(config:dict) -> tuple[str, int]:
  """--ask: the operators the run's model learned and its longest operand."""
  problems = make_problems(config["data"], 0, config["model"]["pos"])
  return problems.ops, problems.longest

def answer(config:dict, model, op:str, a:int, b:int) -> tuple[str, str, str]:
  """--ask: the model's answer to a op b, the true one, and what it wrote."""
  problems, op, a, b = make_problems(config["data"], 0, config["model"]["pos"]), np.array([op]), np.array([a]), np.array([b])
  written, _, answered = problems.written(make_greedy_decoder(model), op, a, b)
  return problems.read(op, written, answered)[0], true_answer(op[0], int(a[0]), int(b[0])), decode(written[0][answered[0]])

def parser() -> cli.ArgumentParser:
  parser = cli.ArgumentParser(prog="experiments/calculator.py", description=__doc__.split("\n\n")[0])
  g = parser.add_argument_group("data")
  cli.option(g, "digits", DEFAULTS, "digits per operand (padded: 1 to 6, every operand zero-padded to this; plain: training "
             "operands of 1 to this many, up to 40)", type=int)
  cli.option(g, "ops", DEFAULTS, f"the operators to learn, any of {OPS} (default: padded {OPS}, plain {PLAIN_OPS})")
  cli.option(g, "format", DEFAULTS, "padded: zero-padded operands, answers of fixed width; plain: numbers as written, each answer "
             "ended by '_' (for length generalisation)", choices=FORMATS)
  cli.option(g, "test-digits", DEFAULTS, "plain: held-out operands of 1 to this many digits, up to 40 (default: --digits)", type=int)
  cli.option(g, "test-size", DEFAULTS, "held-out problems, spread evenly over the operators (plain: and the lengths)", type=int)
  cli.option(g, "scratchpad", DEFAULTS, "write a product's partial products a * (each digit of b) before the product, and a "
             "quotient's long division, digit by digit with the remainder so far, before the quotient (padded only)",
             action=argparse.BooleanOptionalAction)
  cli.option(g, "division", DEFAULTS, "with --scratchpad, how long division is written: long: each step's quotient digit and "
             "remainder; multiples: the divisor's multiples b, 2b, ..., 9b first, the trials a person makes, and each step's "
             "subtrahend; subtract: each step takes the divisor away until what is left is below it, writing the count and "
             "each difference", choices=DIVISIONS)
  cli.option(g, "pack", DEFAULTS, "plain: training problems per row, one after another, each at places apart from the others' "
             "(with --pos coupled or abacus), so that answers are learned with other digits in view, as a long test problem's are",
             type=int)
  cli.add_drawn_problem_args(g, DEFAULTS, "123*45")
  cli.add_model_args(parser, DEFAULTS, POSITIONS)
  cli.add_train_args(parser, DEFAULTS)
  return parser

@cli.guarded
def main(argv:list[str]|None=None):
  flags = cli.parse(parser(), argv)
  if not cli.ask(flags, "calculator", "123*45", knows, answer): run(**flags)
