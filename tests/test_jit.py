from tinygrad import Tensor
from tinyarith.data import modular_split
from tinyarith.model import Config, Transformer
from tinyarith.train import adamw, make_train_step

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

def test_a_train_step_loaded_from_the_cache_trains_exactly_like_a_fresh_capture(tmp_path, monkeypatch):
  x, y, _, _ = modular_split(7, "+", 0.5, seed=0)
  x, y = Tensor(x).realize(), Tensor(y).realize()
  def losses(seed:int, cache:str) -> list[float]:
    monkeypatch.setenv("TINYARITH_CACHE", cache)
    model = Transformer(Config(vocab=8, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=7), seed=seed)
    step = make_train_step(model, adamw(model), slice(2, 3))
    return [step(x, y).item() for _ in range(4)] + [model.unembed.numpy().sum()]
  fresh = losses(1, "0")                  # no cache: run, capture, replay
  losses(0, str(tmp_path))                # another seed captures and saves the step
  assert len(list(tmp_path.glob("train_step-*.pkl"))) == 1
  assert losses(1, str(tmp_path)) == fresh  # loaded: the saved weights are overwritten with this seed's, bit for bit
