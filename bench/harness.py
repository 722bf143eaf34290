#!/usr/bin/env python3
"""modelgate's benchmark harness (issue 5); bench/run.sh is the way in.

Owns what is measured and in which order: for every cell (a mode at a
concurrency) and every target (the mock directly, nginx, modelgate), it
starts fresh processes pinned to their cores, warms up, measures, reads the
proxy's CPU time and peak RSS, and stops everything; then the soak. Raw rows
go to bench/results/<stamp>.jsonl as they come; report.py turns them into
the markdown table. See bench/README.md for what each number means.
"""

import argparse
import http.client
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import procs
import report
from procs import CLK_TCK

ROOT = Path(__file__).resolve().parent.parent
# Where cargo put the release binaries: $CARGO_TARGET_DIR (relative to the repo
# root, as run.sh builds from there) or target/.
BIN = ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "release"
BENCH = ROOT / "bench"
PATH = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Say hello in one short sentence, please."}]
BODY_PLAIN = {"model": "mock-small", "messages": MESSAGES}
BODY_STREAM = {**BODY_PLAIN, "stream": True, "stream_options": {"include_usage": True}}
# The same prompt as a Responses API request (what Codex sends), streamed.
RESPONSES_PATH = "/v1/responses"
BODY_RESPONSES = {"model": "mock-small", "input": MESSAGES[0]["content"], "stream": True}
# How a complete stream ends, as a Lua pattern for bench/wrk/post.lua's check
# in warm-ups (wrk itself only sees HTTP framing), and as bytes the preflight
# looks for: a chat stream's `data: [DONE]`, a Responses stream's last event.
END_CHAT = ("data: %[DONE%]\n\n$", b"data: [DONE]\n\n")
END_RESPONSES = ("event: response%.completed\ndata: [^\n]*\n\n$", b"event: response.completed\n")
TARGETS = ("direct", "nginx", "modelgate")
# Set from --access-log: modelgate writes its JSON access log (to /dev/null).
ACCESS_LOG = False
# Target modelgate-teams (opt-in): modelgate holding every request to a
# team key with rate limits, a budget and a per-address limit (none ever
# reached), on a priced model, so the key check, the limiters, the cost and
# the usage record all run; the load sends the key. wrk cells only
# (sse-load sends no header).
TEAM_KEY = "bench-team-key"
# Opt-in with --targets: Pingora's stock proxy (tools/pingora-floor), the
# framework's own floor under modelgate.
ALL_TARGETS = ("direct", "nginx", "pingora", "modelgate", "modelgate-teams")


@dataclass(frozen=True)
class Cell:
    id: str
    title: str
    stream: bool
    tool: str  # "wrk" or "sse" (sse-load)
    concurrency: int
    chunk_delay_ms: int = 0
    # Failover cells: modelgate only, two instances, the first failing every N-th request.
    failover: bool = False
    fail_every: int = 0
    fail_status: int = 429
    # Translated cells: modelgate only, its one instance `type: anthropic-compatible`
    # (the mock's /v1/messages); the client still speaks OpenAI.
    translated: bool = False
    # Responses cells: modelgate only, the client speaks OpenAI's Responses API
    # (`POST /v1/responses`); the instance is the mock as openai-compatible, so
    # the gateway calls /v1/chat/completions and translates the chat stream
    # back into Responses events.
    responses: bool = False

    @property
    def modelgate_only(self):
        return self.failover or self.translated or self.responses

    @property
    def path(self):
        return RESPONSES_PATH if self.responses else PATH

    @property
    def body(self):
        if self.responses:
            return BODY_RESPONSES
        return BODY_STREAM if self.stream else BODY_PLAIN

    @property
    def end(self):
        """(Lua pattern, bytes) a complete stream ends with; None if not a stream."""
        if not self.stream:
            return None
        return END_RESPONSES if self.responses else END_CHAT


