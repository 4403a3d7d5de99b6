import numpy as np
import pytest
from tinygrad import Tensor, dtypes
import tinyarith.loss
from tinyarith.loss import target_span, cross_entropy, accuracy, log1p, IGNORE

def numpy_mean_nll(logits, targets):
  z = logits.astype(np.float64)
  logp = z - z.max(-1, keepdims=True)
  logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
  keep = targets != IGNORE
  return -logp[keep, targets[keep]].mean()

def test_masked_mean_counts_only_kept_rows():
  rng = np.random.default_rng(0)
  logits, targets = rng.normal(size=(6, 5)).astype(np.float32) * 3, np.array([0, 4, IGNORE, 1, IGNORE, 2])
  assert cross_entropy(Tensor(logits), Tensor(targets)).item() == pytest.approx(numpy_mean_nll(logits, targets), rel=1e-6)

def test_ignored_rows_do_not_move_the_loss():
  rng = np.random.default_rng(1)
  logits, targets = rng.normal(size=(2, 4, 7)).astype(np.float32), np.array([[IGNORE, 3, 1, IGNORE], [IGNORE, IGNORE, 6, 0]])
  before = cross_entropy(Tensor(logits), Tensor(targets)).item()
  logits[0, 0] += 100; logits[1, 1] -= 50
  assert cross_entropy(Tensor(logits), Tensor(targets)).item() == pytest.approx(before, rel=1e-9)

@pytest.mark.parametrize("float64", [True, False], ids=["float64", "float32"])
def test_loss_of_a_near_perfect_prediction_is_right(float64, monkeypatch):
  """Seed 001 computed log-softmax in float32: a loss of ~1e-11 rounds to 0 there. Ours must keep 3 significant figures."""
  monkeypatch.setattr(tinyarith.loss, "has_float64", lambda device=None: float64)
  for margin in (20.0, 30.0):
    logits = np.zeros((1, 113), np.float32); logits[0, 7] = margin
    exact = np.log1p(112 * np.exp(-margin))  # 2.3e-7 and 1.0e-11
    loss = cross_entropy(Tensor(logits), Tensor([7]))
    assert loss.dtype == (dtypes.float64 if float64 else dtypes.float32)
    assert loss.item() == pytest.approx(exact, rel=1e-3)
  naive = -Tensor(logits).log_softmax(-1)[0, 7].item()
  assert naive == 0  # what the fix is for

def test_gradient_of_the_loss_is_softmax_minus_onehot():
  logits = Tensor([[2.0, -1.0, 0.5]])
  cross_entropy(logits, Tensor([2])).backward()
  p = np.exp([2.0, -1.0, 0.5]); p /= p.sum()
  np.testing.assert_allclose(logits.grad.numpy()[0], p - [0, 0, 1], rtol=1e-5, atol=1e-7)

@pytest.mark.parametrize("float64", [True, False], ids=["float64", "float32"])
@pytest.mark.parametrize("margin", [10.0, 20.0, 30.0, 40.0])
def test_gradient_is_exact_when_the_model_is_nearly_certain(float64, margin, monkeypatch):
  """At margin m over 112 other classes the target's gradient is -S/(1+S), S = 112 e^-m: 2e-7 at 20, 5e-16 at 40.
  Autograd through a shifted log-softmax computes it as 1/(1+S) - 1, which is 0 once S is below float precision."""
  monkeypatch.setattr(tinyarith.loss, "has_float64", lambda device=None: float64)
  logits = np.zeros((2, 113), np.float32); logits[0, 7] = margin; logits[1, 50] = margin
  x = Tensor(logits)
  cross_entropy(x, Tensor([7, IGNORE])).backward()
  S = 112 * np.exp(-margin)  # float64, exact to rounding
  exact = np.full(113, np.exp(-margin) / (1 + S)); exact[7] = -S / (1 + S)
  rtol = 1e-7 if float64 else 1e-5  # the gradient of float32 logits is float32; on the float32 path exp itself is off by ~1e-6
  np.testing.assert_allclose(x.grad.numpy()[0], exact, rtol=rtol)
  assert (x.grad.numpy()[1] == 0).all()  # the ignored row
  assert cross_entropy(Tensor(logits), Tensor([7, IGNORE])).item() == pytest.approx(np.log1p(S), rel=rtol)

