"""A decoder-only transformer written at the Tensor level: Config, attention, MLP, block, Transformer."""
import functools, math
from dataclasses import dataclass, asdict
import numpy as np
from tinygrad import Tensor, dtypes
from tinygrad.nn.state import get_parameters, get_state_dict
from tinyarith.abacus import SCHEMES
from tinyarith.errors import BadInput

POSITIONS = ("learned", "rope", "none", *SCHEMES)
ATTN_SCALES = ("sqrt", "log")  # scores q.k / sqrt(d_head), or that times log(keys in view): Scalable-Softmax (Nakanishi 2025)

@dataclass(frozen=True)
class Config:
  vocab: int                # input tokens
  ctx_len: int              # longest sequence the model sees
  n_layers: int = 1
  d_model: int = 128
  n_heads: int = 4
  d_mlp: int = 512
  layernorm: bool = False   # pre-norm LayerNorm in each block and before the unembedding
  pos: str = "learned"      # "learned" position embeddings, "rope" (rotary, in attention), "none" (the causal mask alone orders
                            # tokens), "abacus" or "coupled" (a digit's place in its number, tinyarith.abacus: tokens arrive packed with it)
  n_out: int | None = None  # output classes; None: same as vocab
  n_places: int | None = None  # abacus, coupled: rows of the place table (abacus.table_size); None: ctx_len + 1, as before it was set
  emb_std: float | None = None  # std of the embeddings at initialisation; None: 0.02 with LayerNorm (GPT-2), 1/sqrt(d_model) without
  attn_scale: str = "sqrt"  # ATTN_SCALES; "log" keeps a query's attention as sharp over the n keys of a longer sequence

  def __post_init__(self):
    for name in ("vocab", "ctx_len", "n_layers", "d_model", "n_heads", "d_mlp"):
      if not isinstance(v := getattr(self, name), int) or v < 1: raise BadInput(name, f"must be a positive integer, got {v!r}")
    if not isinstance(self.layernorm, bool): raise BadInput("layernorm", f"must be True or False, got {self.layernorm!r}")
    if self.emb_std is not None and (isinstance(self.emb_std, bool) or not isinstance(self.emb_std, (int, float)) or not 0 < self.emb_std < math.inf):
      raise BadInput("emb_std", f"must be a positive number, got {self.emb_std!r}")
    if self.d_model % self.n_heads: raise BadInput("n_heads", f"must divide d_model ({self.d_model}), got {self.n_heads}")
    if self.attn_scale not in ATTN_SCALES: raise BadInput("attn_scale", f"must be one of {', '.join(ATTN_SCALES)}, got {self.attn_scale!r}")
    if self.pos not in POSITIONS: raise BadInput("pos", f"must be one of {', '.join(POSITIONS)}, got {self.pos!r}")
    if self.pos == "rope" and self.d_head % 2: raise BadInput("pos", f"rope needs an even head size (d_model / n_heads), got {self.d_head}")

  @property
  def d_head(self) -> int: return self.d_model // self.n_heads
  @property
  def places(self) -> int: return self.n_places or self.ctx_len + 1
  @property
  def n_classes(self) -> int: return self.n_out or self.vocab
  def to_dict(self) -> dict: return asdict(self)

def normal(rng:np.random.Generator, shape:tuple[int, ...], std:float) -> Tensor:
  # drawn on the host: the same numbers on every device, and ~0.1 s where tinygrad's generator scheduled ~4 kernels per weight (3.6 s)
  return Tensor((rng.standard_normal(shape) * std).astype(dtypes.default_float.fmt))

def weight(rng:np.random.Generator, fan_in:int, fan_out:int, std:float|None=None) -> Tensor:
  # std 1/sqrt(fan_in) keeps activations O(1) through each matmul; the seed's std 1 blew them up
  return normal(rng, (fan_in, fan_out), fan_in ** -0.5 if std is None else std)

class LayerNorm:
  def __init__(self, dim:int): self.gain, self.bias = Tensor.ones(dim), Tensor.zeros(dim)
  def __call__(self, x:Tensor) -> Tensor: return x.layernorm(eps=1e-5) * self.gain + self.bias

@functools.cache
def rope_tables(start:int, T:int, half:int, base:float, device:str) -> tuple[Tensor, Tensor]:
  """cos and sin of each position's angles, (T, half), on the device once: in the step's graph they were constants,
  inlined as a sine per element of q and k (forward and backward), 40 ms of the addition step."""
  angles = np.arange(start, start + T)[:, None] * np.exp(np.arange(half) * (-math.log(base) / half))[None]
  return tuple(Tensor(f(angles).astype(np.float32), device=device).realize() for f in (np.cos, np.sin))

