from pathlib import Path
import pytest
from tinygrad import Tensor, TinyJit
from tinyarith.data import modular_split
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

def test_a_train_step_loaded_from_the_cache_trains_exactly_like_a_fresh_capture(tmp_path, monkeypatch):
  x, y, _, _ = modular_split(7, "+", 0.5, seed=0)
  x, y = Tensor(x).realize(), Tensor(y).realize()
  def run(seed:int, cache:str) -> list[tuple]:
    monkeypatch.setenv("TINYARITH_CACHE", cache)
    model = Transformer(Config(vocab=8, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=7), seed=seed)
    step = make_train_step(model, adamw(model), slice(2, 3))
    read = TinyJit(lambda x: model(x).sum().realize())
    for _ in range(3): read(x)  # another JIT reading the weights, captured first (as the decoder is in a run)
    return [(step(x, y).item(), model.unembed.numpy().sum(), read(x).item()) for _ in range(4)]
  fresh = run(1, "0")                   # no cache: run, capture, replay
  run(0, str(tmp_path))                 # another seed captures and saves the step
  assert len(list(tmp_path.glob("train_step-*.pkl"))) == 1
  assert run(1, str(tmp_path)) == fresh  # loaded: this seed's weights, updated where the model and the other JIT see them

def test_padding_a_batch_to_whole_tiles_changes_neither_loss_nor_accuracy():
  from tinyarith.loss import cross_entropy, accuracy
  from tinyarith.train import make_eval_step, ROWS
  model = Transformer(Config(vocab=8, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=7), seed=3)
  x, y, _, _ = modular_split(7, "+", 0.5, seed=0)  # 24 rows: padded to ROWS inside the step
  assert len(x) % ROWS
  x, y = Tensor(x).realize(), Tensor(y).realize()
  loss, acc = make_eval_step(model, slice(2, 3))(x, y)
  logits = model(x)
  assert loss.item() == pytest.approx(cross_entropy(logits, y).item(), rel=1e-6)
  assert acc.item() == pytest.approx(accuracy(logits, y).item(), rel=1e-6)

def test_a_cache_folder_that_cannot_be_written_is_a_warning_not_a_crash(tmp_path, monkeypatch, capsys):
  blocker = tmp_path / "a-file"
  blocker.write_text("")
  monkeypatch.setenv("TINYARITH_CACHE", str(blocker / "cache"))  # under a file: mkdir fails
  x, y, _, _ = modular_split(7, "+", 0.5, seed=0)
  x, y = Tensor(x).realize(), Tensor(y).realize()
  model = Transformer(Config(vocab=8, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=7), seed=0)
  step = make_train_step(model, adamw(model), slice(2, 3))
  losses = [step(x, y).item() for _ in range(4)]
  assert losses[-1] < losses[0]
  assert capsys.readouterr().err.count("warning: cannot keep the captured step") == 1

def test_the_step_cache_is_off_unless_asked_for(monkeypatch, tmp_path):
  from tinyarith.stepcache import cache_dir
  monkeypatch.delenv("TINYARITH_CACHE", raising=False)
  assert cache_dir() is None
  monkeypatch.setenv("TINYARITH_CACHE", "1")
  assert cache_dir() == Path.home() / ".cache" / "tinyarith"
  monkeypatch.setenv("TINYARITH_CACHE", str(tmp_path))
  assert cache_dir() == tmp_path
