import os
# POCL prints "1 warning generated." for each kernel with tinygrad's `if ((lidx0==0))` (clang's -Wparentheses-equality),
# in the middle of the progress bar; -w, a standard OpenCL build option, silences warnings only. Read when OpenCL starts.
os.environ.setdefault("POCL_EXTRA_BUILD_FLAGS", "-w")

from tinyarith import programs
programs.install()
