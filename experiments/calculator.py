"""The calculator: one GPT learns a+b, a-b, a*b and a/b (quotient and remainder) on N-digit operands, the operator a token,
every answer reversed and the prompt masked (tinyarith/calculator.py has the format), and reports exact match per operator,
operand length and carry count on problems it never saw. --format plain --test-digits M trains on operands of 1 to N
digits and tests lengths up to M (length generalisation). --ask "123*45" --run RUN_DIR asks a trained one."""
import argparse, re
import numpy as np
from tinygrad import Tensor
from tinyarith import cli
from tinyarith.calculator import FORMATS, OPS, PLAIN_OPS, make_problems, true_answer
from tinyarith.data import VOCAB, decode
from tinyarith.decode import make_greedy_decoder
from tinyarith.config import check_memory
from tinyarith.errors import BadInput
from tinyarith.loss import target_span
from tinyarith.metrics import summary
from tinyarith.model import POSITIONS
from tinyarith.train import Data, train, load_run

TRAIN_SAMPLE = 1000  # fixed training problems whose loss draws the train curve
OP_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div"}  # for run directory names

def ask(question:str, run_dir:str):
  config, model, step = load_run(run_dir)
  if config.get("experiment") != "calculator": raise BadInput("run", f"{run_dir} is a {config.get('experiment')} run, not a calculator run")
  problems = make_problems(config["data"], 0, config["model"]["pos"])
  if not (m := re.fullmatch(r"\s*(\d+)\s*(\S)\s*(\d+)\s*", question)): raise BadInput("ask", f"wants a question like '123*45', got {question[:40]!r}")
  if m[2] not in problems.ops: raise BadInput("ask", f"{m[2]!r} is not an operator this model learned: it knows {' '.join(problems.ops)}")
  if max(len(m[1].lstrip("0")), len(m[3].lstrip("0"))) > problems.longest:  # before int(): Python refuses to parse 4,300 digits or more
    shown = f"{question[:40]!r}{'...' if len(question) > 40 else ''}"
    raise BadInput("ask", f"this model's context holds operands of up to {problems.longest} digits, got {shown}")
  op, a, b = np.array([m[2]]), np.array([int(m[1])]), np.array([int(m[3])])
  if m[2] == "/" and b[0] == 0: raise BadInput("ask", f"{question.strip()!r} divides by zero")
  written, _, answer = problems.written(make_greedy_decoder(model), op, a, b)
  cli.print_answer(f"{a[0]}{op[0]}{b[0]}", problems.read(op, written, answer)[0], true_answer(op[0], int(a[0]), int(b[0])),
                   decode(written[0][answer[0]]), step)

@cli.guarded
def main():
  parser = cli.ArgumentParser(description=__doc__)
  g = parser.add_argument_group("data")
  g.add_argument("--digits", type=int, default=2, help="digits per operand, 1 to 6 (padded: every operand zero-padded to this; "
                 "plain: training operands of 1 to this many)")
  g.add_argument("--ops", help=f"the operators to learn, any of {OPS} (default: padded {OPS}, plain {PLAIN_OPS})")
  g.add_argument("--format", choices=FORMATS, default="padded", help="padded: zero-padded operands, answers of fixed width; "
                 "plain: numbers as written, each answer ended by '_' (for length generalisation)")
  g.add_argument("--test-digits", type=int, help="plain: held-out operands of 1 to this many digits, up to 9 (default: --digits)")
  g.add_argument("--test-size", type=int, default=4000, help="held-out problems, spread evenly over the operators (plain: and the lengths)")
  g.add_argument("--scratchpad", action=argparse.BooleanOptionalAction, default=False,
                 help="write a product's partial products a * (each digit of b) before the product (padded only)")
  cli.add_problem_args(g, "123*45")
  if (args := cli.parse_gpt_args(parser, ask, POSITIONS)) is None: return  # it answered --ask
  if args.ops is None: args.ops = OPS if args.format == "padded" else PLAIN_OPS

  data = {k: getattr(args, k) for k in ("digits", "ops", "format", "test_digits", "test_size", "batch_size", "scratchpad")}
  problems = make_problems(data, args.seed, args.pos)  # checks the data flags first
  name = "-".join(OP_NAMES[op] for op in args.ops) + "-scratch" * args.scratchpad
  if args.format == "plain": name += f"-plain-test{problems.test_digits}d-{args.pos}"
  run = cli.run_config(args, "calculator", data, f"calculator-{args.digits}d-{name}-seed{args.seed}", vocab=len(VOCAB), ctx_len=problems.ctx_len)
  check_memory(run, args.batch_size, "batch_size")  # before a batch is drawn
  model, opt = run.build()
  out = cli.make_run_dir(run, resume=bool(args.resume))
  print(f"{args.digits}-digit {' '.join(args.ops)}, {len(problems.held_out)} held-out problems; writing {out}/")
  train_sample, test_set = problems.arrays(*problems.sample(TRAIN_SAMPLE)), problems.arrays(*problems.test())
  data = Data(lambda: tuple(map(Tensor, problems.batch())), {"train": tuple(map(Tensor, train_sample)), "test": tuple(map(Tensor, test_set))},
              span=target_span(train_sample[1], test_set[1]), extra_metrics=problems.exact_match_metrics(model), rng=problems.rng)
  rows = train(model, opt, data, run, resume=bool(args.resume))
  print(summary(rows))
  print("exact match by operator: " + ", ".join(f"{k}: {v['exact']:.4f} (n={v['n']})" for k, v in rows[-1]["test_exact_by_op"].items()))
  if args.format == "plain":
    print("exact match by operand length: " + ", ".join(f"{k}: {v['exact']:.4f}" for k, v in rows[-1]["test_exact_by_op_digits"].items()))
  print(f"wrote {out}/config.json, metrics.jsonl, checkpoint.json, model.safetensors, loss.png")

if __name__ == "__main__": main()
