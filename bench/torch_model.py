"""The tinyarith Transformer written again in PyTorch eager, for the benchmark only: same shapes, init scheme and optimizer."""
import math
import torch
import torch.nn.functional as F
from torch import nn
from tinyarith.model import Config

def weight(fan_in:int, fan_out:int, std:float|None=None) -> nn.Parameter:
  return nn.Parameter(torch.randn(fan_in, fan_out) * (fan_in ** -0.5 if std is None else std))

def rope(x:torch.Tensor, base:float=10000.0) -> torch.Tensor:
  T, half = x.shape[-2], x.shape[-1] // 2
  freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(base) / half))
  angles = torch.arange(T, dtype=torch.float32)[:, None] * freqs[None, :]  # (T, half)
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

  def attn(self, x:torch.Tensor) -> torch.Tensor:
    B, T, C = x.shape
    q, k, v = ((x @ w).view(B, T, self.cfg.n_heads, self.cfg.d_head).transpose(1, 2) for w in (self.wq, self.wk, self.wv))
    if self.cfg.pos == "rope": q, k = rope(q), rope(k)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C) @ self.wo

  def forward(self, x:torch.Tensor) -> torch.Tensor:
    x = x + self.attn(self.ln1(x))
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

  def forward(self, tokens:torch.Tensor) -> torch.Tensor:
    x = self.tok_emb[tokens]
    if self.pos_emb is not None: x = x + self.pos_emb[:tokens.shape[1]]
    return self.ln_f(self.blocks(x)) @ self.unembed  # (B, T, n_classes)

def loss_and_accuracy(logits:torch.Tensor, targets:torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
  """the loss a PyTorch user writes: float32 cross-entropy, mean over the kept targets (ignore_index=-1)"""
  keep = targets != -1
  loss = F.cross_entropy(logits.flatten(0, -2), targets.flatten(), ignore_index=-1)
  return loss, ((logits.argmax(-1) == targets) & keep).sum() / keep.sum()
