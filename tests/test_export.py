"""A run opens in TransformerLens (tinyarith.export): the same logits and activations, the demo's analysis the same answer.
Skips, saying so, where transformer-lens (the interp extra) is not installed; .ci/run installs it."""
import numpy as np
import pytest
from tinygrad import Tensor, dtypes
from tinygrad.nn.state import get_state_dict
from tinyarith import addition, export, grokking
from tinyarith.errors import BadInput
from tinyarith.model import Config, Transformer
from tinyarith.rundir import load_run

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[interp]'")
pytest.importorskip("transformer_lens", reason="transformer-lens is not installed: pip install -e '.[interp]'")

def agree(model:Transformer, bridge, tokens:np.ndarray):
  """The bridge's logits and cached activations against tinyarith's, each within 1e-5 of its largest entry, both sides in
  float64: in float32 each side's own rounding is already 1.5e-5 of the largest logit of a 2-layer model (TransformerLens's
  float32 against its float64 on the addition run), so only float64 tells a mapping error from rounding."""
  for t in get_state_dict(model).values(): t.replace(t.cast(dtypes.float64).contiguous().realize())
  bridge = bridge.double()
  ours = export.activations(model, tokens)
  np.testing.assert_allclose(ours["logits"], model(Tensor(tokens)).numpy(), rtol=1e-9, atol=1e-9)  # the intermediates are the model's
  logits, cache = bridge.run_with_cache(torch.tensor(tokens))
  theirs = {"logits": logits, **{k: cache[k] for k in ours if k != "logits"}}
  for name, value in ours.items():
    assert theirs[name].dtype == torch.float64 and value.dtype == np.float64, name
    assert np.abs(theirs[name].detach().numpy() - value).max() <= 1e-5 * np.abs(value).max(), name

def test_a_grokking_run_opens_in_transformerlens_with_its_logits_and_activations(grok_run):
  config, model, _ = load_run(grok_run)
  data = config["data"]
  x_test = grokking.modular_split(data["p"], data["op"], data["train_frac"], config["seed"])[2]
  agree(model, export.bridge(grok_run), x_test)
  assert export.bridge(grok_run)(torch.tensor(x_test[:2])).shape == (2, 3, data["p"])  # d_vocab_out: p answers, not p + 1 tokens

def test_an_addition_run_opens_in_transformerlens_rotary_and_layernorm_included(addition_run):
  out, _ = addition_run
  config, model, _ = load_run(out)
  a, b = addition.AdditionProblems(config["data"]["digits"], 1000, config["seed"]).test()
  agree(model, export.bridge(out), addition.addition_tokens(a, b, config["data"]["digits"]))

@pytest.mark.parametrize("layernorm,pos", [(False, "learned"), (True, "none"), (False, "rope")])
def test_every_model_config_tinyarith_exports_computes_the_same(layernorm, pos):
  """Untrained, with LayerNorm's gains and biases and the MLP's biases moved off their initial values."""
  model = Transformer(Config(vocab=11, ctx_len=7, n_layers=2, d_model=32, n_heads=4, d_mlp=64, layernorm=layernorm, pos=pos, n_out=9), seed=1)
  rng = np.random.default_rng(0)
  for name, t in get_state_dict(model).items():
    if name.endswith(("gain", "bias", "b_in", "b_out")): t.assign(Tensor(rng.normal(1 if name.endswith("gain") else 0, 0.3, t.shape).astype(np.float32))).realize()
  agree(model, export.of_model(model), rng.integers(0, 11, (16, 7)))

