"""The calculator's data: its format, its masks, its held-out set, and each operator's answers and carry counts."""
import numpy as np
import pytest
from tinyarith.calculator import CalculatorProblems, answer_of, batch_arrays, carries, problem_tokens, true_answer
from tinyarith.data import IGNORE, decode
from tinyarith.errors import BadInput

def test_each_operator_writes_its_answer_reversed_zero_padded_and_padded_to_one_length():
  ops, a, b = np.array(list("+-*/-")), np.array([13, 13, 13, 97, 51]), np.array([51, 51, 51, 5, 13])
  assert [decode(t) for t in problem_tokens(ops, a, b, 2)] == [
    "13+51=460_", "13-51=83-_", "13*51=3660", "97/05=9120", "51-13=83+_"]
  # 13+51=64 -> 460; 13-51=-38 -> 83-; 13*51=663 -> 3660; 97/5 = 19 r 2 -> 91 20; 51-13=38 -> 83+

def test_a_written_answer_reads_back_as_a_person_writes_it_for_every_operator():
  rng = np.random.default_rng(0)
  for op in "+-*/":
    a, b = rng.integers(0, 1000, 300), rng.integers(1 if op == "/" else 0, 1000, 300)
    assert answer_of(np.full(300, op), problem_tokens(np.full(300, op), a, b, 3)[:, -6:], 3) == [true_answer(op, int(x), int(y)) for x, y in zip(a, b)]
  garbled = problem_tokens(np.array(["+"]), np.array([1]), np.array([2]), 1)
  garbled[0, -2] = garbled[0, 3]  # an "=" where a digit belongs
  assert answer_of(np.array(["+"]), garbled[:, -2:], 1) == ["?"]

def test_targets_are_the_answer_and_its_padding_the_prompt_masked():
  tokens, targets = batch_arrays(np.array(["+"]), np.array([13]), np.array([51]), 2)
  assert targets[0].tolist() == [IGNORE] * 5 + tokens[0, 6:].tolist() + [IGNORE]  # from "=" on: "460_", then nothing after the last

def by_hand(op:str, a:int, b:int, n:int) -> int:
  """Schoolbook carries and borrows, digit by digit on strings."""
  if op == "/": return len(str(a // b)) if a // b else 0
  if op == "*":
    columns, count, carry = [0] * (2 * n), 0, 0
    for i, x in enumerate(reversed(f"{a:0{n}d}")):
      for j, y in enumerate(reversed(f"{b:0{n}d}")): columns[i + j] += int(x) * int(y)
    for c in columns:
      carry = (c + carry) // 10
      count += carry > 0
    return count
  hi, lo = (max(a, b), min(a, b)) if op == "-" else (a, b)
  count = carry = 0
  for x, y in zip(reversed(f"{hi:0{n}d}"), reversed(f"{lo:0{n}d}")):
    carry = int(int(x) - int(y) - carry < 0) if op == "-" else int(int(x) + int(y) + carry >= 10)
    count += carry
  return count

@pytest.mark.parametrize("op", list("+-*/"))
def test_carry_and_borrow_counts_match_the_schoolbook_method(op):
  rng = np.random.default_rng(1)
  a, b = rng.integers(0, 1000, 300), rng.integers(1, 1000, 300)
  assert carries(op, a, b, 3).tolist() == [by_hand(op, int(x), int(y), 3) for x, y in zip(a, b)]
  assert carries("-", np.array([100]), np.array([1]), 3).tolist() == [2] and carries("*", np.array([99]), np.array([99]), 2).tolist() == [3]

def test_held_out_problems_are_spread_over_the_operators_and_never_trained_on_and_no_b_is_0_for_division():
  problems = CalculatorProblems(digits=1, ops="+-*/", test_size=100, seed=0)
  ops, a, b = problems.test()
  held = set(zip(ops, a, b))
  assert len(held) == 100 and {op: (ops == op).sum() for op in "+-*/"} == {"+": 25, "-": 25, "*": 25, "/": 25}
  stream = [np.stack(problems.sample(256)) for _ in range(100)]
  drawn = set(zip(*np.concatenate(stream, axis=1)))
  drawn = {(op, int(x), int(y)) for op, x, y in drawn}
  assert not held & drawn and not any(op == "/" and y == 0 for op, _, y in drawn | held)
  assert len(drawn) == 4 * 100 - 10 - 100  # every other problem: 100 pairs each, but no x/0
  assert {op: sum(o == op for o, _, _ in drawn) for op in "+-*/"} == {"+": 75, "-": 75, "*": 75, "/": 65}

def test_the_stream_is_seeded():
  same = [np.stack(CalculatorProblems(2, "+*", 100, seed=4).sample(64)[1:]) for _ in range(2)]
  assert (same[0] == same[1]).all() and not (same[0] == np.stack(CalculatorProblems(2, "+*", 100, seed=5).sample(64)[1:])).all()

@pytest.mark.parametrize("digits,ops,test_size,field", [(0, "+", 10, "digits"), (7, "+", 10, "digits"), (2, "+%", 10, "ops"),
                                                       (2, "", 10, "ops"), (2, "++", 10, "ops"), (1, "+/", 91, "test_size"), (2, "+", 0, "test_size")])
def test_bad_settings_are_bad_input_naming_them(digits, ops, test_size, field):
  with pytest.raises(BadInput) as e: CalculatorProblems(digits, ops, test_size, seed=0)
  assert e.value.field == field

def test_a_scratchpad_writes_the_partial_products_before_the_product_and_pads_the_rest_to_its_length():
  ops, a, b = np.array(list("*+")), np.array([13, 13]), np.array([51, 51])
  assert [decode(t) for t in problem_tokens(ops, a, b, 2, scratchpad=True)] == ["13*51=3105603660", "13+51=460" + "_" * 7]
  rng = np.random.default_rng(2)  # 13*1 = 013 -> 310, 13*5 = 065 -> 560, 663 -> 3660
  x, y = rng.integers(0, 1000, 200), rng.integers(0, 1000, 200)
  written = problem_tokens(np.full(200, "*"), x, y, 3, scratchpad=True)[:, 8:]
  assert answer_of(np.full(200, "*"), written, 3, scratchpad=True) == [str(int(p) * int(q)) for p, q in zip(x, y)]
