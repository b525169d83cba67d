"""examples/python/seed.py prints the tutorial's lines under gpool.Pool, as under
multiprocessing.Pool, and --trace names the worker process of every element."""

import os
import re
import subprocess
import sys

from conftest import PACKAGE_ROOT

SEED = os.path.join(os.path.dirname(PACKAGE_ROOT), "examples", "python", "seed.py")
EXPECTED = ["Number of cores available equals 4",
            "The sum of the square of the first 5000 integers is 41679167500"]


def _run(program, *args):
    result = subprocess.run([sys.executable, program, *args], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_seed_gpoolPool_printsTutorialLines(bin_dir):
    assert _run(SEED, "--processes", "4") == EXPECTED


def test_seed_multiprocessingImport_printsSameLines(tmp_path):
    with open(SEED) as file:
        lines = file.read().split("\n")
    imports = [i for i, line in enumerate(lines) if line.startswith("from gpool import Pool")]
    assert len(imports) == 1
    lines[imports[0]] = lines[imports[0]].replace("from gpool", "from multiprocessing")
    program = tmp_path / "seed_multiprocessing.py"
    program.write_text("\n".join(lines))
    assert _run(str(program), "--processes", "4") == EXPECTED


def test_seed_trace_namesAWorkerPidForEveryElement(bin_dir):
    lines = _run(SEED, "--processes", "2", "--trace")
    assert lines[0] == "Number of cores available equals 2"
    assert lines[-1] == EXPECTED[1]
    trace = [re.fullmatch(r"Worker (\d+) calculating square of (\d+)", line)
             for line in lines[1:-1]]
    assert all(trace), [line for line, match in zip(lines[1:-1], trace) if not match][:3]
    assert sorted(int(match.group(2)) for match in trace) == list(range(1, 5001))
    # Which of the two workers take part depends on when each registered: the first may
    # compute all 5000 elements before the second is up.
    assert 1 <= len({match.group(1) for match in trace}) <= 2
