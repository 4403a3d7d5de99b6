import os, shutil, subprocess, sys
import matplotlib.pyplot as plt
from matplotlib.legend import Legend
import pytest
from tinyarith.metrics import read_metrics, summary
from tinyarith.figures import figure, plot_runs

def plot_cli(*args, env:dict|None=None):
  return subprocess.run([sys.executable, "-m", "tinyarith.plot", *map(str, args)], capture_output=True, text=True, errors="replace",
                        env=None if env is None else {**os.environ, **env})

def test_the_figure_holds_each_runs_train_and_test_curves(grok_run, tmp_path):
  rows = [r for r in read_metrics(grok_run) if r["step"] > 0]  # step 0 has no place on a log axis
  steps = [r["step"] for r in rows]
  shutil.copytree(grok_run, other := tmp_path / "other")
  fig = figure([grok_run, other])
  loss_axis, acc_axis = fig.axes
  for axis, key, scale in ((loss_axis, "loss", "log"), (acc_axis, "acc", "linear")):
    lines = {line.get_label(): line for line in axis.get_lines()}
    assert set(lines) == {f"{run.name} {split}" for run in (grok_run, other) for split in ("train", "test")}
    for run in (grok_run, other):
      for split, style in (("train", "-"), ("test", "--")):
        line = lines[f"{run.name} {split}"]
        assert list(line.get_xdata()) == steps and line.get_linestyle() == style
        assert list(line.get_ydata()) == [r[f"{split}_{key}"] for r in rows]
    assert lines[f"{grok_run.name} train"].get_color() != lines[f"{other.name} train"].get_color()
    assert axis.get_xscale() == "log" and axis.get_yscale() == scale
  plt.close(fig)

def test_a_sweep_of_up_to_ten_runs_has_a_legend_naming_each_runs_colour(grok_run, tmp_path):
  for n in (5, 11):  # 11: matplotlib's ten colours repeat, so no legend could name them
    runs = [tmp_path / str(n) / f"seed{i}" for i in range(n)]
    for run in runs: run.mkdir(parents=True); shutil.copy(grok_run / "metrics.jsonl", run)
    fig = figure(runs)
    loss_axis = fig.axes[0]
    styles = [a for a in loss_axis.artists if isinstance(a, Legend)] + [loss_axis.get_legend()]
    legends = [[t.get_text() for t in legend.get_texts()] for legend in styles]
    if n == 5:
      assert legends == [["train", "test"], [run.name for run in runs]] and "one colour each" in loss_axis.get_title()
      train_curves = loss_axis.get_lines()[::2]  # each run's train then test curve
      assert [h.get_color() for h in styles[1].legend_handles] == [line.get_color() for line in train_curves]
    else: assert legends == [["train", "test"]] and "one colour" not in loss_axis.get_title()
    plt.close(fig)

def test_plot_of_a_real_run_is_a_png(grok_run, tmp_path):
  out = plot_runs([grok_run, grok_run], tmp_path / "two.png")
  assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
  assert (grok_run / "loss.png").read_bytes()[:4] == b"\x89PNG"  # the run left its own plot

def test_plot_cli_says_the_file_it_wrote_when_out_has_no_suffix(grok_run, tmp_path):
  result = plot_cli(grok_run, "-o", tmp_path / "figure")
  assert result.returncode == 0, result.stderr
  assert result.stdout == f"wrote {tmp_path / 'figure.png'}\n" and (tmp_path / "figure.png").read_bytes()[:4] == b"\x89PNG"

def test_plot_cli_writes_into_the_run_directory(grok_run, tmp_path):
  run = tmp_path / "copy"
  run.mkdir()
  (run / "metrics.jsonl").write_text((grok_run / "metrics.jsonl").read_text())
  result = plot_cli(run)
  assert result.returncode == 0, result.stderr
  assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"

def test_a_run_directory_whose_name_is_not_utf8_plots(grok_run, tmp_path):
  run = os.fsencode(tmp_path) + b"/run-\xff"
  os.mkdir(run)
  shutil.copy(grok_run / "metrics.jsonl", os.fsdecode(run))
  result = plot_cli(os.fsdecode(run), env={"PYTHONIOENCODING": "utf-8"})  # a strict UTF-8 stdout, as under LANG=en_US.UTF-8
  assert result.returncode == 0, result.stderr
  with open(run + b"/loss.png", "rb") as png: assert png.read(4) == b"\x89PNG"
  figure([os.fsdecode(run), grok_run])  # the legend draws the name too

@pytest.mark.parametrize("content", [None, "", "not json\n"], ids=["missing", "empty", "garbled"])
def test_a_bad_metrics_file_is_one_clear_line(tmp_path, content):
  if content is not None: (tmp_path / "metrics.jsonl").write_text(content)
  with pytest.raises(ValueError, match="metrics"): read_metrics(tmp_path)
  result = plot_cli(tmp_path)
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1 and "metrics" in result.stderr

def test_summary_reports_the_steps_at_which_accuracy_thresholds_were_crossed():
  rows = [{"step": s, "train_loss": 1.0, "test_loss": 2.0, "train_acc": ta, "test_acc": te, "elapsed": s / 10}
          for s, ta, te in [(0, 0.0, 0.0), (10, 1.0, 0.2), (20, 1.0, 0.995), (30, 1.0, 1.0)]]
  text = summary(rows)
  assert "train acc 100% at step 10" in text and "test acc >= 99% at step 20" in text and "10.00 steps/s" in text

def test_a_last_line_cut_short_by_a_kill_is_left_out_and_a_garbled_one_is_not(tmp_path):
  (path := tmp_path / "metrics.jsonl").write_text('{"step": 0}\n{"step": 10}\n{"step": 2')
  assert [r["step"] for r in read_metrics(path)] == [0, 10]
  path.write_text('{"step": 0}\n{"step": 2\n')
  with pytest.raises(ValueError, match="JSON"): read_metrics(path)
