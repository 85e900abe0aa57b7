#!/usr/bin/env python3
"""inferd conformance runner: Triton's own client examples and a selection of Triton's
own QA tests, run unchanged against a real inferd. See README.md in this folder.

    TRITON_CLIENT_REPO=<client checkout> TRITON_SERVER_REPO=<server checkout at r24.10> \\
    TRITON_PYTHON_BACKEND_REPO=<python_backend checkout at r24.10> \\
        .venv/bin/python tests/conformance/run.py [--report report.md]

Fetches nothing. Without the checkouts it says so in one line and exits 0.
Exit status: 0 when every failure is listed in known_failures.py, 1 otherwise,
2 when it cannot run at all (no inferd binary)."""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

REPO_ROOT = HERE.parents[1]
DEFAULT_BIN = REPO_ROOT / "build" / "release" / "inferd"


def _checkout(var, marker):
    """The checkout named by environment variable `var`, or (None, why not)."""
    value = os.environ.get(var)
    if not value:
        return None, f"{var} is not set"
    path = Path(value).expanduser().resolve()
    if not (path / marker).exists():
        return None, f"{var}={value} has no {marker}"
    return path, ""


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _selected(name, only):
    return not only or any(s.lower() in name.lower() for s in only)


def _progress(i, total, result):
    print(f"[{i:3d}/{total}] {result.summary():<40} {result.name} ({result.seconds:.1f} s)", flush=True)


def run_examples(binary, client_repo, server_repo, work, log_dir, only):
    from examples import CASES, SESSIONS, SKIPS, run_example
    from models import build_repository, write_test_image
    from results import Result, mark_known
    from server import Inferd, ServerError, default_ports_free

    examples_dir = client_repo / "src" / "python" / "examples"
    present = sorted(p.name for p in examples_dir.glob("*.py"))
    covered = {c.script for c in CASES} | set(SKIPS)
    results = {}
    cases = [(i, c) for i, c in enumerate(CASES) if _selected(f"examples/{c.name}", only)]
    image = write_test_image(work / "example-image.jpg")
    todo = []
    for i, case in cases:
        name = f"examples/{case.name}"
        if case.script not in present:
            results[i] = Result(name, "skipped", "not in this client checkout")
        elif "{image}" in case.args and image is None:
            results[i] = Result(name, "skipped", "Pillow is not installed (needed to write the test image)")
        elif SESSIONS[case.session].default_ports and not default_ports_free():
            results[i] = Result(name, "skipped", "hard-codes localhost:8000/8001, which are in use")
        else:
            todo.append((i, case))
    total = len(todo)
    done = 0
    for session_name in dict.fromkeys(c.session for _, c in todo):  # in order of first use
        session = SESSIONS[session_name]
        repo = build_repository(work / "repos" / f"examples-{session_name}", session.models, server_repo)
        group = [(i, c) for i, c in todo if c.session == session_name]
        server = Inferd(binary, [repo], session.args, log_path=log_dir / f"examples-{session_name}.log",
                        default_ports=session.default_ports)
        try:
            server.start()
        except ServerError as exc:
            for i, case in group:
                results[i] = mark_known(Result(f"examples/{case.name}", "failed", f"inferd did not start: {exc}"))
                done += 1
                _progress(done, total, results[i])
            continue
        try:
            for i, case in group:
                results[i] = mark_known(run_example(case, examples_dir, server, str(image), log_dir))
                done += 1
                _progress(done, total, results[i])
        finally:
            server.stop()
    ordered = [results[i] for i, _ in cases]
    for script, reason in SKIPS.items():
        if script in present and _selected(f"examples/{script}", only):
            ordered.append(Result(f"examples/{script}", "skipped", reason))
    for script in present:
        if script not in covered and _selected(f"examples/{script}", only):
            ordered.append(Result(f"examples/{script}", "skipped",
                                  "no case written for this example (new upstream?): add one to examples.py"))
    return ordered


