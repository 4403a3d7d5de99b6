import os
# POCL prints "1 warning generated." for each kernel with tinygrad's `if ((lidx0==0))` (clang's -Wparentheses-equality),
# in the middle of the progress bar; -w, a standard OpenCL build option, silences warnings only. Read when OpenCL starts.
os.environ.setdefault("POCL_EXTRA_BUILD_FLAGS", "-w")
from tinyarith import machine  # noqa: E402
machine.use_machine_cache()  # before tinygrad reads CACHEDB

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
