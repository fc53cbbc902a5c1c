"""Runs a command on a pseudo-terminal, as an operator at a terminal would.

usage: pty-run.py WAIT_FOR SEND TIMEOUT_S -- COMMAND ARGS...

Once the output contains WAIT_FOR, writes SEND (Python escapes: "\\x03" is Ctrl-C, "\\x04" is
Ctrl-D, "yes\\r" an answer). Prints one JSON line: {"code": exit code or null, "signal": signal
number or null, "output": everything the terminal showed, "sent": true when SEND was written}.
The command is killed after TIMEOUT_S seconds (then "timeout": true).
"""
import json
import os
import pty
import select
import signal
import sys
import time


def main() -> None:
    wait_for, send, timeout = sys.argv[1], sys.argv[2].encode().decode("unicode_escape").encode("latin-1"), float(sys.argv[3])
    cmd = sys.argv[sys.argv.index("--") + 1 :]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(cmd[0], cmd, os.environ)
    output = b""
    sent = False
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            timed_out = True
            break
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        if not sent and wait_for.encode() in output:
            time.sleep(0.2)
            os.write(fd, send)
            sent = True
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    print(json.dumps({"code": code, "signal": sig, "output": output.decode("utf-8", "replace"), "sent": sent, "timeout": timed_out}))


main()
