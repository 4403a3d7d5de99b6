import numpy as np
import pytest
from tinygrad import Tensor, Context, dtypes
from tinyarith.errors import BadInput
from tinyarith.model import Config, Transformer, rope
from tinyarith.loss import cross_entropy
from tinygrad.nn.state import get_state_dict

TINY = dict(vocab=11, ctx_len=6, n_layers=2, d_model=16, n_heads=2, d_mlp=32)

@pytest.mark.parametrize("layernorm,pos", [(False, "learned"), (True, "rope")])
def test_logits_have_one_row_of_classes_per_position(layernorm, pos):
  model = Transformer(Config(**TINY, layernorm=layernorm, pos=pos, n_out=7), seed=0)
  assert model(Tensor([[1, 2, 3, 4, 5], [0, 0, 0, 0, 0]])).shape == (2, 5, 7)

@pytest.mark.parametrize("pos", ["learned", "rope"])
def test_changing_a_later_token_never_changes_earlier_logits(pos):
  model = Transformer(Config(**TINY, layernorm=True, pos=pos), seed=1)
  x = np.array([[3, 1, 4, 1, 5, 9]])
  y = x.copy(); y[0, 3] = 7
  a, b = model(Tensor(x)).numpy(), model(Tensor(y)).numpy()
  np.testing.assert_allclose(a[:, :3], b[:, :3], rtol=1e-5, atol=1e-6)
  assert np.abs(a[:, 3:] - b[:, 3:]).max() > 1e-4  # and the change does reach the later positions

@pytest.mark.parametrize("pos,invariant", [("none", True), ("learned", False), ("rope", False)])
def test_without_positions_the_last_token_sees_the_earlier_ones_as_a_set(pos, invariant):
  """pos="none" (no position embeddings, no rotation): causal attention over earlier tokens is a weighted sum, so only the
  mask orders tokens, and in one block reordering what the last position reads leaves its logits as they were (in two,
  the earlier positions' own prefixes differ)."""
  model = Transformer(Config(**{**TINY, "n_layers": 1}, pos=pos), seed=3)
  x, y = np.array([[3, 1, 4, 1, 5, 9]]), np.array([[5, 1, 3, 4, 1, 9]])
  a, b = model(Tensor(x), slice(5, 6)).numpy(), model(Tensor(y), slice(5, 6)).numpy()
  assert np.allclose(a, b, rtol=1e-5, atol=1e-6) == invariant
  assert (model.pos_emb is None) == (pos != "learned")

def test_abacus_positions_are_the_places_that_come_packed_with_the_tokens_and_nothing_else():
  """A token and its place travel together (token + vocab * place): in one block, the last position's logits do not
  change when the earlier (token, place) pairs are reordered, and do when only a place changes."""
  model = Transformer(Config(**{**TINY, "n_layers": 1}, pos="abacus", n_places=14), seed=3)
  tokens, place = np.array([[3, 1, 4, 1, 5, 9]]), np.array([[2, 1, 0, 3, 6, 1]])
  order = [4, 1, 3, 0, 2, 5]
  logits = lambda t, p: model(Tensor(t + 11 * p), slice(5, 6)).numpy()
  np.testing.assert_allclose(logits(tokens, place), logits(tokens[:, order], place[:, order]), rtol=1e-5, atol=1e-6)
  assert np.abs(logits(tokens, place) - logits(tokens, place[:, [1, 0, 2, 3, 4, 5]])).max() > 1e-4
  assert model.place_emb.shape == (14, 16) and model.pos_emb is None
  assert Transformer(Config(**TINY, pos="coupled")).place_emb.shape == (7, 16)  # a run from before n_places: ctx_len + 1

@pytest.mark.parametrize("pos,attn_scale", [("learned", "sqrt"), ("rope", "sqrt"), ("learned", "log")])
def test_logits_at_a_span_of_positions_equal_those_of_the_full_pass(pos, attn_scale):
  model = Transformer(Config(**TINY, layernorm=True, pos=pos, attn_scale=attn_scale), seed=2)
  x = Tensor(np.random.default_rng(0).integers(0, 11, (3, 6)))
  full = model(x).numpy()
  for span in (slice(2, 5), slice(5, 6), slice(0, 6)):
    np.testing.assert_allclose(model(x, span).numpy(), full[:, span], rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="consecutive"): model(x, slice(0, 6, 2))

def test_rope_at_an_offset_matches_the_same_positions_of_a_longer_sequence():
  x = Tensor(np.random.default_rng(1).normal(size=(1, 2, 6, 8)).astype(np.float32))
  np.testing.assert_allclose(rope(x[:, :, 4:], start=4).numpy(), rope(x).numpy()[:, :, 4:], rtol=1e-5, atol=1e-6)

def test_rope_keeps_norms_and_rotates_by_position():
  x = Tensor.ones(1, 1, 5, 8)  # the same vector at every position
  r = rope(x).numpy()[0, 0]
  np.testing.assert_allclose(np.linalg.norm(r, axis=-1), np.linalg.norm(np.ones(8)), rtol=1e-5)
  np.testing.assert_allclose(r[0], np.ones(8), rtol=1e-6)  # position 0 is not rotated
  assert all(np.abs(r[t] - r[t - 1]).max() > 1e-3 for t in range(1, 5))

