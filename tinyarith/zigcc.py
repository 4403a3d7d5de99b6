"""tinygrad's clang command line run by zig's clang (pip install ziglang), for a machine without the clang binary. tinygrad
asks for --target=<arch>-none-unknown-elf, reads the object from stdout and writes the source to stdin; zig cc spells the
target <arch>-freestanding-none and writes its object to a file, so this passes the source and the object through files.
Run as a script (machine.use_zig_without_clang points CC at a launcher of it), so it imports nothing but the standard library."""
import os, subprocess, sys, tempfile

TARGETS = {"--target=x86_64-none-unknown-elf": "x86_64-freestanding-none", "--target=arm64-none-unknown-elf": "aarch64-freestanding-none"}

def main(args:list[str]) -> int:
  flags = [x for a in args if a not in ("-", "-o", "-x", "c") for x in (["-target", TARGETS[a]] if a in TARGETS else [a])]
  with tempfile.TemporaryDirectory() as tmp:
    source, obj = os.path.join(tmp, "kernel.c"), os.path.join(tmp, "kernel.o")
    with open(source, "wb") as f: f.write(sys.stdin.buffer.read())
    if code := subprocess.run([os.environ["TINYARITH_ZIG"], "cc", *flags, "-g0", source, "-o", obj]).returncode: return code
    with open(obj, "rb") as f: sys.stdout.buffer.write(f.read())
  return 0

if __name__ == "__main__": sys.exit(main(sys.argv[1:]))
