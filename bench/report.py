"""The markdown report of a benchmark run, from the raw rows harness.py wrote.

Owns: medians over repeats, ratios (latency against direct, CPU and RSS
against nginx, failover against clean, the translated stream against the
pass-through one), the issue-5 targets table, and the
one-line progress summaries. Pure: rows in, text out (except machine_meta,
which reads the machine once at the start of a run).
"""

import os
import platform
import statistics
import subprocess
import time

TARGET_ORDER = ("direct", "nginx", "pingora", "modelgate", "modelgate-teams")
THROUGHPUT_CELLS = ("ns-c32", "ns-c128", "s20-c32", "s20-c128")
LATENCY_CELLS = ("d10-c1", "d10-c8", "d10-c32")
# (clean cell, what, ((failing cell, label), ...))
FAILOVER_PAIRS = (
    ("fo-ns-clean", "non-stream", (("fo-ns-429", "429"), ("fo-ns-503", "503"))),
    ("fo-s20-clean", "stream 20 chunks", (("fo-s20-429", "429"), ("fo-s20-503", "503"))),
)
# (translated cell, the pass-through cell it is compared with): same prompt,
# same chunks, same concurrency; modelgate's CPU per request in the translated
# cell must stay within TRANSLATED_CPU_LIMIT × the pass-through one's, same run.
TRANSLATED_PAIRS = (("tr-s20-c32", "s20-c32"), ("rs-s20-c32", "s20-c32"))
# What each cell of those pairs is: (row label, client dialect, provider type).
TRANSLATED_ROWS = {
    "s20-c32": ("pass-through", "chat", "openai-compatible"),
    "tr-s20-c32": ("translated", "chat", "anthropic-compatible"),
    "rs-s20-c32": ("Responses, translated", "responses", "openai-compatible"),
}
TRANSLATED_CPU_LIMIT = 2.0
TITLES = {
    "ns-c32": "Non-stream, c=32 (wrk)",
    "ns-c128": "Non-stream, c=128 (wrk)",
    "s20-c32": "Stream, 20 chunks, no delay, c=32 (wrk)",
    "s20-c128": "Stream, 20 chunks, no delay, c=128 (wrk)",
    "d10-c1": "Stream, 20 chunks 10 ms apart, c=1 (sse-load)",
    "d10-c8": "Stream, 20 chunks 10 ms apart, c=8 (sse-load)",
    "d10-c32": "Stream, 20 chunks 10 ms apart, c=32 (sse-load)",
}


def _run(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"


def machine_meta(root, bin_dir, cfg, argv, load_core, proxy_core):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        pass
    try:
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "src", "Cargo.toml",
                                "Cargo.lock"], capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        dirty = []
    dirty = sorted({line[3:].strip() for line in dirty if line.strip()})
    binary = bin_dir / "modelgate"
    built = binary.stat().st_mtime if binary.exists() else None
    newest_src = max((f.stat().st_mtime for f in (root / "src").rglob("*.rs")), default=0)
    return {
        "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "commit": _run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
        + (f" (uncommitted: {', '.join(dirty)})" if dirty else ""),
        "modelgate_built": "?" if built is None else
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(built))
        + (" (**older than src/: not the current code**)" if newest_src > built else ""),
        "nginx": _run(["nginx", "-v"]), "wrk": _run(["wrk", "-v"]),
        "cpu": f"{os.cpu_count()} × {cpu}", "kernel": platform.release(),
        "pinning": f"load generator + mock on core {load_core}, proxy on core {proxy_core}"
        if load_core is not None else "none (one CPU)",
        "plan": f"{cfg.duration} s per cell after {cfg.warmup} s warm-up, {cfg.repeats} run(s) per cell, medians"
        + (" (quick mode)" if cfg.quick else ""),
        "soak": "skipped" if cfg.no_soak else
        f"{cfg.soak_streams} streams, {cfg.soak_ramp} s ramp, {cfg.soak_hold} s hold, {cfg.soak_rounds} rounds",
        "command": "bench/run.sh " + " ".join(argv),
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
    }


# ---------------------------------------------------------------- formatting

def ms(us):
    if us is None:
        return "—"
    return f"{us / 1000:.3f}" if us < 10_000 else f"{us / 1000:.1f}"


def num(x, digits=0):
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def signed_us(x):
    return "—" if x is None else f"{x:+,.0f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def times(r):
    return "—" if r is None else f"{r:.2f}×"


