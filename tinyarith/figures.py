"""The pictures of runs: train and test log-loss (and accuracy) against step for one or more runs, grokking's progress
measures, and the calculator's exact match against operand length. python -m tinyarith.plot draws them from run directories."""
from __future__ import annotations
import json, math
from pathlib import Path
import numpy as np
from typing import TYPE_CHECKING
if TYPE_CHECKING: from matplotlib.figure import Figure
from tinyarith import files
from tinyarith.metrics import read_metrics

def pyplot():
  """matplotlib's pyplot, imported where a picture is drawn: it takes 0.3 s, which every start (a warm one is about a
  second) would pay before training if it were imported with this module."""
  import matplotlib
  matplotlib.use("Agg")  # files only, no display
  import matplotlib.pyplot as plt
  return plt

def label_of(path:str|Path) -> str:
  """A path's last part as text to draw: a name that is not valid UTF-8 gets a replacement character, not a crash."""
  return Path(path).name.encode(errors="surrogateescape").decode(errors="replace")

LABELLED = 4  # runs whose curves each get a legend entry; more (a sweep) share two: train and test
COLOURS = 10  # matplotlib's cycle: a sweep of up to this many runs gets a legend naming each run's colour

def figure(runs:list[str|Path]) -> Figure:
  """Every run's loss curves (log-log) above its accuracy curves; train solid, test dashed, one colour per run. runs: run
  directories or metrics files, or one of them."""
  if isinstance(runs, (str, Path)): runs = [runs]
  logged = [[r for r in read_metrics(run) if r["step"] > 0] for run in runs]  # step 0 has no place on a log axis
  labelled, coloured = len(runs) <= LABELLED, len(runs) <= COLOURS
  named = not labelled and coloured  # a small sweep: a legend beside the plot names each run's colour
  plt = pyplot()
  fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(10.5 if named else 8, 7), sharex=True, height_ratios=(2, 1))
  any_loss = False
  for i, (run, rows) in enumerate(zip(runs, logged)):
    if not rows: continue
    label, colour, steps = label_of(run) if 1 < len(runs) <= LABELLED else "", f"C{i % COLOURS}", [r["step"] for r in rows]
    name = lambda split: f"{label} {split}".strip() if labelled or i == 0 else None  # one entry per style for a sweep
    for split, style in (("train", "-"), ("test", "--")):
      if f"{split}_loss" not in rows[0]: continue
      # a diverged run's nan or inf has no place on a log axis
      finite = [(s, r[f"{split}_loss"]) for s, r in zip(steps, rows) if 0 < r[f"{split}_loss"] < math.inf]
      ax_loss.plot(*zip(*finite) if finite else ([], []), style, color=colour, label=name(split))
      any_loss = any_loss or bool(finite)
      ax_acc.plot(steps, [r[f"{split}_acc"] for r in rows], style, color=colour, label=name(split))
    if "test_exact" in rows[0]:  # addition: every answer digit right
      ax_acc.plot(steps, [r["test_exact"] for r in rows], ":", color=colour, label=name("test exact match"))
  title = " vs ".join(map(label_of, runs)) if labelled else \
          f"{len(runs)} runs of {label_of(Path(runs[0]).resolve().parent)}{', one colour each' if coloured else ''}"
  ax_loss.set(xscale="log", yscale="log" if any_loss else "linear", ylabel="cross-entropy loss", title=title)
  ax_acc.set(xscale="log", xlabel="step", ylabel="accuracy", ylim=(-0.02, 1.02))
  for ax in (ax_loss, ax_acc): ax.grid(True, which="major", alpha=0.3); ax.legend(fontsize=8)
  if named:  # the style legend stays inside
    ax_loss.add_artist(ax_loss.get_legend())
    ax_loss.legend([plt.Line2D([], [], color=f"C{i}") for i in range(len(runs))], [label_of(run) for run in runs],
                   loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
  fig.tight_layout()
  return fig

def plot_runs(runs:list[str|Path], out:str|Path) -> Path:
  """figure(runs) written to the PNG out (out.png if out has no suffix, as matplotlib would); returns the path written."""
  out = Path(out) if Path(out).suffix else Path(out).with_name(Path(out).name + ".png")
  return save(figure(runs), out)

def progress_figure(run:str|Path) -> Figure:
  """Grokking's progress measures (tinyarith.progress) of one run against step, on a linear step axis as in Nanda et al.:
  the train and test loss beside the restricted and excluded losses, the sum of squared weights, the key frequencies'
  share of the embedding and the spectrum's Gini coefficient, and the embedding's norm in each frequency. A dotted line
  marks the first step at 95% test accuracy."""
  rows = read_metrics(run)
  steps = np.array([r["step"] for r in rows])
  fig, ((ax_loss, ax_weights), (ax_share, ax_freq)) = pyplot().subplots(2, 2, figsize=(12, 8), sharex=True)
  for key, style, colour in (("train_loss", "-", "C0"), ("test_loss", "--", "C1"), ("restricted_loss", "-", "C2"), ("excluded_loss", "-", "C3")):
    finite = [(r["step"], r[key]) for r in rows if 0 < r[key] < math.inf]
    ax_loss.plot(*zip(*finite) if finite else ([], []), style, color=colour, label=key.replace("_", " "))
  ax_loss.set(yscale="log", ylabel="cross-entropy loss", title="restricted: the key frequencies' part of the logits alone\n"
              "excluded: the logits without it (both on the train pairs)")
  ax_weights.plot(steps, [r["sum_sq_weights"] for r in rows], color="C4", label="all weights")
  ax_weights.set(ylabel="sum of squared weights")
  ax_share.plot(steps, [r["key_share"] for r in rows], color="C2", label="key frequencies' share of the embedding's squared norm")
  ax_share.plot(steps, [r["gini"] for r in rows], color="C5", label="Gini coefficient of the norm per frequency")
  ax_share.set(ylim=(0, 1.02), xlabel="step")
  norms = np.array([r["freq_norm"] for r in rows]).T  # (frequencies, evaluations)
  mesh = ax_freq.pcolormesh(steps, np.arange(1, len(norms) + 1), norms, shading="nearest", cmap="viridis")
  fig.colorbar(mesh, ax=ax_freq, label="norm of the embedding")
  ax_freq.set(ylabel="frequency k (of 2πk/p)", xlabel="step", title=f"key frequencies at step {steps[-1]}: {rows[-1]['key_frequencies']}")
  grokked = next((r["step"] for r in rows if r["test_acc"] >= 0.95), None)
  for ax in (ax_loss, ax_weights, ax_share, ax_freq):
    if grokked is not None: ax.axvline(grokked, color="grey" if ax is not ax_freq else "white", linestyle=":", label="95% test accuracy")
    if ax is not ax_freq: ax.grid(True, alpha=0.3); ax.legend(fontsize=8)
  fig.suptitle(f"progress measures of {label_of(run)}")
  fig.tight_layout()
  return fig

def length_figure(runs:list[str|Path]) -> Figure:
  """Exact match against operand length at each run's last evaluation (its test_exact_by_op_digits), one curve per run and
  operator, labelled by its positions (and its name where two share them); the lengths it trained on shaded."""
  fig, ax = pyplot().subplots(figsize=(8, 5))
  configs = [json.loads((Path(run) / "config.json").read_text()) for run in runs]
  positions = [config["model"]["pos"] for config in configs]
  for i, (run, config) in enumerate(zip(runs, configs)):
    last = read_metrics(run)[-1]
    if "test_exact_by_op_digits" not in last: raise ValueError(f"{run} logs no exact match by operand length: not a calculator run")
    by_length = last["test_exact_by_op_digits"]
    ops = sorted({k[0] for k in by_length})
    for j, op in enumerate(ops):
      lengths = sorted(int(k[1:]) for k in by_length if k[0] == op)
      label = positions[i] + (f" {op}" if len(ops) > 1 else "") + (f" ({label_of(run)})" if positions.count(positions[i]) > 1 else "")
      ax.plot(lengths, [by_length[f"{op}{n}"]["exact"] for n in lengths], marker="osD^v"[i % 5], markersize=9 - 1.5 * (i % 4),  # smaller
              color=f"C{i % 10}", linestyle=("-", "--", ":")[j % 3], label=f"{label}, step {last['step']}")  # on top: overlaps show
  for digits in sorted({config["data"]["digits"] for config in configs}):
    ax.axvspan(0.5, digits + 0.5, color="grey", alpha=0.1, label=f"trained on 1 to {digits} digits")
  ax.set(xlabel="digits of each operand", ylabel="exact match (held-out problems)", ylim=(-0.02, 1.02),
         title="length generalisation: exact match against operand length")
  ax.grid(True, alpha=0.3); ax.legend(fontsize=8)
  fig.tight_layout()
  return fig

def phase_figure(median:np.ndarray, text:np.ndarray, xs:list, ys:list, x_label:str, y_label:str) -> Figure:
  """A sweep's phase diagram: a grid of two swept settings' values (xs across, ys up; ys [None]: one row), each cell
  coloured by median (steps to 95% test accuracy, log scale; nan: grey) and labelled with its text."""
  plt = pyplot()
  fig, ax = plt.subplots(figsize=(1.3 * len(xs) + 2.5, 0.9 * len(ys) + 1.8))
  coloured = np.where(np.isfinite(median), median, np.nan)
  cmap = plt.get_cmap("viridis").with_extremes(bad="lightgrey")  # did not grok
  finite = coloured[np.isfinite(coloured)]
  image = ax.imshow(coloured, cmap=cmap, aspect="auto", origin="lower",
                    norm=plt.matplotlib.colors.LogNorm(finite.min(), max(finite.max(), finite.min() + 1)) if len(finite) else None)
  bright = lambda v: np.isnan(v) or image.norm(v) > 0.6  # grey, or viridis's yellow end: black text
  for i in range(len(ys)):
    for j in range(len(xs)): ax.text(j, i, text[i, j], ha="center", va="center", fontsize=8, color="black" if bright(coloured[i, j]) else "white")
  ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs])
  ax.set_yticks(range(len(ys)), [f"{y:g}" for y in ys] if ys != [None] else [""])
  ax.set(xlabel=x_label, ylabel=y_label)
  if len(finite): fig.colorbar(image, ax=ax, label="median steps to 95% test accuracy")
  ax.set_title("median steps to 95% test accuracy\n(runs that got there / runs)", fontsize=9)
  fig.tight_layout()
  return fig

def save(fig:Figure, out:Path) -> Path:
  try:
    with files.replacing(out) as tmp: fig.savefig(tmp, dpi=120, format="png")
  finally: pyplot().close(fig)
  return out

def draw_run(run_dir:str|Path):
  """A run's pictures: loss.png, and progress.png where its metrics hold the progress measures (grokking of a + b)."""
  plot_runs([run_dir], Path(run_dir) / "loss.png")
  if "freq_norm" in read_metrics(run_dir)[0]: save(progress_figure(run_dir), Path(run_dir) / "progress.png")
