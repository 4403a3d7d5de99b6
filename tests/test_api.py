"""The Python API a notebook uses: the README's lines, run as they are written there (smaller)."""
from pathlib import Path
import pytest
from tinyarith import addition, calculator, cli, figure, grokking, metrics, progress_figure, read_metrics, summary, sweep
from tinyarith.errors import BadInput

SMALL = dict(p=13, d_model=16, n_heads=2, d_mlp=32, lr=1e-2, steps=40, eval_every=20)

def test_a_notebook_trains_a_run_reads_its_metrics_and_draws_it(tmp_path):
  rows = grokking.run(**SMALL, train_frac=0.5, out=str(tmp_path / "run"))
  assert [r["step"] for r in rows] == [0, 20, 40] and rows == read_metrics(tmp_path / "run")
  assert rows[-1]["train_loss"] < rows[0]["train_loss"] and "final (step 40)" in summary(rows)
  fig = figure([tmp_path / "run"])
  assert len(fig.axes[0].lines) == 2  # train and test loss
  progress = progress_figure(tmp_path / "run")  # grokking's progress measures, logged at each evaluation
  assert [line.get_label() for line in progress.axes[0].lines] == ["train loss", "test loss", "restricted loss", "excluded loss"]
  again = grokking.run(resume=str(tmp_path / "run"), steps=60)  # its own settings; only how long changes
  assert [r["step"] for r in again] == [0, 20, 40, 60] and again[:3] == rows

def test_a_notebook_trains_addition_and_the_calculator_by_the_flags_names(tmp_path):
  """The README's lines, 20 steps each, in the shapes of test_addition's and test_calculator's runs."""
  rows = addition.run(digits=2, n_layers=2, d_model=64, d_mlp=256, lr=2e-3, steps=20, eval_every=20, test_size=1000, out=tmp_path / "add")
  assert [r["step"] for r in rows] == [0, 20] and 0 <= rows[-1]["test_exact"] <= 1 and (tmp_path / "add" / "loss.png").is_file()
  rows = calculator.run(digits=1, n_layers=1, d_model=32, d_mlp=64, steps=20, eval_every=20, test_size=40, out=tmp_path / "calc")
  assert set(rows[-1]["test_exact_by_op"]) == set("+-*/")
  with pytest.raises(BadInput) as bad: calculator.run(ops="+%", out=tmp_path / "bad")
  assert bad.value.field == "ops" and not (tmp_path / "bad").exists()

def test_a_notebook_sweeps_with_lists_and_gets_each_runs_outcome(tmp_path):
  outcomes = grokking.run(**SMALL, seed=range(2), train_frac=[0.3, 0.5], out=str(tmp_path / "sweep"))
  assert [(r["seed"], r["train_frac"]) for r in outcomes] == [(0, 0.3), (0, 0.5), (1, 0.3), (1, 0.5)]
  assert all(r["steps"] == 40 for r in outcomes) and (tmp_path / "sweep" / "phase.png").is_file()

def test_bad_settings_raise_naming_the_setting(tmp_path):
  with pytest.raises(BadInput, match="train_frac"): grokking.run(**SMALL, train_frac=1.5, out=str(tmp_path / "a"))
  with pytest.raises(TypeError, match="modulus"): grokking.run(modulus=7)
  assert not (tmp_path / "a").exists()

BAD_SETTINGS = [  # (settings, the setting the error must name): each refused as the command line refuses its flag
  (dict(resume=""), "resume"), (dict(out=""), "out"), (dict(pos="abacus"), "pos"),  # abacus: the calculator's alone
  (dict(seed=range(0)), "seed"), (dict(train_frac=[]), "train_frac"), (dict(train_frac=[0.3, 0.3]), "train_frac"),
  (dict(p="seven"), "p"), (dict(p=7.5), "p"), (dict(op="%"), "op"), (dict(layernorm="yes"), "layernorm"),
  (dict(seed=[0, 1], devices="NOSUCH:0"), "devices"), (dict(resume="/no/such/run"), "resume"), (dict(shard="0/2"), "shard"),
]

@pytest.mark.parametrize("settings,field", BAD_SETTINGS, ids=[next(iter(s)) + "=" + repr(next(iter(s.values()))) for s, _ in BAD_SETTINGS])
def test_the_api_refuses_what_the_command_line_refuses_naming_the_setting_and_writes_nothing(tmp_path, settings, field):
  fresh = {} if "resume" in settings else {**SMALL, "out": tmp_path / "run"}  # a resume takes the run's own settings
  with pytest.raises(BadInput) as bad: grokking.run(**{**fresh, **settings})
  assert bad.value.field == field, bad.value
  assert list(tmp_path.iterdir()) == []

def test_a_one_run_slice_of_a_sweep_trains_on_any_device_and_paths_may_be_paths(tmp_path):
  outcomes = grokking.run(**SMALL, seed=range(3), shard="0/2", out=tmp_path / "sweep")  # slice 0 of 2 holds one of the 3 runs
  assert [r["seed"] for r in outcomes if r["steps_to_95"] != "not run"] == [0] and (tmp_path / "sweep" / "seed0-frac0.3-wd1-lr0.01").is_dir()

def test_the_helpers_a_notebook_calls_refuse_nothing_to_show_and_take_one_run_as_a_run(grok_run):
  with pytest.raises(BadInput, match="no metrics rows"): metrics.summary([])
  assert len(figure(str(grok_run)).axes[0].lines) == len(figure([grok_run]).axes[0].lines) == 2

def test_the_command_line_hands_run_the_settings_it_names_and_nothing_else():
  """main() is run(**the flags given): a flag not given is a setting not given, which a resume takes from its run."""
  from tinyarith.settings import resolve
  flags = cli.parse(grokking.parser(), ["--p", "31", "--layernorm", "--seed", "0-2", "--train-frac", "0.3,0.5", "--out", "runs/x"])
  assert flags == dict(p=31, layernorm=True, seed=[0, 1, 2], train_frac=[0.3, 0.5], out="runs/x")
  same = dict(p=31, layernorm=True, seed=range(3), train_frac=(0.3, 0.5), out=Path("runs/x"), ckpt_every=None)
  assert resolve(flags, grokking.DEFAULTS, sweep.SWEPT) == resolve(same, grokking.DEFAULTS, sweep.SWEPT)
  assert cli.parse(grokking.parser(), ["--no-layernorm"]) == dict(layernorm=False) and cli.parse(grokking.parser(), []) == {}