CELLS = [
    Cell("ns-c32", "non-stream, c=32", False, "wrk", 32),
    Cell("ns-c128", "non-stream, c=128", False, "wrk", 128),
    Cell("s20-c32", "stream 20 chunks, no delay, c=32", True, "wrk", 32),
    Cell("s20-c128", "stream 20 chunks, no delay, c=128", True, "wrk", 128),
    # The s20-c32 request, served by an Anthropic-format provider: the gateway
    # calls /v1/messages and translates each event back into an OpenAI chunk.
    # Compared with s20-c32's modelgate row of the same run.
    Cell("tr-s20-c32", "translated stream 20 chunks (OpenAI client, Anthropic provider), c=32", True, "wrk", 32,
         translated=True),
    # The same prompt as a Responses API stream (Codex's dialect), served by
    # the same mock as s20-c32 (openai-compatible): the gateway calls
    # /v1/chat/completions and translates each chunk into Responses events.
    # Compared with s20-c32's modelgate row of the same run.
    Cell("rs-s20-c32", "Responses stream 20 chunks (Responses client, OpenAI-compatible provider), c=32", True,
         "wrk", 32, responses=True),
    Cell("d10-c1", "stream 20 chunks 10 ms apart, c=1", True, "sse", 1, 10),
    Cell("d10-c8", "stream 20 chunks 10 ms apart, c=8", True, "sse", 8, 10),
    Cell("d10-c32", "stream 20 chunks 10 ms apart, c=32", True, "sse", 32, 10),
    Cell("fo-ns-clean", "failover, non-stream, c=32: clean", False, "sse", 32, failover=True),
    Cell("fo-ns-429", "failover, non-stream, c=32: 10 % 429", False, "sse", 32, failover=True, fail_every=10),
    # A 429 with Retry-After rests the first instance for that model (issue 3),
    # so few requests fail over in the -429 runs; a 503 every 10th request
    # never opens the breaker (it needs 5 in a row), so in the -503 runs every
    # one fails over: that is the cost of a failover itself.
    Cell("fo-ns-503", "failover, non-stream, c=32: 10 % 503", False, "sse", 32, failover=True, fail_every=10, fail_status=503),
    Cell("fo-s20-clean", "failover, stream 20 chunks, c=32: clean", True, "sse", 32, failover=True),
    Cell("fo-s20-429", "failover, stream 20 chunks, c=32: 10 % 429", True, "sse", 32, failover=True, fail_every=10),
    Cell("fo-s20-503", "failover, stream 20 chunks, c=32: 10 % 503", True, "sse", 32, failover=True, fail_every=10, fail_status=503),
]


