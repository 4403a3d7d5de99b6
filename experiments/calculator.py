"""The calculator: one GPT learns a+b, a-b, a*b and a/b (quotient and remainder) on N-digit operands, the operator a token,
every answer reversed and the prompt masked (tinyarith/calculator.py has the format), and reports exact match per operator,
operand length and carry count on problems it never saw. --ask "123*45" --run RUN_DIR asks a trained one."""
import argparse, re
import numpy as np
from tinygrad import Tensor
from tinyarith import cli
from tinyarith.calculator import OPS, CalculatorProblems, answer_of, answer_width, batch_arrays, exact_match_metrics, true_answer, written_answers
from tinyarith.data import VOCAB
from tinyarith.decode import make_greedy_decoder
from tinyarith.errors import BadInput
from tinyarith.loss import target_span
from tinyarith.metrics import summary
from tinyarith.train import Data, train, load_run

TRAIN_SAMPLE = 1000  # fixed training problems whose loss draws the train curve
OP_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div"}  # for run directory names

def batch(ops:np.ndarray, a:np.ndarray, b:np.ndarray, digits:int, scratchpad:bool) -> tuple[Tensor, Tensor]:
  return tuple(Tensor(t) for t in batch_arrays(ops, a, b, digits, scratchpad))

def ask(question:str, run_dir:str):
  config, model, step = load_run(run_dir)
  if config.get("experiment") != "calculator": raise BadInput("run", f"{run_dir} is a {config.get('experiment')} run, not a calculator run")
  digits, ops, scratchpad = config["data"]["digits"], config["data"]["ops"], config["data"]["scratchpad"]
  if not (m := re.fullmatch(r"\s*(\d+)\s*(\S)\s*(\d+)\s*", question)): raise BadInput("ask", f"wants a question like '123*45', got {question[:40]!r}")
  if m[2] not in ops: raise BadInput("ask", f"{m[2]!r} is not an operator this model learned: it knows {' '.join(ops)}")
  if max(len(m[1].lstrip("0")), len(m[3].lstrip("0"))) > digits:  # before int(): Python refuses to parse 4,300 digits or more
    raise BadInput("ask", f"this model reads operands of up to {digits} digits, got {question[:40]!r}{'...' if len(question) > 40 else ''}")
  a, op, b = int(m[1]), m[2], int(m[3])
  if op == "/" and b == 0: raise BadInput("ask", f"{question.strip()!r} divides by zero")
  written = written_answers(make_greedy_decoder(model), np.array([op]), np.array([a]), np.array([b]), digits, scratchpad)
  cli.print_answer(f"{a}{op}{b}", answer_of(np.array([op]), written, digits, scratchpad)[0], true_answer(op, a, b),
                   "".join(VOCAB[t] for t in written[0]), step)

@cli.guarded
def main():
  parser = cli.ArgumentParser(description=__doc__)
  g = parser.add_argument_group("data")
  g.add_argument("--digits", type=int, default=2, help="digits per operand, 1 to 6 (operands zero-padded to this)")
  g.add_argument("--ops", default=OPS, help="the operators to learn, any of +-*/")
  g.add_argument("--test-size", type=int, default=4000, help="held-out problems, spread evenly over the operators")
  g.add_argument("--scratchpad", action=argparse.BooleanOptionalAction, default=False,
                 help="write a product's partial products a * (each digit of b) before the product")
  cli.add_problem_args(g, "123*45")
  if (args := cli.parse_gpt_args(parser, ask)) is None: return  # it answered --ask

  problems = CalculatorProblems(args.digits, args.ops, args.test_size, args.seed, args.batch_size)  # checks the data flags first
  data = {k: getattr(args, k) for k in ("digits", "ops", "test_size", "batch_size", "scratchpad")}
  name = "-".join(OP_NAMES[op] for op in args.ops) + "-scratch" * args.scratchpad
  run = cli.run_config(args, "calculator", data, f"calculator-{args.digits}d-{name}-seed{args.seed}", vocab=len(VOCAB),
                       ctx_len=2 * args.digits + 2 + answer_width(args.digits, args.scratchpad))
  model, opt = run.build()
  test = problems.test()
  out = cli.make_run_dir(run, resume=bool(args.resume))
  print(f"{args.digits}-digit {' '.join(args.ops)}, {len(test[0])} held-out problems; writing {out}/")
  train_sample, test_set = batch(*problems.sample(TRAIN_SAMPLE), args.digits, args.scratchpad), batch(*test, args.digits, args.scratchpad)
  data = Data(lambda: batch(*problems.sample(), args.digits, args.scratchpad), {"train": train_sample, "test": test_set},
              span=target_span(train_sample[1].numpy()), extra_metrics=exact_match_metrics(model, *test, args.digits, args.scratchpad),
              rng=problems.rng)
  rows = train(model, opt, data, run, resume=bool(args.resume))
  print(summary(rows))
  print("exact match by operator: " + ", ".join(f"{k}: {v['exact']:.4f} (n={v['n']})" for k, v in rows[-1]["test_exact_by_op"].items()))
  print(f"wrote {out}/config.json, metrics.jsonl, checkpoint.json, model.safetensors, loss.png")

if __name__ == "__main__": main()
