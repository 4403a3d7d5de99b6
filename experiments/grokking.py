"""Grokking: a 1-layer transformer memorises modular arithmetic on a fraction of the pairs, then generalises.
The experiment lives in tinyarith/grokking.py, where run() is the same from Python."""
from tinyarith.grokking import main

if __name__ == "__main__": main()
