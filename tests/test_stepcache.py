import json, os, subprocess, sys

# Evaluates (capturing the eval step before any training), trains 4 steps, evaluates again; prints the losses, the
# evaluations, every weight and optimizer moment, and whether the steps came from disk
TRAIN = """
import json, sys
import numpy as np
from tinygrad import Tensor
from tinyarith import checkpoint
from tinyarith.config import adamw
from tinyarith.grokking import modular_split
from tinyarith.model import Config, Transformer
from tinyarith.batches import chunks
from tinyarith.train import make_evaluator, make_train_step
model = Transformer(Config(vocab=8, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=7), seed=0)
opt = adamw(model, lr=1e-2, weight_decay=float(sys.argv[1]))
x, y, xt, yt = (Tensor(a).realize() for a in modular_split(7, "+", 0.5, seed=0))
evaluate, parts = make_evaluator(model, slice(2, 3)), chunks(xt, yt)
before = [evaluate(parts) for _ in range(2)]
step = make_train_step(model, opt, slice(2, 3))
losses = [step(x, y).item() for _ in range(4)]
after = evaluate(parts)
state = {k: t.numpy().tolist() for k, t in checkpoint.training_state(model, opt).items()}
print(json.dumps({"losses": losses, "evals": [[float(v) for v in e] for e in (*before, after)], "state": state,
                  "restored": [step.restored, next(iter(evaluate.steps.values())).restored]}))
"""

def test_a_step_restored_in_a_new_process_trains_bit_identically_and_a_changed_setting_is_captured_afresh(tmp_path):
  env = {**os.environ, "CACHEDB": str(tmp_path / "cache.db")}
  run = lambda wd, **more: json.loads(subprocess.run([sys.executable, "-c", TRAIN, wd], env=env | more, capture_output=True, text=True,
                                                     check=True, timeout=600).stdout)
  first = run("1.0")
  assert first.pop("restored") == [False, False] and len(list((tmp_path / "cache-steps").glob("*.pkl"))) == 2
  second = run("1.0")
  assert second.pop("restored") == [True, True]  # the train and the eval step came from disk...
  assert second == first  # ...and trained and evaluated this process's weights exactly as a fresh capture did
  assert first["evals"][2] != first["evals"][0]  # the eval step, captured before training, read the trained weights
  uncached = run("0.5", TINYARITH_STEPS="0")
  changed = run("0.5")  # weight decay is a constant in the step's kernels: a step kept with 1.0 must not serve it
  assert changed.pop("restored") == [False, True] and changed == {k: v for k, v in uncached.items() if k != "restored"}
  assert changed["losses"] != first["losses"]

def test_unpickling_gives_every_buffer_a_new_number_not_a_live_buffers():
  import io, pickle
  from tinygrad import Tensor
  from tinyarith.stepcache import Unpickler
  live = Tensor([1.0, 2.0]).realize().uop.base
  kept = pickle.dumps(live)
  assert pickle.loads(kept) is live  # what plain pickle does: the kept buffer is the live one with its number
  fresh = Unpickler(io.BytesIO(kept)).load()
  assert fresh is not live and fresh.arg.slot != live.arg.slot and fresh.realized.as_memoryview().cast("f").tolist() == [1.0, 2.0]

def test_the_least_recently_used_steps_go_first_when_the_cache_is_full(tmp_path):
  import os
  from tinyarith.stepcache import trim
  for i, name in enumerate(["old", "mid", "new"]):
    (tmp_path / f"{name}.pkl").write_bytes(b"x" * 100)
    os.utime(tmp_path / f"{name}.pkl", (i, i))
  trim(tmp_path, most=250)
  assert sorted(p.stem for p in tmp_path.glob("*.pkl")) == ["mid", "new"]