def mb(kb):
    return "—" if kb is None else f"{kb / 1024:.1f}"


def cell_line(r):
    ttfb = f" ttfb p50 {ms(r.get('ttfb_p50'))} ms" if r.get("ttfb_p50") is not None else ""
    cpu = f" cpu {num(r['cpu_us_per_req'], 1)} µs/req rss {mb(r['peak_rss_kb'])} MB" if r.get("cpu_us_per_req") else ""
    err = f" first error: {r['first_error']}" if r.get("first_error") else ""
    return (f"{r['cell']:<13} {r['target']:<9} #{r['rep']}: {num(r['rps'])} req/s p50 {ms(r['p50'])} ms "
            f"p99 {ms(r['p99'])} ms{ttfb} errors {r['errors']}{cpu} other load {r['other_cores']:.2f} cores{err}")


def soak_line(r):
    m = r["rss"]
    return (f"{r['opened']}/{r['streams']} opened, {r['open_at_end_of_hold']} open at end of hold, "
            f"{r['failed']} failed; RSS before {mb(m['before_kb'])} MB, all open {mb(m['all_open_kb'])} MB, "
            f"after {mb(m['after_kb'])} MB ({num(m['kb_per_stream'], 1)} kB/stream)")


# ---------------------------------------------------------------- medians

