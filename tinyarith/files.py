"""The files of a run directory: whole or absent (written under a temporary name, flushed to disk and renamed into
place), tensors written without a memory map, and one writer at a time."""
import errno, fcntl, json, os, struct, sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable
import numpy as np
from tinygrad import Tensor
from tinygrad.dtype import _from_np_dtype
from tinygrad.nn.state import inverse_safe_dtypes
from tinyarith.errors import BadInput, DiskFull

LOCK = ".lock"  # held by the process that writes the run directory, for as long as it runs

def fsync(path:Path):
  fd = os.open(path, os.O_RDONLY)  # a directory too: its entry for a renamed file reaches the disk only with it
  try: os.fsync(fd)
  finally: os.close(fd)

@contextmanager
def replacing(path:Path):
  """Yields a temporary path beside `path` to write. Once written, it is flushed, renamed over `path`, and the directory
  flushed: a kill or a power loss at any moment leaves the old file or the new one. A write that fails (a full disk)
  removes the temporary file, leaving the old one."""
  tmp = path.with_name(path.name + ".tmp")
  try:
    yield tmp
    fsync(tmp)
  except BaseException as e:
    tmp.unlink(missing_ok=True)
    if isinstance(e, OSError) and e.filename is None: e.filename = str(path)  # a failed write() names no file
    raise
  tmp.replace(path)
  fsync(path.parent)

def write_text(path:Path, text:str):
  with replacing(path) as tmp: tmp.write_text(text)

def safetensors(tensors:dict[str, Tensor|np.ndarray]) -> bytes:
  """tensors (or host arrays) in the safetensors format (tinygrad's safe_load reads it), as bytes. tinygrad's safe_save writes
  through a memory map, where a full disk is a SIGBUS that kills the process without a word; a plain write raises OSError instead."""
  arrays = {name: t if isinstance(t, np.ndarray) else t.numpy() for name, t in tensors.items()}
  header, offset = {}, 0
  for name, a in arrays.items():
    header[name] = {"dtype": inverse_safe_dtypes[_from_np_dtype(a.dtype)], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
    offset += a.nbytes
  text = json.dumps(header, separators=(",", ":"))
  text += " " * (-len(text) % 8)
  return struct.pack("<Q", len(text)) + text.encode() + b"".join(np.ascontiguousarray(a).tobytes() for a in arrays.values())

def write_tensors(path:Path, tensors:dict[str, Tensor|np.ndarray]) -> bytes:
  """Write tensors to path, whole or not at all; returns the bytes written."""
  data = safetensors(tensors)
  with replacing(path) as tmp: tmp.write_bytes(data)
  return data

def disk_full(e:BaseException) -> bool: return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)

@contextmanager
def full_disk_is_diskfull(out_dir:Path, saved:Callable[[], int|None]):
  """A full disk while the block writes is DiskFull naming what failed, the directory to resume (out_dir) and the step of
  its last good checkpoint (saved(), read only then)."""
  try: yield
  except OSError as e:
    if not disk_full(e): raise
    raise DiskFull(f"the disk is full: writing {e.filename or 'to ' + str(out_dir)} failed", Path(out_dir), saved()) from None

def make_dir(path:Path, field:str):
  """path (and its parents) created if missing, and writable; else BadInput naming `field`, the flag that chose it (a
  read-only disk included), or DiskFull."""
  try: Path(path).mkdir(parents=True, exist_ok=True)
  except OSError as e:
    if disk_full(e): raise DiskFull(f"the disk is full: cannot create {path}", Path(path), None) from None
    raise BadInput(field, f"{path}: cannot create the directory ({e.strerror}: {e.filename})") from None
  if not os.access(path, os.W_OK): raise BadInput(field, f"{path} is not writable (a read-only disk, or not yours)")

def writer(run_dir:Path) -> str|None:
  """Who holds run_dir's lock ("process PID (COMMAND)"), or None when no process does. A lock whose process has died,
  even by kill -9, is free: the kernel releases it with the process."""
  try: fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY)
  except OSError: return None
  try:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # taken only while no writer holds it, and let go at once
    return None
  except BlockingIOError:
    pid, _, command = os.read(fd, 4096).decode(errors="replace").strip().partition(" ")
    return f"process {pid or '?'} ({command[:80]})" if command else f"process {pid or '?'}"
  finally: os.close(fd)

def check_free(run_dir:Path, field:str, holder:str|None=None):
  """BadInput naming `field` (the flag that chose the directory) if a process writes run_dir."""
  if holder := holder or writer(run_dir):
    raise BadInput(field, f"{run_dir} is being written by {holder}: wait for it to end, or stop it, then try again")

@contextmanager
def locked(run_dir:Path, field:str):
  """Hold run_dir's lock while the block runs, as its only writer. Another writer is refused (check_free) before it
  writes anything."""
  fd = os.open(Path(run_dir) / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError: check_free(run_dir, field, writer(run_dir) or "another process")
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {' '.join(sys.argv)}\n".encode(errors="replace"))  # for the message a second writer gets
    yield
  finally: os.close(fd)
