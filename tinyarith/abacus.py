"""Digit places: Abacus positions (McLeish et al. 2024) and position coupling (Cho et al. 2024). Each digit is placed by
its significance within its number, not by where it sits in the sequence, so the units digits of both operands and of the
answer share one position id, the tens digits the next.

A prompt's digits get their place counted from the units digit (1) up, since operands are written most significant first;
its other tokens get 0. From the "=" on, answers are written least significant digit first, so each answer slot gets its
number, 1, 2, ...: the place of the digit it holds, known before the model writes it, whatever the answer turns out to be.
In training the places are shifted by a random offset per problem, drawn so that places up to the end of the table, twice
the longest answer's, are trained: those of numbers far longer than the trained ones too (Cho et al. train 1-30 digits
with 202 places for a 100-digit test; McLeish et al. offsets up to 100 for the same). Abacus shifts the digits'
places only; coupling shifts every token's (its "+" and "=" sit next to the units digit, as in Cho et al.'s code), and
comes with the plain format's operands zero-padded to one length (tinyarith.calculator). The model reads a token and its
place packed in one integer, token + vocab * place, which keeps batches (B, T) for the loop, the JIT and the decoder
(model.Transformer unpacks it)."""
import numpy as np
from tinyarith.vocab import EQUALS

SCHEMES = ("abacus", "coupled")  # the --pos values whose tokens come packed with their places

def table_size(slots:int) -> int:
  """Rows of the place table for answers of up to `slots` tokens: places 0..slots, and as many again for the offsets."""
  return 2 * (slots + 1)

def places(tokens:np.ndarray, slots:int|None=None) -> np.ndarray:
  """tokens (B, T) -> the place of each token, (B, T): the prompt's digits counted from their number's units digit, the
  answer slots after the "=" numbered from 1 (at most `slots`: a shorter problem's row padded past its answer's end,
  which no target reads, stays within the table), 0 elsewhere."""
  is_digit, (B, T) = tokens < 10, tokens.shape
  prompt, run = np.cumsum(tokens == EQUALS, axis=-1) == 0, np.zeros((B, T + 1), dtype=np.int64)
  for t in range(T - 1, -1, -1): run[:, t] = (run[:, t + 1] + 1) * is_digit[:, t]  # the digits from t to its number's end
  slot = np.arange(T) - np.argmax(tokens == EQUALS, axis=-1)[:, None]
  return np.where(prompt, run[:, :T], np.clip(slot, 0, slots))

def pack(tokens:np.ndarray, vocab:int, slots:int, rng:np.random.Generator|None=None, scheme:str="abacus") -> np.ndarray:
  """tokens (B, T) of answers of up to `slots` tokens -> the model's input, token + vocab * place, (B, T). With rng
  (training) each problem's places (abacus: but 0) are shifted by an offset drawn from 0 up to the most that keeps them
  within the model's table_size(slots) places."""
  place, table = places(tokens, slots), table_size(slots)
  if (most := place.max(initial=0)) > slots: raise ValueError(f"a place of {most} does not fit answers of {slots} slots")
  if rng is not None: place = shifted(place, rng.integers(0, table - place.max(axis=-1, keepdims=True)), scheme)
  return tokens + vocab * place

def shifted(place:np.ndarray, offset:np.ndarray, scheme:str) -> np.ndarray:
  return place + (offset if scheme == "coupled" else offset * (place > 0))

def pack_apart(parts:list[np.ndarray], lengths:list[np.ndarray], vocab:int, slots:int, rng:np.random.Generator,
               scheme:str="abacus") -> list[np.ndarray]:
  """Problems that will share training rows: parts[k] (B, T) the k-th problem of each row, its first lengths[k] (B,) tokens
  its own. Each packed as pack() does, with offsets redrawn until no two of a row's problems have a place in common, so
  that a later problem's answer sees the earlier ones' digits at other places, far ones too, as a long test problem's
  does. Places past a problem's length are left unshifted, 0 or more (the caller drops those tokens)."""
  mine = [np.arange(p.shape[-1]) < n[:, None] for p, n in zip(parts, lengths)]
  place = [np.where(m, places(p, slots), 0) for p, m in zip(parts, mine)]
  table, lowest = table_size(slots), int(scheme != "coupled")  # abacus leaves place 0 (no digit) where it is
  most, others = np.stack([p.max(axis=-1) for p in place]), ~np.eye(len(parts), dtype=bool)[..., None]  # (K, B), (K, K, 1)
  offset = rng.integers(0, table - most)
  def clashing() -> np.ndarray:  # (B,): rows two of whose problems' places [offset + lowest, offset + most] overlap
    lo, hi = offset + lowest, offset + most
    return ((lo[:, None] <= hi[None]) & (lo[None] <= hi[:, None]) & others).any(axis=(0, 1))
  while (clash := clashing()).any(): offset[:, clash] = rng.integers(0, table - most[:, clash])
  return [tokens + vocab * np.where(m, shifted(p, o[:, None], scheme), 0) for tokens, m, p, o in zip(parts, mine, place, offset)]
