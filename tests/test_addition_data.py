import numpy as np
import pytest
from tinyarith.addition import AdditionProblems, addition_tokens, answer_value, carries
from tinyarith.vocab import decode, encode, next_token_targets

def test_the_walkthrough_table_of_seed_000_holds_exactly():
  assert next_token_targets(np.array(encode("47+6=35"))).tolist() == [-1, -1, -1, -1, 3, 5, -1]

def test_targets_are_shifted_not_aligned():
  # seed 000's first attempt masked without shifting: 1+9=01 -> [-1,-1,-1,-1,0,1], each answer digit its own target
  assert next_token_targets(np.array(encode("1+9=01"))).tolist() == [-1, -1, -1, 0, 1, -1]

def test_problems_are_zero_padded_with_the_answer_reversed():
  a, b = np.array([13, 7]), np.array([51, 95])
  assert [decode(t) for t in addition_tokens(a, b, 2)] == ["13+51=460", "07+95=201"]
  assert [decode(t) for t in addition_tokens(a, b, 2, reverse=False)] == ["13+51=064", "07+95=102"]

@pytest.mark.parametrize("reverse", [True, False])
def test_unreversing_the_answer_round_trips(reverse):
  rng = np.random.default_rng(0)
  a, b = rng.integers(0, 1000, 500), rng.integers(0, 1000, 500)
  assert (answer_value(addition_tokens(a, b, 3, reverse)[:, -4:], reverse) == a + b).all()

def test_carries_match_schoolbook_addition():
  def by_hand(a, b):
    count = carry = 0
    for da, db in zip(reversed(f"{a:03d}"), reversed(f"{b:03d}")):
      carry = int(int(da) + int(db) + carry >= 10); count += carry
    return count
  rng = np.random.default_rng(1)
  a, b = rng.integers(0, 1000, 300), rng.integers(0, 1000, 300)
  assert carries(a, b, 3).tolist() == [by_hand(x, y) for x, y in zip(a, b)]

def test_held_out_problems_never_appear_in_the_training_stream():
  problems = AdditionProblems(digits=2, test_size=2000, seed=0)
  held = set(zip(*problems.test()))
  assert len(held) == 2000  # distinct
  a, b = np.concatenate([np.stack(problems.sample(256)) for _ in range(400)], axis=1)  # 102,400 problems
  assert not held & set(zip(a, b))
  assert len(set(zip(a, b))) == 10_000 - 2000  # and the stream covers every other problem

def test_the_stream_is_seeded():
  same = [np.stack(AdditionProblems(3, 100, seed=4).sample(64)) for _ in range(2)]
  assert (same[0] == same[1]).all() and not (same[0] == np.stack(AdditionProblems(3, 100, seed=5).sample(64))).all()

@pytest.mark.parametrize("digits,test_size", [(0, 10), (1, 51), (2, 0)])
def test_impossible_sizes_are_value_errors(digits, test_size):
  with pytest.raises(ValueError): AdditionProblems(digits, test_size, seed=0)
