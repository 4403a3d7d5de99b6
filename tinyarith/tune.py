"""Kernel search for the steps of one command, kept for every later run of the same shapes on this machine.

  python -m tinyarith.tune experiments/grokking.py                  # the default grokking run's kernels
  python -m tinyarith.tune --budget-s 300 experiments/addition.py --digits 5
  python -m tinyarith.tune --clear                                  # forget every tuned kernel of this machine

It runs the command for two steps (its own flags, plus --steps 2 --eval-every 1 and a scratch --out), notes every kernel
its JIT'd train, eval and decode steps compile, times each, and runs tinygrad's kernel search (BEAM) on the slowest first,
an eval or decode kernel's time counted at EVAL_WEIGHT (they run less often than the train step's), for --budget-s seconds
in all. A searched kernel is kept only if it runs faster than the one tinygrad's heuristics made, timed at its full
size, in the table of tuned programs that tinyarith.programs reads first: any later process that compiles that kernel
gets the searched one, with no search (TINYARITH_TUNED=0 turns them off). The steps tinyarith.stepcache kept are deleted,
since they hold the kernels from before. All of it lives in this machine's cache database (tinyarith.machine)."""
import argparse, os, runpy, signal, sys, tempfile, threading, time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from tinygrad import Device
from tinygrad.codegen import do_to_program
from tinygrad.codegen.opt.postrange import args_from_ast
from tinygrad.codegen.opt.search import _time_program
from tinygrad.engine import jit, realize
from tinygrad.helpers import Context, tqdm
from tinygrad.uop.ops import Ops
from tinyarith import programs, stepcache

KERNEL_S = 300     # one kernel's search at most: on POCL some take 16 minutes and find nothing
EVAL_WEIGHT = 0.05  # an eval or decode kernel's time against a train kernel's: grokking evaluates 5 chunks every 100 steps

def record_kernels(argv:list[str]) -> dict[str, tuple]:
  """Run a command (a script and its flags) and return {disk key: (to_program key, ast, renderer, weight)} for each kernel
  that a step of tinyarith's (stepcache.KeptJit: train, eval, decode) compiles when its JIT captures."""
  kernels, step, capturing = {}, [], []
  key_of, lower, call = realize.to_program_key, jit.jit_lower, stepcache.KeptJit.__call__
  def noting_key(ast, renderer):
    key = key_of(ast, renderer)
    if step and capturing and ast.op is Ops.SINK and ast.tag is None:
      kernels.setdefault(programs.disk_key(key), (key, ast, renderer, 1.0 if step[-1] == "train" else EVAL_WEIGHT))
    return key
  def noting_lower(*args, **kwargs):
    capturing.append(True)
    try: return lower(*args, **kwargs)
    finally: capturing.pop()
  def noting_call(self, *args):
    step.append(self.label)
    try: return call(self, *args)
    finally: step.pop()
  realize.to_program_key, jit.jit_lower, stepcache.KeptJit.__call__ = noting_key, noting_lower, noting_call
  saved_argv, steps = sys.argv, os.environ.get("TINYARITH_STEPS")
  try:
    sys.argv, os.environ["TINYARITH_STEPS"] = argv, "0"  # a step restored from disk compiles nothing
    runpy.run_path(argv[0], run_name="__main__")
  except SystemExit as e:
    if e.code: raise
  finally:
    sys.argv, realize.to_program_key, jit.jit_lower, stepcache.KeptJit.__call__ = saved_argv, key_of, lower, call
    if steps is None: os.environ.pop("TINYARITH_STEPS")
    else: os.environ["TINYARITH_STEPS"] = steps
  return kernels

def seconds(program, ast, renderer) -> float:
  """The fastest of three runs of a compiled kernel at its full size, on scratch buffers."""
  return min(_time_program(program, {}, args_from_ast(ast, renderer.target.device)[0], allow_test_size=False))

