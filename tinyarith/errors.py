"""What can stop a run, apart from a bug: bad input, an interrupt, divergence, a full disk. At the bottom of the library, so that any
module may raise them and the command line (tinyarith.cli) turns each into one line on stderr."""
import signal
from pathlib import Path

def flag(field:str) -> str: return "--" + field.replace("_", "-")  # how the command line names a setting

class BadInput(ValueError):
  """Input the library refuses. `field` names the setting (a Config or RunConfig field, a data setting, "resume"), which
  the command line shows as its flag; None when it is not one setting."""
  def __init__(self, field:str|None, message:str):
    super().__init__(f"{field}: {message}" if field else message)
    self.field, self.message = field, message

class Interrupted(Exception):
  """SIGINT or SIGTERM stopped the run at `step`. `saved` is the step of its last checkpoint, None if it has none; `plotted`,
  whether its pictures (and a sweep's summary) were drawn."""
  def __init__(self, step:int, signum:int, out_dir:Path, saved:int|None, plotted:bool=True):
    super().__init__(f"interrupted at step {step}")
    self.step, self.signum, self.out_dir, self.saved, self.plotted = step, signum, out_dir, saved, plotted

class Stop(KeyboardInterrupt):
  """SIGTERM outside the training loop, raised as SIGINT raises KeyboardInterrupt (cli.guarded sets this up)."""
  signum = signal.SIGTERM

class Diverged(Exception):
  """The loss or the weights stopped being finite; the last good checkpoint is kept and the plot written."""

class DiskFull(Exception):
  """A write to the run directory found the disk full. What was written before it is kept; `saved` is the step of the last
  good checkpoint, None if there is none."""
  def __init__(self, message:str, out_dir:Path, saved:int|None):
    super().__init__(message)
    self.out_dir, self.saved = out_dir, saved
