#!/usr/bin/env python3
"""What an idle keep-alive connection costs modelgate, and whether a flood of
them keeps it from answering a new client (issue 11).

    bench/idle.py                  # 5,000 idle connections (needs ~5,100 fds here)
    bench/idle.py --conns 2000 --no-build

Starts the mock provider and modelgate (release, the shipped pingora.yaml
settings, `threads: 1`), opens N connections from this process, sends one
`GET /health` on each and keeps them open, and reads modelgate's VmRSS before
and after: (after - before) / N is the memory per idle connection. Then it
times a fresh client's request while all N are held, and waits past
`keepalive_idle` (set to a few seconds here) to show they are all closed.
All traffic is on 127.0.0.1; every wait is bounded.
"""

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import procs

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"
HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def read_reply(s):
    """One small response (head and Content-Length body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return buf
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def request(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(HEALTH)
        return read_reply(s)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=5000)
    ap.add_argument("--keepalive-idle", type=int, default=8, help="seconds (connections.keepalive_idle)")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.conns + 200
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
        if min(need, hard) < need:
            sys.exit(f"bench/idle: needs {need} file descriptors, the hard limit is {hard}")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "modelgate", "-p", "mock-provider"],
                       cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="mg-idle-")
    ps = procs.Procs(tmp)
    try:
        mock_port, gw_port = procs.free_port(), procs.free_port()
        ps.start("mock", [str(BIN / "mock-provider"), "--listen", f"127.0.0.1:{mock_port}", "--threads", "1"])
        d = Path(tmp)
        (d / "pingora.yaml").write_text(
            f"version: 1\nthreads: 1\npid_file: {d}/modelgate.pid\nupgrade_sock: {d}/upgrade.sock\n"
            "upstream_keepalive_pool_size: 256\n")
        (d / "gateway.yaml").write_text(
            f"listen: \"127.0.0.1:{gw_port}\"\naccess_log: off\n"
            f"connections: {{ keepalive_idle: {args.keepalive_idle}s, max_per_ip: {args.conns + 100} }}\n"
            f"providers:\n  - {{ id: mock, type: openai-compatible, base_url: \"http://127.0.0.1:{mock_port}/v1\", models: [mock-small] }}\n")
        gw = ps.start("modelgate", [str(BIN / "modelgate"), "-c", str(d / "pingora.yaml"), "-g", str(d / "gateway.yaml")],
                      env={**os.environ, "RUST_LOG": "warn"})
        if not procs.wait_tcp(gw_port):
            sys.exit("bench/idle: modelgate did not start")
        for _ in range(200):  # warm-up: allocator arenas, pools
            request(gw_port)
        before = procs.status_kb(gw.pid, "VmRSS")
        held = []
        started = time.monotonic()
        for i in range(args.conns):
            s = socket.create_connection(("127.0.0.1", gw_port), timeout=10)
            s.sendall(HEALTH)
            if not read_reply(s).startswith(b"HTTP/1.1 200"):
                sys.exit(f"bench/idle: connection {i} was not answered")
            held.append(s)
        opened = time.monotonic() - started
        time.sleep(0.5)
        after = procs.status_kb(gw.pid, "VmRSS")
        t = time.monotonic()
        fresh = request(gw_port)
        fresh_ms = (time.monotonic() - t) * 1000
        per_conn = (after - before) * 1024 / args.conns
        print(f"idle connections: {args.conns} (opened in {opened:.1f} s)")
        print(f"modelgate VmRSS: {before} KiB before, {after} KiB with them open")
        print(f"per idle connection: {per_conn / 1024:.1f} KiB ({per_conn:.0f} bytes)")
        status = fresh.split(b"\r\n", 1)[0].decode()
        print(f"a new client while they are held: {status} in {fresh_ms:.1f} ms")
        deadline = time.monotonic() + args.keepalive_idle + 10
        open_now = len(held)
        while time.monotonic() < deadline:
            open_now = procs.established(gw_port)
            if open_now == 0:
                break
            time.sleep(0.5)
        print(f"after keepalive_idle ({args.keepalive_idle} s): {open_now} still established")
        for s in held:
            s.close()
    finally:
        ps.stop_all()


if __name__ == "__main__":
    main(sys.argv[1:])