class Setup:
    """The processes of one measurement: mocks, and the proxy under test."""

    def __init__(self, ps, tmp):
        self.ps, self.tmp = ps, tmp
        self.started, self.mock_ports, self.mock_pids = [], [], []
        self.proxy, self.port = None, None

    def mock(self, name, *args):
        argv = [str(BIN / "mock-provider"), "--listen", "127.0.0.1:0", "--threads", "1", *args]
        p = self.ps.start(name, argv, core=LOAD_CORE, stdout=subprocess.PIPE)
        self.started.append(p)
        line = procs.read_line(p, 15)
        if not line or "listening on" not in line:
            raise SystemExit(f"bench: mock-provider did not start (see {self.ps.log_dir}/{name}.log)")
        port = int(line.rsplit(":", 1)[1])
        self.mock_ports.append(port)
        self.mock_pids.append(p.pid)
        return port

    def nginx(self, upstream_port):
        d = Path(self.tmp) / "nginx"
        d.mkdir()
        self.port = procs.free_port()
        conf = (BENCH / "nginx.conf.template").read_text()
        for k, v in (("@DIR@", str(d)), ("@PORT@", f"127.0.0.1:{self.port}"),
                     ("@UPSTREAM@", f"127.0.0.1:{upstream_port}")):
            conf = conf.replace(k, v)
        (d / "nginx.conf").write_text(conf)
        self._proxy("nginx", ["nginx", "-p", str(d), "-e", str(d / "error.log"), "-c", str(d / "nginx.conf")])

    def pingora(self, upstream_port):
        self.port = procs.free_port()
        argv = [str(BIN / "pingora-floor"), f"127.0.0.1:{self.port}", f"127.0.0.1:{upstream_port}"]
        self._proxy("pingora", argv, {**os.environ, "RUST_LOG": "warn"})

    def modelgate(self, upstream_ports, provider_type="openai-compatible", teams=False):
        d = Path(self.tmp) / "modelgate"
        d.mkdir()
        self.port = procs.free_port()
        # Shipped settings (pingora.yaml) but one worker thread: like-for-like
        # with nginx's one worker on one core.
        (d / "pingora.yaml").write_text(
            f"version: 1\nthreads: 1\npid_file: {d}/modelgate.pid\nupgrade_sock: {d}/upgrade.sock\n"
            "grace_period_seconds: 1\ngraceful_shutdown_timeout_seconds: 1\nupstream_keepalive_pool_size: 256\n")
        providers = "".join(
            f"  - {{ id: mock-{i}, type: {provider_type}, base_url: \"http://127.0.0.1:{port}/v1\","
            f" api_key: bench-key, models: [mock-small] }}\n" for i, port in enumerate(upstream_ports))
        # The access log is off, like nginx's here; --access-log writes it to
        # stdout (/dev/null), to measure what a line per request costs.
        log = "stdout" if ACCESS_LOG else "off"
        auth = ""
        if teams:
            auth = ("auth:\n  per_ip: { rpm: 100000000 }\n  keys:\n"
                     f"    - {{ name: bench, key: {TEAM_KEY}, rate_limit: {{ rpm: 100000000, tpm: 100000000000 }},"
                     " budget: { usd: 1000000000, period: monthly } }\n")
            providers = providers.replace("models: [mock-small] }", "models: [mock-small], price: { input: 1, output: 2 } }")
        (d / "gateway.yaml").write_text(
            f"listen: \"127.0.0.1:{self.port}\"\naccess_log: {log}\n{auth}providers:\n{providers}")
        env = {**os.environ, "RUST_LOG": "warn"}
        self._proxy("modelgate", [str(BIN / "modelgate"), "-c", str(d / "pingora.yaml"), "-g", str(d / "gateway.yaml")], env)

    def _proxy(self, name, argv, env=None):
        self.proxy = self.ps.start(name, argv, core=PROXY_CORE, env=env)
        self.started.append(self.proxy)
        if not procs.wait_tcp(self.port):
            raise SystemExit(f"bench: {name} did not start listening (see {self.ps.log_dir}/{name}.log)")

    def proxy_pids(self):
        """The proxy's processes: nginx's master and its worker(s)."""
        if not self.proxy:
            return []
        return [self.proxy.pid, *procs.children(self.proxy.pid)]

    def rss_pid(self):
        """Whose peak RSS the table shows: nginx's worker, modelgate's process."""
        pids = self.proxy_pids()
        return pids[-1] if pids else None

    def stop(self):
        for p in reversed(self.started):
            self.ps.stop(p)


def start_target(ps, tmp, cell, target, mock_args):
    s = Setup(ps, tmp)
    if cell.failover:
        first = ["--fail-every", str(cell.fail_every), "--fail-status", str(cell.fail_status)] if cell.fail_every else []
        ports = [s.mock("mock-a", *mock_args, *first), s.mock("mock-b", *mock_args)]
        s.modelgate(ports)
    elif cell.translated:
        s.modelgate([s.mock("mock", *mock_args)], "anthropic-compatible")
    else:
        port = s.mock("mock", *mock_args)
        if target == "direct":
            s.port = port
        elif target == "nginx":
            s.nginx(port)
        elif target == "pingora":
            s.pingora(port)
        else:
            s.modelgate([port], teams=target == "modelgate-teams")
    return s


