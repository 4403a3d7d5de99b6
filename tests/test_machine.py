import os, subprocess, sys
from tinyarith.machine import machine_key

def test_the_cache_key_changes_with_the_cpu_its_flags_the_cores_and_tinygrad():
  base = dict(cpu="model name: AMD EPYC\nflags: sse avx2 avx512f", cpus=2, tinygrad="0.14.0")
  other = [dict(base, cpu="model name: AMD EPYC\nflags: sse avx2"), dict(base, cpu="model name: Intel Xeon\nflags: sse avx2 avx512f"),
           dict(base, cpus=16), dict(base, tinygrad="0.14.1")]
  assert machine_key(**base) == machine_key(**base)
  assert len({machine_key(**base), *(machine_key(**o) for o in other)}) == 5

CACHEDB = "import tinyarith; from tinygrad.helpers import CACHEDB; print(CACHEDB)"

def test_tinygrad_keeps_its_kernels_in_this_machines_file_unless_cachedb_is_set(tmp_path):
  env = {k: v for k, v in os.environ.items() if k != "CACHEDB"} | {"XDG_CACHE_HOME": str(tmp_path)}
  where = lambda **more: subprocess.run([sys.executable, "-c", CACHEDB], env=env | more, capture_output=True, text=True,
                                        check=True).stdout.strip()
  assert where() == str(tmp_path / "tinygrad" / f"tinyarith-{machine_key()}.db")
  assert where(CACHEDB=str(tmp_path / "mine.db")) == str(tmp_path / "mine.db")
