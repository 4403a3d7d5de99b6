"""The layers point down: the command line is the roof, and no module of the library below it imports it."""
import ast, subprocess, sys
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "tinyarith"
ROOF = {"cli", "grokking", "addition", "calculator", "sweep", "plot", "progress", "tune", "export"}  # flags, main()s and what they run

def imported(path:Path) -> set[str]:
  """The tinyarith modules a file imports, wherever in it (a function's body too)."""
  names = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module == "tinyarith": names |= {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinyarith."): names.add(node.module.split(".")[1])
    elif isinstance(node, ast.Import): names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("tinyarith.")}
  return names

def test_no_module_below_the_roof_imports_the_roof():
  library = sorted(p for p in PACKAGE.glob("*.py") if p.stem not in ROOF)
  assert len(library) > 15
  assert {p.stem: sorted(imported(p) & ROOF) for p in library if imported(p) & ROOF} == {}

def test_only_the_command_line_exits():
  exits = sorted(p.stem for p in PACKAGE.glob("*.py") if "sys.exit(" in p.read_text())
  assert exits == ["__init__", "cli", "zigcc"]  # __init__: a tinygrad setting that is not a number fails its import; zigcc: a script

def test_no_import_hides_inside_a_function():
  """But matplotlib's, in figures.pyplot: 0.3 s that a start would pay before training, for pictures drawn at its end; and
  torch's and TransformerLens's, in export.torch_and_boot: an optional extra, 10 s to import."""
  hidden = {}
  for path in PACKAGE.glob("*.py"):
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if inner := [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]: hidden[f"{path.stem}.{node.name}"] = len(inner)
  assert hidden == {"figures.pyplot": 2, "export.torch_and_boot": 2}

def test_a_start_does_not_import_matplotlib():
  """Pictures are drawn at a run's end: the 0.3 s matplotlib takes to import stays off every start."""
  code = "import sys, tinyarith.grokking, tinyarith.addition, tinyarith.calculator; print('matplotlib' in sys.modules)"
  assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