def preflight(port, body, path=PATH, end=END_CHAT, auth=""):
    """One real request, so a broken setup stops the run instead of filling
    the table with errors. `end`: how a complete stream ends (a stream body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {auth}"} if auth else {})}
    try:
        c.request("POST", path, body=json.dumps(body), headers=headers)
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    ok = r.status == 200 and (end[1] in data if body.get("stream") else b'"usage"' in data)
    if not ok:
        raise SystemExit(f"bench: preflight to 127.0.0.1:{port} failed: {r.status} {data[:300]!r}")


def run_client(cell, port, body_file, secs, log, check_end=False, auth=""):
    """One load run. check_end (wrk cells): post.lua checks that every stream
    body ends as a complete one does, at some client CPU; warm-ups only."""
    url = f"http://127.0.0.1:{port}{cell.path}"
    if cell.tool == "wrk":
        argv = ["wrk", "-t1", f"-c{cell.concurrency}", f"-d{secs}s", "--timeout", "10s",
                "-s", str(BENCH / "wrk" / "post.lua"), url]
    else:
        argv = [str(BIN / "sse-load"), "bench", "--url", url, "--body-file", body_file,
                "-c", str(cell.concurrency), "-d", str(secs), "-w", "0", "--timeout", "10"]
    env = {**os.environ, "BENCH_BODY_FILE": body_file,
           "BENCH_EXPECT_END": cell.end[0] if check_end and cell.end else "",
           "BENCH_AUTH": auth}
    r = subprocess.run(procs.pinned(LOAD_CORE, argv), capture_output=True, text=True,
                       env=env, timeout=secs + 60, preexec_fn=procs.die_with_parent)
    log.write(f"$ {' '.join(argv)}\n{r.stdout}{r.stderr}\n")
    if r.returncode != 0:
        raise SystemExit(f"bench: {argv[0]} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return parse_wrk(r.stdout) if cell.tool == "wrk" else parse_sse(r.stdout)


def parse_wrk(out):
    line = next((l for l in out.splitlines() if l.startswith("WRK_RESULT ")), None)
    if line is None:
        raise SystemExit(f"bench: no WRK_RESULT line from wrk:\n{out[-1000:]}")
    w = json.loads(line.split(" ", 1)[1])
    sock = w["connect"] + w["read"] + w["write"] + w["timeout"]
    return {"requests": w["requests"], "errors": sock + w["status"] + w["incomplete"], "non_2xx": w["status"],
            "socket_errors": sock, "incomplete": w["incomplete"] if w["checked"] else None,
            "rps": w["requests"] / max(w["duration_us"] / 1e6, 1e-9),
            "p50": w["p50"], "p99": w["p99"], "p999": w["p999"], "retried": None, "first_error": None}


def parse_sse(out):
    s = json.loads(out.strip().splitlines()[-1])
    return {"requests": s["requests"], "errors": s["errors"], "non_2xx": s["non_2xx"],
            "socket_errors": s["socket_errors"] + s["timeouts"] + s["incomplete"], "rps": s["rps"],
            "p50": s["total_us"]["p50"], "p99": s["total_us"]["p99"], "p999": s["total_us"]["p999"],
            "ttfb_p50": s["ttfb_us"]["p50"], "ttfb_p99": s["ttfb_us"]["p99"], "ttfb_p999": s["ttfb_us"]["p999"],
            "retried": s["retried"], "first_error": s.get("first_error")}


def snapshot(s):
    """CPU used so far, in seconds: the proxy's (ns-precise and in ticks, as a
    cross-check), the mocks', the exited load generators', the whole machine's."""
    return {"t": time.monotonic(), "proxy": sum(procs.cpu_ns(p) for p in s.proxy_pids()) / 1e9,
            "proxy_ticks": sum(procs.cpu_ticks(p) for p in s.proxy_pids()) / CLK_TCK,
            "mock": sum(procs.cpu_ns(p) for p in s.mock_pids) / 1e9,
            "busy": procs.system_busy_ticks() / CLK_TCK, "client": procs.children_cpu_seconds()}


