#!/usr/bin/env python3
"""`nnbridge chat` at a real terminal: a pseudo-terminal drives it against a real `nnbridge serve`.

Checks what a user sees: the banner (model, device), the model's chat template applied (the
generated model has none: chatml, as the banner says), the history kept from turn to turn (each
rendered prompt, printed by --show-prompt, holds the earlier turns; -v shows the server reused
its KV cache), /reset, Ctrl-C stopping an answer but not the program, /exit, and the readline
history file.

Usage: cli_chat_pty_test.py NNBRIDGE_BINARY
"""
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


class Term:
    """A child on a pseudo-terminal; output is collected as text."""

    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(argv[0], argv, env)
        self.out = ""

    def read_until(self, pattern, timeout=30.0, start=0):
        deadline = time.time() + timeout
        rx = re.compile(pattern, re.S)
        while time.time() < deadline:
            m = rx.search(self.out, start)
            if m:
                return m
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                self.out += data.decode("utf-8", "replace")
        return rx.search(self.out, start)

    def send(self, text):
        os.write(self.fd, text.encode())

    def wait(self, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            self.read_until(r"$^", timeout=0.05)  # keep draining
        os.kill(self.pid, signal.SIGKILL)
        return None


def main():
    tmp = tempfile.mkdtemp(prefix="nnb-chat-pty-")
    serve = None
    try:
        model = os.path.join(tmp, "tiny.gguf")
        subprocess.run([BIN, "mkmodel", "-o", model, "--seed", "3"], check=True, capture_output=True)
        sock = os.path.join(tmp, "nn.sock")
        log = open(os.path.join(tmp, "serve.log"), "w+")
        serve = subprocess.Popen([BIN, "serve", "--nn-rpc-uri", "unix://" + sock, "--nn-preload",
                                  "default:GGML:AUTO:" + model, "--threads", "2"], stdout=log, stderr=log)
        deadline = time.time() + 20
        while time.time() < deadline and "listening on" not in open(log.name).read():
            time.sleep(0.02)
        check("listening on" in open(log.name).read(), "serve is listening")

        env = dict(os.environ, HOME=tmp, TERM="xterm")
        uri = "unix://" + sock
        t = Term([BIN, "chat", "--nn-rpc-uri", uri, "-s", "Be brief.", "--temp", "0", "-n", "6", "--show-prompt", "-v"], env)
        m = t.read_until(r"nnbridge chat: model 'default' on (.*?) at unix://.*?chatml.*?\n.*?> ")
        check(m is not None, "banner names the model, the device and the template, then the prompt")

        mark = len(t.out)
        t.send("Hello there\r")
        m = t.read_until(r"---- prompt\r?\n(.*?)---- end of prompt.*?> ", start=mark)
        check(m is not None, "turn 1 answered")
        p1 = m.group(1) if m else ""
        check("<|im_start|>system\r\nBe brief.<|im_end|>" in p1 and "<|im_start|>user\r\nHello there<|im_end|>" in p1
              and p1.rstrip().endswith("<|im_start|>assistant"), "turn 1 prompt: system + user in chatml")

        mark = len(t.out)
        t.send("And then?\r")
        m = t.read_until(r"---- prompt\r?\n(.*?)---- end of prompt(.*?)> ", start=mark)
        check(m is not None, "turn 2 answered")
        p2, rest = (m.group(1), m.group(2)) if m else ("", "")
        check("Hello there" in p2 and "<|im_start|>assistant\r\n" in p2 and "And then?" in p2
              and p2.index("Hello there") < p2.index("And then?"), "turn 2 prompt holds turn 1 (history kept)")
        c = re.search(r"\((\d+) from the cache\)", rest)
        check(c is not None and int(c.group(1)) > 0, "turn 2 reused the server's KV cache: " + (c.group(0) if c else "?"))

        mark = len(t.out)
        t.send("/reset\r")
        check(t.read_until(r"\[new conversation\].*?> ", start=mark) is not None, "/reset")
        mark = len(t.out)
        t.send("Fresh start\r")
        m = t.read_until(r"---- prompt\r?\n(.*?)---- end of prompt.*?> ", start=mark)
        check(m is not None and "Hello there" not in m.group(1) and "Be brief." in m.group(1),
              "after /reset only the system prompt remains")

        mark = len(t.out)
        t.send("/exit\r")
        check(t.wait() == 0, "/exit quits with status 0")
        hist = os.path.join(tmp, ".nnbridge_history")
        check(os.path.exists(hist) and "Hello there" in open(hist).read(), "readline history saved")

        # Ctrl-C during a long answer stops it; the program goes on.
        t = Term([BIN, "chat", "--nn-rpc-uri", uri, "--temp", "0", "-n", "-1"], env)
        check(t.read_until(r"> ") is not None, "second session ready")
        mark = len(t.out)
        t.send("Tell me everything\r")
        # The answer has begun: some of its text after the echoed line (and readline's
        # bracketed-paste reset). A Ctrl-C while readline still holds the terminal belongs to
        # the prompt, not to the answer.
        t.read_until(r"Tell me everything\r\n(?:\x1b\[\?2004l)?\r?[^\x1b]{8}", start=mark)
        t.send("\x03")
        m = t.read_until(r"\[stopped\].*?> ", start=mark, timeout=20)
        check(m is not None, "Ctrl-C stopped the answer and the prompt came back")
        mark = len(t.out)
        t.send("/exit\r")
        check(t.wait() == 0, "still alive after Ctrl-C: /exit quits with status 0")
        # The server logs the stop when it notices the cancelled stream (within ~50 ms): poll.
        deadline = time.time() + 10
        while time.time() < deadline and "generate stopped after" not in open(log.name).read():
            time.sleep(0.05)
        check("generate stopped after" in open(log.name).read(), "the server stopped generating for the stopped answer")
    finally:
        if serve:
            serve.kill()
            serve.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


main()
