from tinygrad import Tensor
from tinyarith.data import modular_split
from tinyarith.model import Config, Transformer
from tinyarith.train import adamw, make_train_step

def test_train_step_replays_captured_kernels_without_scheduling(monkeypatch):
  Tensor.manual_seed(0)
  model = Transformer(Config(vocab=8, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=7))
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
