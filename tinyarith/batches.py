"""Batches as the steps take them: padded to a multiple of ROWS rows, stacked runs' batches as one, and a whole set cut
into chunks of rows that one captured step evaluates (or decodes) each."""
import math
import numpy as np
from tinygrad import Tensor
from tinygrad.helpers import round_up
from tinyarith.loss import IGNORE
from tinyarith.model import to_device

Batch = tuple[Tensor, Tensor]  # tokens (B, T), targets (B, T)

ROWS = 64  # batches are padded to a multiple of this many rows

def pad_rows(x:Tensor, y:Tensor, multiple:int=ROWS) -> Batch:
  """Pad a batch to a multiple of `multiple` rows with rows whose targets are all IGNORE, which leaves the loss and accuracy
  as they are. The CPU code generator tiles a matmul only over row counts with small factors: the grokking set's
  3830 = 2·5·383 rows ran 2.5x slower than 3840."""
  pad = -x.shape[-2] % multiple  # rows are the second-last axis: (B, T), or (R, B, T) for stacked runs
  rows = lambda t: ((0, 0),) * (t.ndim - 2) + ((0, pad), (0, 0))
  return x.pad(rows(x)), y.pad(rows(y), value=IGNORE)

def stack_rows(batches:list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
  """The batches of stacked runs, (B_r, T) each, as one (R, max B_r, T) pair, the shorter padded with ignored rows."""
  n = max(len(x) for x, _ in batches)
  pad = lambda t, value: np.pad(t, ((0, n - len(t)), (0, 0)), constant_values=value)
  return np.stack([pad(x, 0) for x, _ in batches]), np.stack([pad(y, IGNORE) for _, y in batches])

EVAL_POSITIONS = 6144  # rows × positions evaluated at once (512 addition problems): each JIT holds the activations of one
                       # chunk, which sets a run's peak memory; a chunk more costs ~4 ms of launches and reads per evaluation

def chunk_size(n:int, positions:int) -> int:
  """Rows per chunk for a set of n rows of `positions` tokens: the fewest chunks within EVAL_POSITIONS, of one size in whole
  ROWS. Sets of one size share one captured step (addition's train sample and test set: 512 rows)."""
  most = max(ROWS, EVAL_POSITIONS // positions // ROWS * ROWS)
  return round_up(math.ceil(n / math.ceil(n / most)), ROWS)

def chunks(x:Tensor, y:Tensor) -> list[Batch]:
  """A set (B, T), or a stack of runs' sets (R, B, T), cut into chunks of rows, the last padded with ignored rows. Cut on the
  host: slices of a device Tensor scheduled two kernels per chunk, 1.5 s of a start."""
  size = chunk_size(x.shape[-2], x.shape[-1] * (x.shape[0] if x.ndim == 3 else 1))
  xs, ys = (t.numpy() for t in pad_rows(x, y, size))
  return [(to_device(xs[..., i:i + size, :], x.device), to_device(ys[..., i:i + size, :], x.device)) for i in range(0, xs.shape[-2], size)]
