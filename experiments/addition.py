"""Addition: a GPT learns a+b=c with the answer's digits reversed, and is scored on problems it never saw.
The experiment lives in tinyarith/addition.py, where run() is the same from Python."""
from tinyarith.addition import main

if __name__ == "__main__": main()
