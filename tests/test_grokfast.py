"""Grokfast-EMA: the filter's arithmetic, that the train step applies it, and that its state resumes with the run."""
import numpy as np
import pytest
from tinygrad import Tensor
from tinyarith import grokking
from tinyarith.grokfast import Grokfast
from tinyarith.metrics import read_metrics

def test_each_gradient_gets_lamb_times_its_moving_average_which_starts_at_the_first_gradient():
  alpha, lamb, g1, g2 = 0.9, 2.0, np.array([1.0, -2.0, 4.0]), np.array([3.0, 0.5, -1.0])
  p = Tensor.zeros(3).contiguous().realize()
  f = Grokfast([p], alpha, lamb)
  for g, h in ((g1, g1), (g2, alpha * g1 + (1 - alpha) * g2)):
    p.grad = Tensor(g.astype(np.float32))
    Tensor.realize(p.grad, *f.filter([p]))
    np.testing.assert_allclose(f.ema[0].numpy(), h, rtol=1e-6)
    np.testing.assert_allclose(p.grad.numpy(), g + lamb * h, rtol=1e-6)

SMALL = dict(p=13, d_model=16, n_heads=2, d_mlp=32, lr=1e-2, train_frac=0.5, eval_every=10)

def test_a_run_with_grokfast_trains_differently_and_resumes_exactly(tmp_path):
  plain = grokking.run(**SMALL, steps=40, out=str(tmp_path / "plain"))
  whole = grokking.run(**SMALL, steps=40, grokfast_lamb=2.0, out=str(tmp_path / "whole"))
  grokking.run(**SMALL, steps=20, grokfast_lamb=2.0, out=str(tmp_path / "halves"))
  halves = grokking.run(resume=str(tmp_path / "halves"), steps=40)
  strip = lambda rows: [{k: v for k, v in r.items() if k != "elapsed"} for r in rows]
  assert strip(halves) == strip(whole) == strip(read_metrics(tmp_path / "whole"))  # its moving averages are in the checkpoint
  assert [r["train_loss"] for r in whole[1:]] != pytest.approx([r["train_loss"] for r in plain[1:]], rel=1e-3)
