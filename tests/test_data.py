import numpy as np
import pytest
from tinyarith.grokking import modular_table, modular_split
from tinyarith.loss import IGNORE

def test_every_pair_lands_in_exactly_one_split():
  x_train, y_train, x_test, y_test = modular_split(31, "+", 0.3, seed=0)
  pairs = [tuple(r) for r in np.concatenate([x_train, x_test])[:, :2]]
  assert len(pairs) == len(set(pairs)) == 31 * 31
  assert len(x_train) == int(0.3 * 31 * 31) and len(x_test) == 31 * 31 - len(x_train)

def test_sequences_are_a_b_equals_and_only_the_last_position_is_a_target():
  x_train, y_train, _, _ = modular_split(13, "+", 0.5, seed=1)
  assert (x_train[:, 2] == 13).all() and (x_train[:, :2] < 13).all()
  assert (y_train[:, :2] == IGNORE).all() and ((0 <= y_train[:, 2]) & (y_train[:, 2] < 13)).all()

@pytest.mark.parametrize("op,f", [("+", lambda a, b, p: (a + b) % p), ("-", lambda a, b, p: (a - b) % p),
                                  ("*", lambda a, b, p: a * b % p), ("x2+y2", lambda a, b, p: (a * a + b * b) % p)])
def test_labels_are_right_for_each_op(op, f):
  tokens, labels = modular_table(11, op)
  assert len(tokens) == 121
  for (a, b, _), c in zip(tokens, labels): assert c == f(int(a), int(b), 11)

def test_division_multiplies_by_the_inverse_and_skips_non_invertible_b():
  tokens, labels = modular_table(11, "/")
  assert len(tokens) == 11 * 10 and 0 not in tokens[:, 1]
  for (a, b, _), c in zip(tokens, labels): assert (c * b) % 11 == a
  tokens, _ = modular_table(12, "/")  # b must be coprime to 12: 1, 5, 7, 11
  assert sorted(set(tokens[:, 1])) == [1, 5, 7, 11]

def test_same_seed_same_split_other_seed_other_split():
  a, b, c = (modular_split(23, "+", 0.4, seed=s)[0] for s in (5, 5, 6))
  assert (a == b).all() and not (a == c).all()

@pytest.mark.parametrize("p,op,frac", [(1, "+", 0.3), (23, "^", 0.3), (23, "+", 0.0), (23, "+", 1.0), (2, "+", 0.1)])
def test_bad_arguments_are_value_errors(p, op, frac):
  with pytest.raises(ValueError): modular_split(p, op, frac, seed=0)
