"""python -m tinyarith.export RUN_DIR -o FILE: a trained run as a TransformerLens model (TransformerLens 4.x's TL-native
TransformerBridge), for its interpretability tools: run_with_cache's hooks (blocks.0.attn.hook_pattern, blocks.0.mlp.hook_post,
the residual stream), the weights as W_E, W_Q, ..., activation patching.

  from tinyarith import export
  bridge = export.bridge("runs/grokking-add-p113-seed0")   # a run directory: its newest weights
  export.save("runs/grokking-add-p113-seed0", "grok.pt")    # or a file: {"config", "state_dict"}
  bridge = export.load("grok.pt")                          # = TransformerBridge.boot_native(config) with the state dict

The TL-native model computes what tinyarith's does (tests/test_export.py: logits and activations to 1e-5) given the
mapping: each x @ w is a Linear of weight w.T; the biases tinyarith has not (attention's four, the unembedding's) are zero;
rotary features are reordered from tinyarith's halves (x1, x2) to TransformerLens's adjacent pairs (x1[0], x2[0], x1[1], ...),
the same rotation in another order, for queries and keys alike, so their dot products are unchanged; --pos none is a zero
position table. Abacus and coupled places, and --attn-scale log, have no TL-native counterpart: refused."""
from pathlib import Path
import numpy as np
from tinygrad import Tensor
from tinyarith import cli
from tinyarith.abacus import SCHEMES
from tinyarith.errors import BadInput
from tinyarith.measures import key_frequencies
from tinyarith.model import Transformer
from tinyarith.rundir import load_run

EXTRA = 'pip install -e ".[interp]"'  # what brings transformer-lens

def tl_config(model:Transformer) -> dict:
  """The TransformerBridgeConfig fields of model's Config; BadInput for what TransformerLens's native model cannot compute."""
  cfg = model.cfg
  if cfg.pos in SCHEMES:
    raise BadInput("run", f"--pos {cfg.pos}: each token's place in its number comes packed with it, which TransformerLens's "
                          "native model has no embedding for (its positions are the sequence's)")
  if cfg.attn_scale != "sqrt": raise BadInput("run", f"--attn-scale {cfg.attn_scale}: TransformerLens scales every score by one constant")
  return dict(n_layers=cfg.n_layers, d_model=cfg.d_model, n_heads=cfg.n_heads, d_head=cfg.d_head, d_mlp=cfg.d_mlp, d_vocab=cfg.vocab,
              d_vocab_out=cfg.n_classes, n_ctx=cfg.ctx_len, act_fn="relu", normalization_type="LN" if cfg.layernorm else None,
              eps=1e-5, positional_embedding_type="rotary" if cfg.pos == "rope" else "standard", rotary_dim=cfg.d_head,
              rotary_base=10000, original_architecture="tinyarith")

def adjacent_pairs(n_heads:int, d_head:int) -> np.ndarray:
  """The feature order that turns tinyarith's rotary halves into TransformerLens's adjacent pairs: feature 2i of a head is
  its i, 2i + 1 its half + i."""
  half = d_head // 2
  within = np.stack([np.arange(half), np.arange(half) + half], 1).ravel()  # (d_head,)
  return (np.arange(n_heads)[:, None] * d_head + within[None]).ravel()

def tl_state_dict(model:Transformer) -> dict[str, np.ndarray]:
  """model's weights by TransformerBridge's names, as float32 arrays (Linear weights are (out, in))."""
  cfg, f32 = model.cfg, lambda t: t.numpy().astype(np.float32)
  order = adjacent_pairs(cfg.n_heads, cfg.d_head) if cfg.pos == "rope" else np.arange(cfg.d_model)
  zeros = lambda *shape: np.zeros(shape, np.float32)
  sd = {"embed.weight": f32(model.tok_emb),
        "unembed.weight": f32(model.unembed).T, "unembed.bias": zeros(cfg.n_classes)}
  if cfg.pos != "rope": sd["pos_embed.weight"] = f32(model.pos_emb) if model.pos_emb is not None else zeros(cfg.ctx_len, cfg.d_model)
  for i, block in enumerate(model.blocks):
    a, m, pre = block.attn, block.mlp, f"blocks.{i}."
    sd |= {pre + "attn.q.weight": f32(a.wq).T[order], pre + "attn.k.weight": f32(a.wk).T[order], pre + "attn.v.weight": f32(a.wv).T,
           pre + "attn.o.weight": f32(a.wo).T, **{pre + f"attn.{n}.bias": zeros(cfg.d_model) for n in "qkvo"},
           pre + "mlp.in.weight": f32(m.w_in).T, pre + "mlp.in.bias": f32(m.b_in),
           pre + "mlp.out.weight": f32(m.w_out).T, pre + "mlp.out.bias": f32(m.b_out)}
    if block.ln1: sd |= {pre + "ln1.weight": f32(block.ln1.gain), pre + "ln1.bias": f32(block.ln1.bias),
                         pre + "ln2.weight": f32(block.ln2.gain), pre + "ln2.bias": f32(block.ln2.bias)}
  if model.ln_f: sd |= {"ln_final.weight": f32(model.ln_f.gain), "ln_final.bias": f32(model.ln_f.bias)}
  return sd

