"""experiments/calculator.py as a user runs it: a short run's metrics per operator, --ask, and its bad input."""
import re, subprocess, sys
import pytest
from conftest import experiment
from tinyarith.metrics import read_metrics

TINY = ["--digits", "1", "--n-layers", "1", "--d-model", "32", "--d-mlp", "64", "--steps", "40", "--eval-every", "20", "--test-size", "40"]

def trained(tmp_path_factory, name:str, args:list[str], says:str):
  """The directory of a short calculator run with these flags, whose output says `says`."""
  out = tmp_path_factory.mktemp(name) / "run"
  result = experiment("calculator", *args, "--out", out)
  assert result.returncode == 0, result.stderr
  assert says in result.stdout
  return out

@pytest.fixture(scope="module")
def run(tmp_path_factory): return trained(tmp_path_factory, "calc", TINY, "exact match by operator: *: ")

def test_a_run_reports_exact_match_per_operator_operand_length_and_carry_count(run):
  last = read_metrics(run)[-1]
  assert {k: v["n"] for k, v in last["test_exact_by_op"].items()} == {"+": 10, "-": 10, "*": 10, "/": 10}
  assert all(k[0] in "+-*/" and k[1:].isdigit() for name in ("op_digits", "op_carries") for k in last[f"test_exact_by_{name}"])
  assert sum(v["n"] for v in last["test_exact_by_op_carries"].values()) == 40
  right = sum(v["n"] * v["exact"] for v in last["test_exact_by_op"].values())
  assert last["test_exact"] == pytest.approx(right / 40)

@pytest.mark.parametrize("question", ["7/3", "3-7", "9*9", "0+0"])
def test_ask_answers_with_the_true_answer_beside_it(run, question):
  result = experiment("calculator", "--ask", question, "--run", run)
  assert result.returncode == 0, result.stderr
  true = {"7/3": "2 r 1", "3-7": "-4", "9*9": "81", "0+0": "0"}[question]
  assert re.match(rf"{re.escape(question)}=\S.* \(true {re.escape(true)}, (right|WRONG); the model wrote \S+; weights of step 40\)", result.stdout), result.stdout

@pytest.mark.parametrize("args,names", [(["--ask", "7/0"], "divides by zero"), (["--ask", "7%3"], "'%' is not an operator"),
                                        (["--ask", "17+3"], "up to 1 digits"), (["--ask", "7+"], "like '123*45'")])
def test_bad_questions_are_one_line_naming_the_flag(run, args, names):
  result = experiment("calculator", *args, "--run", run)
  assert result.returncode == 2 and result.stderr.startswith("error: --ask: ") and names in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1

@pytest.mark.parametrize("args,flag", [(["--ops", "+%"], "--ops"), (["--ops", ""], "--ops"), (["--digits", "7"], "--digits"),
                                       (["--digits", "1", "--test-size", "500"], "--test-size"), (["--test-digits", "4"], "--test-digits"),
                                       (["--format", "plain", "--ops", "+/"], "--ops"), (["--format", "plain", "--scratchpad"], "--scratchpad"),
                                       (["--format", "plain", "--test-digits", "1"], "--test-digits"), (["--pos", "alibi"], "--pos"),
                                       (["--ops", "+-", "--scratchpad"], "--scratchpad"), (["--ops", "/", "--division", "multiples"], "--division"),
                                       (["--ops", "+*", "--scratchpad", "--division", "subtract"], "--division"),
                                       (["--ops", "/", "--scratchpad", "--division", "short"], "--division")])
def test_bad_settings_are_one_line_naming_the_flag_and_write_nothing(tmp_path, args, flag):
  result = experiment("calculator", *args, "--out", tmp_path / "fresh")
  assert result.returncode == 2 and result.stderr.startswith(f"error: {flag}: ") and len(result.stderr.strip().splitlines()) == 1
  assert not (tmp_path / "fresh").exists()

def test_a_scratchpad_run_answers_products_and_says_what_it_wrote(tmp_path):
  args = [*TINY[:TINY.index("--steps")], "--steps", "20", "--eval-every", "20", "--test-size", "20", "--ops", "*", "--scratchpad"]
  result = experiment("calculator", *args, "--out", tmp_path / "run")
  assert result.returncode == 0, result.stderr
  assert list(read_metrics(tmp_path / "run")[-1]["test_exact_by_op"]) == ["*"]
  asked = experiment("calculator", "--ask", "9*9", "--run", tmp_path / "run")
  assert asked.returncode == 0 and re.match(r"9\*9=\S+ +\(true 81, (right|WRONG); the model wrote [0-9_+\-*/=]{4};", asked.stdout), asked.stdout

@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
  args = [*TINY[:TINY.index("--test-size")], "--test-size", "24", "--format", "plain", "--test-digits", "3", "--ops", "+-", "--pos", "coupled"]
  return trained(tmp_path_factory, "plain", args, "exact match by operand length: +1: ")

def test_a_plain_coupled_run_reports_lengths_it_never_trained_on_and_answers_them(plain_run):
  last = read_metrics(plain_run)[-1]
  assert {k: v["n"] for k, v in last["test_exact_by_op_digits"].items()} == {f"{op}{n}": 4 for op in "+-" for n in (1, 2, 3)}
  asked = experiment("calculator", "--ask", "123-456", "--run", plain_run)  # 3 digits: longer than any trained on
  assert asked.returncode == 0 and re.match(r"123-456=\S+ +\(true -333, (right|WRONG); the model wrote [0-9_+\-]{4};", asked.stdout), asked.stdout  # 333-: no end
  too_long = experiment("calculator", "--ask", "1234+5", "--run", plain_run)
  assert too_long.returncode == 2 and "context holds operands of up to 3 digits" in too_long.stderr

@pytest.mark.parametrize("pos", ["abacus", "coupled"])
def test_only_the_calculator_packs_digit_places_so_only_it_offers_abacus_and_coupled_positions(tmp_path, pos):
  result = experiment("addition", "--pos", pos, "--out", tmp_path / "run")
  assert result.returncode == 2 and f"--pos: invalid choice: '{pos}'" in result.stderr and not (tmp_path / "run").exists()

def test_the_length_plot_draws_each_runs_exact_match_per_operand_length_and_says_what_it_cannot_read(plain_run, tmp_path):
  from tinyarith.figures import length_figure
  fig = length_figure([plain_run])
  by_length = read_metrics(plain_run)[-1]["test_exact_by_op_digits"]
  drawn = {line.get_label(): list(zip(line.get_xdata(), line.get_ydata())) for line in fig.axes[0].lines}
  assert drawn == {f"coupled {op}, step 40": [(n, by_length[f"{op}{n}"]["exact"]) for n in (1, 2, 3)] for op in "+-"}
  result = subprocess.run([sys.executable, "-m", "tinyarith.plot", "--lengths", plain_run, "-o", tmp_path / "lengths.png"], capture_output=True, text=True)
  assert result.returncode == 0 and (tmp_path / "lengths.png").stat().st_size > 10_000, result.stderr
  no_config = subprocess.run([sys.executable, "-m", "tinyarith.plot", "--lengths", tmp_path], capture_output=True, text=True)
  assert no_config.returncode == 2 and no_config.stderr.startswith("error: --lengths: cannot read ") and len(no_config.stderr.splitlines()) == 1
