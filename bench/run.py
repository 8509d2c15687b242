#!/usr/bin/env python3
"""Switchyard benchmark harness: one command, every scenario, one report.

    python3 bench/run.py                 # full run (release build), writes bench/results/REPORT.md
    python3 bench/run.py --smoke         # a few seconds per scenario, debug build; used by .ci/run

Contenders, against the same `switchyard-sim openai` upstream in the same run:
  direct  - the simulator itself
  bare    - `bare-proxy`, a minimal hyper pass-through proxy (the floor any gateway can reach)
  sy      - Switchyard with key auth, a quota key, an rpm limit and usage logging to SQLite
  sy-pg   - the same on PostgreSQL (a fresh database on 127.0.0.1:5432, dropped at the end;
            skipped when `psql` cannot reach it)
  sy-old  - with `--sy-old PATH`: a second Switchyard build on SQLite, in the interleaved CPU
            slices only (before and after a change, measured in the same slices)
  litellm - the LiteLLM proxy from bench/.venv (full runs, when installed or installable;
            `--no-litellm` skips it, `--litellm` insists on it)
Load comes from `loadgen` (open loop, latency from the intended send time). The gateway and
proxy are pinned to CPU 0, simulators and load to CPU 1 (when `taskset` exists). CPU time per
request is each contender's own CPU time (the scheduler's nanoseconds per thread from
/proc/PID/task/TID/schedstat; utime+stime ticks, children included, when a thread ended
meanwhile) over the requests it answered; the `cpu` group measures it again in short slices
alternating between bare, sy and sy-pg, for the CPU target. Figures are reported as ratios against `direct` and
`bare` measured in the same run. Full mode also runs the conversion micro-benchmark (`cargo
bench --bench convert`) and draws PNG charts with matplotlib from bench/.venv.
"""

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "bench", ".venv")
VENV_PY = os.path.join(VENV, "bin", "python")
ADMIN = "sk-bench-admin-0123456789abcdef"
LITELLM_MASTER = "sk-litellm-master-0123456789abcdef"
# Pinned: later 1.108+/1.109+/1.110 releases on PyPI need a `litellm-proxy-extras` version that
# is not published, and 1.107.0 was a compromised release.
LITELLM_VERSION = "1.106.12"
MATPLOTLIB_VERSION = "3.11.2"
CHAT = {"model": "bench-fast", "messages": [{"role": "user", "content": "hello"}]}
SBODY = {"model": "bench-stream", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
HBODY = {"model": "bench-hold", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
DBODY = {"model": "bench-slow", "messages": [{"role": "user", "content": "hello"}]}
UPSTREAM_DELAY_MS = 50
GATEWAYS = ("sy", "sy-pg", "litellm")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Procs:
    def __init__(self):
        self.procs = []

    def spawn(self, args, cpu=None, env=None, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL):
        if cpu is not None and shutil.which("taskset"):
            args = ["taskset", "-c", str(cpu)] + args
        p = subprocess.Popen(args, stdout=stdout, stderr=stderr, text=True, env=env, start_new_session=True)
        self.procs.append(p)
        return p

    def start(self, args, cpu=None, env=None):
        p = self.spawn(args, cpu=cpu, env=env)
        for _ in range(200):
            line = p.stdout.readline()
            if "listening on http://" in line:
                return p, line.strip().split("listening on ")[1]
            if p.poll() is not None:
                break
        raise RuntimeError(f"{args[0]} did not start")

    def stop(self, p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)


def descendants(pid):
    """`pid` and every live process below it."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_snapshot(pid):
    """CPU time of `pid` and its descendants, read two ways: utime+stime in clock ticks (10 ms,
    which counts ended threads and reaped children) and, per live thread, the scheduler's
    nanoseconds (/proc/P/task/T/schedstat)."""
    ticks, threads = 0, {}
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += sum(int(x) for x in fields[11:15])
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/schedstat") as f:
                    threads[(p, int(t))] = int(f.read().split()[0])
        except (OSError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK"), threads


def machine_ticks():
    """(stolen, all) clock ticks of the whole machine so far (/proc/stat's `cpu` line): the
    share stolen by the hypervisor for other guests says how far a run's figures can be trusted."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (v[7] if len(v) > 7 else 0), sum(v[:8])


def steal_pct(before, after):
    d = after[1] - before[1]
    return round(100 * (after[0] - before[0]) / d, 1) if d > 0 else None


def cpu_between(before, after):
    """Seconds of CPU between two snapshots: the exact per-thread sum when no thread or process
    of `before` has ended since (a thread started meanwhile counts from zero), else the ticks
    (a 4-second slice at 500 RPS is about 20 ticks, so ticks alone would be a 5% step)."""
    (t0, th0), (t1, th1) = before, after
    if th0 and all(k in th1 for k in th0):
        return sum(ns - th0.get(k, 0) for k, ns in th1.items()) / 1e9
    return t1 - t0


def rss_mb(pid):
    total = 0.0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def time_wait():
    """Sockets in TIME_WAIT on this machine (/proc/net/sockstat)."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    parts = line.split()
                    return int(parts[parts.index("tw") + 1])
    except (OSError, ValueError):
        pass
    return 0


def settle_sockets(limit=4000, wait=75):
    """Waits (at most `wait` s) until few sockets are in TIME_WAIT: thousands of closed
    connections of the previous scenario leave the ephemeral port range nearly full, and
    connect() then crawls, which would be charged to the next contender."""
    deadline = time.time() + wait
    while time_wait() > limit and time.time() < deadline:
        time.sleep(1)


def post(url, body, headers=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def loadgen_args(bins, mode, url, body, key=None, cpu=1, **kw):
    args = [os.path.join(bins, "loadgen"), mode, "--url", url, "--body", json.dumps(body)]
    if key:
        args += ["--header", f"authorization: Bearer {key}"]
    for k, v in kw.items():
        if v is True:
            args.append("--" + k.replace("_", "-"))
        elif v is not None and v is not False:
            args += ["--" + k.replace("_", "-"), str(v)]
    if cpu is not None and shutil.which("taskset"):
        args = ["taskset", "-c", str(cpu)] + args
    return args


def loadgen(bins, mode, url, body, key=None, cpu=1, **kw):
    out = subprocess.run(loadgen_args(bins, mode, url, body, key, cpu, **kw), capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def psql(sql, db="postgres"):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-tAc", sql],
                          capture_output=True, text=True, timeout=30)


def postgres_ok():
    if not shutil.which("psql"):
        return False
    try:
        return psql("select 1").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def write_sy_config(path, db_url, upstreams):
    with open(path, "w") as f:
        f.write(f'[server]\nlisten = "127.0.0.1:0"\nshutdown_grace_secs = 5\n[database]\nurl = "{db_url}"\n'
                f'[auth]\nadmin_key = "{ADMIN}"\n')
        for name, url, model in upstreams:
            f.write(f'[[channels]]\nname = "{name}"\nprovider = "openai"\nbase_url = "{url}/v1"\nkey = "sk-up"\nmodels = ["{model}"]\n')


def wait_http(url, timeout, headers=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            req = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status < 500:
                    return True
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_key(url):
    """A new key on the Switchyard at `url` with what a production key has: a quota and an rpm
    limit (both far above what the benchmark spends), so that their checks run."""
    return post(f"{url}/admin/keys", {"name": "bench", "quota_usd": 1_000_000, "rpm": 10_000_000},
                {"authorization": f"Bearer {ADMIN}"})["key"]


def callgrind_per_request(procs, cmd, env, tmp, bins, key, n_warm, n):
    """Instructions per non-stream request of the server `cmd` (pinned to CPU 0) under valgrind's
    callgrind: counted only for `n` requests sent one at a time after `n_warm` uncounted ones,
    and for the second after them (in which Switchyard writes their usage rows). Repeatable
    where times are not. `key=None`: a new Switchyard key, as every Switchyard contender has."""
    out = os.path.join(tmp, f"callgrind-{len(procs.procs)}.out")
    p, url = procs.start(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"] + cmd,
                         cpu=0, env=env)
    if key is None:
        key = bench_key(url)
    chat = f"{url}/v1/chat/completions"
    loadgen(bins, "closed", chat, CHAT, key=key, concurrency=1, requests=n_warm, duration=600, timeout=60)
    subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], capture_output=True, check=True)
    r = loadgen(bins, "closed", chat, CHAT, key=key, concurrency=1, requests=n, duration=600, timeout=60)
    time.sleep(1.0)
    subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], capture_output=True, check=True)
    procs.stop(p)
    if r["ok"] != n:
        raise RuntimeError(f"callgrind run: {r['ok']} of {n} requests answered")
    with open(out) as f:
        # `summary:` at the top stays 0 when instrumentation starts later; `totals:` ends the file.
        total = [int(line.split()[1]) for line in f if line.startswith("totals:")][-1]
    return total / n


def litellm_installed():
    return os.path.exists(os.path.join(VENV, "bin", "litellm"))


def ensure_venv(packages):
    """Installs pinned `packages` into bench/.venv from PyPI; False when that fails."""
    try:
        if not os.path.exists(VENV_PY):
            subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([VENV_PY, "-m", "pip", "install", "-q"] + packages, check=True, timeout=900)
        return True
    except (OSError, subprocess.SubprocessError) as e:
        log(f"could not install {packages}: {e}")
        return False


def start_litellm(procs, tmp, upstreams, notes):
    """LiteLLM proxy on CPU 0 with auth on. Returns (process, base URL, key)."""
    cfg = os.path.join(tmp, "litellm.yaml")
    with open(cfg, "w") as f:
        f.write("model_list:\n")
        for _, url, model in upstreams:
            f.write(f"  - model_name: {model}\n    litellm_params:\n      model: openai/{model}\n"
                    f"      api_base: {url}/v1\n      api_key: sk-up\n")
        # Production-like: no per-request debug logging, no telemetry.
        f.write("litellm_settings:\n  telemetry: false\n  set_verbose: false\n"
                f"general_settings:\n  master_key: {LITELLM_MASTER}\n")
    port = free_port()
    env = {**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "true",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "NO_DOCS": "True"}
    env.pop("DATABASE_URL", None)
    out = open(os.path.join(tmp, "litellm.log"), "w")
    p = procs.spawn([os.path.join(VENV, "bin", "litellm"), "--config", cfg, "--host", "127.0.0.1",
                     "--port", str(port), "--num_workers", "1"], cpu=0, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    if not wait_http(f"{base}/health/liveliness", 120):
        procs.stop(p)
        with open(os.path.join(tmp, "litellm.log")) as f:
            tail = f.read()[-2000:]
        raise RuntimeError(f"LiteLLM did not start:\n{tail}")
    notes.append(f"LiteLLM {LITELLM_VERSION} authenticates with its master key, not a virtual key: virtual keys "
                 "need its PostgreSQL database through Prisma, and with a database URL set the proxy refuses to "
                 "start here because the Prisma CLI downloads its query-engine binary from outside PyPI "
                 "(tried: `prisma` 0.15.0 from PyPI, migration fails with ENOTFOUND on the engine download). "
                 "Without that database it also writes no spend logs, so it does less work per request "
                 "than Switchyard, which logs every request.")
    return p, base, LITELLM_MASTER


def run_microbench(smoke):
    """`cargo bench --bench convert`: divan's medians per benchmark, in nanoseconds."""
    args = ["cargo", "bench", "-p", "switchyard-bench", "--bench", "convert", "--"]
    if smoke:
        args.append("--test")
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        log(f"micro-benchmark failed:\n{r.stderr[-2000:]}")
        return None
    units = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
    out, group = {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"^[│ ]*[├╰]─ (\S+)\s*(.*)$", line)
        if not m:
            continue
        name, rest = m.group(1), m.group(2)
        cols = [c.strip() for c in rest.split("│")]
        if not cols or not cols[0]:
            group = name
            continue
        # fastest │ slowest │ median │ mean │ samples │ iters
        if len(cols) >= 3:
            mm = re.match(r"^([\d.]+)\s*(\S+)$", cols[2])
            if mm:
                out[f"{group}/{name}" if group else name] = float(mm.group(1)) * units.get(mm.group(2), 1.0)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="seconds, not minutes; debug build")
    ap.add_argument("--profile", default=None, help="cargo profile (default: release, dev with --smoke)")
    ap.add_argument("--litellm", action="store_true", help="require LiteLLM (installed into bench/.venv if missing)")
    ap.add_argument("--no-litellm", action="store_true", help="skip LiteLLM in a full run")
    ap.add_argument("--no-pg", action="store_true", help="skip Switchyard on PostgreSQL")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--sy-bin", default=None, help="another switchyard binary to measure (before/after runs)")
    ap.add_argument("--sy-old", default=None,
                    help="a second switchyard binary (SQLite) added as `sy-old` to the interleaved cpu group, "
                         "for a before/after CPU comparison in the same slices")
    ap.add_argument("--only", default=None,
                    help="comma-separated scenario groups to run (single,max,rate,delay,cpu,stream,hold,instr); default all")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"), help="report folder")
    ap.add_argument("--charts", default=None, help=argparse.SUPPRESS)  # internal: results.json to draw
    args = ap.parse_args()
    if args.charts:
        draw_charts(args.charts)
        return
    profile = args.profile or ("dev" if args.smoke else "release")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    bins = os.path.join(target, "debug" if profile == "dev" else profile)
    if not args.no_build:
        subprocess.run(["cargo", "build", "--profile", profile, "--bin", "switchyard", "--bin", "switchyard-sim",
                        "--bin", "loadgen", "--bin", "bare-proxy"], cwd=ROOT, check=True)
    smoke = args.smoke
    dur = 2 if smoke else 20
    rates = [200] if smoke else [500, 1000, 2000, 5000]
    holds = [50] if smoke else [1000, 5000]
    want_litellm = not smoke and not args.no_litellm
    if want_litellm and not litellm_installed():
        log(f"installing litellm[proxy]=={LITELLM_VERSION} into bench/.venv")
        ensure_venv([f"litellm[proxy]=={LITELLM_VERSION}", f"matplotlib=={MATPLOTLIB_VERSION}"])
    if args.litellm and not litellm_installed():
        sys.exit("LiteLLM is not installable here; run without --litellm")
    tmp = tempfile.mkdtemp(prefix="sy-bench-")
    procs = Procs()
    results = {"profile": profile, "smoke": smoke, "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "sy_bin": args.sy_bin, "scenarios": {}, "notes": [], "skipped": []}
    notes = results["notes"]
    checks = []
    run_ticks = machine_ticks()
    pg_db = f"switchyard_bench_{os.getpid()}"
    pg_made = False
    try:
        sim = os.path.join(bins, "switchyard-sim")
        sim_fast, fast = procs.start([sim, "openai", "--key", "sk-up", "--models", "bench-fast", "--chunks", "5"], cpu=1)
        sim_stream, stream = procs.start([sim, "openai", "--key", "sk-up", "--models", "bench-stream",
                                 "--chunks", "100", "--chunk-interval-ms", "1"], cpu=1)
        _, hold = procs.start([sim, "openai", "--key", "sk-up", "--models", "bench-hold",
                               "--chunks", "20", "--chunk-interval-ms", str(int(dur * 1000 / 20))], cpu=1)
        sim_slow, slow = procs.start([sim, "openai", "--key", "sk-up", "--models", "bench-slow", "--chunks", "5",
                                      "--latency-ms", str(UPSTREAM_DELAY_MS)], cpu=1)
        upstreams = [("fast", fast, "bench-fast"), ("stream", stream, "bench-stream"), ("hold", hold, "bench-hold"),
                     ("slow", slow, "bench-slow")]
        bare_proc, bare = procs.start([os.path.join(bins, "bare-proxy"), "--upstream", fast], cpu=0)
        bare_stream_proc, bare_stream = procs.start([os.path.join(bins, "bare-proxy"), "--upstream", stream], cpu=0)
        bare_hold_proc, bare_hold = procs.start([os.path.join(bins, "bare-proxy"), "--upstream", hold], cpu=0)
        bare_slow_proc, bare_slow = procs.start([os.path.join(bins, "bare-proxy"), "--upstream", slow], cpu=0)
        sy_bin = args.sy_bin or os.path.join(bins, "switchyard")
        sy_env = {**os.environ, "SWITCHYARD_LOG": "warn"}
        db = os.path.join(tmp, "sy.db")
        write_sy_config(os.path.join(tmp, "sy.toml"), f"sqlite://{db}", upstreams)
        sy_proc, sy = procs.start([sy_bin, "serve", "--config", os.path.join(tmp, "sy.toml")], cpu=0, env=sy_env)
        key = bench_key(sy)
        # Each contender: base URL and key for the plain, stream and hold upstreams, and the
        # process whose CPU time and memory are its own.
        targets = {
            "direct": {"base": fast, "stream": stream, "hold": None, "slow": slow, "key": "sk-up", "proc": sim_fast,
                       "stream_proc": sim_stream, "slow_proc": sim_slow},
            "bare": {"base": bare, "stream": bare_stream, "hold": bare_hold, "slow": bare_slow, "key": "sk-up",
                     "proc": bare_proc, "stream_proc": bare_stream_proc, "hold_proc": bare_hold_proc,
                     "slow_proc": bare_slow_proc},
            "sy": {"base": sy, "stream": sy, "hold": sy, "slow": sy, "key": key, "proc": sy_proc},
        }
        if not args.no_pg and postgres_ok():
            r = psql(f"create database {pg_db}")
            if r.returncode == 0:
                pg_made = True
                write_sy_config(os.path.join(tmp, "sy-pg.toml"), f"postgres://postgres@127.0.0.1:5432/{pg_db}", upstreams)
                pg_proc, sy_pg = procs.start([sy_bin, "serve", "--config", os.path.join(tmp, "sy-pg.toml")], cpu=0, env=sy_env)
                pg_key = bench_key(sy_pg)
                targets["sy-pg"] = {"base": sy_pg, "stream": sy_pg, "hold": sy_pg, "slow": sy_pg, "key": pg_key,
                                    "proc": pg_proc}
            else:
                results["skipped"].append(f"sy-pg: create database failed: {r.stderr.strip()}")
        else:
            results["skipped"].append("sy-pg: PostgreSQL not reachable on 127.0.0.1:5432 (or --no-pg)")
        if want_litellm and litellm_installed():
            try:
                ll_proc, ll, ll_key = start_litellm(procs, tmp, upstreams, notes)
                targets["litellm"] = {"base": ll, "stream": ll, "hold": None, "slow": ll, "key": ll_key, "proc": ll_proc}
                results["litellm_version"] = LITELLM_VERSION
            except RuntimeError as e:
                log(str(e))
                results["skipped"].append(f"litellm: did not start ({str(e).splitlines()[0]})")
        elif want_litellm:
            results["skipped"].append("litellm: not installable from PyPI here")
        elif not smoke:
            results["skipped"].append("litellm: --no-litellm")
        # A second build for the interleaved CPU slices only (not in the other scenarios).
        cpu_only = {}
        if args.sy_old:
            old_db = os.path.join(tmp, "sy-old.db")
            write_sy_config(os.path.join(tmp, "sy-old.toml"), f"sqlite://{old_db}", upstreams)
            old_proc, sy_old = procs.start([args.sy_old, "serve", "--config", os.path.join(tmp, "sy-old.toml")],
                                           cpu=0, env=sy_env)
            cpu_only["sy-old"] = {"base": sy_old, "key": bench_key(sy_old), "proc": old_proc}
            results["sy_old"] = args.sy_old
        sent = {t: 0 for t in list(targets) + list(cpu_only)}

        def measure(name, t, mode, body=CHAT, url_kind="base", **kw):
            """One load run against `t`: loadgen's figures plus the contender's CPU seconds."""
            c = targets[t] if t in targets else cpu_only[t]
            proc = c.get(f"{url_kind}_proc", c["proc"])
            before, ticks = cpu_snapshot(proc.pid), machine_ticks()
            r = loadgen(bins, mode, f"{c[url_kind]}/v1/chat/completions", body, key=c["key"], **kw)
            r["cpu_s"] = cpu_between(before, cpu_snapshot(proc.pid))
            r["steal_pct"] = steal_pct(ticks, machine_ticks())
            w = r.get("warmup") or {"ok": 0, "errors": 0}
            r["cpu_us_per_request"] = r["cpu_s"] * 1e6 / max(r["ok"] + w["ok"], 1)
            sent[t] += r["ok"] + r["errors"] + w["ok"] + w["errors"]
            if t != "litellm":  # LiteLLM's errors are a finding, not a harness failure
                checks.append((f"{name}/{t}", r["errors"] + w["errors"] == 0 and r["ok"] > 0))
            return r

        def run(name, t, mode, body=CHAT, url_kind="base", **kw):
            r = measure(name, t, mode, body, url_kind, **kw)
            results["scenarios"].setdefault(name, {})[t] = r
            log(f"{name}/{t}: ok {r['ok']} errors {r['errors']} rps {r['achieved_rps']:.0f} "
                f"p50 {r['latency_us']['p50']} p99 {r['latency_us']['p99']} µs")
            return r

        groups = set(args.only.split(",")) if args.only else {"single", "max", "rate", "delay", "cpu", "stream", "hold",
                                                               "instr"}
        n_single = 200 if smoke else 2000
        for t in targets if "single" in groups else []:
            run("single", t, "closed", concurrency=1, requests=n_single, duration=600)
        for t in targets if "max" in groups else []:
            run("max", t, "closed", concurrency=64, duration=dur, timeout=30)
        def open_loop(name, rate, **kw):
            """Every contender at `rate` for `dur` seconds; LiteLLM only within 1.5x its maximum."""
            settle_sockets()
            for t in targets:
                if t == "litellm" and "max" in groups and rate > 1.5 * results["scenarios"]["max"][t]["achieved_rps"]:
                    results["skipped"].append(f"{name}/litellm: above 1.5x its maximum throughput "
                                              f"({results['scenarios']['max'][t]['achieved_rps']:.0f} rps)")
                    continue
                run(name, t, "rate", rps=rate, duration=dur, timeout=30 if t == "litellm" else None, **kw)

        for rate in rates if "rate" in groups else []:
            open_loop(f"rate-{rate}", rate)
        # The same open loop against an upstream that answers after 50 ms: a hundred requests in
        # flight at 2k RPS, so the gateway holds as many upstream connections and requests at once.
        if "delay" in groups:
            delay_rate = 200 if smoke else 2000
            open_loop(f"delay{UPSTREAM_DELAY_MS}-rate-{delay_rate}", delay_rate, body=DBODY, url_kind="slow")
        # CPU per request again, in short slices that alternate between the contenders: the
        # other tenants of these machines change the cost of a CPU second within minutes, which
        # a contender measured alone for 20 s takes whole. The ratio is the median of the
        # ratios of neighbouring slices.
        slices, slice_s = (2, 1) if smoke else (5, 4)
        cpu_set = [t for t in ("bare", "sy", "sy-pg") if t in targets] + list(cpu_only)
        for rate in rates if "cpu" in groups else []:
            settle_sockets()
            per = {t: [] for t in cpu_set}
            for _ in range(slices):
                for t in cpu_set:
                    r = measure(f"cpu-{rate}", t, "rate", rps=rate, duration=slice_s)
                    per[t].append((r["cpu_s"] * 1e6, r["ok"]))
            entry = {}
            for t in cpu_set:
                entry[t] = {"cpu_us_per_request": sum(u for u, _ in per[t]) / max(sum(n for _, n in per[t]), 1),
                            "slices_us_per_request": [u / max(n, 1) for u, n in per[t]]}
            for t in cpu_set[1:]:
                ratios = sorted(a / b for a, b in zip(entry[t]["slices_us_per_request"],
                                                      entry["bare"]["slices_us_per_request"]) if b)
                entry[t]["median_ratio_to_bare"] = ratios[len(ratios) // 2] if ratios else None
            results.setdefault("cpu_interleaved", {})[f"rate-{rate}"] = entry
            log(f"cpu-{rate}: " + ", ".join(f"{t} {entry[t]['cpu_us_per_request']:.0f} µs/req"
                                            + (f" ({entry[t]['median_ratio_to_bare']:.2f}× bare)"
                                               if entry[t].get("median_ratio_to_bare") else "")
                                            for t in cpu_set))
        # Three warm-up streams first, reported apart: the first of them opens the connections
        # (client to contender, contender to simulator) that every later stream reuses, and with
        # a few hundred streams its cost would otherwise be one of the few that make the p99.
        n_stream = 20 if smoke else 300
        for t in targets if "stream" in groups else []:
            run("stream-100", t, "closed", body=SBODY, url_kind="stream", concurrency=1, requests=n_stream,
                duration=600, stream=True, warmup=3)
        for n in holds if "hold" in groups else []:
            for t in [t for t in targets if targets[t]["hold"]]:
                c = targets[t]
                settle_sockets()
                proc = c.get("hold_proc", c["proc"])
                base_rss = rss_mb(proc.pid)
                before = cpu_snapshot(proc.pid)
                peak = 0.0
                lg = subprocess.Popen(loadgen_args(bins, "hold", f"{c['hold']}/v1/chat/completions", HBODY,
                                                   key=c["key"], concurrency=n, stream=True),
                                      stdout=subprocess.PIPE, text=True)
                while lg.poll() is None:
                    peak = max(peak, rss_mb(proc.pid))
                    time.sleep(0.1)
                r = json.loads(lg.stdout.read().strip().splitlines()[-1])
                r["peak_rss_mb"] = peak
                r["idle_rss_mb"] = base_rss
                r["cpu_us_per_stream"] = cpu_between(before, cpu_snapshot(proc.pid)) * 1e6 / max(r["ok"], 1)
                sent[t] += r["ok"] + r["errors"]
                results["scenarios"].setdefault(f"hold-{n}", {})[t] = r
                checks.append((f"hold-{n}/{t}", r["errors"] == 0 and r["ok"] == n))
                log(f"hold-{n}/{t}: ok {r['ok']} errors {r['errors']} peak RSS {peak:.0f} MB")
        # Every request must have its usage row (speed may not come from dropping logs).
        time.sleep(1.0)
        results["usage_rows"] = {}
        counters = {"sy": lambda: sqlite3.connect(db).execute("select count(*) from usage_logs").fetchone()[0]}
        if "sy-pg" in targets:
            counters["sy-pg"] = lambda: int(psql("select count(*) from usage_logs", pg_db).stdout.strip() or 0)
        for t, count in counters.items():
            rows = 0
            for _ in range(50):
                rows = count()
                if rows >= sent[t]:
                    break
                time.sleep(0.2)
            results["usage_rows"][t] = {"requests": sent[t], "rows": rows}
            checks.append((f"usage rows = requests ({t})", rows == sent[t]))
        if "instr" in groups:
            if shutil.which("valgrind") and shutil.which("callgrind_control"):
                n_warm, n_instr = (50, 100) if smoke else (2000, 3000)
                instr = results["instructions_per_request"] = {"warm_up": n_warm, "requests": n_instr}
                instr["bare"] = callgrind_per_request(
                    procs, [os.path.join(bins, "bare-proxy"), "--upstream", fast], None, tmp, bins, "sk-up",
                    n_warm, n_instr)
                write_sy_config(os.path.join(tmp, "sy-cg.toml"), f"sqlite://{os.path.join(tmp, 'sy-cg.db')}",
                                [("fast", fast, "bench-fast")])
                instr["sy"] = callgrind_per_request(
                    procs, [sy_bin, "serve", "--config", os.path.join(tmp, "sy-cg.toml")], sy_env, tmp, bins, None,
                    n_warm, n_instr)
                log(f"instructions per request: sy {instr['sy']:.0f}, bare {instr['bare']:.0f}")
                checks.append(("instructions per request", instr["sy"] > 0 and instr["bare"] > 0))
            else:
                results["skipped"].append("instr: valgrind (callgrind) not installed")
    finally:
        procs.stop_all()
        if pg_made:
            psql(f"drop database if exists {pg_db}")
        shutil.rmtree(tmp, ignore_errors=True)
    if not smoke and not args.only:
        log("conversion micro-benchmark (cargo bench --bench convert)")
        results["microbench_ns"] = run_microbench(smoke)
    results["steal_pct"] = steal_pct(run_ticks, machine_ticks())
    out = args.out
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    charts = []
    if not smoke:
        if not os.path.exists(VENV_PY) or subprocess.run([VENV_PY, "-c", "import matplotlib"], capture_output=True).returncode:
            ensure_venv([f"matplotlib=={MATPLOTLIB_VERSION}"])
        r = subprocess.run([VENV_PY, os.path.abspath(__file__), "--charts", os.path.join(out, "results.json")],
                           capture_output=True, text=True)
        if r.returncode == 0:
            charts = [c for c in r.stdout.split() if c.endswith(".png")]
        else:
            results["skipped"].append("charts: matplotlib unavailable")
            log(r.stderr[-1000:])
    write_report(results, out, charts)
    passed = sum(1 for _, ok in checks if ok)
    for name, ok in checks:
        if not ok:
            print(f"bench check failed: {name}", file=sys.stderr)
    print(f"bench: {passed} passed, {len(checks) - passed} failed")
    sys.exit(0 if passed == len(checks) else 1)


def added(r, d, q, field="latency_us"):
    return r[field][q] - d[field][q]


def fmt_ratio(a, b):
    return f"{a / b:.2f}" if b else "n/a"


def write_report(res, out, charts):
    s = res["scenarios"]
    mode = f"profile {res['profile']}{', smoke' if res['smoke'] else ''}"
    lines = [f"# Switchyard benchmark ({res['time']}, {mode})", "",
             "Latencies in µs; *added* = contender minus `direct` (the simulator called directly) in the same run.",
             "2 shared cores (gateway and proxies pinned to CPU 0, simulators and load to CPU 1): compare ratios,",
             "not absolute figures. `direct` and `bare` top out where CPU 1 (simulator and load generator",
             "together) is saturated, so the max-throughput ratio to bare is a lower bound.", ""]
    if res.get("steal_pct") is not None:
        lines += [f"The hypervisor took {res['steal_pct']}% of the machine's CPU time for other guests during the run "
                  "(`steal` in /proc/stat; per measurement in the latency table's last column): tail latencies",
                  "move with it.", ""]
    if res.get("sy_bin"):
        lines += [f"Switchyard binary: `{res['sy_bin']}`", ""]
    rate_names = [n for n in s if n.startswith("rate-")]
    sy = {}
    if "rate-2000" in s and "sy" in s["rate-2000"]:
        d, r = s["rate-2000"]["direct"], s["rate-2000"]["sy"]
        sy["p50"], sy["p99"] = added(r, d, "p50"), added(r, d, "p99")
    lines += ["## Targets (issue 5)", "", "| target | measured | met |", "|---|---|---|"]

    def target(name, value, ok):
        lines.append(f"| {name} | {value} | {'yes' if ok else '**no**'} |")

    if sy:
        target("added p50 at 2k RPS ≤ 100 µs", f"{sy['p50']} µs", sy["p50"] <= 100)
        target("added p99 at 2k RPS ≤ 1000 µs", f"{sy['p99']} µs", sy["p99"] <= 1000)
    inter = res.get("cpu_interleaved", {})
    cpu = [(n, e["sy"]["median_ratio_to_bare"]) for n, e in inter.items()
           if e.get("sy", {}).get("median_ratio_to_bare")]
    if cpu:
        worst = max(cpu, key=lambda x: x[1])
        target("CPU per request ≤ 1.5× bare (worst rate, interleaved slices)", f"{worst[1]:.2f}× ({worst[0]})",
               worst[1] <= 1.5)
    if "max" in s and "litellm" in s["max"]:
        ratio = s["max"]["sy"]["achieved_rps"] / max(s["max"]["litellm"]["achieved_rps"], 1)
        target("max throughput ≥ 10× LiteLLM", f"{ratio:.1f}×", ratio >= 10)
    if "stream-100" in s and "sy" in s["stream-100"]:
        d, r = s["stream-100"]["direct"], s["stream-100"]["sy"]
        v = added(r, d, "p99", "first_byte_us")
        target("stream added TTFT p99 ≤ 1000 µs", f"{v} µs", v <= 1000)
    for n in [n for n in s if n.startswith("hold-")]:
        if "sy" in s[n] and n == "hold-5000":
            v = s[n]["sy"]["peak_rss_mb"]
            target("5k concurrent streams ≤ 256 MB RSS", f"{v:.0f} MB", v <= 256)
    for t, u in res.get("usage_rows", {}).items():
        target(f"usage rows = requests ({t})", f"{u['rows']} / {u['requests']}", u["rows"] == u["requests"])
    lines.append("")

    lines += ["## Latency", "",
              "| scenario | contender | ok | errors | rps | p50 | p90 | p99 | p99.9 | added p50 | added p99 | CPU µs/req "
              "| stolen % |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    warm = []
    for name, by in s.items():
        if name.startswith("hold-"):
            continue
        d = by.get("direct")
        field = "first_byte_us" if name.startswith("stream") else "latency_us"
        for t, r in by.items():
            lat = r["latency_us"]
            a50 = added(r, d, "p50") if d and t != "direct" else ""
            a99 = added(r, d, "p99") if d and t != "direct" else ""
            cpu_s = f"{r['cpu_us_per_request']:.0f}" if "cpu_us_per_request" in r else ""
            stolen = r.get("steal_pct")
            lines.append(f"| {name} | {t} | {r['ok']} | {r['errors']} | {r['achieved_rps']:.0f} | {lat['p50']} | "
                         f"{lat['p90']} | {lat['p99']} | {lat['p999']} | {a50} | {a99} | {cpu_s} | "
                         f"{'' if stolen is None else stolen} |")
        if name.startswith("stream") and d:
            for t, r in by.items():
                fb = r[field]
                lines.append(f"| {name} first byte | {t} | | | | {fb['p50']} | {fb['p90']} | {fb['p99']} | {fb['p999']} | "
                             f"{added(r, d, 'p50', field) if t != 'direct' else ''} | "
                             f"{added(r, d, 'p99', field) if t != 'direct' else ''} | | |")
            warm = [(t, r["warmup"]) for t, r in by.items() if r.get("warmup")]
    if warm:
        lines += ["", "## Stream warm-up", "",
                  "The measured streams follow three warm-up streams on the same client; the slowest of these",
                  "is the first, which opens the connections (client to contender, contender to simulator).", "",
                  "| contender | warm-up streams ok | errors | slowest first byte µs |", "|---|---|---|---|"]
        for t, w in warm:
            lines.append(f"| {t} | {w['ok']} | {w['errors']} | {w['first_byte_us']['max']} |")
    lines += ["", "## Ratios (same run)", "", "| figure | value |", "|---|---|"]
    for n in rate_names + [n for n in s if n.startswith(("delay", "stream"))]:
        by = s[n]
        for t in GATEWAYS:
            if t in by and "bare" in by:
                lines.append(f"| CPU per request {t} / bare, {n} | "
                             f"{fmt_ratio(by[t]['cpu_us_per_request'], by['bare']['cpu_us_per_request'])} |")
    if "max" in s:
        for t in GATEWAYS:
            if t in s["max"]:
                lines.append(f"| max throughput {t} / bare | {fmt_ratio(s['max'][t]['achieved_rps'], s['max']['bare']['achieved_rps'])} |")
        if "litellm" in s["max"]:
            for t in ("sy", "sy-pg"):
                if t in s["max"]:
                    lines.append(f"| max throughput {t} / litellm | {fmt_ratio(s['max'][t]['achieved_rps'], s['max']['litellm']['achieved_rps'])} |")
    inter = res.get("cpu_interleaved", {})
    if inter:
        lines += ["", "## CPU per request, interleaved", "",
                  "Each rate again, in short slices that alternate bare, sy, sy-pg (so that a change in the",
                  "machine's speed falls on all of them); ratio = median over the slices of sy's (or sy-pg's)",
                  "CPU per request over bare's in the neighbouring slice. sy-pg's figure leaves out the work",
                  "of the PostgreSQL server, a process of its own; sy's includes SQLite, which runs inside it."]
        if res.get("sy_old"):
            lines += [f"`sy-old` is the build `{res['sy_old']}` (`--sy-old`), on SQLite, in the same slices."]
        lines += ["",
                  "| rate | contender | CPU µs/req | per slice | median ratio to bare |", "|---|---|---|---|---|"]
        for n, e in inter.items():
            for t, v in e.items():
                sl = " ".join(f"{x:.0f}" for x in v["slices_us_per_request"])
                ratio = v.get("median_ratio_to_bare")
                lines.append(f"| {n} | {t} | {v['cpu_us_per_request']:.0f} | {sl} | "
                             f"{f'{ratio:.2f}' if ratio else ''} |")
    ins = res.get("instructions_per_request")
    if ins and "sy" in ins:
        lines += ["", "## Instructions per request (callgrind)", "",
                  f"`valgrind --tool=callgrind`: {ins['requests']} non-stream requests one at a time, after",
                  f"{ins['warm_up']} uncounted ones; Switchyard's count includes writing their usage rows. The same",
                  "for the same binary whatever else the machine is doing, unlike the times above. Under valgrind",
                  "SHA-256 runs in software (the host's SHA-NI is not emulated), about 4k of Switchyard's count.", "",
                  "| contender | instructions per request | ratio to bare |", "|---|---|---|",
                  f"| bare | {ins['bare']:.0f} | 1.00 |",
                  f"| sy | {ins['sy']:.0f} | {fmt_ratio(ins['sy'], ins['bare'])} |"]
    holds = [n for n in s if n.startswith("hold-")]
    if holds:
        lines += ["", "## Concurrent slow streams", "", "| streams | contender | ok | errors | idle RSS MB | peak RSS MB | CPU µs/stream |",
                  "|---|---|---|---|---|---|---|"]
        for n in holds:
            for t, r in s[n].items():
                lines.append(f"| {n[5:]} | {t} | {r['ok']} | {r['errors']} | {r['idle_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} | "
                             f"{r['cpu_us_per_stream']:.0f} |")
    mb = res.get("microbench_ns")
    if mb:
        lines += ["", "## Conversion cost per stream chunk (divan median, `cargo bench -p switchyard-bench --bench convert`)", "",
                  "| conversion | ns per chunk |", "|---|---|"]
        for k, v in sorted(mb.items()):
            lines.append(f"| {k} | {v:.0f} |")
    if charts:
        lines += ["", "## Charts", ""] + [f"![{c}]({c})" for c in charts]
    if res.get("notes") or res.get("skipped"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in res.get("notes", [])] + [f"- skipped: {n}" for n in res.get("skipped", [])]
    with open(os.path.join(out, "REPORT.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def draw_charts(path):
    """Runs under bench/.venv's Python: PNG charts next to results.json; prints their names."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(path) as f:
        res = json.load(f)
    s = res["scenarios"]
    out = os.path.dirname(path)
    names = []
    rates = sorted((int(n[5:]), n) for n in s if n.startswith("rate-"))
    contenders = [t for t in ("direct", "bare", "sy", "sy-pg", "litellm") if any(t in s[n] for _, n in rates)]
    if rates:
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        for ax, q in zip(axes, ("p50", "p99", "p999")):
            for t in contenders:
                xs = [r for r, n in rates if t in s[n]]
                ys = [s[n][t]["latency_us"][q] / 1000 for r, n in rates if t in s[n]]
                ax.plot(xs, ys, marker="o", label=t)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("offered load (RPS)")
            ax.set_ylabel(f"{q} latency (ms)")
            ax.set_title(f"{q} latency by load")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out, "latency_by_load.png"), dpi=100)
        names.append("latency_by_load.png")
    holds = sorted((int(n[5:]), n) for n in s if n.startswith("hold-"))
    if holds:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for t in ("bare", "sy", "sy-pg"):
            pts = [(0, s[n][t]["idle_rss_mb"]) for _, n in holds[:1] if t in s[n]]
            pts += [(k, s[n][t]["peak_rss_mb"]) for k, n in holds if t in s[n]]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=t)
        ax.axhline(256, color="red", linestyle="--", linewidth=1, label="256 MB target")
        ax.set_xlabel("concurrent streams")
        ax.set_ylabel("peak RSS (MB)")
        ax.set_title("RSS by concurrent streams")
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out, "rss_by_streams.png"), dpi=100)
        names.append("rss_by_streams.png")
    print(" ".join(names))


if __name__ == "__main__":
    main()