def activations(model:Transformer, tokens:np.ndarray) -> dict[str, np.ndarray]:
  """tinyarith's own intermediates of tokens (B, T), by the names of the TransformerLens hooks that hold the same: each
  block's residual stream before, between and after its attention and MLP, its attention pattern (B, H, T, T) and its MLP's
  hidden activations (B, T, d_mlp); and the logits."""
  x, every, found = model.embed(Tensor(tokens)), slice(0, tokens.shape[-1]), {}
  norm = lambda ln, t: ln(t) if ln else t
  for i, block in enumerate(model.blocks):  # Block.__call__'s two halves, kept apart; resid_post is the block's own output
    pre, attn_in = f"blocks.{i}.", norm(block.ln1, x)
    mid = x + block.attn(attn_in, every)
    found |= {pre + "hook_resid_pre": x, pre + "attn.hook_pattern": block.attn.pattern(attn_in, every), pre + "hook_resid_mid": mid,
              pre + "mlp.hook_post": block.mlp.hidden(norm(block.ln2, mid)), pre + "hook_resid_post": (x := block(x, every))}
  found["logits"] = (model.ln_f(x) if model.ln_f else x).matmul(model.unembed)
  return {k: v.numpy() for k, v in found.items()}

def torch_and_boot():
  """torch, and TransformerLens's boot of its native model; BadInput naming the extra when they are not installed. Imported
  here, not above: an optional extra, and 10 s that a refused run or --help should not wait for."""
  try:
    import torch
    from transformer_lens.model_bridge.sources.native import boot as boot_native
  except ImportError as e: raise BadInput(None, f"TransformerLens is not installed: {EXTRA} ({e})") from None
  return torch, boot_native

def boot(config:dict, state_dict:dict):
  """TransformerLens's native bridge of config with state_dict's weights (strict: every weight, no other)."""
  torch, boot_native = torch_and_boot()
  bridge = boot_native(dict(config))
  bridge.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state_dict.items()}, strict=True)
  return bridge.eval()

def of_model(model:Transformer):
  """model as a TransformerLens TransformerBridge."""
  return boot(tl_config(model), tl_state_dict(model))

def bridge(run_dir:str|Path):
  """The run in run_dir (its newest weights) as a TransformerLens TransformerBridge."""
  return of_model(load_run(run_dir)[1])

def save(run_dir:str|Path, path:str|Path) -> Path:
  """Write the run's TransformerLens config and state dict to path (torch.save), checked to boot first."""
  config, model, step = load_run(run_dir)
  tl, sd = tl_config(model), tl_state_dict(model)  # an unsupported run is refused before TransformerLens's 10 s import
  torch, _ = torch_and_boot()
  boot(tl, sd)  # a run TransformerLens cannot take fails here, before anything is written
  out = {"config": tl, "state_dict": {k: torch.from_numpy(v) for k, v in sd.items()},
         "tinyarith": {"run": str(run_dir), "step": step, "experiment": config.get("experiment"), "data": config.get("data")}}
  tmp = Path(f"{path}.tmp")
  try:
    with open(tmp, "wb") as f: torch.save(out, f)  # through open(), so a missing folder is an OSError, not torch's RuntimeError
    tmp.replace(path)
  except OSError as e:
    tmp.unlink(missing_ok=True)
    raise BadInput("out", f"cannot write {path}: {e.strerror or e}") from None
  return Path(path)

def load(path:str|Path):
  """The TransformerBridge of a file that save() wrote."""
  torch, _ = torch_and_boot()
  saved = torch.load(path, weights_only=True)
  return boot(saved["config"], saved["state_dict"])

def demo_key_frequencies(bridge, p:int) -> list[int]:
  """The TransformerLens grokking demo's Fourier analysis of the embedding of a model of a + b mod p, on its bridge: the
  demo's basis (the constant, then sin and cos of each frequency 1..p//2, rows scaled to unit norm), W_E's p number
  tokens in it, and the norm per frequency (sin and cos together); the frequencies that stand out, by
  measures.key_frequencies' cut (the demo reads them off its plot by eye)."""
  torch, _ = torch_and_boot()
  x = torch.arange(p, dtype=torch.float64)
  waves = [f(2 * torch.pi * k * x / p) for k in range(1, p // 2 + 1) for f in (torch.sin, torch.cos)]
  basis = torch.stack([torch.ones(p, dtype=torch.float64)] + waves)
  basis = basis / basis.norm(dim=-1, keepdim=True)  # (p, p) for odd p
  with torch.no_grad(): w_e = bridge.W_E[:p].double()  # (p, d_model): the "=" token's row left out
  power = (basis @ w_e).pow(2).sum(-1)[1:1 + 2 * (p // 2)].reshape(-1, 2).sum(-1)  # (p//2,): entry k-1 is frequency k
  return key_frequencies(power.numpy())

def check_run(path:str|Path):
  """BadInput unless path holds a run (its config.json): a sweep's directory names its runs' instead."""
  if not (Path(path) / "config.json").is_file():
    sweep = (Path(path) / "sweep.json").is_file()
    raise BadInput(None, f"RUN_DIR {path} holds no run (no config.json)" + (": it is a sweep; name one of its runs' directories" if sweep else ""))

@cli.guarded
def main(argv:list[str]|None=None):
  parser = cli.ArgumentParser(prog="python -m tinyarith.export", description=__doc__.split(": ", 1)[1].split("\n\n")[0])
  parser.add_argument("run", help="a run's directory (a sweep's runs each have one)")
  parser.add_argument("-o", "--out", required=True, help="the file to write (torch.save: config, state_dict)")
  args = parser.parse_args(argv)
  check_run(args.run)
  try: out = save(args.run, args.out)
  except BadInput as e:
    if e.field != "run": raise
    raise BadInput(None, f"RUN_DIR {e.message}") from None
  print(f"wrote {out}: open it with tinyarith.export.load({str(out)!r}), a TransformerLens TransformerBridge")

if __name__ == "__main__": main()
