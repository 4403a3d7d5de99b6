"""The calculator's data: its format, its masks, its held-out set, and each operator's answers and carry counts."""
import re
import numpy as np
import pytest
from tinyarith.abacus import pack, places
from tinyarith.calculator import PAD, CalculatorProblems, PlainProblems, answer_of, schoolbook_carries as carries, plain_tokens, plain_width, problem_tokens, read_plain, true_answer
from tinyarith.loss import IGNORE
from tinyarith.vocab import decode, encode
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
  tokens, targets = CalculatorProblems(2, "+", 10, seed=0).arrays(np.array(["+"]), np.array([13]), np.array([51]))
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

def long_division_by_hand(a:int, b:int, n:int, division:str="long") -> str:
  """Long division on the written digits of a, as taught: bring each digit down, write the digit of the quotient, subtract;
  "multiples": b times 1 to 9 written first, the quotient's digit the last multiple that fits, and each step's subtrahend;
  "subtract": b taken away while what is left is not below it, each count and what is left written, ten times a step."""
  reversed_digits = lambda x, width: str(x).zfill(width)[::-1]
  trials = [b * k for k in range(1, 10)]
  steps, remainder = "".join(reversed_digits(t, n + 1) for t in trials) if division == "multiples" else "", 0
  for digit in str(a).zfill(n):
    remainder = remainder * 10 + int(digit)
    if division == "subtract":
      count = 0
      for _ in range(10):
        steps += str(count) + reversed_digits(remainder, n)
        if remainder >= b: count, remainder = count + 1, remainder - b
      continue
    q = sum(t <= remainder for t in trials)  # the trials that fit, counted
    steps += str(q) + (reversed_digits(q * b, n + 1) if division == "multiples" else "") + reversed_digits(remainder - q * b, n)
    remainder -= q * b
  return steps + reversed_digits(a // b, n) + reversed_digits(a % b, n)

def test_a_scratchpad_works_out_a_quotient_by_long_division_before_it():
  assert decode(problem_tokens(np.array(["/"]), np.array([97]), np.array([5]), 2, scratchpad=True)[0]) == "97/05=" + "140" + "920" + "9120"
  rng = np.random.default_rng(4)  # 9 = 1*5 + 4, then 47 = 9*5 + 2: quotient 19, remainder 2
  x, y = rng.integers(0, 1000, 300), rng.integers(1, 1000, 300)
  tokens = problem_tokens(np.full(300, "/"), x, y, 3, scratchpad=True)
  assert [decode(t) for t in tokens] == [f"{p:03}/{q:03}=" + long_division_by_hand(int(p), int(q), 3) for p, q in zip(x, y)]
  assert answer_of(np.full(300, "/"), tokens[:, 8:], 3, scratchpad=True) == [f"{p // q} r {p % q}" for p, q in zip(x, y)]

def test_the_plain_format_writes_numbers_as_written_and_ends_each_answer():
  ops, a, b = np.array(list("+-*-")), np.array([13, 13, 13, 7]), np.array([512, 512, 512, 7])
  assert [decode(t) for t in plain_tokens(ops, a, b, 13)] == ["13+512=525_" + "__", "13-512=994-_" + "_", "13*512=6566_" + "_", "7-7=0+_" + "_" * 6]
  # 525 reversed is 525; 13-512 = -499 -> 994-; 13*512 = 6656 -> 6566; 7-7 = +0
  rng = np.random.default_rng(3)
  for op in "+-*":
    x, y = rng.integers(0, 10 ** rng.integers(1, 7, 200)), rng.integers(0, 10 ** rng.integers(1, 7, 200))
    written = [decode(t).split("=")[1] for t in plain_tokens(np.full(200, op), x, y, plain_width(6, op))]
    assert read_plain(np.full(200, op), written) == [true_answer(op, int(p), int(q)) for p, q in zip(x, y)]
  assert read_plain(np.array(list("+-*")), ["", "12", "1=2_"]) == ["?", "?", "?"]

def test_plain_targets_are_the_answer_and_its_end_and_nothing_after():
  problems = PlainProblems(3, "+", 30, seed=0)
  tokens, targets = problems.arrays(np.array(["+", "+"]), np.array([13, 999]), np.array([512, 1]))
  assert [decode(t) for t in tokens] == ["13+512=525___", "999+1=0001___"]
  assert targets[0].tolist() == [IGNORE] * 6 + encode("525_") + [IGNORE] * 3
  assert targets[1].tolist() == [IGNORE] * 5 + encode("0001_") + [IGNORE] * 3

def test_plain_training_operands_have_each_length_equally_often_and_held_out_problems_of_every_length_are_never_trained_on():
  problems = PlainProblems(2, "+*", 200, seed=0, test_digits=4)
  ops, a, b = problems.split(problems.held_out)
  lengths = np.char.str_len(a.astype(str))
  assert (lengths == np.char.str_len(b.astype(str))).all()  # both operands of one length
  assert {(op, n): ((ops == op) & (lengths == n)).sum() for op in "+*" for n in range(1, 5)} == {(op, n): 25 for op in "+*" for n in range(1, 5)}
  assert len(set(zip(ops, a, b))) == 200 and len(problems.test()[0]) == 100  # test(): the trained lengths, 1 and 2
  drawn = [np.stack(problems.sample(256)) for _ in range(40)]
  ops_d, a_d, b_d = np.concatenate(drawn, axis=1)
  a_d, b_d = a_d.astype(np.int64), b_d.astype(np.int64)
  assert not set(zip(ops, a, b)) & set(zip(ops_d, a_d, b_d))
  assert np.char.str_len(np.concatenate([a_d, b_d]).astype(str)).max() == 2
  one_digit = np.mean(np.concatenate([a_d, b_d]) < 10)
  assert 0.45 < one_digit < 0.55  # 1 and 2 digits equally likely, not 10 to 90 as uniform numbers would be

@pytest.mark.parametrize("kwargs,field", [(dict(ops="+/"), "ops"), (dict(test_digits=1), "test_digits"), (dict(test_digits=41), "test_digits"),
                                         (dict(test_size=3), "test_size")])
def test_bad_plain_settings_are_bad_input_naming_them(kwargs, field):
  with pytest.raises(BadInput) as e: PlainProblems(**{"digits": 2, "ops": "+", "test_size": 100, "seed": 0, "test_digits": 4, **kwargs})
  assert e.value.field == field

def test_abacus_places_count_each_digit_from_its_units_and_number_the_answer_slots():
  tokens = np.array([encode("123+45=861_"), encode("7*10=07___") + [PAD]])
  assert places(tokens).tolist() == [[3, 2, 1, 0, 2, 1, 0, 1, 2, 3, 4], [1, 0, 2, 1, 0, 1, 2, 3, 4, 5, 6]]
  assert places(tokens, 5).tolist()[1] == [1, 0, 2, 1, 0, 1, 2, 3, 4, 5, 5]  # past the longest answer: no new place
  assert (pack(tokens, 16, 6) == tokens + 16 * places(tokens)).all()
  rows = np.repeat(tokens, 200, axis=0)
  shifted = pack(rows, 16, 6, np.random.default_rng(0)) // 16  # answers of up to 6 slots: 14 places
  offsets = shifted - places(rows)
  assert (offsets[places(rows) == 0] == 0).all() and shifted.max() == 13  # 0 stays; the rest reach the last of 14 places
  per_row = [set(row[p > 0]) for row, p in zip(offsets, places(rows))]
  assert all(len(s) == 1 for s in per_row) and len({s.pop() for s in per_row}) == 10  # one offset a problem: 0 to 9 for the first
  with pytest.raises(ValueError): pack(tokens, 16, 2)

def test_coupled_problems_zero_pad_both_operands_to_one_length_and_the_answer_to_its_width():
  ops, a, b = np.array(list("+-*+")), np.array([13, 13, 12, 7]), np.array([512, 512, 3, 5])
  assert [decode(t) for t in plain_tokens(ops, a, b, 14, coupled=True)] == ["013+512=5250_" + "_", "013-512=994-_" + "_",
                                                                           "12*03=6300_" + "_" * 3, "7+5=21_" + "_" * 7]
  rng = np.random.default_rng(4)  # against Python's integers, up to 30 digits: past 64 bits
  x, y = ([int("".join(map(str, rng.integers(0, 10, rng.integers(1, 31))))) for _ in range(100)] for _ in "ab")
  for op, answer in (("+", lambda p, q, n: str(p + q).zfill(n + 1)[::-1]), ("-", lambda p, q, n: str(abs(p - q)).zfill(n)[::-1] + "+-"[p < q])):
    tokens = plain_tokens(np.full(100, op), np.array(x, dtype=object), np.array(y, dtype=object), plain_width(30, op), coupled=True)
    for row, p, q in zip(tokens, x, y):
      n = max(len(str(p)), len(str(q)))
      assert decode(row).rstrip("_") == f"{p:0{n}d}{op}{q:0{n}d}=" + answer(p, q, n)
    written = [decode(t).split("=")[1] for t in tokens]
    assert read_plain(np.full(100, op), written) == [str(p + q if op == "+" else p - q) for p, q in zip(x, y)]

def test_coupled_places_give_each_significance_one_id_in_both_operands_and_the_answer_at_one_random_start_a_problem():
  problems = PlainProblems(10, "+", 300, seed=0, test_digits=30, scheme="coupled")
  ops, a, b = problems.sample(400)
  tokens, packed = problems.tokens(ops, a, b), problems.arrays(ops, a, b, train=True)[0]
  table = 2 * (problems.slots + 1)  # the model's place table: the answer's 32 slots, and as many again
  ids, starts = packed // 16, []
  for row, p, q in zip(ids, a.tolist(), b.tolist()):
    n = max(len(str(p)), len(str(q)))
    first, second, answer = row[:n], row[n + 1:2 * n + 1], row[2 * n + 2:3 * n + 3]
    assert (first == second).all() and (first[::-1] == answer[:n]).all()  # units with units, tens with tens, ...
    assert (np.diff(answer) == 1).all() and row[n] == row[2 * n + 1] == answer[0] - 1  # "+" and "=" next to the units
    starts.append(row[n])
  assert max(ids.max(axis=-1)) == table - 1 and min(starts) == 0  # offsets reach the table's end: the longest test's places trained
  test = problems.arrays(*problems.split(problems.held_out))[0] // 16
  assert problems.slots == 32 and test.max() == 32  # 30-digit operands: 31 answer digits and the end

def test_plain_problems_past_64_bits_are_python_integers_of_every_test_length_never_trained_on():
  problems = PlainProblems(10, "+", 300, seed=0, test_digits=30)
  ops, a, b = problems.split(problems.held_out)
  assert sorted(set(np.char.str_len(a.astype(str)))) == list(range(1, 31)) and (np.char.str_len(a.astype(str)) == np.char.str_len(b.astype(str))).all()
  drawn = problems.sample(2000)
  assert max(len(str(x)) for x in drawn[1].tolist() + drawn[2].tolist()) == 10
  assert not set(zip(*map(list, problems.test()))) & set(zip(*map(list, drawn)))
  tokens = problems.tokens(ops, a, b)
  assert all(decode(t).split("=")[1].split("_")[0] == str(p + q)[::-1] for t, p, q in zip(tokens, a.tolist(), b.tolist()))

def test_a_coupled_answer_is_its_digits_alone_its_length_known_from_the_prompt():
  problems, ops, a, b = PlainProblems(3, "+-", 30, seed=0, scheme="coupled"), np.array(list("+-")), np.array([13, 7]), np.array([512, 5])
  targets = problems.targets(problems.tokens(ops, a, b))
  assert targets[0].tolist() == [IGNORE] * 7 + encode("5250") + [IGNORE] * 2  # 013+512=5250_ : the four digits, not the "_"
  assert targets[1].tolist() == [IGNORE] * 3 + encode("2+") + [IGNORE] * 8    # 7-5=2+_ : the digit and its sign

def test_with_multiples_long_division_writes_the_trials_and_each_steps_subtrahend():
  assert decode(problem_tokens(np.array(["/"]), np.array([97]), np.array([5]), 2, scratchpad=True, division="multiples")[0]) == (
    "97/05=" + "500010510020520030530040540" + "1500" "40" + "9540" "20" + "9120")  # 5..45; 9 - 5 = 4; 47 - 45 = 2
  rng = np.random.default_rng(5)
  x, y = rng.integers(0, 1000, 300), rng.integers(1, 1000, 300)
  ops = np.array(list("/*") * 150)
  tokens = problem_tokens(ops, x, y, 3, scratchpad=True, division="multiples")
  assert tokens.shape == (300, 8 + 9 * 4 + 3 * 8 + 6)
  assert [decode(t).rstrip("_") for t in tokens[::2]] == [f"{p:03}/{q:03}=" + long_division_by_hand(int(p), int(q), 3, "multiples") for p, q in zip(x[::2], y[::2])]
  assert answer_of(ops, tokens[:, 8:], 3, scratchpad=True, division="multiples") == [true_answer(op, int(p), int(q)) for op, p, q in zip(ops, x, y)]

def test_subtracting_long_division_takes_the_divisor_away_until_what_is_left_is_below_it_then_holds():
  assert decode(problem_tokens(np.array(["/"]), np.array([97]), np.array([5]), 2, scratchpad=True, division="subtract")[0]) == (
    "97/05=" + "090" + "140" * 9 + "074124273323472522671721870920" + "9120")  # 9, 4 held; 47, 42, ..., 7, 2
  rng = np.random.default_rng(6)
  x, y = rng.integers(0, 1000, 300), rng.integers(1, 1000, 300)
  ops = np.array(list("/-") * 150)
  tokens = problem_tokens(ops, x, y, 3, scratchpad=True, division="subtract")
  assert tokens.shape == (300, 8 + 3 * 10 * 4 + 6)
  assert [decode(t).rstrip("_") for t in tokens[::2]] == [f"{p:03}/{q:03}=" + long_division_by_hand(int(p), int(q), 3, "subtract") for p, q in zip(x[::2], y[::2])]
  assert answer_of(ops, tokens[:, 8:], 3, scratchpad=True, division="subtract") == [true_answer(op, int(p), int(q)) for op, p, q in zip(ops, x, y)]

@pytest.mark.parametrize("scheme", ["coupled", "abacus", None])
def test_packed_rows_hold_problems_one_after_another_each_its_own_answer_and_places_apart_from_the_others(scheme):
  problems = PlainProblems(10, "+-", 300, seed=0, batch_size=200, test_digits=30, scheme=scheme, pack=2)
  x, y = problems.batch()
  assert x.shape == y.shape == (100, 2 * plain_width(10, "+-"))
  span = problems.span(problems.arrays(*problems.sample(300))[1], problems.arrays(*problems.test())[1])
  assert (y[:, :span.start] == IGNORE).all() and (y[:, span][:, :-1] != IGNORE).any()  # the logits the step computes cover the targets
  assert (y[:, span.stop or y.shape[1]:] == IGNORE).all()
  for row, targets in zip(x, y):
    text = decode(row % 16)
    first, second, rest = text.split("_", 2)
    assert rest.strip("_") == ""  # two problems, the row padded after them
    for problem in (first, second):
      p, op, q, answer = re.fullmatch(r"(\d+)([+-])(\d+)=(.*)", problem).groups()
      assert read_plain(np.array([op]), [answer]) == [true_answer(op, int(p), int(q))]
    kept = "".join(decode([t]) for t in targets[targets != IGNORE])
    end = "" if scheme == "coupled" else "_"  # a coupled answer's end is no target
    assert kept == first.split("=")[1] + end + second.split("=")[1] + end
    if scheme:
      place, cut, digitless = row // 16, len(first) + 1, {0} if scheme == "abacus" else set()  # abacus leaves 0 on non-digits
      mine, theirs = set(place[:cut]) - digitless, set(place[cut:cut + len(second) + 1]) - digitless
      assert mine and theirs and not mine & theirs and max(mine | theirs) < 2 * (problems.slots + 1)

@pytest.mark.parametrize("kwargs", [dict(pack=3), dict(pack=0), dict(pack=8, scheme="coupled")])  # the last: 8 * 5 places, 22 in the table
def test_a_pack_that_does_not_divide_the_batch_or_fit_the_place_table_is_bad_input_naming_it(kwargs):
  with pytest.raises(BadInput) as e: PlainProblems(2, "+", 100, seed=0, batch_size=256, test_digits=8, **kwargs)
  assert e.value.field == "pack"
