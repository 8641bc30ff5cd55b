#!/usr/bin/env python3
"""scripts/guest-tunnel against a real OpenSSH sshd on 127.0.0.1.

The "guest" is this machine reached through an sshd started here with a throw-away host key,
client key and config in a temp dir (port chosen free, `sshd -f CONFIG -D -e`), configured as
Debian ships it where it matters: StreamLocalBindUnlink no, so a dropped connection leaves a
stale socket behind. Checks what a user relies on:

  - `nnbridge chat --raw -p hi` through the forwarded guest socket answers;
  - the ssh process killed (a dropped connection): guest-tunnel forwards again over the stale
    socket and chat answers again;
  - a guest socket whose directory cannot exist: the forward fails and guest-tunnel says what
    the guest's sshd needs (StreamLocalBindUnlink yes …);
  - SIGTERM stops guest-tunnel and its ssh child.

Skips (exit 77) when sshd or ssh is absent, unless NNB_REQUIRE_SSHD=1.

Usage: guest_tunnel_test.py NNBRIDGE_BINARY GUEST_TUNNEL_SCRIPT
"""
import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN, TUNNEL = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def wait_for(pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def find_sshd():
    for p in (shutil.which("sshd"), "/usr/sbin/sshd", "/usr/local/sbin/sshd"):
        if p and os.access(p, os.X_OK):
            return p
    return None


def start_sshd(sshd, tmp):
    """sshd on a free loopback port with everything in tmp; returns (process, port)."""
    for f in ("hostkey", "id"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(tmp, f)], check=True)
    shutil.copy(os.path.join(tmp, "id.pub"), os.path.join(tmp, "authorized_keys"))
    if os.geteuid() == 0:
        # A root sshd chroots its pre-auth child here; the openssh-server package's service
        # makes it at boot, which a container never ran.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    for attempt in range(5):
        port = free_port()
        with open(os.path.join(tmp, "sshd_config"), "w") as f:
            f.write(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {tmp}/hostkey
AuthorizedKeysFile {tmp}/authorized_keys
PidFile {tmp}/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowStreamLocalForwarding yes
# Debian's default, spelled out: the stale socket guest-tunnel must cope with.
StreamLocalBindUnlink no
""")
        log = open(os.path.join(tmp, "sshd.log"), "w+")
        p = subprocess.Popen([sshd, "-f", os.path.join(tmp, "sshd_config"), "-D", "-e"], stdout=log, stderr=log)

        def listening():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return True
            except OSError:
                return False

        if wait_for(lambda: listening() or p.poll() is not None, 10) and p.poll() is None:
            return p, port
        p.kill()
        p.wait()
        print("sshd did not start (port race?):\n" + open(log.name).read(), flush=True)
    raise SystemExit("sshd would not start")


def main():
    sshd, ssh = find_sshd(), shutil.which("ssh")
    if not sshd or not ssh or not shutil.which("ssh-keygen"):
        msg = "guest_tunnel: skipped: OpenSSH's sshd/ssh not installed (apt-get install openssh-server openssh-client)"
        if os.environ.get("NNB_REQUIRE_SSHD") == "1":
            print("FAIL " + msg + " and NNB_REQUIRE_SSHD=1", flush=True)
            return 1
        print(msg, flush=True)
        return 77

    tmp = tempfile.mkdtemp(prefix="nnb-tunnel-")
    procs = []
    try:
        sshd_p, port = start_sshd(sshd, tmp)
        procs.append(sshd_p)
        ssh_opts = ["-F", "/dev/null", "-i", os.path.join(tmp, "id"), "-p", str(port),
                    "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=" + os.path.join(tmp, "known_hosts"), "-o", "LogLevel=ERROR"]
        guest = getpass.getuser() + "@127.0.0.1"
        r = subprocess.run([ssh, "-n", *ssh_opts, "-o", "BatchMode=yes", guest, "true"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, "key login to the loopback sshd works" + ("" if r.returncode == 0 else ": " + r.stderr))
        if r.returncode != 0:
            print(open(os.path.join(tmp, "sshd.log")).read())
            return 1

        model = os.path.join(tmp, "tiny.gguf")
        subprocess.run([BIN, "mkmodel", "-o", model, "--seed", "5"], check=True, capture_output=True)
        host_sock = os.path.join(tmp, "host", "nn.sock")
        os.makedirs(os.path.dirname(host_sock))
        serve_log = open(os.path.join(tmp, "serve.log"), "w+")
        serve = subprocess.Popen([BIN, "serve", "--nn-rpc-uri", "unix://" + host_sock, "--nn-preload",
                                  "default:GGML:AUTO:" + model, "--threads", "2"], stdout=serve_log, stderr=serve_log)
        procs.append(serve)
        check(wait_for(lambda: "listening on" in open(serve_log.name).read(), 30), "serve is listening on the host socket")

        # The guest side: a directory the tunnel creates.
        guest_sock = os.path.join(tmp, "guest", "run", "nn.sock")
        tlog_path = os.path.join(tmp, "tunnel.log")
        tlog = open(tlog_path, "w+")
        tunnel = subprocess.Popen(["bash", TUNNEL, *ssh_opts, guest, "--host-socket", host_sock,
                                   "--guest-socket", guest_sock], stdout=tlog, stderr=tlog, start_new_session=True)
        procs.append(tunnel)

        def ssh_pids():
            return [int(x) for x in re.findall(r"ssh pid (\d+) forwarding", open(tlog_path).read())]

        def chat():
            return subprocess.run([BIN, "chat", "--raw", "-p", "hi", "-n", "4", "--temp", "0", "--connect-timeout", "5",
                                   "--nn-rpc-uri", "unix://" + guest_sock], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=60)

        check(wait_for(lambda: os.path.exists(guest_sock), 30), "the guest socket appears: " + guest_sock)
        r = chat()
        # A random model's answer is arbitrary bytes: only that there is one matters.
        check(r.returncode == 0 and r.stdout.strip() != b"",
              f"chat through the tunnel answers (rc {r.returncode}, {r.stdout!r}, {r.stderr.strip()!r})")
        first = ssh_pids()
        check(len(first) == 1, "one ssh forwarding: " + str(first))

        # A dropped connection: the ssh client dies without a goodbye.
        t0 = time.time()
        os.kill(first[0], signal.SIGKILL)
        time.sleep(0.3)
        print("after the drop the guest socket " + ("is still there (stale)" if os.path.exists(guest_sock) else "is gone"), flush=True)
        check(wait_for(lambda: len(ssh_pids()) >= 2, 30), "guest-tunnel forwards again after the drop")
        ok = wait_for(lambda: chat().returncode == 0, 30)
        check(ok, "chat answers again through the new forward (%.1f s after the drop)" % (time.time() - t0))
        text = open(tlog_path).read()
        check("forwarding failed" not in text, "no forwarding failure over the stale socket")

        # A guest socket whose directory cannot exist (its parent is a file): the hint.
        blocker = os.path.join(tmp, "not-a-dir")
        open(blocker, "w").close()
        blog_path = os.path.join(tmp, "bad.log")
        blog = open(blog_path, "w+")
        bad = subprocess.Popen(["bash", TUNNEL, *ssh_opts, guest, "--host-socket", host_sock,
                                "--guest-socket", os.path.join(blocker, "nn.sock")], stdout=blog, stderr=blog,
                               start_new_session=True)
        procs.append(bad)
        check(wait_for(lambda: "StreamLocalBindUnlink yes" in open(blog_path).read(), 30),
              "a failed forward explains what the guest's sshd needs")
        bad.send_signal(signal.SIGTERM)
        bad.wait(timeout=10)

        # SIGTERM: guest-tunnel exits 0 and takes its ssh with it.
        last = ssh_pids()[-1]
        tunnel.send_signal(signal.SIGTERM)
        try:
            rc = tunnel.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, f"SIGTERM stops guest-tunnel with status 0 (got {rc})")
        check(wait_for(lambda: not pid_alive(last), 5), "its ssh child is gone")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if failures:
            for name in ("tunnel.log", "bad.log", "sshd.log", "serve.log"):
                path = os.path.join(tmp, name)
                if os.path.exists(path):
                    print(f"---- {name}\n" + open(path).read(), flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} failure(s)" if failures else "all passed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
