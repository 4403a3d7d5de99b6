"""Captured JIT steps kept on disk, so that a warm start replays them instead of scheduling them again (~2 s of a grokking
start, ~7 s of an addition one, with every kernel already compiled).

A step is pickled once captured (tinygrad pickles a captured TinyJit: its kernels, binaries and buffers), with the Tensors
it reads and writes that outlive it, its state (weights, optimizer moments). A later process that builds the same step
loads it and points it at its own state Tensors in place of the pickled ones, so the run's own values (fresh, or from
its checkpoint on --resume) are used, and every other reader of them sees the updates.

A file is named after everything the step bakes in: what the caller says (model config, optimizer constants, span, loss),
the shapes and dtypes of its arguments and its state, the device and whether its loss is float64 (loss.has_float64), this
machine (tinyarith.machine: the binaries are compiled for its CPU, by its tinygrad), whether tuned kernels are on
(tinyarith.tune), Python's version and tinyarith's own source. The contents of the buffers a loaded step never reads
(activations, the state) are not written. The files sit beside the cache database (CACHEDB) in a folder named after it,
at most 2 GiB of them, the least recently used deleted first. TINYARITH_STEPS=0 turns the cache off.

Unpickling makes every buffer a fresh one: tinygrad names a buffer by a counter, and a pickled buffer that took the number
of a live one would otherwise be that live buffer, or the one the counter hands out next."""
import hashlib, json, os, pickle, platform, sys
from dataclasses import replace
from pathlib import Path
from typing import Callable
from tinygrad import Tensor, Device
from tinygrad.helpers import CACHEDB
from tinygrad.device import Buffer
from tinygrad.uop.ops import UOp, Ops, buffers
from tinyarith import programs
from tinyarith.loss import has_float64
from tinyarith.machine import machine_key

MOST_BYTES = 2 * 2**30  # the kept steps' size on disk at most (a default run's train step takes 1-3 MB, an eval step up to 31)
SOURCE = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))).hexdigest()

def folder() -> Path|None:
  return None if os.environ.get("TINYARITH_STEPS", "1") == "0" else Path(CACHEDB).with_name(Path(CACHEDB).stem + "-steps")

def forget() -> int:
  """Delete every kept step (tinyarith.tune does, since the kept steps hold the kernels it replaces); returns how many."""
  steps = list(where.glob("*.pkl")) if (where := folder()) is not None and where.is_dir() else []
  for path in steps: path.unlink(missing_ok=True)
  return len(steps)

def trim(where:Path, most:int=MOST_BYTES):
  """Delete the least recently used steps until those left take at most `most` bytes."""
  steps = sorted(where.glob("*.pkl"), key=lambda p: p.stat().st_mtime, reverse=True)
  sizes = [p.stat().st_size for p in steps]
  for i, path in enumerate(steps):
    if sum(sizes[:i + 1]) > most: path.unlink(missing_ok=True)

def fresh_uop(op, dtype, src, arg, *rest):
  """UOp, as unpickling calls it, with each buffer given a new number."""
  if op is Ops.BUFFER: arg = replace(arg, slot=next(UOp.unique_num))
  return UOp(op, dtype, src, arg, *rest)

class Unpickler(pickle.Unpickler):
  def find_class(self, module, name):
    return fresh_uop if (module, name) == ("tinygrad.uop.ops", "UOp") else super().find_class(module, name)

def describe(t:Tensor) -> tuple: return (t.shape, str(t.dtype), str(t.device))

class KeptJit:
  """A TinyJit whose capture is kept on disk under its key (see the module's docstring); called as the TinyJit is. A key of
  None keeps nothing: the step's model is not one whose settings name it (a test's stand-in function)."""
  def __init__(self, jit, label:str, key:dict, state:Callable[[], dict[str, Tensor]]):
    self.jit, self.label, self.key, self.state, self.path, self.first = jit, label, key, state, None, True
    self.restored, self.saved = False, False  # restored: loaded from disk in this process

  @property
  def captured(self): return self.jit.captured

  def __call__(self, *args:Tensor):
    if self.first and self.key is not None:
      self.first = False  # multi-device steps (a sweep's --devices) are not kept: their buffers are sharded
      if (where := folder()) is not None and all(isinstance(t.device, str) for t in (*args, *self.state().values())):
        self.path = self.load(where, args)
    ret = self.jit(*args)
    if self.path is not None and not (self.restored or self.saved) and self.jit.captured is not None: self.save()
    return ret

  def load(self, where:Path, args:tuple[Tensor, ...]) -> Path:
    state = self.state()
    key = {"label": self.label, **self.key, "args": [describe(a) for a in args], "state": {k: describe(t) for k, t in state.items()},
           "device": Device.DEFAULT, "float64": has_float64(args[0].device), "tuned": programs.use_tuned(), "machine": machine_key(),
           "python": platform.python_version(), "tinyarith": SOURCE}
    path = where / f"{self.label}-{hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]}.pkl"
    if self.jit.cnt or not path.exists(): return path
    try:
      with path.open("rb") as f: saved, jit = Unpickler(f).load()
    except Exception: return path  # unreadable (a torn write, another Python): capture afresh, and write it again
    if saved.keys() != state.keys(): return path
    jit.captured._linear = jit.captured._linear.substitute({saved[k].uop.base: t.realize().uop.base for k, t in state.items()})
    self.jit, self.restored = jit, True
    os.utime(path)  # recently used: trim() keeps it
    return path

  def scratch(self) -> set[int]:
    """The buffers whose contents a loaded step never reads: those it writes (activations, gradients: written before
    they are read in every step) and the state (replaced by the run's own). Constants (RoPE's tables) keep theirs."""
    written = [buffers.get(u) for u in self.jit.captured._written_uops] + [t.uop.base.realized for t in self.state().values()]
    return {id(b.base) for b in written if b is not None}

  def save(self):
    self.saved = True  # once, whatever happens: a file that cannot be written costs the next start its speed, nothing more
    try:
      self.path.parent.mkdir(parents=True, exist_ok=True)
      tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
      with tmp.open("wb") as f: Pickler(f, self.scratch()).dump((self.state(), self.jit))
      tmp.replace(self.path)  # whole or absent: another process never reads half a file
      trim(self.path.parent)
    except OSError as e: print(f"warning: cannot keep the captured step in {self.path.parent}: {e}", file=sys.stderr)

class Pickler(pickle.Pickler):
  """pickle, writing no contents for the buffers in `scratch` (ids): a loaded step gets them unallocated."""
  def __init__(self, f, scratch:set[int]):
    super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
    self.scratch = scratch
  def reducer_override(self, obj):
    if not isinstance(obj, Buffer) or id(obj) not in self.scratch or obj._base is not None: return NotImplemented
    return Buffer, (obj.device, obj.size, obj.dtype, None, obj.options, None, obj.uop_refcount)

def model_key(model, *objects, **settings) -> dict|None:
  """constants() of a tinyarith model (it has a cfg) and of the other objects, with the settings; None for any other
  model, which its settings do not name."""
  return {**constants(model, model.cfg, *objects), **settings} if hasattr(model, "cfg") else None

def constants(*objects) -> dict:
  """The class and plain settings (numbers, strings, flags) of each object (None: none), which a step bakes into its kernels."""
  plain = lambda v: isinstance(v, (bool, int, float, str, type(None))) or (isinstance(v, tuple) and all(map(plain, v)))
  return {f"{i}.{k}": v for i, o in enumerate(objects) if o is not None
          for k, v in {"class": type(o).__qualname__, **vars(o)}.items() if plain(v)}
