"""Runs one of Triton's QA unittest files, unchanged, and records each test's outcome.

Triton runs these files as ``python3 <file>.py [Class.test]`` (unittest.main);
their base class (qa/common/test_util.py TestResultCollector) does not work
under pytest. This driver loads the file the same way (from its own folder, so
its ``sys.path.append("../common")`` works), runs it with unittest, and writes
one JSON line per test to --out as soon as the test ends, so that a run killed
by the runner's timeout still leaves the results it had.

    python qa_driver.py --out results.jsonl infer_test.py [Class.test ...]
    python qa_driver.py --list infer_test.py          # prints the test ids
"""

import argparse
import importlib.util
import json
import os
import sys
import traceback
import unittest


def load_module(path):
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_ids(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from test_ids(t)
        else:
            yield t.id().split(".", 1)[1]  # drop the module name: Class.test


def short(test):
    tid = test.id()
    if "." in tid and not tid.startswith(("setUpClass", "tearDownClass", "setUpModule")):
        return tid.split(".", 1)[1]
    return str(test)  # a class or module fixture (_ErrorHolder)


class JsonLinesResult(unittest.TextTestResult):
    out = None  # set before the run

    def _record(self, test, outcome, detail=""):
        line = {"id": short(test), "outcome": outcome, "detail": detail[-4000:]}
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()

    def _tb(self, err):
        return "".join(traceback.format_exception(*err))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failed", self._tb(err))

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self._tb(err))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "passed", "expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "failed", "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            outcome = "failed" if issubclass(err[0], test.failureException) else "error"
            self._record(subtest, outcome, self._tb(err))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("file")
    ap.add_argument("tests", nargs="*")
    args = ap.parse_args()

    module = load_module(args.file)
    loader = unittest.TestLoader()
    suite = (loader.loadTestsFromNames(args.tests, module) if args.tests
             else loader.loadTestsFromModule(module))
    if args.list:
        for tid in test_ids(suite):
            print(tid)
        return 0
    with open(args.out, "a") as out:
        JsonLinesResult.out = out
        runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2, resultclass=JsonLinesResult)
        result = runner.run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
