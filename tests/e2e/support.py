"""Helpers of the end-to-end suite: processes, config files, the admin API, SSE, the OpenAPI spec.

Imported by conftest.py and the test modules (pytest puts this folder on sys.path).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]

# What every simulator answers (see crates/sim): `chunks` pieces, one token each.
SIM_CHUNKS = 5
TOOL_ARGUMENTS = '{"location":"Paris","unit":"celsius"}'


# The session topology (see conftest.py).
ADMIN_KEY = "sk-admin-e2e-0123456789abcdef"

SIM_KEYS = {
    "sim-openai-a": "sk-up-openai-a",
    "sim-openai-b": "sk-up-openai-b",
    "sim-moonshot": "sk-up-moonshot",
    "sim-stepfun": "sk-up-stepfun",
    "sim-slow": "sk-up-slow",
}

# USD per million tokens, configured on the session gateway.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4": (30.0, 60.0),
    "gpt-3.5-turbo": (0.5, 1.5),
    "gpt-4o": (2.5, 10.0),
    "gpt-4-turbo": (10.0, 30.0),
    "moonshot-v1-8k": (12.0, 12.0),
    "step-1-8k": (5.0, 20.0),
}

# requested model → (simulator flavour, upstream model name)
MODELS: dict[str, tuple[str, str]] = {
    "gpt-4": ("openai", "gpt-4-0613"),
    "gpt-3.5-turbo": ("openai", "gpt-3.5-turbo"),
    "gpt-4o": ("openai", "gpt-4o"),
    "gpt-4-turbo": ("openai", "gpt-4-turbo"),
    "moonshot-v1-8k": ("moonshot", "moonshot-v1-8k"),
    "step-1-8k": ("stepfun", "step-1-8k"),
}

# --------------------------------------------------------------------------------------------
# Binaries and processes
# --------------------------------------------------------------------------------------------


def bin_dir() -> Path:
    return Path(os.environ.get("SWITCHYARD_BIN_DIR") or REPO_ROOT / "target" / "debug")


def binary(name: str) -> Path:
    path = bin_dir() / name
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RuntimeError(
            f"binary {path} not found: run `cargo build --bins` in {REPO_ROOT} first "
            "(or point SWITCHYARD_BIN_DIR at a folder holding `switchyard` and `switchyard-sim`)"
        )
    return path


def child_env() -> dict[str, str]:
    """The environment for children, without SWITCHYARD_* overrides that would change configs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    env["SWITCHYARD_LOG"] = os.environ.get("SWITCHYARD_LOG", "info")
    env["RUST_LOG"] = os.environ.get("RUST_LOG", "info")
    env.pop("NO_COLOR", None)
    return env


@dataclass
class Proc:
    """A started child: its process, its stderr log, and what it announced on stdout."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    url: str = ""
    stdout_lines: list[str] = field(default_factory=list)
    _lines: "queue.Queue[str | None]" = field(default_factory=queue.Queue)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def wait_line(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """Reads stdout lines until one matches `pattern` (kept lines go to stdout_lines)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(
                    f"{self.name} (pid {self.pid}) printed no line matching {pattern!r} within "
                    f"{timeout}s; stdout so far: {self.stdout_lines}\nstderr tail:\n{self.log_tail()}"
                )
            try:
                line = self._lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.popen.poll() is not None and self._lines.empty():
                    raise RuntimeError(
                        f"{self.name} exited with {self.popen.returncode} before printing "
                        f"{pattern!r}; stdout: {self.stdout_lines}\nstderr tail:\n{self.log_tail()}"
                    ) from None
                continue
            if line is None:
                raise RuntimeError(
                    f"{self.name} closed stdout before printing {pattern!r} (exit "
                    f"{self.popen.poll()}); stdout: {self.stdout_lines}\n"
                    f"stderr tail:\n{self.log_tail()}"
                )
            self.stdout_lines.append(line)
            m = rx.search(line)
            if m:
                return m

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM by pid, wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        if self.popen.stdout:
            self.popen.stdout.close()
        return self.popen.returncode


def start_process(name: str, argv: list[str], log_dir: Path) -> Proc:
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the child owns it; closed when we drop it
    popen = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        env=child_env(),
        text=True,
        bufsize=1,
    )
    log.close()
    proc = Proc(name=name, popen=popen, log_path=log_path)

    def pump() -> None:
        assert popen.stdout is not None
        try:
            for line in popen.stdout:
                proc._lines.put(line.rstrip("\n"))
        except (ValueError, OSError):
            pass
        proc._lines.put(None)

    threading.Thread(target=pump, name=f"stdout-{name}", daemon=True).start()
    return proc


