"""The characters the GPT experiments (addition, the calculator) write their problems in, and next-token targets with the
prompt masked (IGNORE where a position does not count)."""
import numpy as np
from tinyarith.loss import IGNORE

# "13+51=" followed by the answer, as characters over this vocabulary; "_" pads (and ends a plain answer).
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
