"""Where a step's time goes: run one JIT'd step of a bench workload under DEBUG=2 and list its kernels by time.

  python bench/kernels.py grok train        # or: grok eval, addition train; --top N
  python bench/kernels.py grok train --sweep 8 --p 59   # a sweep of 8 seeds stacked into one model (tinyarith.sweep)"""
import argparse, contextlib, io, re, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tinygrad.helpers import Context
from bench.bench import WORKLOADS, sweep_steps, tinyarith_steps

KERNEL = re.compile(r"\*\*\* \w+\s+\d+ (\S+)\s+arg.*tm\s+([\d.]+)(us|ms)/\s*[\d.]+ms \(\s*(\d+) GFLOPS")

def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("workload", choices=list(WORKLOADS))
  parser.add_argument("step", choices=("train", "eval"))
  parser.add_argument("--top", type=int, default=20)
  parser.add_argument("--sweep", type=int, metavar="R", help="grok train only: R seeds stacked into one model, at modulus --p")
  parser.add_argument("--p", type=int, default=113, help="the modulus, with --sweep")
  args = parser.parse_args()
  if args.sweep: step, sync = sweep_steps(args.p, args.sweep)[1:]
  else:
    train, evaluate, sync = tinyarith_steps(WORKLOADS[args.workload]())
    step = train if args.step == "train" else evaluate
  for _ in range(3): step()  # run, capture, replay
  sync()
  with contextlib.redirect_stdout(out := io.StringIO()), Context(DEBUG=2):
    step(); sync()
  kernels = [(float(m[2]) / (1000 if m[3] == "us" else 1), int(m[4]), m[1]) for line in out.getvalue().splitlines()
             if (m := KERNEL.search(re.sub(r"\x1b\[[0-9;]*m", "", line)))]
  t = time.perf_counter()
  for _ in range(5): step()
  sync()
  print(f"{args.workload} {args.step}: {len(kernels)} kernels, {sum(k[0] for k in kernels):.1f} ms of kernel time; "
        f"{(time.perf_counter() - t) / 5 * 1000:.1f} ms per step without DEBUG")
  for ms, gflops, name in sorted(kernels, reverse=True)[:args.top]: print(f"{ms:9.2f} ms {gflops:5d} GFLOP/s  {name}")

if __name__ == "__main__": main()
