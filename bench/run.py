#!/usr/bin/env python3
"""Switchyard benchmark harness: one command, every scenario, one report.

    python3 bench/run.py                 # full run (release build), writes bench/results/REPORT.md
    python3 bench/run.py --smoke         # a few seconds per scenario, debug build; used by .ci/run

Contenders, against the same `switchyard-sim openai` upstream in the same run:
  direct  - the simulator itself
  bare    - `bare-proxy`, a minimal hyper pass-through proxy (the floor any gateway can reach)
  sy      - Switchyard with key auth, a quota key, an rpm limit and usage logging to SQLite
  sy-pg   - the same on PostgreSQL (when reachable)
  litellm - LiteLLM proxy from bench/.venv (full runs with --litellm only)
Load comes from `loadgen` (open loop, latency from the intended send time). The gateway and
proxy are pinned to CPU 0, simulators and load to CPU 1 (when `taskset` exists).
Figures are reported as ratios against `direct` and `bare` measured in the same run.
"""

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = "sk-bench-admin-0123456789abcdef"
CHAT = {"model": "bench-fast", "messages": [{"role": "user", "content": "hello"}]}


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, args, cpu=None, env=None):
        if cpu is not None and shutil.which("taskset"):
            args = ["taskset", "-c", str(cpu)] + args
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.procs.append(p)
        for _ in range(200):
            line = p.stdout.readline()
            if "listening on http://" in line:
                return p, line.strip().split("listening on ")[1]
            if p.poll() is not None:
                break
        raise RuntimeError(f"{args[0]} did not start")

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def post(url, body, headers=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def loadgen(bins, mode, url, body, key=None, cpu=1, **kw):
    args = [os.path.join(bins, "loadgen"), mode, "--url", url, "--body", json.dumps(body)]
    if key:
        args += ["--header", f"authorization: Bearer {key}"]
    for k, v in kw.items():
        if v is True:
            args.append("--" + k.replace("_", "-"))
        elif v is not None:
            args += ["--" + k.replace("_", "-"), str(v)]
    if cpu is not None and shutil.which("taskset"):
        args = ["taskset", "-c", str(cpu)] + args
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="seconds, not minutes; debug build")
    ap.add_argument("--profile", default=None, help="cargo profile (default: release, dev with --smoke)")
    ap.add_argument("--litellm", action="store_true", help="also run LiteLLM from bench/.venv")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
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
    tmp = tempfile.mkdtemp(prefix="sy-bench-")
    procs = Procs()
    results = {"profile": profile, "smoke": smoke, "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "scenarios": {}}
    checks = []
    try:
        sim = os.path.join(bins, "switchyard-sim")
        _, fast = procs.start([sim, "openai", "--key", "sk-up", "--models", "bench-fast,bench-stream", "--chunks", "5"], cpu=1)
        _, slow = procs.start([sim, "openai", "--key", "sk-up", "--models", "bench-slow", "--latency-ms", "50"], cpu=1)
        _, stream = procs.start([sim, "openai", "--key", "sk-up", "--models", "bench-stream",
                                 "--chunks", "100", "--chunk-interval-ms", "1"], cpu=1)
        _, hold = procs.start([sim, "openai", "--key", "sk-up", "--models", "bench-hold",
                               "--chunks", "20", "--chunk-interval-ms", str(int(dur * 1000 / 20))], cpu=1)
        _, bare = procs.start([os.path.join(bins, "bare-proxy"), "--upstream", fast], cpu=0)
        cfg = os.path.join(tmp, "sy.toml")
        db = os.path.join(tmp, "sy.db")
        with open(cfg, "w") as f:
            f.write(f'[server]\nlisten = "127.0.0.1:0"\nshutdown_grace_secs = 5\n[database]\nurl = "sqlite://{db}"\n'
                    f'[auth]\nadmin_key = "{ADMIN}"\n')
            for name, url, model in [("fast", fast, "bench-fast"), ("slow", slow, "bench-slow"),
                                     ("stream", stream, "bench-stream"), ("hold", hold, "bench-hold")]:
                f.write(f'[[channels]]\nname = "{name}"\nprovider = "openai"\nbase_url = "{url}/v1"\nkey = "sk-up"\nmodels = ["{model}"]\n')
        sy_proc, sy = procs.start([os.path.join(bins, "switchyard"), "serve", "--config", cfg], cpu=0,
                                  env={**os.environ, "SWITCHYARD_LOG": "warn"})
        key = post(f"{sy}/admin/keys", {"name": "bench", "quota_usd": 1_000_000, "rpm": 10_000_000},
                   {"authorization": f"Bearer {ADMIN}"})["key"]
        targets = {"direct": (fast, "sk-up"), "bare": (bare, "sk-up"), "sy": (sy, key)}
        sent_to_sy = 0

        def run(name, target, mode, body=CHAT, **kw):
            nonlocal sent_to_sy
            base, k = targets[target]
            r = loadgen(bins, mode, f"{base}/v1/chat/completions", body, key=k, **kw)
            if target == "sy":
                sent_to_sy += r["ok"] + r["errors"]
            results["scenarios"].setdefault(name, {})[target] = r
            checks.append((f"{name}/{target}", r["errors"] == 0 and r["ok"] > 0))
            return r

        n_single = 200 if smoke else 2000
        for t in targets:
            run("single", t, "closed", concurrency=1, requests=n_single, duration=600)
        for rate in rates:
            for t in targets:
                before = cpu_seconds(sy_proc.pid)
                r = run(f"rate-{rate}", t, "rate", rps=rate, duration=dur)
                if t == "sy":
                    r["cpu_us_per_request"] = (cpu_seconds(sy_proc.pid) - before) * 1e6 / max(r["ok"], 1)
        for t in targets:
            run("max", t, "closed", concurrency=64, duration=dur)
        sbody = {"model": "bench-stream", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        for t in ("sy",):
            run("stream-100", t, "closed", body=sbody, concurrency=1, requests=20 if smoke else 200, duration=600, stream=True)
        targets["direct-stream"] = (stream, "sk-up")
        run("stream-100", "direct-stream", "closed", body=sbody, concurrency=1, requests=20 if smoke else 200, duration=600, stream=True)
        hbody = {"model": "bench-hold", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        for n in holds:
            peak = 0.0
            lg = subprocess.Popen([os.path.join(bins, "loadgen"), "hold", "--url", f"{sy}/v1/chat/completions",
                                   "--body", json.dumps(hbody), "--header", f"authorization: Bearer {key}",
                                   "--concurrency", str(n), "--stream"], stdout=subprocess.PIPE, text=True)
            while lg.poll() is None:
                peak = max(peak, rss_mb(sy_proc.pid))
                time.sleep(0.1)
            r = json.loads(lg.stdout.read().strip().splitlines()[-1])
            r["peak_rss_mb"] = peak
            sent_to_sy += r["ok"] + r["errors"]
            results["scenarios"][f"hold-{n}"] = {"sy": r}
            checks.append((f"hold-{n}/sy", r["errors"] == 0 and r["ok"] == n))
        # Every request must have its usage row (speed may not come from dropping logs).
        time.sleep(1.0)
        rows = 0
        for _ in range(50):
            rows = sqlite3.connect(db).execute("select count(*) from usage_logs").fetchone()[0]
            if rows >= sent_to_sy:
                break
            time.sleep(0.2)
        results["usage_rows"] = {"requests": sent_to_sy, "rows": rows}
        checks.append(("usage rows = requests", rows == sent_to_sy))
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    write_report(results)
    passed = sum(1 for _, ok in checks if ok)
    for name, ok in checks:
        if not ok:
            print(f"bench check failed: {name}", file=sys.stderr)
    print(f"bench: {passed} passed, {len(checks) - passed} failed")
    sys.exit(0 if passed == len(checks) else 1)


def write_report(res):
    out = os.path.join(ROOT, "bench", "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    s = res["scenarios"]
    lines = [f"# Switchyard benchmark ({res['time']}, profile {res['profile']}{', smoke' if res['smoke'] else ''})", "",
             "Latencies in µs; *added* = contender minus direct, in the same run. 2 shared cores: compare ratios.", ""]
    lines += ["| scenario | contender | ok | errors | rps | p50 | p99 | added p50 | added p99 |", "|---|---|---|---|---|---|---|---|---|"]
    for name, by in s.items():
        d = by.get("direct") or by.get("direct-stream")
        for t, r in by.items():
            lat = r["latency_us"]
            add50 = lat["p50"] - d["latency_us"]["p50"] if d and t not in ("direct", "direct-stream") else ""
            add99 = lat["p99"] - d["latency_us"]["p99"] if d and t not in ("direct", "direct-stream") else ""
            lines.append(f"| {name} | {t} | {r['ok']} | {r['errors']} | {r['achieved_rps']:.0f} | {lat['p50']} | {lat['p99']} | {add50} | {add99} |")
    lines += ["", "| figure | value |", "|---|---|"]
    for name, by in s.items():
        if "sy" in by and "cpu_us_per_request" in by["sy"]:
            lines.append(f"| CPU µs per request, Switchyard, {name} | {by['sy']['cpu_us_per_request']:.0f} |")
        if name.startswith("hold-"):
            lines.append(f"| peak RSS with {name[5:]} open streams | {by['sy']['peak_rss_mb']:.0f} MB |")
    if "max" in s:
        lines.append(f"| max throughput Switchyard / bare | {s['max']['sy']['achieved_rps'] / max(s['max']['bare']['achieved_rps'], 1):.2f} |")
    lines.append(f"| usage rows / requests | {res['usage_rows']['rows']} / {res['usage_rows']['requests']} |")
    with open(os.path.join(out, "REPORT.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
