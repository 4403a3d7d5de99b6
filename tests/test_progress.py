import json, math, re, shutil, subprocess, sys
import numpy as np
import pytest
from tinyarith import grokking, measures, progress
from tinyarith.metrics import first_step, read_metrics

@pytest.mark.parametrize("p", [7, 8, 113])
def test_the_fourier_basis_is_orthonormal(p):
  basis = measures.fourier_basis(p)
  np.testing.assert_allclose(basis @ basis.T, np.eye(p), atol=1e-12)

def test_an_embedding_made_of_two_frequencies_has_all_its_power_and_keys_there():
  p, x, rng = 31, np.arange(31), np.random.default_rng(0)
  waves = lambda k: np.stack([np.cos(2 * np.pi * k * x / p), np.sin(2 * np.pi * k * x / p)], 1)  # (p, 2)
  embedding = waves(3) @ rng.standard_normal((2, 16)) + 0.5 * waves(11) @ rng.standard_normal((2, 16))
  power = measures.spectrum(embedding)
  assert power.shape == (15,) and power.sum() == pytest.approx((embedding ** 2).sum())  # no constant part
  assert set(np.flatnonzero(power > 1e-9) + 1) == {3, 11} and measures.key_frequencies(power) == [3, 11]
  assert measures.gini(power) > 0.85 > 0.5 > measures.gini(measures.spectrum(rng.standard_normal((p, 16))))

def test_clock_logits_keep_their_loss_restricted_to_their_frequencies_and_lose_all_of_it_excluded():
  p, keys = 13, [2, 5]
  a, b, c = np.meshgrid(np.arange(p), np.arange(p), np.arange(p), indexing="ij")
  logits = sum(4 * np.cos(2 * np.pi * k * (a + b - c) / p) for k in keys).reshape(p * p, p)  # the grokked algorithm's
  labels, train = (a + b)[..., 0].ravel() % p, np.arange(0, p * p, 3)
  full = measures.loss(logits[train], labels[train])
  restricted, excluded = measures.restricted_and_excluded(logits, labels, train, keys)
  assert full < 0.1 and restricted == pytest.approx(full, rel=1e-9) and excluded == pytest.approx(math.log(p), rel=1e-9)
  _, excluded_other = measures.restricted_and_excluded(logits, labels, train, [1, 3])  # frequencies it does not use
  assert excluded_other == pytest.approx(full, rel=1e-9)

def test_a_grokked_model_reads_its_answers_off_a_few_key_frequencies(grok_run):
  """The paper's check on the suite's grokked run (p=31, half the pairs: test accuracy >= 95% from step ~650 of 1000)."""
  result = subprocess.run([sys.executable, "-m", "tinyarith.progress", grok_run], capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  found = dict(re.findall(r"(\w+) (\[[^\]]*\]|[^,\s]+)", result.stdout.split(": ", 1)[1]))
  keys, train_loss = json.loads(found["key_frequencies"]), read_metrics(grok_run)[-1]["train_loss"]
  assert 1 <= len(keys) <= 7 and float(found["key_share"]) > 0.5, result.stdout
  assert float(found["restricted_loss"]) < 10 * train_loss + 1e-3 and float(found["excluded_loss"]) > math.log(31), result.stdout
  assert found["key_frequencies"] == str(read_metrics(grok_run)[-1]["key_frequencies"])  # what training logged at its last step

def test_each_evaluation_logs_the_progress_measures_and_they_tell_the_papers_story(grok_run):
  """Nanda et al. §5 on the suite's run: the restricted loss falls long before the test loss, the excluded loss rises on
  the plateau (memorisation is being cleaned up), and the weights shrink."""
  rows = read_metrics(grok_run)
  assert all(len(r["freq_norm"]) == 15 and 1 <= len(r["key_frequencies"]) <= 10 for r in rows)
  below = lambda key, level: first_step(rows, key, level, below=True)
  assert below("restricted_loss", 1e-2) + 200 <= below("test_loss", 1e-2), [(r["step"], r["restricted_loss"], r["test_loss"]) for r in rows]
  memorised, grokked = first_step(rows, "train_acc", 1.0), first_step(rows, "test_acc", 0.95)
  plateau = [r["excluded_loss"] for r in rows if memorised <= r["step"] < grokked]
  assert max(plateau) > 1.5 * plateau[0] and max(plateau) > math.log(31), plateau
  assert rows[-1]["sum_sq_weights"] < 0.7 * rows[0]["sum_sq_weights"] and rows[-1]["gini"] > rows[0]["gini"] + 0.3
  assert (grok_run / "progress.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

def test_a_stack_of_runs_logs_each_runs_own_progress_measures(tmp_path):
  """Each run of a sweep gets the measures of its own weights and split: those of the same run trained alone."""
  small = dict(p=13, d_model=16, n_heads=2, d_mlp=32, lr=1e-2, steps=20, eval_every=20)
  grokking.run(**small, seed=[0, 1], out=str(tmp_path / "sweep"))
  grokking.run(**small, seed=1, out=str(tmp_path / "alone"))
  stacked, alone = read_metrics(tmp_path / "sweep" / "seed1-frac0.3-wd1-lr0.01"), read_metrics(tmp_path / "alone")
  other = read_metrics(tmp_path / "sweep" / "seed0-frac0.3-wd1-lr0.01")
  for key in ("restricted_loss", "excluded_loss", "sum_sq_weights", "key_share"):
    assert [r[key] for r in stacked] == pytest.approx([r[key] for r in alone], rel=1e-4), key
    assert [r[key] for r in other] != pytest.approx([r[key] for r in alone], rel=1e-4), key

def test_progress_names_what_it_read_and_what_it_could_not(grok_run, tmp_path):
  shutil.copytree(grok_run, run := tmp_path / "run")
  (run / "checkpoint.json").unlink()  # model.safetensors alone: its weights have no step
  result = subprocess.run([sys.executable, "-m", "tinyarith.progress", run], capture_output=True, text=True, timeout=300)
  assert result.returncode == 0 and result.stdout.startswith("model.safetensors: restricted_loss"), result.stdout + result.stderr
  (run / "checkpoint.json").write_text("{garbled")
  result = subprocess.run([sys.executable, "-m", "tinyarith.progress", run], capture_output=True, text=True, timeout=300)
  assert result.returncode == 2 and result.stderr.startswith("error: RUN_DIR cannot load the run") and "resume" not in result.stderr, result.stderr
