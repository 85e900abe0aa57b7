"""The stub launcher of inferd's Python backend: one per interpreter, started
at the first stub that interpreter runs. It imports what every stub needs
(the interpreter itself, numpy, the stub and triton_python_backend_utils:
150 to 250 ms of CPU a stub on a small machine) once, and each stub is then a
fork of it, ready in a few milliseconds. A stub is still a process of its own
for one model instance, exactly as one the server starts itself.

fd 3 is a SOCK_SEQPACKET socket to the server (stub_launcher.h):
  server -> launcher: any one-byte message carrying three descriptors
      (SCM_RIGHTS): the stub's socket, region and channel (its fds 3, 4, 5).
  launcher -> server: {"pid": N} with a pidfd of the stub (SCM_RIGHTS), or
      {"error": text} (no stub was started).
  launcher -> server, unasked: {"exit": pid, "status": S} when a stub ended
      (S is the raw wait status, as waitpid gives it).
The launcher exits when the server's end closes; the stubs it started notice
their own sockets close and exit too.
"""

import array
import fcntl
import json
import os
import select
import signal
import socket
import sys
import traceback

LAUNCHER_FD = 3
FD_LIMIT = 3  # descriptors a request carries

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import inferd_python_stub as stub  # noqa: E402  (numpy and triton_python_backend_utils with it)


def send(sock, message, fds=()):
    body = json.dumps(message).encode()
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    sock.sendmsg([body], ancillary)


def received_fds(ancillary):
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return list(fds)


def run_stub(launcher, wakeup, fds):
    """In the forked child: becomes a stub with `fds` at 3, 4 and 5. Never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in wakeup:
            os.close(fd)
        launcher.detach()  # fd 3 is about to be the stub's socket: this object must not close it
        # Out of the way of 3..5 first (the received ones may already sit there).
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds]
        for fd in fds:
            os.close(fd)
        for target, fd in zip((stub.SOCKET_FD, stub.REGION_FD, stub.CHANNEL_FD), high):
            os.dup2(fd, target)
            os.close(fd)
        # Each stub draws its own random numbers, as a process started afresh would.
        if "random" in sys.modules:
            sys.modules["random"].seed()
        if "numpy.random" in sys.modules:
            sys.modules["numpy.random"].seed()
        sys.argv = [stub.__file__]
        code = stub.main()
    except SystemExit as e:
        code = e.code
    except BaseException:  # noqa: BLE001 (the stub's own failure, reported as a direct start would)
        traceback.print_exc()
        code = 1
    # A normal interpreter exit (atexit handlers, buffered output), as the
    # stub has when started directly.
    sys.exit(code)


def spawn(launcher, wakeup, fds):
    if len(fds) != FD_LIMIT:
        for fd in fds:
            os.close(fd)
        send(launcher, {"error": f"expected {FD_LIMIT} descriptors, got {len(fds)}"})
        return
    try:
        pid = os.fork()
    except OSError as e:
        for fd in fds:
            os.close(fd)
        send(launcher, {"error": f"fork: {e}"})
        return
    if pid == 0:
        run_stub(launcher, wakeup, fds)
    for fd in fds:
        os.close(fd)
    try:
        # Not reaped yet (only the SIGCHLD path reaps, later in this loop):
        # the pidfd is the child's, whatever happened to it since.
        pidfd = os.pidfd_open(pid)
    except OSError as e:
        os.kill(pid, signal.SIGKILL)
        send(launcher, {"error": f"pidfd_open: {e}"})
        return
    try:
        send(launcher, {"pid": pid}, [pidfd])
    finally:
        os.close(pidfd)


def reap(launcher):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send(launcher, {"exit": pid, "status": status})


def main():
    if not hasattr(os, "pidfd_open"):
        sys.exit("inferd stub launcher: this Python has no os.pidfd_open (3.9 or later is needed)")
    launcher = socket.socket(fileno=LAUNCHER_FD)
    wakeup = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    # Ctrl-C reaches the server's whole process group: the server decides
    # when its stubs and this launcher go.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select() through the pipe
    signal.set_wakeup_fd(wakeup[1])
    try:
        serve(launcher, wakeup)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server went away while we were answering
    return 0


def serve(launcher, wakeup):
    while True:
        readable, _, _ = select.select([launcher, wakeup[0]], [], [])
        if wakeup[0] in readable:
            while True:
                try:
                    if not os.read(wakeup[0], 512):
                        break
                except BlockingIOError:
                    break
            reap(launcher)
        if launcher in readable:
            message, ancillary, _, _ = launcher.recvmsg(16, socket.CMSG_SPACE(FD_LIMIT * 4 + 16))
            fds = received_fds(ancillary)
            if not message:
                for fd in fds:
                    os.close(fd)
                return  # the server went away
            spawn(launcher, wakeup, fds)


if __name__ == "__main__":
    sys.exit(main())
