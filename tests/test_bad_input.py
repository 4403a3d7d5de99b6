"""Every bad input to either experiment or to `python -m tinyarith.plot`: one line on stderr naming the flag, exit 2, no
traceback, and nothing written. {run} is a finished 1-digit addition run, {file} a plain file, {fresh} a path that must
stay unwritten, {null}, {text} and {lacking} metrics files whose second row has a bad train_loss."""
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import experiment
from test_runs import ADD, GROK, finished

BAD = [  # (program, arguments, environment, what the line must name)
  ("grokking", ["--p", "1"], {}, "--p"),
  ("grokking", ["--p", "-5"], {}, "--p: the modulus"),  # not the model's --vocab, p + 1, which no flag names
  ("grokking", ["--p", "ten"], {}, "--p"),
  ("grokking", ["--p", "100000"], {}, "--p"),  # its table alone would be 74.5 GiB
  ("grokking", ["--p", str(10**30)], {}, "--p"),
  ("grokking", ["--train-frac", "0"], {}, "--train-frac"),
  ("grokking", ["--train-frac", "1.5"], {}, "--train-frac"),
  ("grokking", ["--p", "3", "--train-frac", "0.05"], {}, "--train-frac"),  # no training pair left
  ("grokking", ["--n-heads", "3"], {}, "--n-heads"),
  ("grokking", ["--d-model", "12", "--n-heads", "4", "--pos", "rope"], {}, "--pos"),  # odd head size
  ("grokking", ["--d-model", "0"], {}, "--d-model"),
  ("grokking", ["--n-layers", "-1"], {}, "--n-layers"),
  ("grokking", ["--d-mlp", "0"], {}, "--d-mlp"),
  ("grokking", ["--op", "^"], {}, "--op"),
  ("grokking", ["--steps", "0"], {}, "--steps"),
  ("grokking", ["--lr", "-1"], {}, "--lr"),
  ("grokking", ["--lr", "nan"], {}, "--lr"),
  ("grokking", ["--beta2", "1"], {}, "--beta2"),
  ("grokking", ["--weight-decay", "-0.1"], {}, "--weight-decay"),
  ("grokking", ["--eval-every", "0"], {}, "--eval-every"),
  ("grokking", ["--ckpt-every", "0"], {}, "--ckpt-every"),
  ("grokking", ["--seed", "-1"], {}, "--seed"),
  ("grokking", ["--loss", "stablemx"], {}, "--loss:"),  # with the colon: --loss-dtype's refusal names --loss too
  ("grokking", ["--loss-dtype", "float16"], {}, "--loss-dtype"),
  ("grokking", ["--grokfast-alpha", "1"], {}, "--grokfast-alpha"),
  ("grokking", ["--grokfast-lamb", "-2"], {}, "--grokfast-lamb"),
  ("grokking", ["--grokfast-lamb", "two"], {}, "--grokfast-lamb"),
  ("grokking", ["--warmup", "-5"], {}, "--warmup"),
  ("grokking", ["--decay", "linear"], {}, "--decay"),
  ("grokking", ["--bogus"], {}, "--bogus"),
  ("grokking", ["--out", "{file}/run"], {}, "--out"),
  ("grokking", ["--resume", "{file}.missing"], {}, "--resume"),
  ("grokking", ["--out", ""], {}, "--out: an empty path"),
  ("grokking", ["--resume", ""], {}, "--resume: an empty path"),  # not "--resume": the refusal of --out names it too
  ("grokking", ["--out", "{fresh}"], {"DEV": "NOSUCHDEVICE"}, "DEV"),
  ("grokking", ["--out", "{fresh}"], {"DEV": "CL:99"}, "DEV=CL:99"),  # opens, but cannot compile
  ("grokking", ["--out", "{fresh}"], {"DEV": "NULL"}, "DEV=NULL"),    # opens, but cannot copy out
  ("grokking", ["--seed", "", "--out", "{fresh}"], {}, "--seed"),  # an empty list
  ("grokking", ["--train-frac", "0.2,,0.3", "--out", "{fresh}"], {}, "--train-frac"),
  ("grokking", ["--weight-decay", "0.3,x", "--out", "{fresh}"], {}, "--weight-decay"),
  ("grokking", ["--seed", "5-2", "--out", "{fresh}"], {}, "--seed"),
  ("grokking", ["--seed", "0,1,0", "--out", "{fresh}"], {}, "--seed"),
  ("grokking", ["--seed", "0-1", "--lr", "1e-3,-1", "--out", "{fresh}"], {}, "--lr"),  # one bad value of a list
  ("grokking", ["--seed", "0-1", "--train-frac", "0.3,1.5", "--out", "{fresh}"], {}, "--train-frac"),
  ("grokking", ["--seed", "0-1", "--shard", "2/2", "--out", "{fresh}"], {}, "--shard"),
  ("grokking", ["--seed", "0-1", "--shard", "0/3", "--out", "{fresh}"], {}, "--shard"),  # more slices than runs
  ("grokking", ["--seed", "0-1", "--shard", "1of2", "--out", "{fresh}"], {}, "--shard"),
  ("grokking", ["--shard", "0/2", "--out", "{fresh}"], {}, "--shard"),  # one run
  ("grokking", ["--seed", "0-99999", "--out", "{fresh}"], {}, "--seed"),  # ~18 TiB
  ("grokking", ["--seed", "0-99999999", "--out", "{fresh}"], {}, "--seed"),  # refused before its list of values grows
  ("grokking", ["--seed", "0-1", "--devices", "CPU:0,CPU:0", "--out", "{fresh}"], {}, "--devices"),
  ("grokking", ["--seed", "0-1", "--devices", "NOSUCH:0,CPU:1", "--out", "{fresh}"], {}, "--devices"),
  ("grokking", ["--seed", "0-1", "--out", "{grok}"], {}, "--out"),  # a run's directory is no sweep's
  ("grokking", ["--lr", "-1e-3", "--out", "{fresh}"], {}, "--lr: must be a positive number"),  # not argparse's "expected one argument"
  ("grokking", ["--seed", "0-1", "--shard", "-1/3", "--out", "{fresh}"], {}, "--shard: '-1/3' is not I/N"),
  ("grokking", ["--out", "{fresh}"], {"BEAM": "abc"}, "BEAM='abc'"),  # read by tinygrad as it is imported
  ("grokking", ["--seed", "0-1", "--out", "{fresh}"], {"CACHELEVEL": "x"}, "CACHELEVEL='x'"),
  ("calculator", ["--format", "plain", "--steps", "0", "--out", "{fresh}"], {}, "--steps"),  # plain's default --ops has no division
  ("calculator", ["--format", "plain", "--test-digits", "0", "--out", "{fresh}"], {}, "--test-digits"),
  ("calculator", ["--scratchpad", "--ops", "+-", "--out", "{fresh}"], {}, "--scratchpad"),
  ("calculator", ["--pack", "2", "--out", "{fresh}"], {}, "--pack"),  # padded
  ("calculator", ["--format", "plain", "--pack", "3", "--out", "{fresh}"], {}, "--pack"),  # does not divide --batch-size 256
  ("calculator", ["--batch-size", "100000000", "--out", "{fresh}"], {}, "--batch-size"),  # ~40,000 GiB: refused before it grows
  ("addition", ["--run", "{run}", "--out", "{fresh}"], {}, "--run"),  # --run alone asks nothing: no new run trains
  ("addition", ["--ask", "-3+4", "--run", "{run}"], {}, "--ask: wants a question"),
  ("progress", ["{file}"], {}, "RUN_DIR"),  # a positional argument, not a --run
  ("progress", ["{grok}"], {"DEV": "NOSUCHDEVICE"}, "DEV=NOSUCHDEVICE"),
  ("addition", ["--digits", "0"], {}, "--digits"),
  ("addition", ["--digits", "12"], {}, "--digits"),
  ("addition", ["--batch-size", "0"], {}, "--batch-size"),
  ("addition", ["--test-size", "0"], {}, "--test-size"),
  ("addition", ["--digits", "1", "--test-size", "60"], {}, "--test-size"),  # more than half of the 100 problems
  ("addition", ["--out", "{run}"], {}, "--out"),  # a fresh run never overwrites a checkpointed one
  ("addition", ["--resume", "{run}", "--d-model", "64"], {}, "--d-model"),  # a checkpoint from a different config
  ("addition", ["--resume", "{run}", "--no-reverse"], {}, "--reverse"),
  ("addition", ["--resume", "{run}", "--steps", "20"], {}, "--steps"),  # it already ran 40
  ("addition", ["--resume", "{run}", "--out", "{file}.elsewhere"], {}, "--out"),
  ("addition", ["--resume", "{old}"], {}, "--resume"),  # a config.json of the shape before RunConfig
  ("addition", ["--ask", "12+", "--run", "{run}"], {}, "--ask"),
  ("addition", ["--ask", "123+4", "--run", "{run}"], {}, "--ask"),  # longer than the model's 1 digit
  ("addition", ["--ask", "1" * 5000 + "+1", "--run", "{run}"], {}, "--ask"),  # past Python's 4,300-digit int parsing
  ("addition", ["--ask", "1+2", "--run", "{grok}"], {}, "not an addition run"),
  ("addition", ["--ask", "1+2"], {}, "--run"),
  ("addition", ["--ask", "1+2", "--run", "{file}"], {}, "--run"),
  ("sweep", ["{file}"], {}, "SWEEP_DIR"),
  ("sweep", ["{grok}"], {}, "SWEEP_DIR"),
  ("plot", ["{file}.missing"], {}, "metrics"),
  ("plot", ["{file}"], {}, "JSON"),
  ("plot", ["{run}", "-o", "{file}/x.png"], {}, "--out"),
  ("plot", [], {}, "runs"),
  ("plot", ["{null}"], {}, "null.jsonl, line 2"),  # train_loss null
  ("plot", ["{text}"], {}, "text.jsonl, line 2"),  # train_loss "x"
  ("plot", ["{lacking}"], {}, "lacking.jsonl, line 2"),  # no train_loss
]