def start_sim(
    flavor: str,
    log_dir: Path,
    *,
    name: str,
    key: str,
    chunks: int = SIM_CHUNKS,
    chunk_interval_ms: int = 0,
    latency_ms: int = 0,
) -> Proc:
    argv = [
        str(binary("switchyard-sim")),
        flavor,
        "--listen",
        "127.0.0.1:0",
        "--key",
        key,
        "--chunks",
        str(chunks),
        "--chunk-interval-ms",
        str(chunk_interval_ms),
        "--latency-ms",
        str(latency_ms),
    ]
    proc = start_process(name, argv, log_dir)
    try:
        m = proc.wait_line(r"^listening on (http://\S+)$")
    except Exception:
        proc.terminate()
        raise
    proc.url = m.group(1)
    return proc


def start_native_sim(argv_tail: list[str], log_dir: Path, *, name: str, scheme: str = "http") -> Proc:
    """Starts `switchyard-sim <subcommand> …` of a native provider on a free port; `url` is the
    announced address with `scheme` (`ws` for WebSocket upstreams)."""
    argv = [str(binary("switchyard-sim")), *argv_tail, "--listen", "127.0.0.1:0"]
    proc = start_process(name, argv, log_dir)
    try:
        m = proc.wait_line(r"^listening on (http://\S+)$")
    except Exception:
        proc.terminate()
        raise
    url = m.group(1)
    proc.url = scheme + url[len("http") :] if scheme != "http" else url
    return proc


@dataclass
class Gateway:
    proc: Proc
    url: str
    admin_key: str
    db_path: Path
    config_path: Path

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def admin(self) -> "Admin":
        return Admin(self.url, self.admin_key)


def start_gateway(name: str, config_text: str, work_dir: Path, db_path: Path) -> Gateway:
    config_path = work_dir / f"{name}.toml"
    config_path.write_text(config_text)
    proc = start_process(
        name, [str(binary("switchyard")), "serve", "--config", str(config_path)], work_dir
    )
    try:
        m = proc.wait_line(r"^switchyard listening on (http://\S+)$", timeout=60)
    except Exception:
        proc.terminate()
        raise
    admin_key = ""
    for line in proc.stdout_lines:
        am = re.match(r"^admin key \(shown once, only its hash is stored\): (sk-\S+)$", line)
        if am:
            admin_key = am.group(1)
    cfg_key = re.search(r'^admin_key\s*=\s*"([^"]+)"', config_text, re.M)
    if cfg_key:
        admin_key = cfg_key.group(1)
    return Gateway(
        proc=proc, url=m.group(1), admin_key=admin_key, db_path=db_path, config_path=config_path
    )


# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------


def toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid TOML basic string here


def gateway_config(
    *,
    db_path: Path,
    channels: list[dict[str, Any]],
    admin_key: str | None,
    prices: dict[str, tuple[float, float]] | None = None,
    server: dict[str, Any] | None = None,
    upstream: dict[str, Any] | None = None,
) -> str:
    lines = ["[server]", 'listen = "127.0.0.1:0"']
    for k, v in (server or {}).items():
        lines.append(f"{k} = {json.dumps(v)}")
    lines += ["", "[database]", f"url = {toml_str('sqlite://' + str(db_path))}", ""]
    if admin_key:
        lines += ["[auth]", f"admin_key = {toml_str(admin_key)}", ""]
    if upstream:
        lines.append("[upstream]")
        for k, v in upstream.items():
            lines.append(f"{k} = {json.dumps(v)}")
        lines.append("")
    lines += ["[usage]", "batch_size = 256", "flush_interval_ms = 50", ""]
    for model, (inp, out) in (prices or {}).items():
        lines += [f"[prices.{toml_str(model)}]", f"input = {inp!r}", f"output = {out!r}", ""]
    for ch in channels:
        lines.append("[[channels]]")
        for k, v in ch.items():
            if isinstance(v, dict):
                inner = ", ".join(f"{toml_str(a)} = {toml_str(b)}" for a, b in v.items())
                lines.append(f"{k} = {{ {inner} }}")
            else:
                lines.append(f"{k} = {json.dumps(v)}")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Admin API
# --------------------------------------------------------------------------------------------


class Admin:
    def __init__(self, url: str, admin_key: str) -> None:
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=15
        )

    def create_key(self, name: str, **fields: Any) -> dict:
        r = self.http.post("/admin/keys", json={"name": name, **fields})
        assert r.status_code == 201, (r.status_code, r.text)
        body = r.json()
        assert body["key"].startswith("sk-"), body
        return body

    def revoke_key(self, key_id: int) -> dict:
        r = self.http.delete(f"/admin/keys/{key_id}")
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def keys(self) -> list[dict]:
        r = self.http.get("/admin/keys")
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["data"]

    def key(self, key_id: int) -> dict:
        found = [k for k in self.keys() if k["id"] == key_id]
        assert len(found) == 1, (key_id, found)
        return found[0]

    def channels(self) -> dict[str, dict]:
        r = self.http.get("/admin/channels")
        assert r.status_code == 200, (r.status_code, r.text)
        return {c["name"]: c for c in r.json()["data"]}

    def usage(self, key_id: int, limit: int = 100) -> list[dict]:
        r = self.http.get("/admin/usage", params={"key_id": key_id, "limit": limit})
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["data"]

    def wait_usage(self, key_id: int, n: int = 1, timeout: float = 5.0) -> list[dict]:
        """Polls until the key has at least `n` usage rows (rows are written in batches)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.usage(key_id)
            if len(rows) >= n or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)

    def settled_usage(self, key_id: int, n: int = 1, timeout: float = 5.0) -> list[dict]:
        """Like wait_usage, then waits past a few flush intervals so that extra rows show up."""
        self.wait_usage(key_id, n, timeout)
        time.sleep(0.3)
        return self.usage(key_id)


def sdk_client(base_url: str, key: str):
    """The official SDK's client, without retries (every error must surface as it is)."""
    import openai

    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)


