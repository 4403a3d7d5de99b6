"""The tinyarith Transformer written again in PyTorch eager, for the benchmark only: same shapes, init scheme and optimizer."""
import math
import torch
import torch.nn.functional as F
from torch import nn
from tinyarith.model import Config

def weight(fan_in:int, fan_out:int, std:float|None=None) -> nn.Parameter:
  return nn.Parameter(torch.randn(fan_in, fan_out) * (fan_in ** -0.5 if std is None else std))

def rope(x:torch.Tensor, positions:torch.Tensor, base:float=10000.0) -> torch.Tensor:
  half = x.shape[-1] // 2
  freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(base) / half))
  angles = positions.float()[:, None] * freqs[None, :]  # (T, half)
  cos, sin = angles.cos(), angles.sin()
  x1, x2 = x[..., :half], x[..., half:]
  return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)

class Block(nn.Module):
  def __init__(self, cfg:Config):
    super().__init__()
    self.cfg = cfg
    out_std = 0.02 / math.sqrt(2 * cfg.n_layers) if cfg.layernorm else None
    std = None if out_std is None else 0.02
    self.wq, self.wk, self.wv = (weight(cfg.d_model, cfg.d_model, std) for _ in range(3))
    self.wo = weight(cfg.d_model, cfg.d_model, out_std)
    self.w_in, self.b_in = weight(cfg.d_model, cfg.d_mlp, std), nn.Parameter(torch.zeros(cfg.d_mlp))
    self.w_out, self.b_out = weight(cfg.d_mlp, cfg.d_model, out_std), nn.Parameter(torch.zeros(cfg.d_model))
    self.ln1, self.ln2 = (nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)) if cfg.layernorm else (nn.Identity(), nn.Identity())

  def attn(self, x:torch.Tensor, out:slice) -> torch.Tensor:
    """Attention at the positions `out` (queries there; keys and values at every position)."""
    (B, T, C), at = x.shape, torch.arange(x.shape[1])
    heads = lambda t: t.view(B, t.shape[1], self.cfg.n_heads, self.cfg.d_head).transpose(1, 2)
    q, k, v = heads(x[:, out] @ self.wq), heads(x @ self.wk), heads(x @ self.wv)
    if self.cfg.pos == "rope": q, k = rope(q, at[out]), rope(k, at)
    causal = at[out][:, None] >= at[None, :]  # (T_out, T)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=causal).transpose(1, 2).reshape(B, -1, C) @ self.wo

  def forward(self, x:torch.Tensor, out:slice=slice(None)) -> torch.Tensor:
    x = x[:, out] + self.attn(self.ln1(x), out)
    return x + (F.relu(self.ln2(x) @ self.w_in + self.b_in) @ self.w_out + self.b_out)

class Transformer(nn.Module):
  def __init__(self, cfg:Config):
    super().__init__()
    emb_std = 0.02 if cfg.layernorm else cfg.d_model ** -0.5
    self.tok_emb = nn.Parameter(torch.randn(cfg.vocab, cfg.d_model) * emb_std)
    self.pos_emb = nn.Parameter(torch.randn(cfg.ctx_len, cfg.d_model) * emb_std) if cfg.pos == "learned" else None
    self.blocks = nn.Sequential(*[Block(cfg) for _ in range(cfg.n_layers)])
    self.ln_f = nn.LayerNorm(cfg.d_model) if cfg.layernorm else nn.Identity()
    self.unembed = weight(cfg.d_model, cfg.n_classes, 0.02 if cfg.layernorm else None)

  def forward(self, tokens:torch.Tensor, out:slice=slice(None)) -> torch.Tensor:
    """Logits at the positions `out` (B, T_out, n_classes): as tinyarith's model(x, out), the last block computes its queries,
    MLP and unembedding only there."""
    x = self.tok_emb[tokens]
    if self.pos_emb is not None: x = x + self.pos_emb[:tokens.shape[1]]
    for i, block in enumerate(self.blocks): x = block(x, out if i == len(self.blocks) - 1 else slice(None))
    return self.ln_f(x) @ self.unembed

def loss_and_accuracy(logits:torch.Tensor, targets:torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
  """the loss a PyTorch user writes: float32 cross-entropy, mean over the kept targets (ignore_index=-1)"""
  keep = targets != -1
  loss = F.cross_entropy(logits.flatten(0, -2), targets.flatten(), ignore_index=-1)
  return loss, ((logits.argmax(-1) == targets) & keep).sum() / keep.sum()
