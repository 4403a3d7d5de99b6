"""Which machine this is, for the kernel cache: tinygrad keys compiled binaries by the device's name ("CPU", "CL") and
"native", so a cache copied to, or shared with, a machine with another CPU would hand it binaries it cannot run (SIGILL, or
silently wrong numbers), and searched kernels tuned for other cores. tinyarith keeps tinygrad's cache database in a file
named after this key instead, unless CACHEDB is set. Imports nothing of tinygrad: it runs before tinygrad reads CACHEDB."""
import hashlib, os, platform, shutil, sys
from importlib.metadata import version
from importlib.util import find_spec
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

def cache_dir() -> Path: return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinygrad"

def cache_db() -> str:
  """Where tinyarith keeps tinygrad's cache database: beside tinygrad's own (which is left as it is), one file per machine."""
  return str(cache_dir() / f"tinyarith-{machine_key()}.db")

def use_machine_cache():
  """Point tinygrad at this machine's cache database, unless the user chose one (CACHEDB). Before tinygrad is imported."""
  os.environ.setdefault("CACHEDB", cache_db())

def use_zig_without_clang():
  """tinygrad's CPU device compiles its kernels, and four helper programs of its own whatever its code generator, with the
  clang binary. Where there is none and CC is unset, point CC at zig's clang (pip install ziglang) through zigcc.py, if
  it is installed. Before tinygrad reads CC."""
  if "CC" in os.environ or shutil.which("clang") or (spec := find_spec("ziglang")) is None or spec.origin is None: return
  if not (zig := Path(spec.origin).parent / "zig").is_file(): return
  os.environ["TINYARITH_ZIG"] = str(zig)
  launcher = cache_dir() / "tinyarith-zigcc"
  text = f"#!/bin/sh\nexec '{sys.executable}' '{Path(__file__).parent / 'zigcc.py'}' \"$@\"\n"
  if not launcher.exists() or launcher.read_text() != text:
    launcher.parent.mkdir(parents=True, exist_ok=True)
    tmp = launcher.with_name(f"{launcher.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.chmod(0o755)
    tmp.replace(launcher)  # whole or absent: another process may be starting too
  os.environ["CC"] = str(launcher)
