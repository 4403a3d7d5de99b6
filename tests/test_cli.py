from conftest import experiment, flag_defaults

def test_help_documents_every_flag_with_its_default():
  result = experiment("grokking", "--help", timeout=120)
  assert result.returncode == 0
  defaults = flag_defaults(result.stdout)
  assert set(defaults) == {"--help", "--p", "--op", "--train-frac", "--n-layers", "--d-model", "--n-heads", "--d-mlp", "--layernorm",
                           "--no-layernorm", "--pos", "--lr", "--beta1", "--beta2", "--weight-decay", "--steps", "--eval-every",
                           "--ckpt-every", "--seed", "--out", "--resume", "--shard", "--devices", "--loss", "--loss-dtype",
                           "--grokfast-alpha", "--grokfast-lamb", "--optimizer", "--batch-size", "--emb-std",
                           "--attn-scale", "--warmup", "--decay"}
  expected = {"--p": "113", "--op": "+", "--train-frac": "0.3", "--n-layers": "1", "--d-model": "128", "--n-heads": "4", "--d-mlp": "512",
              "--layernorm": "False", "--pos": "learned", "--lr": "0.001", "--beta1": "0.9", "--beta2": "0.98", "--weight-decay": "1.0",
              "--steps": "25000", "--eval-every": "100", "--seed": "0", "--loss": "softmax", "--loss-dtype": "float64",
              "--grokfast-alpha": "0.98", "--grokfast-lamb": "0.0", "--optimizer": "adamw",
              "--attn-scale": "sqrt", "--warmup": "0", "--decay": "none"}
  assert {k: defaults[k] for k in expected} == expected

def test_a_run_off_the_default_recipe_gets_its_own_default_directory():
  """A StableMax, float32 or Grokfast run beside the default one must not be refused as "already holds a run"."""
  from tinyarith import grokking
  from tinyarith.settings import resolve
  out = lambda **settings: grokking.config_of(resolve(settings, grokking.DEFAULTS)).out
  assert out() == "runs/grokking-add-p113-seed0"
  assert out(loss="stablemax", grokfast_lamb=2) == "runs/grokking-add-p113-seed0-stablemax-grokfast2"
  assert out(loss_dtype="float32", seed=3) == "runs/grokking-add-p113-seed3-float32"
  assert out(optimizer="adam", batch_size=512, emb_std=1.0, attn_scale="log") == "runs/grokking-add-p113-seed0-adam-batch512-emb1-logattn"
  assert out(warmup=100, decay="cosine") == "runs/grokking-add-p113-seed0-warmup100-cosine"

def test_a_calculator_run_off_its_defaults_gets_its_own_default_directory():
  from tinyarith import calculator
  from tinyarith.settings import resolve
  out = lambda **settings: calculator.config_of(resolve(settings, calculator.DEFAULTS)).out
  assert out() == "runs/calculator-2d-add-sub-mul-div-seed0"
  assert out(ops="/", scratchpad=True, division="multiples", decay="cosine") == "runs/calculator-2d-div-scratch-multiples-cosine-seed0"
  assert out(ops="/", scratchpad=True, division="subtract") == "runs/calculator-2d-div-scratch-subtract-seed0"
  assert out(format="plain", ops="+", digits=10, test_digits=30, pos="coupled", pack=2, attn_scale="log") == (
    "runs/calculator-10d-add-plain-test30d-coupled-pack2-logattn-seed0")

NEW_SETTINGS = ("loss", "loss_dtype", "grokfast_alpha", "grokfast_lamb", "optimizer", "warmup", "decay")

def test_a_run_or_sweep_begun_before_the_loss_grokfast_and_progress_settings_resumes(tmp_path):
  """Its config.json or sweep.json lacks the new settings (they read as their defaults) and its metrics lack the progress
  measures' columns (its rows keep the columns they began with)."""
  import json
  from tinyarith import grokking
  from tinyarith.metrics import read_metrics
  tiny = dict(p=7, d_model=16, n_heads=2, d_mlp=32, steps=10, eval_every=5)
  grokking.run(**tiny, out=str(tmp_path / "run"))
  grokking.run(**tiny, seed=[0, 1], out=str(tmp_path / "sweep"))
  runs = [tmp_path / "run", tmp_path / "sweep" / "seed0-frac0.3-wd1-lr0.001", tmp_path / "sweep" / "seed1-frac0.3-wd1-lr0.001"]
  for run in runs:
    config = json.loads((run / "config.json").read_text())
    config["data"].pop("batch_size"), config["model"].pop("emb_std"), config["model"].pop("n_places"), config["model"].pop("attn_scale")  # newer still
    (run / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k not in NEW_SETTINGS}))
    rows = [{k: v for k, v in r.items() if k in ("step", "train_loss", "train_acc", "test_loss", "test_acc", "elapsed")} for r in read_metrics(run)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  record = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
  record["flags"] = {k: v for k, v in record["flags"].items() if k not in (*NEW_SETTINGS, "batch_size", "emb_std", "attn_scale")}
  (tmp_path / "sweep" / "sweep.json").write_text(json.dumps(record))
  grokking.run(resume=str(tmp_path / "run"), steps=20)
  grokking.run(resume=str(tmp_path / "sweep"), steps=20)
  for run in runs:
    rows = read_metrics(run)
    assert [r["step"] for r in rows] == [0, 5, 10, 15, 20] and "restricted_loss" not in rows[-1]
