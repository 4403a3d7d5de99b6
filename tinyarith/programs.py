"""Each kernel's finished program kept on disk, so that a later run skips its code generation.

tinygrad caches compiled binaries on disk, but it lowers every kernel from its AST again in each process: about two
thirds of a warm start (the grokking step has ~90 kernels, the addition step ~430). Its in-process cache of finished
programs, codegen.to_program_cache, is keyed by the AST's content hash, the renderer and the code generation settings;
this backs that cache with a table in tinygrad's own cache database, so CACHEDB moves it and CACHELEVEL=0 turns it off.
A second table holds the kernels tinyarith.tune searched: looked up first, unless TINYARITH_TUNED=0."""
import hashlib, os, sqlite3
from tinygrad import codegen
from tinygrad.engine import realize
from tinygrad.helpers import VERSION, db_connection, diskcache_get, diskcache_put

TABLE, TUNED = "tinyarith_program", "tinyarith_tuned"

def use_tuned() -> bool: return os.environ.get("TINYARITH_TUNED", "1") != "0"

def disk_key(key:tuple) -> str:
  """to_program_key's (ast hash, renderer class, target, settings...) as text: the same in every process."""
  ast_hash, renderer, *rest = key
  return hashlib.sha256(repr((ast_hash, renderer.__module__, renderer.__qualname__, *rest)).encode()).hexdigest()

class OnDisk(dict):
  """A dict of finished programs that looks on disk for a key it lacks, and writes each one it is given there."""
  def __contains__(self, key) -> bool: return self.get(key) is not None
  def __getitem__(self, key):
    if (program := self.get(key)) is None: raise KeyError(key)
    return program
  def get(self, key, default=None):
    if (program := super().get(key)) is None:
      on_disk = disk_key(key)
      program = diskcache_get(TUNED, on_disk) if use_tuned() else None
      if program is None: program = diskcache_get(TABLE, on_disk)
      if program is not None: super().__setitem__(key, program)
    return default if program is None else program
  def __setitem__(self, key, program):
    super().__setitem__(key, program)
    diskcache_put(TABLE, disk_key(key), program)

def install() -> OnDisk:
  """Back tinygrad's program cache with the disk, once per process (both modules read the name at each call)."""
  if not isinstance(codegen.to_program_cache, OnDisk):
    codegen.to_program_cache = realize.to_program_cache = OnDisk(codegen.to_program_cache)
  return codegen.to_program_cache

def keep_tuned(key:str, program):
  """A searched program for the kernel of disk key `key`: served in its stead from now on, in this process and later ones."""
  diskcache_put(TUNED, key, program)
  dict.pop(install(), next((k for k in dict.keys(install()) if disk_key(k) == key), None), None)

def clear_tuned() -> int:
  """Forget every tuned kernel in this cache database; returns how many there were."""
  connection = db_connection()
  try: n = connection.execute(f"DELETE FROM '{TUNED}_{VERSION}'").rowcount
  except sqlite3.OperationalError: return 0  # none was ever tuned
  connection.commit()
  return n