def run_qa(binary, server_repo, work, log_dir, only):
    from model_config import NAME as MODEL_CONFIG_NAME, ModelConfigChecks
    from qa import QA_FILES, QA_SKIPPED_FILES, QaRunner
    from qa_repos import QaRepos
    from results import Result
    from shell_checks import NAME as SHELL_NAME, ShellChecks

    repos = QaRepos(server_repo, work)
    runner = QaRunner(binary, server_repo, repos, work, log_dir)
    files = [qf for qf in QA_FILES if _selected(qf.name, only)]
    results = []
    checks = [(name, make) for name, make in (
        (MODEL_CONFIG_NAME, lambda: ModelConfigChecks(binary, server_repo, repos, work, log_dir)),
        (SHELL_NAME, lambda: ShellChecks(binary, repos, work, log_dir))) if _selected(name, only)]
    total = len(files) + len(checks)
    for n, qf in enumerate(files, 1):
        results.append(runner.run(qf))
        _progress(n, total, results[-1])
    for n, (_, make) in enumerate(checks, len(files) + 1):
        results.append(make().run())
        _progress(n, total, results[-1])
    for path, reason in QA_SKIPPED_FILES.items():
        if _selected(path, only):
            results.append(Result(path, "skipped", reason))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inferd", default=os.environ.get("INFERD_BIN", str(DEFAULT_BIN)),
                    help="the inferd binary (default: $INFERD_BIN or build/release/inferd)")
    ap.add_argument("--report", help="also write the report (markdown) to this file")
    ap.add_argument("--only", action="append", default=[],
                    help="run only results whose name contains this text (repeatable)")
    ap.add_argument("--part", choices=["all", "examples", "qa", "python"], default="all")
    ap.add_argument("--work", help="work folder (kept); default: a temporary one, kept only on failure")
    ap.add_argument("--strict", action="store_true",
                    help="also fail when a KNOWN_FAILURES entry passed")
    args = ap.parse_args()

    client_repo, client_why = _checkout("TRITON_CLIENT_REPO", "src/python/examples")
    server_repo, server_why = _checkout("TRITON_SERVER_REPO", "qa/common/gen_qa_models.py")
    backend_repo, backend_why = _checkout("TRITON_PYTHON_BACKEND_REPO", "examples/add_sub/model.py")
    if client_repo is None and server_repo is None and backend_repo is None:
        print(f"conformance: skipped: {client_why}, {server_why} and {backend_why} "
              "(checkouts of Triton's client, server and python_backend repositories; "
              "see tests/conformance/README.md)")
        return 0
    binary = Path(args.inferd)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        print(f"conformance: inferd binary not found or not executable: {binary} "
              "(build it, or pass --inferd / set INFERD_BIN)")
        return 2

    # SIGTERM (a CI timeout) unwinds like Ctrl-C, so every server is stopped.
    signal.signal(signal.SIGTERM, _interrupt)

    from results import Result, report, stale_entries, table, totals
    from server import DEFAULT_PORTS, default_ports_free

    work = Path(args.work).resolve() if args.work else Path(tempfile.mkdtemp(prefix="inferd-conformance-"))
    work.mkdir(parents=True, exist_ok=True)
    log_dir = work / "logs"
    log_dir.mkdir(exist_ok=True)
    start = time.monotonic()
    results = []
    try:
        if args.part in ("all", "examples"):
            if client_repo:
                results += run_examples(binary, client_repo, server_repo, work, log_dir, args.only)
            else:
                results.append(Result("examples/*", "skipped", client_why))
        if args.part in ("all", "qa"):
            if not server_repo:
                results.append(Result("qa/L0_*", "skipped", server_why))
            elif not default_ports_free():
                results.append(Result("qa/L0_*", "skipped",
                                      f"ports {'/'.join(map(str, DEFAULT_PORTS))} are in use; Triton's QA "
                                      "tests hard-code localhost:8000/8001"))
            else:
                results += run_qa(binary, server_repo, work, log_dir, args.only)
        if args.part in ("all", "python"):
            if backend_repo:
                from python_examples import run_python_examples
                results += run_python_examples(binary, backend_repo, work, log_dir, args.only, _selected, _progress)
            else:
                results.append(Result("python_backend/*", "skipped", backend_why))
    except KeyboardInterrupt:
        print(f"conformance: interrupted; partial results and logs in {work}")
        return 130

    elapsed = time.monotonic() - start
    header = (f"# inferd conformance with Triton's client examples and QA tests\n\n"
              f"inferd: `{binary}`; client: `{client_repo or '-'}`; server: `{server_repo or '-'}`; "
              f"python_backend: `{backend_repo or '-'}`; "
              f"{elapsed:.0f} s.")
    text = report(results, header)
    print()
    print(table(results))
    t = totals(results)
    unexpected = [u for r in results for u in r.unexpected()]
    stale = stale_entries(results)
    print(f"\n{t['passed']} passed, {t['failed']} failed ({t['known']} known), {t['skipped']} skipped "
          f"in {elapsed:.0f} s")
    for s in stale:
        print(f"note: KNOWN_FAILURES entry passed, remove it: {s}")
    if args.report:
        Path(args.report).write_text(text + "\n")
        print(f"report: {args.report}")
    failed = bool(unexpected) or (args.strict and bool(stale))
    if failed or args.work:
        print(f"logs: {log_dir}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if unexpected:
        print(f"conformance: FAILED: {len(unexpected)} unexpected failure(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
