import numpy as np
import pytest
from tinygrad import Tensor
from tinygrad.nn.state import get_state_dict
from tinyarith.config import adamw
from tinyarith.data import modular_split
from tinyarith.loss import cross_entropy
from tinyarith.model import Config, Transformer, stack
from tinyarith.train import make_train_step, stack_rows

CFG = Config(vocab=14, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=13)
# each run its own init, split (42, 50 and 59 of the 169 pairs: one padded size apart, fewer kernels to compile) and optimizer
RUNS = [dict(seed=0, train_frac=0.3, lr=1e-2, weight_decay=1.0), dict(seed=1, train_frac=0.35, lr=3e-3, weight_decay=0.3),
        dict(seed=2, train_frac=0.25, lr=1e-2, weight_decay=0.0)]

@pytest.fixture(scope="module")
def data(): return [modular_split(13, "+", r["train_frac"], r["seed"])[:2] for r in RUNS]

def test_a_stack_of_runs_gives_each_run_its_own_logits_loss_and_gradients(data):
  models = [Transformer(CFG, seed=r["seed"]) for r in RUNS]
  stacked, (x, y) = stack(models), stack_rows(data)
  losses = cross_entropy(stacked(Tensor(x)), Tensor(y), runs=True)
  losses.sum().backward()
  for r, (model, (x_r, y_r)) in enumerate(zip(models, data)):
    loss = cross_entropy(model(Tensor(x_r)), Tensor(y_r))
    loss.backward()
    assert losses.numpy()[r] == pytest.approx(loss.item(), rel=1e-6)
    for name, w in get_state_dict(stacked).items():
      own = get_state_dict(model)[name].grad.numpy()
      np.testing.assert_allclose(w.grad.numpy()[r].reshape(own.shape), own, rtol=1e-5, atol=1e-5 * np.abs(own).max(), err_msg=name)

def test_stacked_runs_train_as_the_same_runs_apart(data):
  apart = []
  for r, (x, y) in zip(RUNS, data):
    model = Transformer(CFG, seed=r["seed"])
    step = make_train_step(model, adamw(model, r["lr"], weight_decay=r["weight_decay"]), slice(2, 3))
    apart.append(([step(Tensor(x), Tensor(y)).item() for _ in range(5)], get_state_dict(model)))
  stacked = stack([Transformer(CFG, seed=r["seed"]) for r in RUNS])
  opt = adamw(stacked, [r["lr"] for r in RUNS], weight_decay=[r["weight_decay"] for r in RUNS])
  step, (x, y) = make_train_step(stacked, opt, slice(2, 3), runs=True), stack_rows(data)
  losses = np.array([step(Tensor(x), Tensor(y)).numpy() for _ in range(5)])  # (steps, runs)
  assert len({len(x) for x, _ in data}) == 3 and losses.shape == (5, 3)
  for r, (run_losses, weights) in enumerate(apart):
    np.testing.assert_allclose(losses[:, r], run_losses, rtol=1e-5)
    assert run_losses[-1] < run_losses[0]
    for name, w in get_state_dict(stacked).items():
      np.testing.assert_allclose(w.numpy()[r].reshape(weights[name].shape), weights[name].numpy(), rtol=1e-4, atol=1e-6, err_msg=name)

def test_a_stack_of_runs_is_evaluated_as_each_run_apart(monkeypatch):
  from tinyarith import train
  monkeypatch.setattr(train, "EVAL_POSITIONS", 64 * 3 * 3)  # the stack's 127 rows in two chunks of 64
  models = [Transformer(CFG, seed=r["seed"]) for r in RUNS]
  tests = [modular_split(13, "+", r["train_frac"], r["seed"])[2:] for r in RUNS]  # 127, 119 and 110 pairs
  parts = train.chunks(*map(Tensor, stack_rows(tests)))
  loss, acc = train.make_evaluator(stack(models), slice(2, 3), runs=True)(parts)
  assert len(parts) == 2 and loss.shape == acc.shape == (3,)
  for r, (model, (x, y)) in enumerate(zip(models, tests)):
    own_loss, own_acc = train.make_evaluator(model, slice(2, 3))(train.chunks(Tensor(x), Tensor(y)))
    assert loss[r] == pytest.approx(own_loss, rel=1e-6) and acc[r] == pytest.approx(own_acc, rel=1e-6)