@functools.cache
def log_keys(start:int, T:int, device:str) -> Tensor:
  """log of the keys in view of each query start..start+T-1, (T, 1): a query at position i sees i + 1 keys. A logit gap g
  between the keys it wants and the rest becomes g log n, so their weight n^g / (n^g + n) holds as n grows past the trained n."""
  return Tensor(np.log(np.arange(start + 1, start + T + 1, dtype=np.float32))[:, None], device=device).realize()

def rope(x:Tensor, start:int=0, base:float=10000.0) -> Tensor:
  """Rotate the two halves of each head's features by angles set by the position, start..start+T-1 (as in seed 000). x: (..., H, T, hs)"""
  half = x.shape[-1] // 2
  cos, sin = rope_tables(start, x.shape[-2], half, base, x.device)
  x1, x2 = x[..., :half], x[..., half:]
  return (x1 * cos - x2 * sin).cat(x1 * sin + x2 * cos, dim=-1)

class Attention:
  def __init__(self, cfg:Config, out_std:float|None, rng:np.random.Generator):
    self.cfg = cfg
    std = None if out_std is None else 0.02
    self.wq, self.wk, self.wv = (weight(rng, cfg.d_model, cfg.d_model, std) for _ in range(3))
    self.wo = weight(rng, cfg.d_model, cfg.d_model, out_std)

  def heads(self, t:Tensor) -> Tensor:
    """(..., B, T, C) -> (..., B, H, T, hs)"""
    # contiguous_backward: the gradient of each projection is stored, not recomputed (RoPE's included) inside the weight-gradient kernels
    return t.contiguous_backward().reshape(*t.shape[:-1], self.cfg.n_heads, self.cfg.d_head).transpose(-3, -2)

  def pattern(self, x:Tensor, out:slice) -> Tensor:
    """x (..., B, T, C) -> (..., B, H, T_out, T): the attention weights of the queries at the positions out over every
    position up to each (zero after it)."""
    T = x.shape[-2]
    q, k = self.heads(x[..., out, :].matmul(self.wq)), self.heads(x.matmul(self.wk))
    if self.cfg.pos == "rope": q, k = rope(q, out.start), rope(k)
    q, k = q.contiguous(), k.contiguous()  # else the score kernel redoes the projections for every pair
    causal = Tensor.ones(T, T, dtype=dtypes.bool, device=x.device).tril()[out]  # (T_out, T)
    scores = q @ k.transpose(-2, -1) / math.sqrt(self.cfg.d_head)  # (..., B, H, T_out, T)
    if self.cfg.attn_scale == "log": scores = scores * log_keys(out.start, q.shape[-2], x.device)
    return causal.where(scores, -math.inf).softmax(-1).contiguous()  # stored, or each output feature recomputes every exp

  def __call__(self, x:Tensor, out:slice) -> Tensor:
    """x (..., B, T, C) -> (..., B, T_out, C): attention outputs at the positions out only, each reading every position up to
    itself. The leading ... is a stack of runs (see stack), or nothing."""
    y = self.pattern(x, out) @ self.heads(x.matmul(self.wv)).contiguous()  # (..., B, H, T_out, hs)
    return y.transpose(-3, -2).reshape(*y.shape[:-3], y.shape[-2], x.shape[-1]).matmul(self.wo)  # (..., B, T_out, C)

class MLP:
  def __init__(self, cfg:Config, out_std:float|None, rng:np.random.Generator):
    self.w_in, self.b_in = weight(rng, cfg.d_model, cfg.d_mlp, None if out_std is None else 0.02), Tensor.zeros(cfg.d_mlp)
    self.w_out, self.b_out = weight(rng, cfg.d_mlp, cfg.d_model, out_std), Tensor.zeros(cfg.d_model)
  def hidden(self, x:Tensor) -> Tensor: return (x.matmul(self.w_in) + self.b_in).relu()  # (..., d_mlp)
  def __call__(self, x:Tensor) -> Tensor: return self.hidden(x).matmul(self.w_out) + self.b_out

class Block:
  def __init__(self, cfg:Config, rng:np.random.Generator):
    # with LayerNorm on, the GPT-2 scheme: std 0.02, residual projections scaled by 1/sqrt(2 n_layers)
    out_std = 0.02 / math.sqrt(2 * cfg.n_layers) if cfg.layernorm else None
    self.attn, self.mlp = Attention(cfg, out_std, rng), MLP(cfg, out_std, rng)
    self.ln1, self.ln2 = (LayerNorm(cfg.d_model), LayerNorm(cfg.d_model)) if cfg.layernorm else (None, None)

  def __call__(self, x:Tensor, out:slice) -> Tensor:
    """x (..., B, T, C) -> (..., B, T_out, C) at the positions out"""
    x = x[..., out, :] + self.attn(self.ln1(x) if self.ln1 else x, out)
    return x + self.mlp(self.ln2(x) if self.ln2 else x)

