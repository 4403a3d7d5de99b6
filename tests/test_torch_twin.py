"""bench/bench.py compares speeds against bench/torch_model.py, a PyTorch twin of the model: the comparison is fair only
while the twin computes what tinyarith does. With the same weights, logits and every gradient agree to 1e-5 relative."""
import numpy as np
import pytest
torch = pytest.importorskip("torch")
import torch.nn.functional as F
from tinygrad import Tensor
from tinygrad.nn.state import get_state_dict
from bench import torch_model
from tinyarith.loss import cross_entropy
from tinyarith.model import Config, Transformer

def torch_name(name:str) -> str:  # blocks.0.attn.wq -> blocks.0.wq, ln1.gain -> ln1.weight
  return name.replace(".attn.", ".").replace(".mlp.", ".").replace(".gain", ".weight")

def relative(a:np.ndarray, b:np.ndarray) -> float: return float(np.abs(a - b).max() / np.abs(b).max())

@pytest.mark.parametrize("layernorm,pos", [(True, "rope"), (False, "learned")])
def test_the_pytorch_twin_gives_the_same_logits_and_gradients(layernorm, pos):
  cfg = Config(vocab=16, ctx_len=12, n_layers=2, d_model=32, n_heads=4, d_mlp=64, layernorm=layernorm, pos=pos, n_out=10)
  ours, twin = Transformer(cfg, seed=0), torch_model.Transformer(cfg)
  params = get_state_dict(ours)
  twin.load_state_dict({torch_name(k): torch.tensor(v.numpy()) for k, v in params.items()}, strict=True)
  rng = np.random.default_rng(0)
  tokens = rng.integers(0, 16, (8, 12))
  targets = np.where(rng.random((8, 12)) < 0.4, rng.integers(0, 10, (8, 12)), -1)  # some targets masked, as in addition

  logits = ours(Tensor(tokens))
  cross_entropy(logits, Tensor(targets)).backward()
  twin_logits = twin(torch.tensor(tokens))
  F.cross_entropy(twin_logits.flatten(0, 1), torch.tensor(targets).flatten(), ignore_index=-1).backward()

  assert relative(logits.numpy(), twin_logits.detach().numpy()) < 1e-5
  twin_params = dict(twin.named_parameters())
  for name, t in params.items():
    assert relative(t.grad.numpy(), twin_params[torch_name(name)].grad.numpy()) < 1e-5, name
  span = slice(5, None)  # the twin's bench row that computes only the positions that reach the loss, as tinyarith does
  assert relative(twin(torch.tensor(tokens), span).detach().numpy(), twin_logits[:, span].detach().numpy()) < 1e-5