# --------------------------------------------------------------------------------------------
# Simulator arithmetic
# --------------------------------------------------------------------------------------------


def sim_prompt_tokens(messages: list[dict]) -> int:
    """The simulator's prompt count: per message, content chars / 4 + 3; at least 1."""
    total = 0
    for m in messages:
        c = m.get("content")
        if isinstance(c, list):
            c = " ".join(p.get("text", "") for p in c if isinstance(p, dict))
        total += len(c or "") // 4 + 3
    return max(total, 1)


def sim_reply(flavor: str, upstream_model: str, user_text: str) -> str:
    return f"Hello from {flavor} {upstream_model}: {user_text}"


def cost_micros(prompt: int, completion: int, price: tuple[float, float]) -> int:
    """USD per million tokens is micro-USD per token; rounded to the nearest micro-USD."""
    nanos = prompt * round(price[0] * 1000) + completion * round(price[1] * 1000)
    return (nanos + 500) // 1000


# --------------------------------------------------------------------------------------------
# Raw SSE
# --------------------------------------------------------------------------------------------


def sse_data(lines: Iterator[str]) -> Iterator[str]:
    """Yields the data of each SSE event (comments and other fields are skipped)."""
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
    if data:
        yield "\n".join(data)


def raw_stream(
    http: httpx.Client, api_key: str, body: dict, timeout: float = 20
) -> tuple[httpx.Response, list[str]]:
    """POSTs a streaming chat request; returns the response and the data of every event."""
    with http.stream(
        "POST",
        "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=timeout,
    ) as r:
        if r.status_code != 200:
            r.read()
            return r, []
        events = list(sse_data(r.iter_lines()))
    return r, events


# --------------------------------------------------------------------------------------------
# The OpenAPI spec
# --------------------------------------------------------------------------------------------

SPEC_URI = "urn:switchyard-e2e:openai-openapi"


def spec_path() -> Path:
    override = os.environ.get("SWITCHYARD_OPENAI_SPEC")
    if override:
        return Path(override)
    return REPO_ROOT.parent / "shared" / "reference" / "openai" / "openapi.yaml"


def fix_openapi(node: Any) -> Any:
    """OpenAPI 3.0-isms → JSON Schema 2020-12 (protocols doc §1.1): `nullable: true` becomes
    `anyOf [X, null]`, boolean exclusiveMinimum/Maximum become numeric, `required` is deduped."""
    if isinstance(node, list):
        return [fix_openapi(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: fix_openapi(v) for k, v in node.items()}
    for excl, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(excl), bool):
            if out[excl] and bound in out:
                out[excl] = out.pop(bound)
            else:
                del out[excl]
    if isinstance(out.get("required"), list):
        seen: list = []
        for r in out["required"]:
            if r not in seen:
                seen.append(r)
        out["required"] = seen
    if "nullable" in out:
        nullable = out.pop("nullable")
        if nullable is True:
            desc = out.pop("description", None)
            out = {"anyOf": [out, {"type": "null"}]}
            if desc is not None:
                out["description"] = desc
    return out


class SpecValidator:
    """Validates instances against `#/components/schemas/<Name>` of the processed spec."""

    def __init__(self, spec: dict) -> None:
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(SPEC_URI, resource)
        self.spec = spec
        self._cls = Draft202012Validator
        self._validators: dict[str, Any] = {}

    def validator(self, name: str):
        if name not in self._validators:
            if name not in self.spec["components"]["schemas"]:
                raise KeyError(f"no schema {name} in the spec")
            schema = {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}
            self._validators[name] = self._cls(schema, registry=self.registry)
        return self._validators[name]

    def errors(self, name: str, instance: Any) -> list[str]:
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in self.validator(name).iter_errors(instance)
        ]

    def check(self, name: str, instance: Any) -> None:
        errs = self.errors(name, instance)
        assert not errs, f"{name} rejects the gateway's body:\n" + "\n".join(errs[:10]) + (
            "\nbody: " + json.dumps(instance)[:2000]
        )


def load_spec() -> dict:
    import yaml

    path = spec_path()
    if not path.is_file():
        raise RuntimeError(
            f"OpenAI spec not found at {path}: shared/ must sit beside the clone "
            "(or set SWITCHYARD_OPENAI_SPEC)"
        )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, "rb") as f:
        raw = yaml.load(f, Loader=loader)  # noqa: S506 - a safe loader
    return fix_openapi(raw)