@pytest.mark.parametrize("float64", [True, False], ids=["float64", "float32"])
def test_ties_at_the_maximum_give_the_softmax_gradient(float64, monkeypatch):
  monkeypatch.setattr(tinyarith.loss, "has_float64", lambda device=None: float64)
  for row, target in (([5.0, 5.0, 0.0, 1.0], 1), ([5.0, 5.0, 0.0, 1.0], 0), ([3.0, 3.0, 3.0, 3.0], 2)):
    x = Tensor([row])
    loss = cross_entropy(x, Tensor([target]))
    loss.backward()
    p = np.exp(row) / np.exp(row).sum()
    assert loss.item() == pytest.approx(-np.log(p[target]), rel=1e-6)
    np.testing.assert_allclose(x.grad.numpy()[0], p - np.eye(4)[target], rtol=1e-6, atol=1e-7)

@pytest.mark.parametrize("dtype,bound", [(dtypes.float64, 1e-14), (dtypes.float32, 1e-6)])
def test_log1p_keeps_its_stated_relative_error_from_1e_20_to_100(dtype, bound):
  s = np.logspace(-20, 2, 4001)
  exact = np.log1p(s.astype(dtype.fmt).astype(np.float64))
  got = log1p(Tensor(s, dtype=dtype)).numpy().astype(np.float64)
  assert (np.abs(got - exact) / exact).max() < bound

def test_with_every_target_ignored_the_loss_is_zero_with_no_gradient():
  x = Tensor([[1.0, 2.0], [0.5, 0.0]])
  loss = cross_entropy(x, Tensor([IGNORE, IGNORE]))
  loss.backward()
  assert loss.item() == 0 and (x.grad.numpy() == 0).all()  # PyTorch gives nan; 0 keeps a sum of losses finite

def test_accuracy_counts_kept_positions():
  logits = Tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
  assert accuracy(logits, Tensor([1, 1, IGNORE, 0])).item() == pytest.approx(1 / 3)

def test_target_span_is_the_smallest_run_of_positions_holding_every_kept_target():
  grokking = np.array([[-1, -1, 5], [-1, -1, 7]])
  assert target_span(grokking) == slice(2, 3)
  assert target_span(np.array([[-1, 3, -1, -1]]), np.array([[-1, -1, -1, 4]])) == slice(1, 4)
  with pytest.raises(ValueError, match="no kept targets"): target_span(np.full((2, 3), -1))

@pytest.mark.parametrize("n", [41, 97])  # float32 n · (1/n) is not 1 for these: a fraction times its count drifted off 1
def test_an_evaluation_that_gets_every_answer_right_reads_exactly_1(n):
  from tinyarith.batches import chunks
  from tinyarith.train import make_evaluator
  x = np.stack([np.arange(n) % 7, np.zeros(n, dtype=int), np.arange(n) % 5], 1)  # the last token is the answer
  y = np.full_like(x, IGNORE)
  y[:, 2] = x[:, 2]
  oracle = lambda tokens, span: tokens[..., span].one_hot(5).float() * 10  # always right
  loss, acc = make_evaluator(oracle, slice(2, 3))(chunks(Tensor(x), Tensor(y)))
  assert acc == 1.0 and loss < 1e-3

def numpy_stablemax_nll(logits, targets):
  z = logits.astype(np.float64)
  s = np.where(z >= 0, z + 1, 1 / (1 - np.minimum(z, 0)))
  return -np.log(s[np.arange(len(z)), targets] / s.sum(-1))