def medians(rows):
    """{(cell, target): {key: median over repeats}} plus 'runs', 'rps_min', 'rps_max'."""
    groups = {}
    for r in rows:
        if r.get("kind") == "cell":
            groups.setdefault((r["cell"], r["target"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        m = {"runs": len(rs), "rps_min": min(r["rps"] for r in rs), "rps_max": max(r["rps"] for r in rs)}
        for k, v in rs[0].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                vals = [r[k] for r in rs if r.get(k) is not None]
                m[k] = statistics.median(vals) if vals else None
            elif v is None:
                vals = [r[k] for r in rs if r.get(k) is not None]
                m[k] = statistics.median(vals) if vals and isinstance(vals[0], (int, float)) else None
        m["first_error"] = next((r["first_error"] for r in rs if r.get("first_error")), None)
        out[key] = m
    return out


def get(med, cell, target, key):
    return med.get((cell, target), {}).get(key)


# ---------------------------------------------------------------- tables

def throughput_table(med, cell):
    head = ("| target | req/s | p50 ms | p99 ms | p99.9 ms | errors | proxy CPU µs/req | peak RSS MB "
            "| p50 / p99 added vs direct, µs | CPU × nginx | RSS × nginx |\n" + "|---" * 11 + "|\n")
    lines = []
    for t in TARGET_ORDER:
        if (cell, t) not in med:
            continue
        g = lambda k, t=t: get(med, cell, t, k)  # noqa: E731
        added = "—" if t == "direct" else (
            f"{signed_us(_sub(g('p50'), get(med, cell, 'direct', 'p50')))} / "
            f"{signed_us(_sub(g('p99'), get(med, cell, 'direct', 'p99')))}")
        vs_nginx = t in ("pingora", "modelgate", "modelgate-teams")
        lines.append(
            f"| {t} | {num(g('rps'))} | {ms(g('p50'))} | {ms(g('p99'))} | {ms(g('p999'))} | {num(g('errors'))} "
            f"| {num(g('cpu_us_per_req'), 1)} | {mb(g('peak_rss_kb'))} | {added} "
            f"| {times(ratio(g('cpu_us_per_req'), get(med, cell, 'nginx', 'cpu_us_per_req'))) if vs_nginx else ''} "
            f"| {times(ratio(g('peak_rss_kb'), get(med, cell, 'nginx', 'peak_rss_kb'))) if vs_nginx else ''} |")
    return head + "\n".join(lines) + "\n"


def latency_table(med, cell):
    head = ("| target | req/s | TTFB p50 ms | TTFB p99 | TTFB p99.9 | total p50 ms | total p99 | total p99.9 "
            "| errors | proxy CPU µs/req | peak RSS MB | TTFB added p50 / p99, µs | total added p50 / p99, µs |\n"
            + "|---" * 13 + "|\n")
    lines = []
    for t in TARGET_ORDER:
        if (cell, t) not in med:
            continue
        g = lambda k, t=t: get(med, cell, t, k)  # noqa: E731
        d = lambda k: get(med, cell, "direct", k)  # noqa: E731
        add = lambda a, b: "—" if t == "direct" else f"{signed_us(_sub(g(a), d(a)))} / {signed_us(_sub(g(b), d(b)))}"  # noqa: E731
        lines.append(
            f"| {t} | {num(g('rps'))} | {ms(g('ttfb_p50'))} | {ms(g('ttfb_p99'))} | {ms(g('ttfb_p999'))} "
            f"| {ms(g('p50'))} | {ms(g('p99'))} | {ms(g('p999'))} | {num(g('errors'))} "
            f"| {num(g('cpu_us_per_req'), 1)} | {mb(g('peak_rss_kb'))} "
            f"| {add('ttfb_p50', 'ttfb_p99')} | {add('p50', 'p99')} |")
    return head + "\n".join(lines) + "\n"


def failover_table(med):
    head = ("| workload | run | req/s | p50 ms | p99 ms | errors | failed over | proxy CPU µs/req | CPU × clean |\n"
            + "|---" * 9 + "|\n")
    lines = []
    for clean, what, bads in FAILOVER_PAIRS:
        runs = ((clean, "clean"), *((bad, f"first instance {status} on 10 %") for bad, status in bads))
        for cell, label in runs:
            g = lambda k, c=cell: get(med, c, "modelgate", k)  # noqa: E731
            if g("requests") is None:
                continue
            share = ratio(g("retried"), g("requests"))
            lines.append(
                f"| {what} | {label} | {num(g('rps'))} | {ms(g('p50'))} | {ms(g('p99'))} | {num(g('errors'))} "
                f"| {'—' if share is None else f'{share:.1%}'} | {num(g('cpu_us_per_req'), 1)} "
                f"| {times(ratio(g('cpu_us_per_req'), get(med, clean, 'modelgate', 'cpu_us_per_req'))) if cell != clean else ''} |")
    return head + "\n".join(lines) + "\n" if lines else ""


def translated_table(med):
    """modelgate's translated stream cells, each under the pass-through cell
    of the same prompt (once), with the CPU ratio and its verdict."""
    head = ("| modelgate serving | client | provider | req/s | p50 ms | p99 ms | errors | proxy CPU µs/req "
            "| peak RSS MB | CPU × pass-through | goal | |\n" + "|---" * 12 + "|\n")
    lines = []
    shown = set()
    for tr, plain in TRANSLATED_PAIRS:
        if (tr, "modelgate") not in med:
            continue
        base = get(med, plain, "modelgate", "cpu_us_per_req")
        for cell in (plain, tr):
            if cell in shown:
                continue
            shown.add(cell)
            label, client, provider = TRANSLATED_ROWS[cell]
            what = f"{label} ({cell})"
            g = lambda k, c=cell: get(med, c, "modelgate", k)  # noqa: E731
            if g("requests") is None:
                lines.append(f"| {what} | {client} | {provider} | not in this run |" + " |" * 8)
                continue
            r = ratio(g("cpu_us_per_req"), base)
            verdict = (f"| {times(r)} | ≤ {TRANSLATED_CPU_LIMIT:g}× | {_verdict(r, TRANSLATED_CPU_LIMIT)} |"
                       if cell == tr else "| | | |")
            lines.append(
                f"| {what} | {client} | {provider} | {num(g('rps'))} | {ms(g('p50'))} | {ms(g('p99'))} | {num(g('errors'))} "
                f"| {num(g('cpu_us_per_req'), 1)} | {mb(g('peak_rss_kb'))} {verdict}")
    return head + "\n".join(lines) + "\n" if lines else ""


def translated_over_limit(rows):
    """[(translated cell, CPU ratio)] for each translated cell whose CPU per
    request is above TRANSLATED_CPU_LIMIT × its pass-through cell's."""
    med = medians(rows)
    out = []
    for tr, plain in TRANSLATED_PAIRS:
        r = ratio(get(med, tr, "modelgate", "cpu_us_per_req"), get(med, plain, "modelgate", "cpu_us_per_req"))
        if r is not None and r > TRANSLATED_CPU_LIMIT:
            out.append((tr, r))
    return out


def soak_table(rows):
    soaks = [r for r in rows if r.get("kind") == "soak"]
    if not soaks:
        return ""
    head = ("| target | round | streams opened / asked | failed | open at end of hold | TTFB p50 / p99 ms "
            "| RSS before MB | all open | max during | after | kB per stream | upstream conns left | proxy fds before / after | proxy CPU s |\n"
            + "|---" * 14 + "|\n")
    lines = []
    for r in soaks:
        m = r["rss"]
        lines.append(
            f"| {r['target']} | {r['round']} | {r['opened']} / {r['streams']} | {r['failed']} "
            f"| {r['open_at_end_of_hold']} | {ms(r['ttfb_us']['p50'])} / {ms(r['ttfb_us']['p99'])} "
            f"| {mb(m['before_kb'])} | {mb(m['all_open_kb'])} | {mb(m['max_during_kb'])} | {mb(m['after_kb'])} "
            f"| {num(m['kb_per_stream'], 1)} | {num(r.get('upstream_open_after'))} | {num(r.get('fds_before'))} / {num(r.get('fds_after'))} "
            f"| {num(r.get('proxy_cpu_s'), 1)} |")
    return head + "\n".join(lines) + "\n"


def details_table(med):
    head = ("| cell | target | runs | req/s min–max | conns client→target | conns proxy→mock "
            "| client cores | mock cores | proxy cores | other load, cores | mock CPU µs/req | first error |\n"
            + "|---" * 12 + "|\n")
    lines = []
    for (cell, t), m in med.items():
        lines.append(
            f"| {cell} | {t} | {m['runs']} | {num(m['rps_min'])}–{num(m['rps_max'])} | {num(m.get('conns_down'))} "
            f"| {num(m.get('conns_up'))} | {num(m.get('client_cores'), 2)} | {num(m.get('mock_cores'), 2)} "
            f"| {num(m.get('proxy_cores'), 2)} | {num(m.get('other_cores'), 2)} "
            f"| {num(m.get('mock_cpu_us_per_req'), 1)} | {m.get('first_error') or ''} |")
    return head + "\n".join(lines) + "\n"


def _sub(a, b):
    return None if a is None or b is None else a - b


# ---------------------------------------------------------------- targets

def _verdict(value, limit):
    return "—" if value is None else ("✓" if value <= limit else "✗")


def targets_table(med, rows):
    out = []
    cpu = lambda c: ratio(get(med, c, "modelgate", "cpu_us_per_req"), get(med, c, "nginx", "cpu_us_per_req"))  # noqa: E731
    for c, what in (("ns-c32", "non-stream c=32"), ("ns-c128", "non-stream c=128"),
                    ("s20-c32", "stream c=32"), ("s20-c128", "stream c=128")):
        r = cpu(c)
        out.append((f"CPU per request vs nginx, {what}", times(r), "≤ 1.5× (stretch 1.0×)", _verdict(r, 1.5)))
    for c in ("d10-c1", "d10-c8"):
        for k, label, limit in (("ttfb_p50", "TTFB p50", 300), ("ttfb_p99", "TTFB p99", 500),
                                ("p50", "total p50", 300), ("p99", "total p99", 500)):
            v = _sub(get(med, c, "modelgate", k), get(med, c, "direct", k))
            out.append((f"added latency, {c}, {label}", f"{signed_us(v)} µs", f"≤ {limit} µs", _verdict(v, limit)))
    peaks = [get(med, c, "modelgate", "peak_rss_kb") for c in ("ns-c128", "s20-c128")]
    peaks = [p for p in peaks if p is not None]
    peak = max(peaks) if peaks else None
    out.append(("peak RSS under c=128", f"{mb(peak)} MB", "≤ 30 MB", _verdict(None if peak is None else peak / 1024, 30)))
    # Keys, limits, budget and usage records (target modelgate-teams), against
    # the same cells served open: issue 14's budget is 10 % more CPU.
    for c in ("ns-c32", "ns-c128", "s20-c32", "s20-c128"):
        r = ratio(get(med, c, "modelgate-teams", "cpu_us_per_req"), get(med, c, "modelgate", "cpu_us_per_req"))
        if r is not None:
            out.append((f"CPU per request with a team key (limits, budget, per_ip) vs open, {c}", times(r),
                        "≤ 1.10×", _verdict(r, 1.10)))
    tpeaks = [get(med, c, "modelgate-teams", "peak_rss_kb") for c in ("ns-c128", "s20-c128")]
    tpeaks = [p for p in tpeaks if p is not None]
    if tpeaks:
        out.append(("peak RSS under c=128 with a team key and the store", f"{mb(max(tpeaks))} MB", "≤ 30 MB",
                    _verdict(max(tpeaks) / 1024, 30)))
    soaks = [r for r in rows if r.get("kind") == "soak" and r["target"] == "modelgate"]
    if soaks:
        first, last = soaks[0], soaks[-1]
        kbps = first["rss"]["kb_per_stream"]
        proj = None if kbps is None else (first["rss"]["before_kb"] + kbps * 10_000) / 1024
        out.append((f"RSS with 10,000 streams (from {first['opened']} open: {num(kbps, 1)} kB each)",
                    f"{num(proj, 0)} MB", "≤ 300 MB", _verdict(proj, 300)))
        before, after = first["rss"]["before_kb"], last["rss"]["after_kb"]
        grow = _sub(after, before)
        out.append((f"RSS after the soak vs before ({len(soaks)} rounds)", f"{mb(before)} → {mb(after)} MB",
                    "back to baseline (≤ +10 % or +2 MB)",
                    _verdict(grow, max(2048, 0.1 * before)) if before is not None else "—"))
        if len(soaks) > 1:
            g2 = _sub(last["rss"]["after_kb"], soaks[0]["rss"]["after_kb"])
            out.append(("RSS growth from round 1 to the last (a leak shows here)", f"{signed_us(g2)} kB",
                        "≈ 0 (≤ 2 MB)", _verdict(g2, 2048)))
    for clean, what, bads in FAILOVER_PAIRS:
        for bad, status in bads:
            r = ratio(get(med, bad, "modelgate", "cpu_us_per_req"), get(med, clean, "modelgate", "cpu_us_per_req"))
            if r is not None:
                out.append((f"failover CPU per client request vs clean, {what}, 10 % {status}", times(r), "≤ 1.2×",
                            _verdict(r, 1.2)))
    return ("| target (issue 5) | measured | goal | |\n|---|---|---|---|\n"
            + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in out) + "\n")


def markdown(rows, meta):
    med = medians(rows)
    cells = [r for r in rows if r.get("kind") == "cell"]
    other = [r["other_cores"] for r in cells if r.get("other_cores") is not None]
    contention = ("—" if not other else
                  f"other processes used {statistics.mean(other):.2f} cores on average during the measured runs "
                  f"(max {max(other):.2f}); " + ("uncontended" if max(other) < 0.1 else "**contended: compare within this run only**"))
    parts = [f"# modelgate benchmark, {meta.get('time', '?')}\n"]
    parts.append("\n".join(f"- {k.replace('_', ' ')}: {v}" for k, v in meta.items()) + f"\n- contention: {contention}\n")
    parts.append("Latencies in ms (medians over runs of each percentile); "
                 "\"added\" is the target's value minus direct's, in µs; "
                 "CPU is the proxy's utime+stime per completed request; peak RSS is VmHWM "
                 "(nginx: its worker). See bench/README.md.\n")
    parts.append("## Issue 5 targets\n\n" + targets_table(med, rows))
    for c in THROUGHPUT_CELLS:
        if any(k[0] == c for k in med):
            parts.append(f"## {TITLES[c]}\n\n" + throughput_table(med, c))
    for c in LATENCY_CELLS:
        if any(k[0] == c for k in med):
            parts.append(f"## {TITLES[c]}\n\n" + latency_table(med, c))
    tr = translated_table(med)
    if tr:
        parts.append("## Translated streams against the pass-through stream, 20 chunks, c=32 (wrk)\n\n"
                     "`tr-s20-c32`: the s20-c32 request; modelgate's one instance is `type: anthropic-compatible` "
                     "(the mock's `/v1/messages`), and each Anthropic event is translated back into an OpenAI "
                     "chunk. `rs-s20-c32`: the same prompt as a Responses API request (`POST /v1/responses`, "
                     "`\"stream\": true`) to the s20-c32 instance (`openai-compatible`): the gateway calls "
                     "`/v1/chat/completions` and translates each chunk into Responses events.\n\n" + tr)
    fo = failover_table(med)
    if fo:
        parts.append("## Failover: two instances, the first answers 429 or 503 to every 10th request (sse-load)\n\n" + fo)
    so = soak_table(rows)
    if so:
        parts.append("## Soak: concurrent SSE streams held open (1 chunk/s each)\n\n" + so)
    if med:
        parts.append("## Details (medians): connections, CPU use per process, noise\n\n" + details_table(med))
    return "\n".join(parts)