def test_the_demos_key_frequencies_and_the_restricted_loss_of_a_grokked_run_are_tinyariths(grok_run):
  """The TransformerLens grokking demo's Fourier analysis of W_E, on the bridge, finds tinyarith.progress's key
  frequencies of the same run; and the restricted and excluded losses of the bridge's logits over every pair are its."""
  from tinyarith.measures import restricted_and_excluded, tracker
  config, model, _ = load_run(grok_run)
  p, seed = config["data"]["p"], config["seed"]
  table, labels = grokking.modular_table(p)
  x_train = grokking.modular_split(p, "+", config["data"]["train_frac"], seed)[0]
  ours = tracker(model, table, [x_train])()
  bridge = export.bridge(grok_run)
  assert export.demo_key_frequencies(bridge, p) == ours["key_frequencies"]
  assert 2 <= len(ours["key_frequencies"]) <= 8  # a grokked model's handful, not one frequency or every one
  with torch.no_grad(): logits = bridge(torch.tensor(table))[:, -1].numpy()
  restricted, excluded = restricted_and_excluded(logits, labels, x_train[:, 0] * p + x_train[:, 1], ours["key_frequencies"])
  assert restricted == pytest.approx(ours["restricted_loss"], rel=1e-4) and excluded == pytest.approx(ours["excluded_loss"], rel=1e-4)
  assert excluded > 10 * restricted  # grokked: the key frequencies carry the answer

def test_the_command_writes_a_file_that_loads_as_the_same_model(grok_run, tmp_path, capsys):
  export.main([str(grok_run), "-o", str(tmp_path / "grok.pt")])
  assert "wrote" in capsys.readouterr().out
  tokens = torch.tensor([[1, 2, 31], [30, 5, 31]])
  np.testing.assert_array_equal(export.load(tmp_path / "grok.pt")(tokens).detach().numpy(), export.bridge(grok_run)(tokens).detach().numpy())

def fails(capsys, *args) -> str:
  with pytest.raises(SystemExit) as exit: export.main(list(map(str, args)))
  err = capsys.readouterr().err.strip()
  assert exit.value.code == 2 and len(err.splitlines()) == 1, err
  return err

def test_a_run_that_cannot_be_exported_is_one_line_and_nothing_written(tmp_path, grok_run, capsys):
  """Abacus and coupled places, and the log attention scale, have no TransformerLens counterpart; a missing or corrupt run
  directory, a sweep's own directory and an unwritable file are each one line; nothing is written."""
  from tinygrad.nn.state import safe_save
  for name, settings in [("coupled", dict(pos="coupled", n_places=9)), ("log", dict(attn_scale="log"))]:
    cfg = Config(vocab=11, ctx_len=7, d_model=16, n_heads=2, d_mlp=32, **settings)
    (run := tmp_path / name).mkdir()
    (run / "config.json").write_text(__import__("json").dumps({"experiment": "calculator", "model": cfg.to_dict(), "data": {}}))
    safe_save(get_state_dict(Transformer(cfg)), str(run / "model.safetensors"))
  (tmp_path / "corrupt").mkdir()
  (tmp_path / "corrupt" / "config.json").write_text("{not json")
  (tmp_path / "sweep").mkdir()
  (tmp_path / "sweep" / "sweep.json").write_text("{}")
  for run, says in [("coupled", "--pos coupled"), ("log", "--attn-scale log"), ("missing", "holds no run"), ("corrupt", "cannot load"),
                    ("sweep", "it is a sweep")]:
    assert says in fails(capsys, tmp_path / run, "-o", tmp_path / "out.pt")
  assert "--out: cannot write" in fails(capsys, grok_run, "-o", tmp_path / "no" / "such" / "dir.pt")
  assert {p.name for p in tmp_path.iterdir()} == {"coupled", "corrupt", "log", "sweep"}

def test_a_sweeps_run_exports_by_its_directory(tmp_path):
  grokking.run(p=7, d_model=16, n_heads=2, d_mlp=32, steps=4, eval_every=4, seed=[0, 1], out=str(tmp_path / "sweep"))
  with pytest.raises(BadInput, match="it is a sweep"): export.check_run(tmp_path / "sweep")
  for seed in (0, 1):
    run = next((tmp_path / "sweep").glob(f"seed{seed}-*"))
    agree(load_run(run)[1], export.bridge(run), grokking.modular_split(7, "+", 0.3, seed)[2])
