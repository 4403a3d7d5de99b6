"""The calculator: one GPT learns + - * / on N-digit operands, scored per operator, length and carry count.
The experiment lives in tinyarith/calculator.py, where run() is the same from Python."""
from tinyarith.calculator import main

if __name__ == "__main__": main()