@contextmanager
def deadline(seconds:float):
  """Interrupt the block after `seconds` (a KeyboardInterrupt in the main thread: tinygrad's search cleans up after one).
  Yields a dict whose "over" says whether it did; a KeyboardInterrupt that is not the deadline's propagates. A real SIGINT
  sent to the main thread, not _thread.interrupt_main: the search waits on its compile pool in a lock, which only a
  signal wakes (the first tuning of addition sat 6 minutes past its budget so)."""
  state, lock = {"over": False, "done": False}, threading.Lock()
  def expire():
    with lock:
      if not state["done"]: state["over"] = True; signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
  before = signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever handler was there: this one raises
  signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
  (timer := threading.Timer(seconds, expire)).start()
  try: yield state
  except KeyboardInterrupt:
    if not state["over"]: raise
  finally:
    with lock: state["done"] = True
    timer.cancel()
    signal.signal(signal.SIGINT, before)

def tune(kernels:dict[str, tuple], beam:int, budget_s:float, kernel_s:float=KERNEL_S) -> list[tuple]:
  """Search the kernels by weighted time, slowest first, each for at most kernel_s seconds and all within budget_s (a
  search still running then is dropped). Returns (name, weight, before, after) for each searched kernel, times in seconds:
  after is None for a search cut short, and equals before where the search found nothing faster (nothing is kept then)."""
  cache, results, start = programs.install(), [], time.perf_counter()
  timed = sorted(((seconds(cache[key], ast, ren), dk, key, ast, ren, weight) for dk, (key, ast, ren, weight) in kernels.items()),
                 key=lambda t: -t[0] * t[-1])
  for before, dk, key, ast, ren, weight in (bar := tqdm(timed, desc="tuning")):
    if (left := budget_s - (time.perf_counter() - start)) <= 0: break
    name = cache[key].src[0].arg.function_name
    bar.set_description(f"searching {name} ({before * 1e3:.2f} ms{'' if weight == 1 else ', eval'})")
    bar.update(0)  # draw it now: a search takes minutes
    searched = None
    with deadline(min(kernel_s, left)), Context(DEBUG=0): searched = do_to_program(ast.replace(arg=replace(ast.arg, beam=beam)), ren)
    after = None if searched is None else seconds(searched, ast, ren)
    if after is not None and after < before: programs.keep_tuned(dk, searched)
    results.append((name, weight, before, after if after is None else min(before, after)))
  return results

def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--beam", type=int, default=2, help="the search's beam width (tinygrad's BEAM); 2 or more")
  parser.add_argument("--budget-s", type=float, default=900,
                      help="seconds for the whole tuning (default 900): a search still running then is dropped")
  parser.add_argument("--kernel-s", type=float, default=KERNEL_S, help=f"seconds for one kernel's search at most (default {KERNEL_S})")
  parser.add_argument("--clear", action="store_true", help="forget this machine's tuned kernels, and search none")
  parser.add_argument("command", nargs=argparse.REMAINDER, help="an experiment's script and its flags")
  args = parser.parse_args()
  if args.clear: return print(f"forgot {programs.clear_tuned()} tuned kernels and {stepcache.forget()} kept steps")
  if not args.command or not Path(args.command[0]).is_file(): parser.error("give an experiment's script, e.g. experiments/grokking.py")
  if args.beam < 2: parser.error("--beam: give 2 or more (a beam of 1 is greedy and often picks a slower kernel)")
  if args.budget_s <= 0 or args.kernel_s <= 0: parser.error(f"--{'budget' if args.budget_s <= 0 else 'kernel'}-s: give a positive number of seconds")
  with tempfile.TemporaryDirectory() as out:
    kernels = record_kernels([*args.command, "--steps", "2", "--eval-every", "1", "--out", str(Path(out) / "run")])
  print(f"{len(kernels)} kernels in the steps of {' '.join(args.command)} on {Device.DEFAULT}")
  t = time.perf_counter()
  results = tune(kernels, args.beam, args.budget_s, args.kernel_s)
  if any(a is not None and a < b for _, _, b, a in results): stepcache.forget()  # kept steps hold the kernels from before
  for name, weight, before, after in results:
    print(f"{before * 1e3:9.2f} -> {'cut short' if after is None else f'{after * 1e3:6.2f} ms'}  {'train' if weight == 1 else 'eval '}  {name}")
  train = [(b, b if a is None else a) for _, w, b, a in results if w == 1]
  print(f"searched {len(results)} of {len(kernels)} kernels in {time.perf_counter() - t:.0f} s; the train step's searched kernels: "
        f"{sum(b for b, _ in train) * 1e3:.1f} -> {sum(a for _, a in train) * 1e3:.1f} ms")

if __name__ == "__main__": main()
