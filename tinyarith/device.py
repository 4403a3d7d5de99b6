"""The device a run opens, checked before the run writes anything: DEV's, else the first that works here."""
import os, shutil, sys
from tinygrad import Device, Tensor
from tinyarith.errors import BadInput

NO_DEVICE = "install a C compiler and an OpenCL driver (apt-get install -y clang pocl-opencl-icd), or zig's C compiler (pip install ziglang)"

def check_device():
  """Open DEV's device, else the first that works, and compile and run one kernel on it. The CPU device compiles with the
  clang binary (or zig's: machine.use_zig_without_clang); without one, no device opens. BadInput if none does."""
  chosen = os.environ.get("DEV") or None  # DEV="" is unset, for tinygrad too
  try: opens(Device.DEFAULT)
  except Exception as e:
    if chosen is None: raise BadInput(None, f"tinygrad found no device to run on: {NO_DEVICE}") from None
    raise BadInput(None, f"DEV={chosen} cannot be opened here ({why(e)}); `python -m tinygrad.device` lists what works") from None
  if Device.DEFAULT == "CPU" and type(Device["CPU"].renderer).__name__ == "ClangRenderer" and shutil.which(os.environ.get("CC", "clang")) is None:
    raise BadInput(None, f"{'DEV=' + chosen if chosen else 'the CPU device'} needs the clang binary: {NO_DEVICE}")  # its helpers were cached
  if Device.DEFAULT == "CPU" and "TINYARITH_ZIG" in os.environ:
    print("note: there is no clang here, so zig's C compiler (pip's ziglang) compiles tinygrad's CPU kernels", file=sys.stderr)

def why(e:Exception) -> str: return str(e).splitlines()[-1] if str(e) else type(e).__name__  # a device error's last line

def opens(device:str):
  """Run one small kernel on device and read its result back: a device that opens but cannot compile (DEV=CL:99) or
  cannot copy out (DEV=NULL) fails here, before the run writes anything."""
  if (Tensor([1.0], device=device) + 1).item() != 2.0: raise RuntimeError(f"1 + 1 is not 2 on {device}")
