import math
import numpy as np
import pytest
from tinygrad import Tensor
from tinyarith.addition import addition_tokens, answer_value
from tinyarith.vocab import decode
from tinyarith.addition import addition_answers, addition_exact_match
from tinyarith.decode import make_greedy_decoder, exact_match

class Successor:
  """A stand-in model whose logits force the prediction at each position to be (its token + 1) mod 10."""
  def __call__(self, x:Tensor) -> Tensor: return ((x + 1) % 10).one_hot(10).float() * 5

def test_greedy_decoding_fills_each_position_from_the_one_before():
  prompt = addition_tokens(np.array([12, 3]), np.array([34, 4]), 2)
  prompt[:, 6:] = 7  # junk where the answer goes: it must be overwritten in order
  decode_fn = make_greedy_decoder(Successor())
  for _ in range(3):  # the first calls run and capture the JIT, the third replays it
    out = decode_fn(prompt, 6)
  # '=' is token 11 -> (11+1)%10 = 2, then 3, then 4
  assert [decode(r) for r in out] == ["12+34=234", "03+04=234"]

@pytest.mark.parametrize("eval_rows", [512, 64], ids=["one chunk", "two chunks"])
def test_a_model_that_knows_the_answer_scores_exact_match_one_in_any_number_of_chunks(monkeypatch, eval_rows):
  from tinyarith import batches
  monkeypatch.setattr(batches, "EVAL_POSITIONS", eval_rows * 9)  # 2-digit problems are 9 tokens
  class Oracle:  # reads a and b off each 2-digit prompt "a1a0+b1b0=" and predicts the reversed answer's digits after '='
    def __call__(self, x:Tensor) -> Tensor:
      total = x[:, 0] * 10 + x[:, 1] + x[:, 3] * 10 + x[:, 4]  # (B,)
      digits = Tensor.stack(*[total // 10**i % 10 for i in range(3)], dim=1)  # (B, 3), least significant first
      return digits.pad(((0, 0), (5, 1))).one_hot(10).float()  # at positions 5 ('='), 6, 7: the digit that comes next
  a, b = np.array([12, 99, 5, 0]), np.array([34, 1, 50, 7])
  oracle, more = Oracle(), np.random.default_rng(0).integers(0, 100, (2, 100))  # 100 problems: two chunks of 64 rows
  assert math.ceil(100 / batches.chunk_size(100, 9)) == (1 if eval_rows > 100 else 2)
  for a_, b_ in ((a, b), more): assert (answer_value(addition_answers(make_greedy_decoder(oracle), a_, b_, 2, reverse=True)) == a_ + b_).all()
  metrics = addition_exact_match(oracle, a, b, 2, reverse=True)()
  assert metrics["test_exact"] == 1.0
  assert metrics["test_exact_by_carries"] == {"0": {"n": 3, "exact": 1.0}, "2": {"n": 1, "exact": 1.0}}  # 99+1 carries twice
  assert metrics["test_exact_by_operand_digits"] == {"1": {"n": 1, "exact": 1.0}, "2": {"n": 3, "exact": 1.0}}

def test_exact_match_breakdown_adds_up_to_the_overall_figure():
  rng = np.random.default_rng(0)
  expected = rng.integers(0, 10, (200, 4))
  predicted = np.where(rng.random((200, 4)) < 0.05, 0, expected)
  groups = {"carries": rng.integers(0, 4, 200), "operand_digits": rng.integers(1, 4, 200)}
  result = exact_match(predicted, expected, groups)
  assert 0.5 < result["exact"] < 1
  for name in groups:
    parts = result[f"exact_by_{name}"].values()
    assert sum(p["n"] for p in parts) == 200
    assert sum(p["n"] * p["exact"] for p in parts) / 200 == pytest.approx(result["exact"], abs=1e-12)

def test_each_row_is_decoded_from_its_own_start_and_keeps_what_its_tokens_carry():
  class Packed(Successor):  # an abacus model: tokens come packed with a place, token + 16 * place
    cfg, place_emb = type("cfg", (), {"vocab": 16}), object()
    def __call__(self, x:Tensor) -> Tensor: return super().__call__(x % 16)
  prompt = np.array([[1, 11, 7, 7, 7, 7], [1, 2, 3, 11, 7, 7]])  # "1=" and "123=": their answers start at 2 and 4
  out = make_greedy_decoder(Successor())(prompt, np.array([2, 4]))
  assert out.tolist() == [[1, 11, 2, 3, 4, 5], [1, 2, 3, 11, 2, 3]]
  packed = prompt + 16 * np.arange(6)
  out = make_greedy_decoder(Packed())(packed, np.array([2, 4]))
  assert (out // 16 == np.arange(6)).all() and (out % 16).tolist() == [[1, 11, 2, 3, 4, 5], [1, 2, 3, 11, 2, 3]]
