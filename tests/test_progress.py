import json, math, re, subprocess, sys
import numpy as np
import pytest
from tinyarith import progress

@pytest.mark.parametrize("p", [7, 8, 113])
def test_the_fourier_basis_is_orthonormal(p):
  basis = progress.fourier_basis(p)
  np.testing.assert_allclose(basis @ basis.T, np.eye(p), atol=1e-12)

def test_an_embedding_made_of_two_frequencies_has_all_its_power_and_keys_there():
  p, x, rng = 31, np.arange(31), np.random.default_rng(0)
  waves = lambda k: np.stack([np.cos(2 * np.pi * k * x / p), np.sin(2 * np.pi * k * x / p)], 1)  # (p, 2)
  embedding = waves(3) @ rng.standard_normal((2, 16)) + 0.5 * waves(11) @ rng.standard_normal((2, 16))
  power = progress.spectrum(embedding)
  assert power.shape == (15,) and power.sum() == pytest.approx((embedding ** 2).sum())  # no constant part
  assert set(np.flatnonzero(power > 1e-9) + 1) == {3, 11} and progress.key_frequencies(power) == [3, 11]
  assert progress.gini(power) > 0.85 > 0.5 > progress.gini(progress.spectrum(rng.standard_normal((p, 16))))

def test_clock_logits_keep_their_loss_restricted_to_their_frequencies_and_lose_all_of_it_excluded():
  p, keys = 13, [2, 5]
  a, b, c = np.meshgrid(np.arange(p), np.arange(p), np.arange(p), indexing="ij")
  logits = sum(4 * np.cos(2 * np.pi * k * (a + b - c) / p) for k in keys).reshape(p * p, p)  # the grokked algorithm's
  labels, train = (a + b)[..., 0].ravel() % p, np.arange(0, p * p, 3)
  full = progress.loss(logits[train], labels[train])
  restricted, excluded = progress.restricted_and_excluded(logits, labels, train, keys)
  assert full < 0.1 and restricted == pytest.approx(full, rel=1e-9) and excluded == pytest.approx(math.log(p), rel=1e-9)
  _, excluded_other = progress.restricted_and_excluded(logits, labels, train, [1, 3])  # frequencies it does not use
  assert excluded_other == pytest.approx(full, rel=1e-9)

def test_a_grokked_model_reads_its_answers_off_a_few_key_frequencies(grok_run):
  """The paper's check on the suite's grokked run (p=31, half the pairs: test accuracy 100% from step 600 of 1000)."""
  result = subprocess.run([sys.executable, "-m", "tinyarith.progress", grok_run], capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  found = dict(re.findall(r"(\w+) (\[[^\]]*\]|[^,\s]+)", result.stdout.split(": ", 1)[1]))
  keys, train_loss = json.loads(found["key_frequencies"]), float(found["train_loss"])
  assert 1 <= len(keys) <= 7 and float(found["key_share"]) > 0.5, result.stdout
  assert float(found["restricted_loss"]) < 10 * train_loss + 1e-3 and float(found["excluded_loss"]) > math.log(31), result.stdout
