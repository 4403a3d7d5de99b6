import os
# POCL prints "1 warning generated." for each kernel with tinygrad's `if ((lidx0==0))` (clang's -Wparentheses-equality),
# in the middle of the progress bar; -w, a standard OpenCL build option, silences warnings only. Read when OpenCL starts.
os.environ.setdefault("POCL_EXTRA_BUILD_FLAGS", "-w")
from tinyarith import machine  # noqa: E402
machine.use_machine_cache()  # before tinygrad reads CACHEDB
machine.use_zig_without_clang()  # and CC

def settings_error(e:ValueError) -> str|None:
  """The one line for a tinygrad setting in the environment that is not a number (BEAM=abc), which tinygrad's import reads
  with int(): the variable its getenv was reading when it failed, or None if the error is another."""
  tb = e.__traceback__
  while tb.tb_next: tb = tb.tb_next
  if tb.tb_frame.f_code.co_name != "getenv" or not isinstance(key := tb.tb_frame.f_locals.get("key"), str): return None
  return f"error: {key}={os.environ.get(key)!r}: tinygrad reads {key} from the environment as a number ({e})"

try: import tinygrad  # noqa: F401
except ValueError as e:
  if (line := settings_error(e)) is None: raise
  import sys
  print(line, file=sys.stderr)
  sys.exit(2)

from tinyarith import programs
programs.install()

# What a notebook imports. The experiments (grokking, addition, calculator: each run(**settings)) are imported by name,
# `from tinyarith import grokking`: they carry the command line, which the library below them never imports. A new
# experiment's loop is tinyarith.train's train(model, opt, Data(...), RunConfig(...)).
from tinyarith.config import RunConfig  # noqa: E402
from tinyarith.errors import BadInput  # noqa: E402
from tinyarith.figures import figure, length_figure, progress_figure  # noqa: E402
from tinyarith.metrics import read_metrics, summary  # noqa: E402
from tinyarith.model import Config, Transformer  # noqa: E402
from tinyarith.rundir import load_run  # noqa: E402

__all__ = ["grokking", "addition", "calculator", "Config", "Transformer", "RunConfig", "load_run", "read_metrics", "summary",
           "figure", "progress_figure", "length_figure", "BadInput"]
