"""bench/gpu.sh's driver: each stage a child process with its own time limit (SIGTERM, then the figures it logged), one
table at the end, on stdout and in OUT/gpu.md, and every figure in OUT/gpu.json. SMALL=1: toy sizes, for a dry run."""
import json, os, platform, re, shutil, signal, statistics, subprocess, sys, time
from pathlib import Path

SMALL = os.environ.get("SMALL", "0") == "1"
PY = sys.executable
GROK = ["--p", "13", "--steps", "40", "--eval-every", "10"] if SMALL else []  # the default: p=113, 25,000 steps
STAGES = {  # name: (argv, seconds allowed)
  "tests": ([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(["tests/test_jit.py"] if SMALL else
            ["tests/test_jit.py", "tests/test_loss.py", "tests/test_model.py", "tests/test_stepcache.py", "tests/test_decode.py"])], 120),
  "bench": ([PY, "bench/bench.py", "--rows", *(["grok-eval", "--no-torch", "--windows", "1", "--window-s", "0.2"] if SMALL else
            ["grok-train", "grok-eval", "addition-train", "--windows", "3", "--window-s", "1"])], 100),
  "grokking": ([PY, "experiments/grokking.py", *GROK], 100),
  "sweep": ([PY, "experiments/grokking.py", "--seed", "0-2" if SMALL else "0-9", *GROK], 150),
}  # 470 s in all at most, and a minute of starting: within 8 minutes

def run(argv:list[str], limit:float, log:Path) -> tuple[int|None, float]:
  """Run a stage, its output in log; past its limit it gets SIGTERM (a training run checkpoints and stops). Returns its exit
  status (None: stopped at the limit) and its wall seconds."""
  t = time.perf_counter()
  with log.open("w") as f:
    proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT)
    try: code = proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
      proc.send_signal(signal.SIGTERM)
      try: proc.wait(timeout=60)
      except subprocess.TimeoutExpired: proc.kill()
      code = None
  return code, time.perf_counter() - t

def reached(run_dir:Path, acc:float=0.99) -> dict:
  """A run's first evaluation at test accuracy >= acc (step, seconds into training), and its last step."""
  rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.endswith("}")]
  hit = next((r for r in rows if r.get("test_acc", 0) >= acc), None)
  return {"step_99": hit and hit["step"], "s_99": hit and hit["elapsed"], "last_step": rows[-1]["step"] if rows else 0}

def main(out:Path):
  shutil.rmtree(out, ignore_errors=True)
  out.mkdir(parents=True)
  gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("nvidia-smi") else platform.processor() or platform.machine()
  figures = {"device": os.environ.get("DEV"), "gpu": gpu, "small": SMALL, "date": time.strftime("%Y-%m-%d")}
  rows = []
  for name, (argv, limit) in STAGES.items():
    if name in ("grokking", "sweep"): argv = [*argv, "--out", str(out / name)]
    code, seconds = run(argv, limit, log := out / f"{name}.log")
    text = log.read_text()
    stopped = "stopped at its limit" if code is None else "ok" if code == 0 else f"exit {code}: see {log}"
    figures[name] = {"status": stopped, "wall_s": round(seconds, 1)}
    if name == "tests":
      counts = re.findall(r"(\d+) (passed|failed|error|skipped)", text)
      figures[name].update({k: int(n) for n, k in counts})
      rows.append(("device tests", f"{' '.join(f'{n} {k}' for n, k in counts) or stopped} in {seconds:.0f} s"))
    elif name == "bench":
      for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) == 6 and (m := re.match(r"(grok|addition) (train|eval) \(steps/s\)", cells[0])):
          value = lambda c: None if c in ("", "-") else float(c)
          figures[name][f"{m[1]} {m[2]}"] = {"tinyarith": value(cells[1]), "torch": value(cells[2]), "torch-span": value(cells[4])}
          rows.append((f"{m[1]} {m[2]} steps/s", f"tinyarith {cells[1]}, PyTorch {cells[2]} ({cells[3] or '-'}), "
                       f"PyTorch at the loss positions {cells[4] or '-'} ({cells[5] or '-'})"))
      if len(figures[name]) == 2: rows.append(("bench", stopped))
    elif name == "grokking":
      figures[name].update(got := reached(out / name) if (out / name / "metrics.jsonl").exists() else {})
      rows.append(("grokking default to 99% test acc", f"step {got.get('step_99')}, {got.get('s_99')} s of training "
                   f"({seconds:.0f} s with start-up; stopped at step {got.get('last_step')}: {stopped})"))
    else:
      runs = [reached(p.parent) for p in sorted((out / name).glob("*/metrics.jsonl"))]
      hits = [r["step_99"] for r in runs if r["step_99"] is not None]
      figures[name].update(runs=runs, reached=len(hits), median_step_99=statistics.median(hits) if hits else None)
      rows.append((f"{len(runs)}-seed sweep: reached 99%", f"{len(hits)}/{len(runs)}, median step {figures[name]['median_step_99']} "
                   f"({seconds:.0f} s; {stopped})"))
    print(f"{name}: {stopped} in {seconds:.0f} s", flush=True)
  table = f"{gpu}, DEV={figures['device']}, {figures['date']}{' (SMALL)' if SMALL else ''}\n\n| | |\n|---|---|\n" + \
          "".join(f"| {k} | {v} |\n" for k, v in rows)
  print("\n" + table, end="")
  (out / "gpu.md").write_text(table)
  (out / "gpu.json").write_text(json.dumps(figures, indent=2) + "\n")

if __name__ == "__main__": main(Path(sys.argv[1]))
