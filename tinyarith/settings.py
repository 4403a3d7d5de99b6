"""A run's settings by name, the names its command line's flags have: the defaults, held by the dataclasses the settings
belong to (model.Config, config.RunConfig, an experiment's problems) and an experiment's few departures from them; what
a caller gave; and, on resume, what the run was started with."""
from dataclasses import MISSING, fields
from pathlib import Path
from types import NoneType
from typing import get_args, get_type_hints
from tinyarith.abacus import SCHEMES
from tinyarith.config import SHAPE
from tinyarith.errors import BadInput, flag
from tinyarith.rundir import saved_settings

# how long a run goes on, how often it reports and where it runs: what a resume may change
RESUMABLE = ("steps", "eval_every", "ckpt_every", "shard", "devices")
PATHS = ("out", "resume")
# where the GPT experiments (addition, the calculator) depart from the defaults: the GPT of seed 000
GPT_DEFAULTS = dict(n_layers=4, layernorm=True, pos="rope", beta2=0.999, weight_decay=0.01, steps=5000, eval_every=250, batch_size=256)

def defaults_of(*classes) -> dict:
  """The defaults of the dataclasses' fields, by name, but for the model's shape, which the problems set (config.SHAPE)."""
  return {f.name: f.default for c in classes for f in fields(c) if f.default is not MISSING and f.name not in SHAPE}

KINDS = {int: "an integer", float: "a number", bool: "True or False", str: "text"}

def check_types(settings):
  """BadInput naming the first field of a settings dataclass whose value is not of the type its annotation says (a bool
  is not an integer; an integer is a number; None only where the annotation allows it)."""
  for name, annotation in get_type_hints(type(settings)).items():
    kinds, value = get_args(annotation) or (annotation,), getattr(settings, name)
    kind = next(k for k in kinds if k is not NoneType)
    ok = isinstance(value, NoneType) and NoneType in kinds or \
         isinstance(value, (int, float) if kind is float else kind) and (kind is bool or not isinstance(value, bool))
    if not ok: raise BadInput(name, f"must be {KINDS[kind]}, got {value!r}")

def as_text(value) -> str: return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

def one_or_list(name:str, value, listable:tuple[str, ...]):
  """A given value as a run takes it: a path as text; a list, tuple or range of a setting a sweep may list as a list (one
  item: that item). BadInput naming the setting for an empty path, an empty list, or a list where one value belongs."""
  if isinstance(value, Path) or name in PATHS:
    if str(value) == "": raise BadInput(name, "an empty path names no directory")
    return str(value)
  if not isinstance(value, (list, tuple, range)) or name == "devices": return value
  if name not in listable: raise BadInput(name, f"takes one value, got {value!r}")
  if not (items := list(value)): raise BadInput(name, "an empty list names no value")
  if len(set(items)) < len(items): raise BadInput(name, f"{as_text(items)} lists a value twice")
  return items[0] if len(items) == 1 else items

def resolve(given:dict, defaults:dict, listable:tuple[str, ...]=()) -> dict:
  """Every setting of a run or sweep: the given ones (None: the default) over, with resume=RUN_DIR, the ones that run was
  started with, over the defaults. An unknown name is TypeError. A resume that changes a setting other than RESUMABLE,
  names an --out, or names no readable run is BadInput naming the setting."""
  if unknown := sorted(given.keys() - defaults.keys()): raise TypeError(f"unknown settings {unknown}: see {sorted(defaults)}")
  given = {k: one_or_list(k, v, listable) for k, v in given.items() if v is not None}
  if not (resume := given.get("resume")): return {**defaults, **given}
  if "out" in given: raise BadInput("out", "--resume continues the run in its own directory: drop --out")
  try: saved = {k: v for k, v in saved_settings(Path(resume)).items() if k in defaults and k not in PATHS}
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise BadInput("resume", f"{resume}: not a run directory with a readable config.json, nor a sweep's with a sweep.json ({e})") from None
  if changed := [k for k, v in given.items() if k in saved and k not in RESUMABLE and v != saved[k]]:
    raise BadInput(changed[0], f"{resume} was trained with {flag(changed[0])} {as_text(saved[changed[0]])}, not {as_text(given[changed[0]])}")
  return {**defaults, **saved, **given}

def check_unpacked(pos:str):
  """A run whose problems carry no digit places (grokking, addition) cannot take abacus or coupled positions."""
  if pos in SCHEMES: raise BadInput("pos", f"{pos} positions need each digit's place in its number, which only the calculator's problems carry")
