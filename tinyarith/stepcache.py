"""Captured JIT steps kept on disk between runs. tinygrad caches compiled kernels, but scheduling a training step still
takes ~10 s every start; a step loaded from here replays from its first call instead.

A file is keyed by everything its graph bakes in: the label, the argument shapes and dtypes, the caller's key (model
config, optimizer constants, span), the device, the tinygrad version and tinyarith's own source. It holds the captured
JIT and the Tensors it reads and writes (weights, optimizer moments). Loading re-points the saved step at this run's
Tensors in their place, so this run's values are used and every other reader of them (the eval step, the decoder) sees
the updates: the run goes on exactly as if it had captured the step itself.
Off unless asked for: TINYARITH_CACHE=1 keeps steps in ~/.cache/tinyarith, TINYARITH_CACHE=DIR in DIR. One file,
written by an earlier version of this code, loaded cleanly and then turned a run's weights to NaN after its first step,
although its graph, kernels and binaries matched those of a good file; until that is understood, a run never depends on it."""
import hashlib, json, os, pickle, sys
from importlib.metadata import version
from pathlib import Path
from typing import Callable
from tinygrad import Tensor, Device

SOURCE = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))).hexdigest()

def cache_dir() -> Path|None:
  setting = os.environ.get("TINYARITH_CACHE", "0")
  if setting in ("", "0"): return None
  return Path.home() / ".cache" / "tinyarith" if setting == "1" else Path(setting)

class PersistentJit:
  def __init__(self, jit, label:str, key:dict, state:dict[str, Tensor]):
    self.jit, self.label, self.key, self.state, self.path, self.saved = jit, label, key, state, None, False

  @property
  def captured(self): return self.jit.captured

  def __call__(self, *args:Tensor):
    if self.path is None and (folder := cache_dir()) is not None: self._load(folder, args)
    ret = self.jit(*args)
    if self.path is not None and not self.saved and self.jit.captured is not None: self._save()
    return ret

  def _load(self, folder:Path, args:tuple[Tensor, ...]):
    key = {"label": self.label, **self.key, "args": [(a.shape, str(a.dtype)) for a in args], "device": Device.DEFAULT,
           "tinygrad": version("tinygrad"), "tinyarith": SOURCE}
    self.path = folder / f"{self.label}-{hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]}.pkl"
    if self.jit.cnt or not self.path.exists(): return
    try: state, jit = pickle.loads(self.path.read_bytes())
    except Exception: return  # unreadable (a different Python, a torn write): capture afresh
    if state.keys() != self.state.keys(): return
    # point the loaded step at this run's buffers (weights, optimizer state), so that every Tensor and every other JIT
    # that reads them keeps doing so; the pickled values are dropped
    jit.captured._linear = jit.captured._linear.substitute({state[name].uop.base: t.realize().uop.base for name, t in self.state.items()})
    self.jit, self.saved = jit, True

  def _save(self):
    self.saved = True  # once, whatever happens: a cache that cannot be written only costs the next start its speed
    try:
      self.path.parent.mkdir(parents=True, exist_ok=True)
      tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
      tmp.write_bytes(pickle.dumps((self.state, self.jit)))
      tmp.replace(self.path)  # whole or absent: another run never reads half a file
    except OSError as e: print(f"warning: cannot keep the captured step in {self.path.parent}: {e}", file=sys.stderr)

def persistent(label:str, key:dict, state:dict[str, Tensor]) -> Callable:
  """Decorator for a TinyJit: keep its capture on disk under label and key (see the module docstring)."""
  return lambda jit: PersistentJit(jit, label, key, state)