def measure(ps, cfg, cell, target, rep, log):
    mock_args = ["--chunks", "20", "--chunk-delay-ms", str(cell.chunk_delay_ms)]
    body = cell.body
    with tempfile.TemporaryDirectory(prefix="mg-bench-") as tmp:
        body_file = os.path.join(tmp, "body.json")
        Path(body_file).write_text(json.dumps(body))
        s = start_target(ps, tmp, cell, target, mock_args)
        auth = TEAM_KEY if target == "modelgate-teams" else ""
        try:
            preflight(s.port, body, cell.path, cell.end, auth)
            if cfg.warmup > 0:
                # The warm-up also checks that every stream ends complete
                # (wrk alone would count a cut-short event stream as a success).
                w = run_client(cell, s.port, body_file, cfg.warmup, log, check_end=True, auth=auth)
                if w.get("incomplete"):
                    raise SystemExit(f"bench: {cell.id} {target}: {w['incomplete']} of {w['requests']} warm-up "
                                     f"streams did not end with {cell.end[1]!r} (see the .log)")
            with procs.ConnSampler([s.port, *s.mock_ports], LOAD_CORE) as conns:
                a = snapshot(s)
                row = run_client(cell, s.port, body_file, cfg.duration, log, auth=auth)
                b = snapshot(s)
            rss_pid = s.rss_pid()
            row["peak_rss_kb"] = procs.status_kb(rss_pid, "VmHWM") if rss_pid else None
            row["conns_down"] = conns.count(s.port)
            row["conns_up"] = sum(conns.count(p) for p in s.mock_ports) if s.proxy else None
        finally:
            s.stop()
    wall = b["t"] - a["t"]
    d = {k: b[k] - a[k] for k in a}
    n = max(row["requests"], 1)
    px = bool(s.proxy)
    row.update({
        "cell": cell.id, "target": target, "rep": rep, "tool": cell.tool, "concurrency": cell.concurrency,
        "wall_s": round(wall, 3),
        "proxy_cpu_s": d["proxy"] if px else None,
        "proxy_cpu_s_ticks": d["proxy_ticks"] if px else None,
        "cpu_us_per_req": d["proxy"] / n * 1e6 if px else None,
        "mock_cpu_us_per_req": d["mock"] / n * 1e6,
        "proxy_cores": d["proxy"] / wall if px else None,
        "mock_cores": d["mock"] / wall, "client_cores": d["client"] / wall,
        "other_cores": max(d["busy"] - d["proxy"] - d["mock"] - d["client"], 0) / wall,
    })
    return row


