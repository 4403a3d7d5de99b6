"""python -m tinyarith.progress RUN_DIR: the progress measures (tinyarith.measures) of a grokking run's newest weights."""
from tinyarith import cli
from tinyarith.device import check_device
from tinyarith.errors import BadInput
from tinyarith.grokking import modular_split, modular_table
from tinyarith.measures import tracker
from tinyarith.rundir import load_run

@cli.guarded
def main(argv:list[str]|None=None):
  parser = cli.ArgumentParser(prog="python -m tinyarith.progress", description=__doc__.split(": ", 1)[1])
  parser.add_argument("run", help="the directory of a grokking run of a + b mod p")
  args = parser.parse_args(argv)
  check_device()
  try: config, model, step = load_run(args.run)
  except BadInput as e: raise BadInput(None, f"RUN_DIR {e.message}") from None  # a positional argument, not a --run flag
  data = config.get("data", {})
  if config.get("experiment") != "grokking" or data.get("op") != "+": raise BadInput(None, f"RUN_DIR {args.run} is not a grokking run of a + b mod p")
  found = tracker(model, modular_table(data["p"])[0], [modular_split(data["p"], data["op"], data["train_frac"], config["seed"])[0]])()
  measured = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in found.items() if k != "freq_norm")
  print(f"{'model.safetensors' if step is None else f'step {step}'}: {measured}")

if __name__ == "__main__": main()
