import pytest
from tinygrad import Tensor
from tinyarith.grokking import modular_split
from tinyarith.model import Config, Transformer
from tinyarith.config import adamw
from tinyarith.train import make_train_step

def test_train_step_replays_captured_kernels_without_scheduling(monkeypatch):
  model = Transformer(Config(vocab=8, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=7), seed=0)
  x, y, _, _ = modular_split(7, "+", 0.5, seed=0)
  x, y = Tensor(x).realize(), Tensor(y).realize()
  step = make_train_step(model, adamw(model))
  losses = [step(x, y).item() for _ in range(2)]  # run, then capture
  assert step.captured is not None and len(step.captured.linear.src) > 0

  scheduled = []
  original = Tensor.linear_with_vars
  monkeypatch.setattr(Tensor, "linear_with_vars", lambda *a, **kw: scheduled.append(1) or original(*a, **kw))
  losses += [step(x, y).item() for _ in range(5)]
  assert scheduled == []  # replays run the captured kernels; nothing new is scheduled or compiled
  assert losses[-1] < losses[0]  # and they really train: the weights the kernels update are the model's

@pytest.mark.parametrize("eval_rows", [512, 64], ids=["one padded chunk", "two chunks"])
def test_evaluating_in_padded_chunks_changes_neither_loss_nor_accuracy(monkeypatch, eval_rows):
  from tinyarith.loss import cross_entropy, accuracy
  from tinyarith import batches, train
  monkeypatch.setattr(batches, "EVAL_POSITIONS", eval_rows * 3)
  model = Transformer(Config(vocab=14, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=13), seed=3)
  x, y, _, _ = modular_split(13, "+", 0.5, seed=0)  # 84 rows: padded to whole ROWS, and cut in two at eval_rows 64
  assert len(x) % batches.ROWS and len(batches.chunks(Tensor(x), Tensor(y))) == (1 if eval_rows > len(x) else 2)
  loss, acc = train.make_evaluator(model, slice(2, 3))(batches.chunks(Tensor(x), Tensor(y)))
  logits = model(Tensor(x))
  assert loss == pytest.approx(cross_entropy(logits, Tensor(y)).item(), rel=1e-6)
  assert acc == pytest.approx(accuracy(logits, Tensor(y)).item(), rel=1e-6) and 0 < acc < 1

