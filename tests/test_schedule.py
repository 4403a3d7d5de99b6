"""--warmup and --decay: each step's learning rate, that the loop sets it, and that a run with one resumes exactly."""
import pytest
from safetensors.numpy import load_file
from tinyarith import grokking
from tinyarith.config import RunConfig, lr_factor
from tinyarith.errors import BadInput
from tinyarith.model import Config
from tinyarith.metrics import read_metrics

def test_warmup_rises_linearly_and_cosine_falls_to_a_tenth_at_the_last_step():
  run = RunConfig("test", Config(vocab=4, ctx_len=2), warmup=4, decay="cosine", steps=8)
  assert [lr_factor(run, s) for s in (1, 2, 4, 6, 8)] == pytest.approx([0.25, 0.5, 1.0, 0.55, 0.1])
  assert [lr_factor(RunConfig("test", Config(vocab=4, ctx_len=2), warmup=4), s) for s in (2, 5, 8)] == [0.5, 1.0, 1.0]

SMALL = dict(p=13, d_model=16, n_heads=2, d_mlp=32, lr=1e-2, train_frac=0.5, eval_every=10)
saved_lr = lambda run_dir, step: load_file(run_dir / f"checkpoint-{step}.safetensors")["opt.lr"]  # the last step's: the loop set it

def test_a_scheduled_run_trains_with_each_steps_rate_and_resumes_exactly(tmp_path):
  plain = grokking.run(**SMALL, steps=40, out=str(tmp_path / "plain"))
  whole = grokking.run(**SMALL, steps=40, warmup=30, out=str(tmp_path / "whole"))
  grokking.run(**SMALL, steps=20, warmup=30, out=str(tmp_path / "halves"))
  assert saved_lr(tmp_path / "halves", 20) == pytest.approx(1e-2 * 20 / 30)
  halves = grokking.run(resume=str(tmp_path / "halves"), steps=40)
  strip = lambda rows: [{k: v for k, v in r.items() if k != "elapsed"} for r in rows]
  assert strip(halves) == strip(whole) == strip(read_metrics(tmp_path / "whole"))
  assert [r["train_loss"] for r in whole[1:]] != pytest.approx([r["train_loss"] for r in plain[1:]], rel=1e-3)
  grokking.run(**SMALL, steps=20, decay="cosine", out=str(tmp_path / "cosine"))
  assert saved_lr(tmp_path / "cosine", 20) == pytest.approx(1e-3)

def test_a_sweep_schedules_each_runs_own_rate(tmp_path):
  grokking.run(**{**SMALL, "lr": [1e-2, 3e-2]}, steps=10, warmup=20, out=str(tmp_path / "sweep"))
  for lr in (1e-2, 3e-2):
    assert saved_lr(tmp_path / "sweep" / f"seed0-frac0.5-wd1-lr{lr:g}", 10) == pytest.approx(lr / 2)

@pytest.mark.parametrize("settings,field", [(dict(warmup=-1), "warmup"), (dict(warmup=1.5), "warmup"), (dict(decay="linear"), "decay")])
def test_bad_schedules_are_bad_input_naming_the_setting(tmp_path, settings, field):
  with pytest.raises(BadInput) as e: grokking.run(**SMALL, steps=10, **settings, out=str(tmp_path / "run"))
  assert e.value.field == field and not (tmp_path / "run").exists()
