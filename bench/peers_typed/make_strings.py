#!/usr/bin/python3
"""W5's input: N strings of 100 ASCII letters and digits, one a line, the same on every run.

  make_strings.py N FILE     writes FILE and prints the sha256 of the expected `upper` output
                             (the upper-cased lines, each ended by a newline).
"""
import hashlib
import random
import string
import sys

ALPHABET = string.ascii_letters + string.digits
LENGTH = 100


def strings(n):
    # A fixed seed: every run, every system and every machine maps the same bytes.
    rng = random.Random(19)
    return ["".join(rng.choices(ALPHABET, k=LENGTH)) for _ in range(n)]


def main(n, path):
    lines = strings(n)
    with open(path, "w", encoding="ascii") as f:
        f.write("".join(s + "\n" for s in lines))
    print(hashlib.sha256("".join(s.upper() + "\n" for s in lines).encode("ascii")).hexdigest())


if __name__ == "__main__":
    main(int(float(sys.argv[1])), sys.argv[2])
