"""The build step of the gpool package: generates the stubs of ../proto/gpool.proto into the
built package (gpool/_generated), so an installed gpool never carries stale ones."""

import importlib.util
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithStubs(build_py):
    def run(self):
        super().run()
        # gpool/_stubs.py alone, not the package: the build needs no grpc.
        spec = importlib.util.spec_from_file_location(
            "gpool_build_stubs", os.path.join(HERE, "gpool", "_stubs.py"))
        stubs = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(stubs)
        if not os.path.isfile(stubs.SOURCE_PROTO):
            raise SystemExit(f"{stubs.SOURCE_PROTO} not found: build the gpool package from "
                             "a checkout of the repository (pip install ./python)")
        stubs.generate(os.path.join(self.build_lib, "gpool", "_generated"))


setup(cmdclass={"build_py": BuildPyWithStubs})
