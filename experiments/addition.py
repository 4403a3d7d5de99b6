"""Addition: a GPT learns a+b=c with the answer's digits reversed and the loss masked on the prompt (as in seed 000),
and reports how often it gets every digit right on problems it never saw. --ask "123+456" --run RUN_DIR asks a trained one."""
import argparse, re
import numpy as np
from tinygrad import Tensor
from tinyarith import cli
from tinyarith.data import VOCAB, AdditionProblems, addition_tokens, answer_value, next_token_targets
from tinyarith.decode import make_greedy_decoder, addition_answers, addition_exact_match
from tinyarith.config import check_memory
from tinyarith.errors import BadInput
from tinyarith.loss import target_span
from tinyarith.metrics import summary
from tinyarith.train import Data, train, load_run

TRAIN_SAMPLE = 1000  # fixed training problems whose loss draws the train curve

def batch(a:np.ndarray, b:np.ndarray, digits:int, reverse:bool) -> tuple[Tensor, Tensor]:
  tokens = addition_tokens(a, b, digits, reverse)
  return Tensor(tokens), Tensor(next_token_targets(tokens))

def ask(question:str, run_dir:str):
  config, model, step = load_run(run_dir)
  if config.get("experiment") != "addition": raise BadInput("run", f"{run_dir} is a {config.get('experiment')} run, not an addition run")
  digits, reverse = config["data"]["digits"], config["data"]["reverse"]
  if not (m := re.fullmatch(r"\s*(\d+)\s*\+\s*(\d+)\s*", question)): raise BadInput("ask", f"wants a question like '123+456', got {question!r}")
  if max(len(m[1].lstrip("0")), len(m[2].lstrip("0"))) > digits:  # before int(): Python refuses to parse 4,300 digits or more
    raise BadInput("ask", f"this model adds numbers of up to {digits} digits, got {question[:40]!r}{'...' if len(question) > 40 else ''}")
  a, b = int(m[1]), int(m[2])
  written = addition_answers(make_greedy_decoder(model), np.array([a]), np.array([b]), digits, reverse)
  cli.print_answer(f"{a}+{b}", int(answer_value(written, reverse)[0]), a + b, "".join(map(str, written[0])), step)

@cli.guarded
def main():
  parser = cli.ArgumentParser(description=__doc__)
  g = parser.add_argument_group("data")
  g.add_argument("--digits", type=int, default=3, help="digits per operand, 1 to 9 (operands zero-padded to this, the answer to one more)")
  g.add_argument("--reverse", action=argparse.BooleanOptionalAction, default=True, help="write the answer least significant digit first")
  g.add_argument("--test-size", type=int, help="held-out problems (default: 10000, or a fifth of all problems if fewer)")
  cli.add_problem_args(g, "123+456")
  if (args := cli.parse_gpt_args(parser, ask)) is None: return  # it answered --ask

  data = {k: getattr(args, k) for k in ("digits", "reverse", "test_size", "batch_size")}
  run = cli.run_config(args, "addition", data, f"addition-{args.digits}d-{'rev' if args.reverse else 'plain'}-seed{args.seed}",
                       vocab=len(VOCAB), ctx_len=3 * args.digits + 3, n_out=10)  # outputs: the digits
  check_memory(run, args.batch_size, "batch_size")  # before a batch is drawn
  problems = AdditionProblems(args.digits, args.test_size, args.seed, args.batch_size)
  model, opt = run.build()
  test_a, test_b = problems.test()
  out = cli.make_run_dir(run, resume=bool(args.resume))
  print(f"{args.digits}-digit addition, {'reversed' if args.reverse else 'plain'} answers, {len(test_a)} held-out problems; writing {out}/")
  train_sample, test_set = batch(*problems.sample(TRAIN_SAMPLE), args.digits, args.reverse), batch(test_a, test_b, args.digits, args.reverse)
  data = Data(lambda: batch(*problems.sample(), args.digits, args.reverse), {"train": train_sample, "test": test_set},
              span=target_span(train_sample[1].numpy()),  # the "=" and the answer digits: the same positions in every problem
              extra_metrics=addition_exact_match(model, test_a, test_b, args.digits, args.reverse), rng=problems.rng)
  rows = train(model, opt, data, run, resume=bool(args.resume))
  print(summary(rows))
  for name in ("carries", "operand_digits"):
    print(f"exact match by {name}: " + ", ".join(f"{k}: {v['exact']:.4f} (n={v['n']})" for k, v in rows[-1][f"test_exact_by_{name}"].items()))
  print(f"wrote {out}/config.json, metrics.jsonl, checkpoint.json, model.safetensors, loss.png")

if __name__ == "__main__": main()