@pytest.fixture(scope="module")
def paths(tmp_path_factory):
  folder = tmp_path_factory.mktemp("bad")
  finished("addition", *ADD, "--steps", "40", "--out", run := folder / "run")
  finished("grokking", *GROK, "--steps", "20", "--out", grok := folder / "grok")
  (file := folder / "a-file").write_text("not a run\n")
  shutil.copytree(run, old := folder / "old")
  config = json.loads((old / "config.json").read_text())
  (old / "config.json").write_text(json.dumps({"experiment": "addition", "seed": config["seed"], "model": config["model"],
                                               "args": {"digits": 1, "steps": 40}}))
  rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()[:2]]
  for name, change in (("null", {"train_loss": None}), ("text", {"train_loss": "x"}), ("lacking", {"train_loss": ...})):
    second = {k: change.get(k, v) for k, v in rows[1].items() if change.get(k) is not ...}
    (folder / f"{name}.jsonl").write_text(json.dumps(rows[0]) + "\n" + json.dumps(second) + "\n")
  return {"run": str(run), "grok": str(grok), "old": str(old), "file": str(file), "fresh": str(folder / "fresh"),
          **{name: str(folder / f"{name}.jsonl") for name in ("null", "text", "lacking")}}

IDS = [" ".join([p, *(x if len(x) < 40 else x[:20] + "..." for x in a), *(f"{k}={v}" for k, v in e.items())]) for p, a, e, _ in BAD]

@pytest.mark.parametrize("program,args,env,names", BAD, ids=IDS)
def test_bad_input_is_one_line_on_stderr_naming_the_flag_and_exit_2(paths, program, args, env, names):
  args = [a.format(**paths) for a in args]
  before = {p: p.stat().st_mtime_ns for p in Path(paths["run"]).iterdir() if p.name != ".lock"}  # the lock names the last writer
  if program in ("plot", "sweep", "progress"):
    result = subprocess.run([sys.executable, "-m", f"tinyarith.{program}", *args], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env})
  else: result = experiment(program, *args, env=env, timeout=120)  # a refusal comes at once, not after the work has grown
  print(result.stderr)
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1 and names in result.stderr
  assert {p: p.stat().st_mtime_ns for p in Path(paths["run"]).iterdir() if p.name != ".lock"} == before
  assert not Path(paths["fresh"]).exists()
