import os, sqlite3, subprocess, sys

# Trains a tiny model for 4 steps and prints how many programs it had to make (not in memory, not on disk), then the losses
TRAIN = """
from tinygrad import Tensor
from tinyarith import programs
from tinyarith.config import adamw
from tinyarith.grokking import modular_split
from tinyarith.model import Config, Transformer
from tinyarith.train import make_train_step
made, keep = [], programs.OnDisk.__setitem__
programs.OnDisk.__setitem__ = lambda *args: made.append(1) or keep(*args)
model = Transformer(Config(vocab=8, ctx_len=3, d_model=16, n_heads=2, d_mlp=32, n_out=7), seed=0)
x, y, _, _ = modular_split(7, "+", 0.5, seed=0)
step = make_train_step(model, adamw(model, lr=1e-2), slice(2, 3))
losses = [step(Tensor(x), Tensor(y)).item() for _ in range(4)]
print(len(made), *losses)
"""

def programs_on_disk(cache_db) -> int:
  with sqlite3.connect(cache_db) as db:
    return sum(db.execute(f"SELECT COUNT(*) FROM '{name}'").fetchone()[0]
               for (name,) in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'tinyarith_program%'"))

def test_a_second_process_reuses_every_program_the_first_made_and_trains_the_same(tmp_path):
  env = {**os.environ, "CACHEDB": str(tmp_path / "cache.db")}
  run = lambda: subprocess.run([sys.executable, "-c", TRAIN], capture_output=True, text=True, check=True, env=env,
                               timeout=600).stdout.split()
  first = run()
  kept = programs_on_disk(tmp_path / "cache.db")
  second = run()
  assert int(first[0]) > 20 and kept == int(first[0])  # each program made was written
  assert second[0] == "0" and programs_on_disk(tmp_path / "cache.db") == kept  # the second made none
  assert second[1:] == first[1:] and float(first[-1]) < float(first[1])  # the same losses, bit for bit, and they fall