def soak(ps, cfg, target, log):
    """Thousands of streams held open through one proxy, `rounds` times."""
    rows = []
    long_enough = cfg.soak_ramp + cfg.soak_hold + 120  # chunks, 1 s apart: outlasts the hold
    with tempfile.TemporaryDirectory(prefix="mg-soak-") as tmp:
        body_file = os.path.join(tmp, "body.json")
        Path(body_file).write_text(json.dumps(BODY_STREAM))
        cell = Cell("soak", "soak", True, "sse", 1)
        s = start_target(ps, tmp, cell, target, ["--chunks", str(long_enough), "--chunk-delay-ms", "1000"])
        try:
            preflight(s.port, BODY_PLAIN)
            for rnd in range(1, cfg.soak_rounds + 1):
                argv = [str(BIN / "sse-load"), "soak", "--url", f"http://127.0.0.1:{s.port}{PATH}",
                        "--body-file", body_file, "-n", str(cfg.soak_streams), "--ramp", str(cfg.soak_ramp),
                        "--hold", str(cfg.soak_hold), "--settle", str(cfg.soak_settle),
                        "--sample-every", str(max(1, cfg.soak_hold // 12)), "--watch-pid", str(s.rss_pid())]
                cpu0 = sum(procs.cpu_ns(p) for p in s.proxy_pids())
                fds0 = procs.fd_count(s.rss_pid())
                budget = cfg.soak_ramp + cfg.soak_hold + cfg.soak_settle + 120
                r = subprocess.run(procs.pinned(LOAD_CORE, argv), capture_output=True, text=True,
                                   timeout=budget, preexec_fn=procs.die_with_parent)
                log.write(f"$ {' '.join(argv)}\n{r.stdout}{r.stderr}\n")
                if r.returncode != 0:
                    raise SystemExit(f"bench: sse-load soak failed: {r.stderr.strip()[-500:]}")
                row = json.loads(r.stdout.strip().splitlines()[-1])
                row.update({"kind": "soak", "target": target, "round": rnd,
                            "proxy_cpu_s": (sum(procs.cpu_ns(p) for p in s.proxy_pids()) - cpu0) / 1e9,
                            "upstream_open_after": sum(procs.established(p) or 0 for p in s.mock_ports)
                            if s.proxy else None,
                            "fds_before": fds0, "fds_after": procs.fd_count(s.rss_pid())})
                rows.append(row)
                print(f"  soak {target} round {rnd}: {report.soak_line(row)}", flush=True)
        finally:
            s.stop()
    return rows


def fit_soak_to_fd_limit(cfg):
    """The proxy holds two sockets per soak stream: raise our fd limit (the
    children inherit it) or, for the default size, shrink the soak to fit."""
    need = lambda n: 2 * n + 1000  # noqa: E731
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and need(cfg.soak_streams) > hard:
        if cfg.soak_streams_given:
            raise SystemExit(f"bench: --soak-streams {cfg.soak_streams} needs `ulimit -n` ≥ "
                             f"{need(cfg.soak_streams)}, and the hard limit is {hard}")
        cfg.soak_streams = (hard - 1000) // 2 // 500 * 500
        print(f"bench: the fd hard limit ({hard}) allows a soak of {cfg.soak_streams} streams", file=sys.stderr)
    if soft != resource.RLIM_INFINITY and soft < need(cfg.soak_streams):
        resource.setrlimit(resource.RLIMIT_NOFILE, (need(cfg.soak_streams), hard))


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke test: short cells, 1 repeat, small soak")
    p.add_argument("--duration", type=int, help="measured seconds per cell (default 10; quick 3)")
    p.add_argument("--warmup", type=int, help="warm-up seconds per cell (default 2; quick 1)")
    p.add_argument("--repeats", type=int, help="runs per cell, medians reported (default 3; quick 1)")
    p.add_argument("--cells", help="comma-separated cell ids to run (default all): " + ",".join(c.id for c in CELLS))
    p.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset of direct,nginx,pingora,modelgate,modelgate-teams (pingora, modelgate-teams: opt-in)")
    p.add_argument("--soak-streams", type=int, help="concurrent streams in the soak (default 10000, or what `ulimit -Hn` allows; quick 300)")
    p.add_argument("--soak-hold", type=int, help="seconds the streams are held open (default 45; quick 3)")
    p.add_argument("--soak-ramp", type=int, help="seconds over which they are opened (default 10; quick 1)")
    p.add_argument("--soak-settle", type=int, help="seconds after closing before RSS 'after' (default 5; quick 2)")
    p.add_argument("--soak-rounds", type=int, help="open/hold/close rounds (default 3; quick 2)")
    p.add_argument("--soak-targets", default="modelgate", help="comma-separated: modelgate,nginx (default modelgate)")
    p.add_argument("--no-soak", action="store_true", help="skip the soak")
    p.add_argument("--access-log", action="store_true", help="modelgate writes its JSON access log (default off, like nginx's)")
    p.add_argument("--soak-only", action="store_true", help="run only the soak")
    p.add_argument("--out", default=str(BENCH / "results"), help="where the .md and raw .jsonl go")
    p.add_argument("--report-only", metavar="JSONL", help="rebuild the markdown from a raw .jsonl and exit")
    cfg = p.parse_args(argv)
    q = cfg.quick
    cfg.soak_streams_given = cfg.soak_streams is not None
    defaults = {"duration": (10, 3), "warmup": (2, 1), "repeats": (3, 1), "soak_streams": (10000, 300),
                "soak_hold": (45, 3), "soak_ramp": (10, 1), "soak_settle": (5, 2), "soak_rounds": (3, 2)}
    for k, (full, quick) in defaults.items():
        if getattr(cfg, k) is None:
            setattr(cfg, k, quick if q else full)
    if cfg.duration < 1 or cfg.warmup < 0 or cfg.repeats < 1 or cfg.soak_streams < 1:
        p.error("--duration and --repeats must be ≥ 1, --warmup ≥ 0, --soak-streams ≥ 1")
    return cfg


def main(argv):
    cfg = parse_args(argv)
    global ACCESS_LOG
    ACCESS_LOG = cfg.access_log
    if cfg.report_only:
        rows = [json.loads(l) for l in Path(cfg.report_only).read_text().splitlines() if l.strip()]
        meta = next((r["meta"] for r in rows if r.get("kind") == "meta"), {})
        print(report.markdown(rows, meta))
        return 0
    targets = [t for t in cfg.targets.split(",") if t]
    cells = [] if cfg.soak_only else [c for c in CELLS if not cfg.cells or c.id in cfg.cells.split(",")]
    unknown = set(targets) - set(ALL_TARGETS) | (set(cfg.cells.split(",")) - {c.id for c in CELLS} if cfg.cells else set())
    if unknown:
        raise SystemExit(f"bench: unknown cell or target: {', '.join(sorted(unknown))}")
    ids = {c.id for c in cells}
    for tr, plain in report.TRANSLATED_PAIRS:
        if tr in ids and (plain not in ids or "modelgate" not in targets):
            print(f"bench: {tr} is reported against {plain}'s modelgate row of the same run, "
                  "which this run leaves out: its ratio will be missing", file=sys.stderr)
    if not cfg.no_soak:
        fit_soak_to_fd_limit(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    raw_path, md_path, log_path = out / f"{stamp}.jsonl", out / f"{stamp}.md", out / f"{stamp}.log"
    meta = report.machine_meta(ROOT, BIN, cfg, argv, LOAD_CORE, PROXY_CORE)
    # stderr of the mocks and proxies, one file per name, kept for post-mortems.
    proc_logs = out / f"{stamp}.logs"
    proc_logs.mkdir()
    ps = procs.Procs(str(proc_logs))

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if LOAD_CORE is not None:
        # The harness (and its `ss` samples) stays off the proxy's core.
        os.sched_setaffinity(0, {int(LOAD_CORE)})
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    rows = []
    try:
        with open(raw_path, "w") as raw, open(log_path, "w") as log:
            def keep(row):
                rows.append(row)
                raw.write(json.dumps(row) + "\n")
                raw.flush()

            keep({"kind": "meta", "meta": meta})
            total = cfg.repeats * sum(1 if c.modelgate_only else len(targets) for c in cells)
            done = 0
            # Repeat-major, so that a burst of noise hits every target alike.
            for rep in range(1, cfg.repeats + 1):
                for cell in cells:
                    for target in (["modelgate"] if cell.modelgate_only else targets):
                        if cell.modelgate_only and "modelgate" not in targets:
                            continue
                        if target == "modelgate-teams" and cell.tool != "wrk":
                            continue
                        done += 1
                        row = measure(ps, cfg, cell, target, rep, log)
                        row["kind"] = "cell"
                        keep(row)
                        print(f"[{done}/{total}] {report.cell_line(row)}", flush=True)
            if not cfg.no_soak:
                for target in [t for t in cfg.soak_targets.split(",") if t in ("modelgate", "nginx")]:
                    for row in soak(ps, cfg, target, log):
                        keep(row)
    except KeyboardInterrupt as e:
        print(f"\nbench: interrupted ({e}); stopping everything", file=sys.stderr)
        ps.stop_all()
        return 130
    finally:
        ps.stop_all()
    md = report.markdown(rows, meta)
    md_path.write_text(md)
    print("\n" + md)
    for cell, r in report.translated_over_limit(rows):
        print(f"bench: ✗ {cell}: modelgate's CPU per request is {r:.2f}× the pass-through stream's "
              f"(limit {report.TRANSLATED_CPU_LIMIT:g}×)", file=sys.stderr)
    print(f"bench: wrote {md_path.relative_to(ROOT) if md_path.is_relative_to(ROOT) else md_path} "
          f"(raw rows: {raw_path.name}, client output: {log_path.name})")
    return 0


def pick_cores():
    n = os.cpu_count() or 1
    if n < 2:
        print("bench: only one CPU; nothing is pinned and the numbers mean little", file=sys.stderr)
        return None, None
    return "0", "1"


LOAD_CORE, PROXY_CORE = pick_cores()

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
