"""--optimizer: adamw (decoupled weight decay) and adam (L2 weight decay in the gradient, the Grokfast paper's
torch.optim.Adam) step as PyTorch's optimizers of those names do, through the JIT'd train step; and grokking's minibatches."""
import numpy as np
import pytest
torch = pytest.importorskip("torch")
import torch.nn.functional as F
from tinygrad import Tensor
from tinygrad.nn.state import get_state_dict
from bench import torch_model
from tinyarith import grokking
from tinyarith.config import RunConfig, lr_factor, optimizer, set_lr
from tinyarith.errors import BadInput
from tinyarith.model import Config, Transformer
from tinyarith.train import make_train_step
from test_torch_twin import relative, torch_name

def step_twins(run:RunConfig, torch_optimizer, steps:int=4, schedule:bool=False):
  """Our model and its PyTorch twin, stepped `steps` times on one batch by our JIT'd step (run, capture, replay) and by
  torch_optimizer (with schedule, each at the learning rate of run's --warmup and --decay: ours set by set_lr, the
  twin's by LambdaLR); returns both models' parameters by our names."""
  cfg = Config(vocab=16, ctx_len=4, n_layers=1, d_model=16, n_heads=2, d_mlp=32, layernorm=True, pos="learned", n_out=10)
  ours, twin = Transformer(cfg, seed=0), torch_model.Transformer(cfg)
  twin.load_state_dict({torch_name(k): torch.tensor(v.numpy()) for k, v in get_state_dict(ours).items()}, strict=True)
  opt = optimizer(ours, run)
  twin_opt = torch_optimizer(twin.parameters(), lr=run.lr, weight_decay=run.weight_decay, betas=(run.beta1, run.beta2))
  rates = torch.optim.lr_scheduler.LambdaLR(twin_opt, lambda done: lr_factor(run, done + 1))  # done: steps taken
  step = make_train_step(ours, opt)
  rng = np.random.default_rng(0)
  tokens, targets = rng.integers(0, 16, (8, 4)), np.concatenate([np.full((8, 3), -1), rng.integers(0, 10, (8, 1))], 1)
  for i in range(1, steps + 1):
    if schedule: set_lr(opt, [run], i)
    step(Tensor(tokens), Tensor(targets))
    twin_opt.zero_grad()
    F.cross_entropy(twin(torch.tensor(tokens))[:, -1], torch.tensor(targets[:, -1])).backward()
    twin_opt.step()
    rates.step()
  twin_params = dict(twin.named_parameters())
  return {k: (v.numpy(), twin_params[torch_name(k)].detach().numpy()) for k, v in get_state_dict(ours).items()}

@pytest.mark.parametrize("name,torch_optimizer", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_each_optimizer_steps_as_pytorchs_of_its_name(name, torch_optimizer):
  run = RunConfig("test", Config(vocab=16, ctx_len=4), optimizer=name, lr=1e-2, weight_decay=0.5, beta2=0.98)
  for k, (ours, twin) in step_twins(run, torch_optimizer).items(): assert relative(ours, twin) < 1e-4, k

def test_the_captured_step_takes_the_learning_rate_set_before_it_as_pytorchs_schedule_does():
  run = RunConfig("test", Config(vocab=16, ctx_len=4), lr=3e-2, weight_decay=0.5, beta2=0.98, warmup=2, decay="cosine", steps=6)
  for k, (ours, twin) in step_twins(run, torch.optim.AdamW, steps=6, schedule=True).items(): assert relative(ours, twin) < 1e-4, k

SMALL = dict(p=13, d_model=16, n_heads=2, d_mlp=32, lr=1e-2, train_frac=0.5, eval_every=10)

def test_grokking_minibatches_are_seeded_and_resume_exactly(tmp_path):
  whole = grokking.run(**SMALL, steps=30, batch_size=16, optimizer="adam", weight_decay=0.005, out=str(tmp_path / "whole"))
  again = grokking.run(**SMALL, steps=30, batch_size=16, optimizer="adam", weight_decay=0.005, out=str(tmp_path / "again"))
  grokking.run(**SMALL, steps=10, batch_size=16, optimizer="adam", weight_decay=0.005, out=str(tmp_path / "halves"))
  halves = grokking.run(resume=str(tmp_path / "halves"), steps=30)
  full = grokking.run(**SMALL, steps=30, optimizer="adam", weight_decay=0.005, out=str(tmp_path / "full"))
  strip = lambda rows: [{k: v for k, v in r.items() if k != "elapsed"} for r in rows]
  assert strip(whole) == strip(again) == strip(halves)  # the batches' generator is in the checkpoint
  assert [r["train_loss"] for r in whole[1:]] != pytest.approx([r["train_loss"] for r in full[1:]], rel=1e-3)

@pytest.mark.parametrize("settings", [dict(batch_size=0), dict(batch_size=85), dict(batch_size=16, seed=[0, 1])])
def test_bad_batch_sizes_are_bad_input_naming_it(tmp_path, settings):
  with pytest.raises(BadInput) as e: grokking.run(**{**SMALL, "steps": 10, "out": str(tmp_path / "run"), **settings})
  assert e.value.field == "batch_size" and not (tmp_path / "run").exists()
