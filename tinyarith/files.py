"""Files that are whole or absent: written under a temporary name, flushed to disk and renamed into place."""
import os
from contextlib import contextmanager
from pathlib import Path

def fsync(path:Path):
  fd = os.open(path, os.O_RDONLY)  # a directory too: its entry for a renamed file reaches the disk only with it
  try: os.fsync(fd)
  finally: os.close(fd)

@contextmanager
def replacing(path:Path):
  """Yields a temporary path beside `path` to write. Once written, it is flushed, renamed over `path`, and the directory
  flushed: a kill or a power loss at any moment leaves the old file or the new one."""
  tmp = path.with_name(path.name + ".tmp")
  yield tmp
  fsync(tmp)
  tmp.replace(path)
  fsync(path.parent)

def write_text(path:Path, text:str):
  with replacing(path) as tmp: tmp.write_text(text)
