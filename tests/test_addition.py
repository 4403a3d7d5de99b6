"""The addition experiment as a user runs it: train a small GPT on 2-digit addition through the CLI, then --ask it.

Why this config: 2 digits, 2 layers of width 64, batch 256, lr 2e-3. Held-out exact match jumps from ~1% to ~99% within
a few hundred steps; in our sweep (1000 held-out problems, CL) lr 2e-3 passed 99.4% by step 300 for seeds 0, 1 and 2,
and reached 100% by step 400 for seeds 1 and 2. lr 1e-3 was slower (97% at step 400 for seed 1, 92% at step 600 for seed 0) and lr 3e-3 stayed stuck
at loss 1.54 (2%) for 500 steps. lr 2e-3 is also on the edge of stability once the loss is tiny: evaluated every 25 steps,
seed 0 held 100% from step 350 to 450, then the loss spiked from 0.003 to 1.3 at step 475 (9% exact) and was recovering at
500 (58%). So the test asks that the model got there within 500 steps, not that it is there at the last step."""
import json, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from tinygrad.nn.state import get_state_dict, safe_save
from conftest import flag_defaults
from tinyarith.addition import addition_answers
from tinyarith.decode import make_greedy_decoder
from tinyarith.metrics import read_metrics, first_step
from tinyarith.model import Config, Transformer
from tinyarith.rundir import load_run

from conftest import ADDITION_SMALL as SMALL, addition

def test_a_small_gpt_learns_two_digit_addition(addition_run):
  out, stdout = addition_run
  rows = read_metrics(out)
  assert rows[0]["test_exact"] < 0.05 and rows[-1]["step"] == 500
  assert first_step(rows, "test_exact", 0.95) is not None
  assert sum(group["n"] for group in rows[-1]["test_exact_by_carries"].values()) == 1000
  assert "exact match by carries" in stdout and (out / "loss.png").is_file() and (out / "model.safetensors").is_file()

def test_ask_prints_the_models_own_answer_even_when_it_is_wrong(addition_run, tmp_path):
  out, _ = addition_run
  untrained = tmp_path / "untrained"  # the run with its initial weights: a model that gets 12+34 wrong
  untrained.mkdir()
  (untrained / "config.json").write_text((out / "config.json").read_text())
  safe_save(get_state_dict(Transformer(Config(**json.loads((out / "config.json").read_text())["model"]), seed=0)),
            str(untrained / "model.safetensors"))
  for run, weights in ((untrained, "model.safetensors"), (out, "step 500")):
    _, model, _ = load_run(run)
    written = addition_answers(make_greedy_decoder(model), np.array([12]), np.array([34]), 2, reverse=True)[0]  # reversed
    value = int("".join(map(str, written[::-1])))
    if run == untrained: assert value != 46
    result = addition("--ask", "12+34", "--run", run, timeout=300)
    assert result.returncode == 0, result.stderr
    verdict = "right" if value == 46 else "WRONG"
    assert result.stdout == f"12+34={value}  (true 46, {verdict}; the model wrote {''.join(map(str, written))}; weights of {weights})\n"

@pytest.mark.parametrize("question", ["12+", "12*34", "123+4"])
def test_a_malformed_or_too_long_question_is_one_clear_line(addition_run, question):
  out, _ = addition_run
  result = addition("--ask", question, "--run", out, timeout=300)
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1 and "--ask" in result.stderr

def test_ask_of_a_missing_run_is_one_clear_line(tmp_path):
  result = addition("--ask", "1+2", "--run", tmp_path / "nothing", timeout=300)
  assert result.returncode == 2 and "Traceback" not in result.stderr and "cannot load" in result.stderr

def test_help_documents_every_flag_with_its_default():
  result = addition("--help", timeout=300)
  defaults = flag_defaults(result.stdout)
  for flag in ["--digits", "--batch-size", "--steps", "--eval-every", "--seed", "--out", "--reverse", "--no-reverse", "--ask", "--run",
               "--test-size", "--resume", "--ckpt-every", "--beta1", "--beta2", "--weight-decay", "--d-model", "--n-heads", "--d-mlp"]:
    assert flag in defaults
  expected = {"--digits": "3", "--batch-size": "256", "--n-layers": "4", "--n-heads": "4", "--pos": "rope", "--lr": "0.001",
              "--layernorm": "True", "--beta2": "0.999", "--weight-decay": "0.01", "--steps": "5000", "--eval-every": "250"}
  assert {k: defaults[k] for k in expected} == expected
