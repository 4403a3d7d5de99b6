"""Which machine this is, for the kernel cache: tinygrad keys compiled binaries by the device's name ("CPU", "CL") and
"native", so a cache copied to, or shared with, a machine with another CPU would hand it binaries it cannot run (SIGILL, or
silently wrong numbers), and searched kernels tuned for other cores. tinyarith keeps tinygrad's cache database in a file
named after this key instead, unless CACHEDB is set. Imports nothing of tinygrad: it runs before tinygrad reads CACHEDB."""
import hashlib, os, platform
from importlib.metadata import version
from pathlib import Path

def cpu_description() -> str:
  """The CPU's model and instruction-set flags (Linux: /proc/cpuinfo's first processor; elsewhere the platform's name)."""
  try: first = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
  except OSError: return platform.processor()
  keep = ("vendor_id", "model name", "flags", "Features", "CPU implementer", "CPU part")  # x86 and ARM spellings
  return "\n".join(line for line in first.splitlines() if line.split(":")[0].strip() in keep)

def machine_key(cpu:str|None=None, cpus:int|None=None, tinygrad:str|None=None) -> str:
  """16 hex digits that change with the CPU's model and flags, the number of cores tinygrad splits kernels over, the
  architecture and tinygrad's version."""
  parts = (platform.machine(), cpu if cpu is not None else cpu_description(), cpus if cpus is not None else os.cpu_count(),
           tinygrad or version("tinygrad"))
  return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]

def cache_db() -> str:
  """Where tinyarith keeps tinygrad's cache database: beside tinygrad's own (which is left as it is), one file per machine."""
  cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
  return str(cache / "tinygrad" / f"tinyarith-{machine_key()}.db")

def use_machine_cache():
  """Point tinygrad at this machine's cache database, unless the user chose one (CACHEDB). Before tinygrad is imported."""
  os.environ.setdefault("CACHEDB", cache_db())
