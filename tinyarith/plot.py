"""python -m tinyarith.plot RUN_DIR... [-o OUT.png]: the train and test log-loss (and accuracy) of one or more runs, or of
a sweep's; with --lengths, the calculator's exact match against operand length at each run's last evaluation."""
from pathlib import Path
from tinyarith import cli
from tinyarith.figures import length_figure, plot_runs, save
from tinyarith.rundir import runs_in

@cli.guarded
def main(argv:list[str]|None=None):
  parser = cli.ArgumentParser(prog="python -m tinyarith.plot", description=__doc__)
  parser.add_argument("runs", nargs="+", help="run directories (or metrics.jsonl files), or a sweep's directory: all its runs")
  parser.add_argument("-o", "--out", help="PNG to write (default: RUN_DIR/loss.png for one run or a sweep, loss.png for several; "
                      "lengths.png with --lengths)")
  parser.add_argument("--lengths", action="store_true", help="calculator runs: exact match against operand length, one curve per run")
  args = parser.parse_args(argv)
  runs = [run for path in args.runs for run in runs_in(path)]
  if args.lengths:
    out = Path(args.out or "lengths.png")
    try: fig = length_figure(runs)
    except OSError as e: cli.fail(f"--lengths: cannot read {e.filename} ({e.strerror})")
    except (ValueError, KeyError, IndexError) as e: cli.fail(f"--lengths: {e}")
    try: print(f"wrote {save(fig, out if out.suffix else out.with_name(out.name + '.png'))}")
    except OSError as e: cli.fail(f"--out {out}: cannot write the plot ({e.strerror})")
    return
  out = args.out or (Path(args.runs[0]) / "loss.png" if len(args.runs) == 1 and Path(args.runs[0]).is_dir() else "loss.png")
  try: print(f"wrote {plot_runs(runs, out)}")
  except OSError as e: cli.fail(f"--out {out}: cannot write the plot ({e.strerror})")

if __name__ == "__main__": main()
