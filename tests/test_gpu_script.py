import json, os, subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def test_the_gpu_script_runs_every_stage_at_toy_sizes_and_writes_its_figures(tmp_path):
  env = {**os.environ, "SMALL": "1", "DEV": os.environ.get("DEV", "CL"), "OUT": str(tmp_path / "out")}
  result = subprocess.run([str(ROOT / "bench" / "gpu.sh")], env=env, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
  figures = json.loads((tmp_path / "out" / "gpu.json").read_text())
  assert figures["tests"]["passed"] > 0 and "failed" not in figures["tests"]
  assert figures["bench"]["grok eval"]["tinyarith"] > 0
  assert figures["grokking"]["last_step"] == 40 and figures["sweep"]["reached"] <= len(figures["sweep"]["runs"]) == 3
  assert "| grokking default to 99% test acc |" in result.stdout and (tmp_path / "out" / "gpu.md").read_text() in result.stdout