class Transformer:
  def __init__(self, cfg:Config, seed:int=0):
    self.cfg, rng = cfg, np.random.default_rng(seed)
    emb_std = cfg.emb_std or (0.02 if cfg.layernorm else cfg.d_model ** -0.5)  # without LayerNorm: rows of unit-ish norm
    self.tok_emb = normal(rng, (cfg.vocab, cfg.d_model), emb_std)
    self.pos_emb = normal(rng, (cfg.ctx_len, cfg.d_model), emb_std) if cfg.pos == "learned" else None
    self.place_emb = normal(rng, (cfg.places, cfg.d_model), emb_std) if cfg.pos in SCHEMES else None
    self.blocks = [Block(cfg, rng) for _ in range(cfg.n_layers)]
    self.ln_f = LayerNorm(cfg.d_model) if cfg.layernorm else None
    self.unembed = weight(rng, cfg.d_model, cfg.n_classes, 0.02 if cfg.layernorm else None)
    Tensor.realize(*get_parameters(self))  # on the device once, not copied inside every kernel that reads them

  def __call__(self, tokens:Tensor, out:slice=slice(None)) -> Tensor:
    """tokens (B, T) int -> logits (B, T_out, n_classes) at the positions out (default all). With abacus or coupled
    positions each token comes packed with its place, token + vocab * place (abacus.pack).
    Asking only for the positions that reach the loss saves the last block's queries, attention outputs and MLP elsewhere."""
    T = tokens.shape[-1]
    start, stop, step = out.indices(T)
    if step != 1 or start >= stop: raise ValueError(f"out must be a non-empty slice of consecutive positions, got {out}")
    x = self.embed(tokens)
    for i, block in enumerate(self.blocks): x = block(x, slice(start, stop) if i == len(self.blocks) - 1 else slice(0, T))
    if self.ln_f: x = self.ln_f(x)
    return x.matmul(self.unembed)  # (B, T_out, n_classes)

  def embed(self, tokens:Tensor) -> Tensor:
    """tokens (B, T) -> the residual stream's start (B, T, C): the tokens' embeddings plus their positions' or places'."""
    T = tokens.shape[-1]
    if T > self.cfg.ctx_len: raise ValueError(f"sequence of {T} tokens is longer than ctx_len {self.cfg.ctx_len}")
    # a one-hot matmul, not a gather: the gather's gradient is a compare over every token for every table entry, 3x slower on CPU
    embed = lambda ids, table: ids.one_hot(table.shape[-2]).cast(table.dtype).contiguous().matmul(table)  # (B, T, C)
    if self.place_emb is not None: tokens, places = tokens % self.cfg.vocab, tokens // self.cfg.vocab
    x = embed(tokens, self.tok_emb)
    if self.pos_emb is not None: x = x + self.pos_emb[..., :T, :]
    if self.place_emb is not None: x = x + embed(places, self.place_emb)
    return x.contiguous()  # one embedding for every matmul that reads x, not one each

RUN_RANK = 4  # rank of a stacked weight: the activations of stacked runs are (R, B, T, C)

def to_device(array:np.ndarray, device:str|tuple[str, ...], axis:int|None=0) -> Tensor:
  """array as a realized Tensor on device, or, on a tuple of devices, split across them on axis (a stack's run axis; None:
  a whole copy on each). A read-only or strided array (a broadcast view) is copied first: OpenCL's copy-in takes the address of
  a writable, contiguous buffer."""
  array = np.require(array, requirements=("C", "W"))
  return (Tensor(array, device=device) if isinstance(device, str) else Tensor(array).shard(device, axis=axis)).realize()

def stack(models:list[Transformer]) -> Transformer:
  """One Transformer that runs models of one Config side by side, tokens (R, B, T) -> logits (R, B, T_out, n_classes), run r
  with model r's weights. Each weight is theirs stacked on a leading run axis, (R, 1, .., *shape) of rank RUN_RANK, so that
  it broadcasts against the activations; a loss that adds up the runs' losses gives each run its own gradient."""
  if len({m.cfg for m in models}) != 1: raise ValueError("stacked models must share one Config")
  stacked, weights = Transformer(models[0].cfg), [get_state_dict(m) for m in models]  # its own weights are replaced below
  for name, first in weights[0].items():
    parent, *path = stacked, *name.split(".")
    for part in path[:-1]: parent = parent[int(part)] if isinstance(parent, list) else getattr(parent, part)
    runs = Tensor.stack(*[w[name] for w in weights]).reshape(len(models), *[1] * (RUN_RANK - 1 - first.ndim), *first.shape)
    setattr(parent, path[-1], runs.contiguous().realize())
  return stacked
