"""Processes the harness starts, and what it reads about them from /proc.

Owns: starting children pinned to a core (each in its own process group, with
a parent-death signal so they die with the harness), stopping them, and the
Linux counters the tables are made of (CPU time, peak RSS, open fds, system
busy time, TCP connections per port). Must not decide what to measure
(harness.py) or how to print it (report.py).
"""

import ctypes
import os
import resource
import select
import signal
import socket
import subprocess
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    """Runs in a child between fork and exec: if the harness dies (even by
    SIGKILL), the kernel kills the child too. The setting survives exec."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def pinned(core, argv):
    """`argv` run on CPU `core` (taskset execs it: the pid stays the same)."""
    return argv if core is None else ["taskset", "-c", str(core), *argv]


class Procs:
    """Every long-running process the harness started; `stop_all` ends them."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.live = []

    def start(self, name, argv, core=None, env=None, stdout=subprocess.DEVNULL):
        log = open(os.path.join(self.log_dir, f"{name}.log"), "ab")
        p = subprocess.Popen(
            pinned(core, argv),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=log,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        self.live.append(p)
        return p

    def stop(self, p, grace=5.0):
        """SIGINT to the process group (fast shutdown for Pingora, nginx and the
        mock), then SIGKILL to the group if it is still there after `grace`."""
        if p not in self.live:
            return
        self.live.remove(p)
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # nginx's workers share the master's group: make sure none is left.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p.stdout:
            p.stdout.close()

    def stop_all(self):
        for p in list(reversed(self.live)):
            self.stop(p, grace=3.0)


def read_line(p, timeout):
    """The first stdout line of `p`, within `timeout` seconds, or None."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = p.stdout.fileno()
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or p.poll() is not None:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            buf += chunk
    return buf.split(b"\n", 1)[0].decode(errors="replace")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # Field 2 (comm) may hold spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def cpu_ticks(pid):
    """utime + stime of a process (all its threads, dead ones included)."""
    try:
        rest = _stat_fields(pid)
    except (OSError, ValueError):
        return 0
    return int(rest[11]) + int(rest[12])


def cpu_ns(pid):
    """CPU time of a process in ns: the sum over its threads of
    /proc/<pid>/task/<tid>/schedstat's first field, the scheduler's exact
    runtime (utime + stime are the same total, in 10 ms ticks). A thread that
    exits takes its share with it; the proxies here keep their threads."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    total = 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat_fields(entry)[1]) == pid:
                    out.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return out


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def system_busy_ticks():
    """Busy time of all CPUs (everything but idle and iowait), in ticks."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4]


def children_cpu_seconds():
    """CPU time of the harness's children that have exited (the load
    generators: they are the only ones that exit during a measurement)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class ConnSampler:
    """Counts distinct TCP connections to some server ports while a
    measurement runs, by sampling `ss` every `every` seconds (pinned to
    `core`). Sampling during the run sees connections that a client's exit
    would reset (no TIME-WAIT); filtering by port keeps other processes on
    the machine out. A connection is its client-side port: the client socket
    while it lives, or the TIME-WAIT socket of whichever side closed first.
    Connections already closing when the measurement starts (the warm-up's)
    are not counted; live ones that carry on into it are."""

    def __init__(self, ports, core, every=1.0):
        self.ports = {p: set() for p in ports if p}
        self.core, self.every = core, every
        self._dead = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        # Closing or closed (the warm-up client's sockets): not counted.
        self._dead = {key for key, state in self._scan() if state != "ESTAB"}
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)
        self.sample()  # the last one, after the run

    def count(self, port):
        return len(self.ports[port]) if port in self.ports else None

    def _run(self):
        while not self._stop.wait(self.every):
            self.sample()

    def sample(self):
        for key, _ in self._scan():
            if key not in self._dead:
                self.ports[key[0]].add(key[1])

    def _scan(self):
        """((server port, client port), state) of each watched socket."""
        try:
            out = subprocess.run(pinned(self.core, ["ss", "-Htan"]), capture_output=True,
                                 text=True, timeout=20).stdout
        except (OSError, subprocess.TimeoutExpired):
            return []
        found = []
        for line in out.splitlines():
            cols = line.split()
            if len(cols) < 5 or cols[0] == "LISTEN":
                continue
            try:
                lport, pport = int(cols[3].rsplit(":", 1)[1]), int(cols[4].rsplit(":", 1)[1])
            except (ValueError, IndexError):
                continue
            if pport in self.ports:
                found.append(((pport, lport), cols[0]))
            elif cols[0] == "TIME-WAIT" and lport in self.ports:
                found.append(((lport, pport), cols[0]))
        return found


def established(port):
    """Live connections to the server port `port` (client side)."""
    try:
        out = subprocess.run(
            ["ss", "-Htn", "state", "established", f"( dport = :{port} )"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return len([line for line in out.splitlines() if line.strip()])
