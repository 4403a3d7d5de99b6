from conftest import experiment, flag_defaults

def test_help_documents_every_flag_with_its_default():
  result = experiment("grokking", "--help", timeout=120)
  assert result.returncode == 0
  defaults = flag_defaults(result.stdout)
  assert set(defaults) == {"--help", "--p", "--op", "--train-frac", "--n-layers", "--d-model", "--n-heads", "--d-mlp", "--layernorm",
                           "--no-layernorm", "--pos", "--lr", "--beta1", "--beta2", "--weight-decay", "--steps", "--eval-every",
                           "--ckpt-every", "--seed", "--out", "--resume", "--shard", "--devices", "--loss", "--loss-dtype",
                           "--grokfast-alpha", "--grokfast-lamb"}
  expected = {"--p": "113", "--op": "+", "--train-frac": "0.3", "--n-layers": "1", "--d-model": "128", "--n-heads": "4", "--d-mlp": "512",
              "--layernorm": "False", "--pos": "learned", "--lr": "0.001", "--beta1": "0.9", "--beta2": "0.98", "--weight-decay": "1.0",
              "--steps": "25000", "--eval-every": "100", "--seed": "0", "--loss": "softmax", "--loss-dtype": "float64",
              "--grokfast-alpha": "0.98", "--grokfast-lamb": "0.0"}
  assert {k: defaults[k] for k in expected} == expected

def test_a_run_off_the_default_recipe_gets_its_own_default_directory():
  """A StableMax, float32 or Grokfast run beside the default one must not be refused as "already holds a run"."""
  from tinyarith import grokking
  out = lambda *flags: grokking.config_of(grokking.parser().parse_args(list(flags))).out
  assert out() == "runs/grokking-add-p113-seed0"
  assert out("--loss", "stablemax", "--grokfast-lamb", "2") == "runs/grokking-add-p113-seed0-stablemax-grokfast2"
  assert out("--loss-dtype", "float32", "--seed", "3") == "runs/grokking-add-p113-seed3-float32"