@pytest.mark.parametrize("float64", [True, False], ids=["float64", "float32"])
def test_stablemax_loss_and_gradient_are_right_at_ordinary_and_tiny_losses(float64, monkeypatch):
  """StableMax's -log p = log1p(sum over j != target of s_j / s_target): at a margin of 1e9 over 112 classes at -1 (s = 1/2),
  the loss is ~5.6e-8, which log(sum s) - log(s_target) would round to 0 in float32 and to 1e-8 steps in float64."""
  monkeypatch.setattr(tinyarith.loss, "has_float64", lambda device=None: float64)
  rng = np.random.default_rng(0)
  ordinary = rng.normal(size=(4, 9)).astype(np.float32) * 3
  x = Tensor(ordinary)
  loss = cross_entropy(x, Tensor([0, 8, IGNORE, 3]), kind="stablemax")
  loss.backward()
  exact = numpy_stablemax_nll(ordinary[[0, 1, 3]], np.array([0, 8, 3])).mean()
  assert loss.item() == pytest.approx(exact, rel=1e-6)
  eps, numeric = 1e-4, np.zeros_like(ordinary, dtype=np.float64)  # central differences of the float64 reference
  for i, j in np.ndindex(*ordinary.shape):
    if i == 2: continue
    for sign in (1, -1):
      z = ordinary.astype(np.float64); z[i, j] += sign * eps
      numeric[i, j] += sign * numpy_stablemax_nll(z[[0, 1, 3]], np.array([0, 8, 3])).mean() / (2 * eps)
  np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-3, atol=1e-6)
  tiny = np.full((1, 113), -1.0, np.float32); tiny[0, 7] = 1e9
  S = 112 * 0.5 / (1e9 + 1)
  x = Tensor(tiny)
  loss = cross_entropy(x, Tensor([7]), kind="stablemax")
  loss.backward()
  assert loss.item() == pytest.approx(np.log1p(S), rel=1e-5)
  assert x.grad.numpy()[0, 7] == pytest.approx(-S / (1 + S) / (1e9 + 1), rel=1e-5)  # s'(z) / s(z) = 1 / (z + 1) above 0
  assert x.grad.numpy()[0, 0] == pytest.approx(0.25 / (1e9 + 1) / (1 + S), rel=1e-5)  # s'(-1) = 1/4, over the sum of s

def test_stablemax_and_softmax_agree_on_the_argmax_and_differ_in_the_loss():
  logits, targets = Tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]]), Tensor([2, 1])
  soft, stable = cross_entropy(logits, targets).item(), cross_entropy(logits, targets, kind="stablemax").item()
  assert stable == pytest.approx(numpy_stablemax_nll(logits.numpy(), targets.numpy()).mean(), rel=1e-6)
  assert soft == pytest.approx(numpy_mean_nll(logits.numpy(), targets.numpy()), rel=1e-6) and abs(soft - stable) > 0.1

def test_the_float32_switch_is_the_textbook_log_softmax_that_rounds_tiny_losses_and_gradients_to_0():
  """--loss-dtype float32 exists to show what seed 001's float32 log-softmax did to training: at a margin of 30 its loss
  and the target's gradient are exactly 0, where the default keeps 1.0e-11."""
  logits = np.zeros((2, 113), np.float32); logits[0, 7] = 30.0; logits[1, 3] = 2.0
  x = Tensor(logits)
  loss = cross_entropy(x, Tensor([7, 3]), dtype="float32")
  loss.backward()
  assert loss.dtype == dtypes.float32 and x.grad.numpy()[0, 7] == 0
  assert loss.item() == pytest.approx(numpy_mean_nll(logits[1:], np.array([3])) / 2, rel=1e-5)  # row 0 adds 0, not 1e-11
  accurate = Tensor(logits)
  cross_entropy(accurate, Tensor([7, 3])).backward()
  assert accurate.grad.numpy()[0, 7] < 0

def test_an_unknown_loss_or_dtype_is_bad_input_naming_it():
  from tinyarith.errors import BadInput
  with pytest.raises(BadInput, match="stablemx"): cross_entropy(Tensor([[1.0, 0.0]]), Tensor([0]), kind="stablemx")
  with pytest.raises(BadInput, match="float16"): cross_entropy(Tensor([[1.0, 0.0]]), Tensor([0]), dtype="float16")
