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
