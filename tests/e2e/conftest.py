"""Session fixtures: simulators, gateways, the admin API, per-test API keys and SDK clients.

Layout of the session gateway (`gateway`), all upstreams being `switchyard-sim` processes:

| model            | channels (priority)                                                      |
|------------------|--------------------------------------------------------------------------|
| gpt-4            | openai-main (10) → sim A, mapped to upstream `gpt-4-0613`                |
| gpt-3.5-turbo    | openai-main (10) → sim A (single channel: fault tests use it)            |
| gpt-4o           | openai-dead (100) → 127.0.0.1:1 (refused), openai-backup (1) → sim B      |
| gpt-4-turbo      | openai-badkey (50) → sim A with a wrong key (401), openai-backup (1)      |
| moonshot-v1-8k   | moonshot-main → sim M (moonshot flavour)                                 |
| step-1-8k        | stepfun-main → sim S (stepfun flavour)                                   |

`native_gateway` serves the native providers (natives.READY): per provider a channel
`<provider>-main` with the provider's default models (no `models` list) on its own simulator,
and `<provider>-badkey` with a wrong key serving only `<provider>-badkey…-e2e` names; and
`openai-dialects` (an OpenAI simulator: gpt-4o, text-embedding-3-small) behind the Anthropic and
Gemini client dialects. Its channels
never cool down, so that injected upstream errors cannot disturb other tests.

`tight_gateway` is a second gateway with a 4 KiB body limit and 1 s upstream timeouts (413,
504 and idle-timeout tests), so that its limits cannot disturb the other tests.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable, Iterator

import httpx
import openai
import pytest

import natives
import support
from support import ADMIN_KEY, PRICES, SIM_KEYS, Admin, Gateway, Proc, sdk_client

_started: list[Proc] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    try:
        support.binary("switchyard")
        support.binary("switchyard-sim")
    except RuntimeError as e:
        pytest.exit(str(e), returncode=1)


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("switchyard-e2e")


@pytest.fixture(scope="session")
def sims(work_dir: Path) -> Iterator[dict[str, Proc]]:
    procs: dict[str, Proc] = {}
    try:
        for name, flavor in (
            ("sim-openai-a", "openai"),
            ("sim-openai-b", "openai"),
            ("sim-moonshot", "moonshot"),
            ("sim-stepfun", "stepfun"),
        ):
            procs[name] = support.start_sim(flavor, work_dir, name=name, key=SIM_KEYS[name])
            _started.append(procs[name])
        yield procs
    finally:
        for p in procs.values():
            p.terminate()


@pytest.fixture(scope="session")
def slow_sim(work_dir: Path) -> Iterator[Proc]:
    """An OpenAI simulator streaming 10 chunks 200 ms apart (graceful-shutdown test)."""
    p = support.start_sim(
        "openai", work_dir, name="sim-slow", key=SIM_KEYS["sim-slow"], chunks=10,
        chunk_interval_ms=200,
    )
    _started.append(p)
    yield p
    p.terminate()


def _main_channels(sims: dict[str, Proc]) -> list[dict]:
    a, b = sims["sim-openai-a"].url, sims["sim-openai-b"].url
    return [
        {
            "name": "openai-main",
            "provider": "openai",
            "base_url": a + "/v1",
            "key": SIM_KEYS["sim-openai-a"],
            "models": ["gpt-4", "gpt-3.5-turbo"],
            "model_map": {"gpt-4": "gpt-4-0613"},
            "priority": 10,
        },
        {
            "name": "openai-dead",
            "provider": "openai",
            "base_url": "http://127.0.0.1:1/v1",
            "key": "sk-up-dead",
            "models": ["gpt-4o"],
            "priority": 100,
        },
        {
            "name": "openai-badkey",
            "provider": "openai",
            "base_url": a + "/v1",
            "key": "sk-up-wrong-key",
            "models": ["gpt-4-turbo"],
            "priority": 50,
        },
        {
            "name": "openai-backup",
            "provider": "openai",
            "base_url": b + "/v1",
            "key": SIM_KEYS["sim-openai-b"],
            "models": ["gpt-4o", "gpt-4-turbo"],
            "priority": 1,
        },
        {
            "name": "moonshot-main",
            "provider": "moonshot",
            "base_url": sims["sim-moonshot"].url + "/v1",
            "key": SIM_KEYS["sim-moonshot"],
            "models": ["moonshot-v1-8k"],
        },
        {
            "name": "stepfun-main",
            "provider": "stepfun",
            "base_url": sims["sim-stepfun"].url + "/v1",
            "key": SIM_KEYS["sim-stepfun"],
            "models": ["step-1-8k"],
        },
    ]


@pytest.fixture(scope="session")
def gateway(work_dir: Path, sims: dict[str, Proc]) -> Iterator[Gateway]:
    db = work_dir / "main.db"
    cfg = support.gateway_config(
        db_path=db,
        channels=_main_channels(sims),
        admin_key=ADMIN_KEY,
        prices=PRICES,
        server={"shutdown_grace_secs": 3},
        upstream={
            "connect_timeout_ms": 2000,
            "first_byte_timeout_ms": 15000,
            "idle_timeout_ms": 15000,
            "max_attempts": 3,
            "failure_threshold": 3,
            "cooldown_secs": 30,
        },
    )
    gw = support.start_gateway("gateway-main", cfg, work_dir, db)
    _started.append(gw.proc)
    yield gw
    died = gw.proc.popen.poll()
    code = gw.proc.terminate()
    if died is not None:
        pytest.fail(f"the session gateway died during the run (exit {died})")
    assert code == 0, f"session gateway exited {code} on SIGTERM\n{gw.proc.log_tail()}"


@pytest.fixture(scope="session")
def native_sims(work_dir: Path) -> Iterator[dict[str, Proc]]:
    """One simulator per ready native provider, keyed by provider."""
    procs: dict[str, Proc] = {}
    try:
        for n in natives.READY:
            procs[n.provider] = support.start_native_sim(
                n.sim_argv, work_dir, name=f"sim-{n.provider}", scheme=n.scheme
            )
            _started.append(procs[n.provider])
        procs["openai"] = support.start_sim(
            "openai", work_dir, name="sim-openai-dialects", key=natives.OPENAI_KEY
        )
        _started.append(procs["openai"])
        yield procs
    finally:
        for p in procs.values():
            p.terminate()


def _native_channels(native_sims: dict[str, Proc]) -> list[dict]:
    channels = [
        {
            "name": "openai-dialects",
            "provider": "openai",
            "base_url": native_sims["openai"].url + "/v1",
            "key": natives.OPENAI_KEY,
            "models": natives.OPENAI_MODELS,
        }
    ]
    for n in natives.READY:
        base = native_sims[n.provider].url + n.base_path
        channels.append(
            {"name": f"{n.provider}-main", "provider": n.provider, "base_url": base, "key": n.key}
        )
        channels.append(
            {
                "name": f"{n.provider}-badkey",
                "provider": n.provider,
                "base_url": base,
                "key": n.bad_key,
                "models": list(n.bad_models()),
                "model_map": n.bad_models(),
            }
        )
    return channels


@pytest.fixture(scope="session")
def native_gateway(work_dir: Path, native_sims: dict[str, Proc]) -> Iterator[Gateway]:
    db = work_dir / "native.db"
    cfg = support.gateway_config(
        db_path=db,
        channels=_native_channels(native_sims),
        admin_key=ADMIN_KEY,
        server={"shutdown_grace_secs": 1},
        upstream={
            "connect_timeout_ms": 2000,
            "first_byte_timeout_ms": 15000,
            "idle_timeout_ms": 15000,
            "max_attempts": 2,
            "failure_threshold": 100000,
            "cooldown_secs": 1,
        },
    )
    gw = support.start_gateway("gateway-native", cfg, work_dir, db)
    _started.append(gw.proc)
    yield gw
    died = gw.proc.popen.poll()
    code = gw.proc.terminate()
    if died is not None:
        pytest.fail(f"the native gateway died during the run (exit {died})")
    assert code == 0, f"native gateway exited {code} on SIGTERM\n{gw.proc.log_tail()}"


@pytest.fixture(scope="session")
def native_admin(native_gateway: Gateway) -> Admin:
    return native_gateway.admin()


@pytest.fixture
def native_key(native_admin: Admin, request: pytest.FixtureRequest) -> dict:
    """A fresh unrestricted key of the native gateway for this test."""
    return native_admin.create_key(f"{request.node.name[:80]}-{next(_key_seq)}")


@pytest.fixture
def native_client(native_gateway: Gateway, native_key: dict) -> Iterator[openai.OpenAI]:
    c = sdk_client(native_gateway.base_url, native_key["key"])
    yield c
    c.close()


@pytest.fixture(scope="session")
def tight_gateway(work_dir: Path, sims: dict[str, Proc]) -> Iterator[Gateway]:
    db = work_dir / "tight.db"
    cfg = support.gateway_config(
        db_path=db,
        channels=[
            {
                "name": "openai-tight",
                "provider": "openai",
                "base_url": sims["sim-openai-a"].url + "/v1",
                "key": SIM_KEYS["sim-openai-a"],
                "models": ["gpt-3.5-turbo"],
            }
        ],
        admin_key=ADMIN_KEY,
        prices=PRICES,
        server={"max_body_bytes": 4096, "shutdown_grace_secs": 1},
        upstream={"first_byte_timeout_ms": 1000, "idle_timeout_ms": 1000, "max_attempts": 2},
    )
    gw = support.start_gateway("gateway-tight", cfg, work_dir, db)
    _started.append(gw.proc)
    yield gw
    gw.proc.terminate()


@pytest.fixture(scope="session")
def admin(gateway: Gateway) -> Admin:
    return gateway.admin()


@pytest.fixture(scope="session")
def http(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=20) as c:
        yield c


_key_seq = itertools.count(1)


@pytest.fixture
def make_key(admin: Admin, request: pytest.FixtureRequest) -> Callable[..., dict]:
    """Creates a key through the admin API: make_key(quota_usd=…, models=…, rpm=…, …)."""

    def make(admin_api: Admin = admin, **fields) -> dict:
        name = f"{request.node.name[:80]}-{next(_key_seq)}"
        return admin_api.create_key(name, **fields)

    return make


@pytest.fixture
def api_key(make_key) -> dict:
    """A fresh unrestricted key for this test: {"id", "key", …}."""
    return make_key()


@pytest.fixture
def client(gateway: Gateway, api_key: dict) -> Iterator[openai.OpenAI]:
    c = sdk_client(gateway.base_url, api_key["key"])
    yield c
    c.close()


@pytest.fixture(scope="session")
def spec() -> support.SpecValidator:
    """The processed OpenAI spec (loaded once per session: the YAML is 3 MB)."""
    return support.SpecValidator(support.load_spec())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for p in _started:
            if p.name.startswith("gateway"):
                rep.sections.append((f"{p.name} stderr (tail)", p.log_tail(25)))