def test_rope_scores_depend_only_on_relative_position():
  rng = np.random.default_rng(0)
  q, k = rng.normal(size=8).astype(np.float32), rng.normal(size=8).astype(np.float32)
  rq, rk = (rope(Tensor(np.tile(v, (1, 1, 6, 1)))).numpy()[0, 0] for v in (q, k))
  assert rq[3] @ rk[1] == pytest.approx(rq[5] @ rk[3], rel=1e-4)
  assert abs(rq[3] @ rk[1] - rq[3] @ rk[2]) > 1e-3

def test_init_is_scaled_by_fan_in_not_std_one():
  model = Transformer(Config(vocab=114, ctx_len=3, d_model=128, d_mlp=512), seed=0)
  assert model.blocks[0].mlp.w_out.std().item() == pytest.approx(512 ** -0.5, rel=0.05)
  assert model.blocks[0].attn.wq.std().item() == pytest.approx(128 ** -0.5, rel=0.05)

@pytest.mark.parametrize("kw,message", [(dict(n_heads=3), "n_heads"), (dict(pos="alibi"), "pos"), (dict(d_model=0), "d_model"),
                                      (dict(attn_scale="ln"), "attn_scale")])
def test_bad_configs_say_what_is_wrong(kw, message):
  with pytest.raises(ValueError, match=message): Config(**{**TINY, **kw})

@pytest.mark.parametrize("layernorm,pos", [(True, "rope"), (False, "learned")])
def test_every_parameters_gradient_matches_central_differences_in_float64(layernorm, pos):
  with Context(DEFAULT_FLOAT="float64"):  # so the finite difference is exact enough to compare
    model = Transformer(Config(vocab=7, ctx_len=4, n_layers=1, d_model=8, n_heads=2, d_mlp=16, layernorm=layernorm, pos=pos), seed=2)
  params = get_state_dict(model)
  assert all(t.dtype == dtypes.float64 for t in params.values())
  x, y = Tensor([[1, 2, 3, 4], [6, 5, 4, 0]]), Tensor([[-1, 3, 1, 2], [-1, -1, 0, 6]])
  loss = lambda: cross_entropy(model(x), y)
  loss().backward()
  grads = {name: np.zeros(t.shape) if t.grad is None else t.grad.numpy() for name, t in params.items()}  # None: no path to the loss
  rng, h = np.random.default_rng(0), 1e-5
  for name, t in params.items():
    w = t.numpy()
    for idx in {tuple(int(rng.integers(0, s)) for s in w.shape) for _ in range(4)}:  # several entries of each tensor
      shifted = []
      for sign in (1, -1):
        v = w.copy(); v[idx] += sign * h
        t.assign(Tensor(v)).realize()
        shifted.append(loss().item())
      t.assign(Tensor(w)).realize()
      assert grads[name][idx] == pytest.approx((shifted[0] - shifted[1]) / (2 * h), rel=1e-5, abs=1e-9), (name, idx)
  assert len(params) == (16 if layernorm else 11)  # every tensor of the model was checked: none is missing from the state dict

def test_emb_std_sets_the_embeddings_spread_at_initialisation_and_only_theirs():
  default, wide = (Transformer(Config(**{**TINY, "d_model": 64, "n_heads": 4}, layernorm=True, emb_std=std), seed=0) for std in (None, 1.0))
  assert abs(default.tok_emb.numpy().std() - 0.02) < 0.005 and abs(wide.tok_emb.numpy().std() - 1.0) < 0.25
  assert abs(wide.pos_emb.numpy().std() - 1.0) < 0.25
  np.testing.assert_array_equal(default.blocks[0].attn.wq.numpy(), wide.blocks[0].attn.wq.numpy())
  with pytest.raises(BadInput) as e: Config(**TINY, emb_std=0.0)
  assert e.value.field == "emb_std"

def test_log_attention_scale_multiplies_each_querys_scores_by_the_log_of_the_keys_it_sees():
  """One block, no LayerNorm, written out in numpy: query i's scores q.k / sqrt(d_head) times log(i + 1) (Scalable-Softmax)."""
  model = Transformer(Config(**{**TINY, "n_layers": 1}, attn_scale="log"), seed=4)
  tokens = np.array([[3, 1, 4, 1, 5, 9]])
  w = {k: v.numpy().astype(np.float64) for k, v in get_state_dict(model).items()}
  x = w["tok_emb"][tokens[0]] + w["pos_emb"]  # (T, C)
  heads = lambda t: t.reshape(6, 2, 8).transpose(1, 0, 2)  # (H, T, hs)
  q, k, v = (heads(x @ w[f"blocks.0.attn.{n}"]) for n in ("wq", "wk", "wv"))
  scores = q @ k.transpose(0, 2, 1) / np.sqrt(8) * np.log(np.arange(1, 7))[:, None]
  scores = np.where(np.tril(np.ones((6, 6), bool)), scores, -np.inf)
  p = np.exp(scores - scores.max(-1, keepdims=True)); p /= p.sum(-1, keepdims=True)
  x = x + (p @ v).transpose(1, 0, 2).reshape(6, 16) @ w["blocks.0.attn.wo"]
  x = x + np.maximum(x @ w["blocks.0.mlp.w_in"] + w["blocks.0.mlp.b_in"], 0) @ w["blocks.0.mlp.w_out"] + w["blocks.0.mlp.b_out"]
  np.testing.assert_allclose(model(Tensor(tokens)).numpy()[0], x @ w["unembed"], rtol=1e-4, atol=1e-5)
