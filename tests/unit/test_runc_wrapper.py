"""scripts/runc-bounded-caps: what it removes from a container's capabilities, and what it leaves."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "runc-bounded-caps"
# This VM's bounding set: every capability up to CHECKPOINT_RESTORE (40) but SYS_RESOURCE (24).
HOST_MASK = 0x000001FFFEFFFFFF


def load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("runc_bounded_caps", str(SCRIPT))
    spec = importlib.util.spec_from_loader("runc_bounded_caps", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


wrapper = load()
ALL = [f"CAP_{name}" for name in wrapper.CAPABILITIES]


def test_the_missing_capability_is_found_from_the_mask() -> None:
    assert wrapper.missing_capabilities(HOST_MASK) == {"CAP_SYS_RESOURCE"}
    assert wrapper.missing_capabilities((1 << len(ALL)) - 1) == set()


def test_the_bounding_set_is_read_from_proc_status(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\trunc\nCapPrm:\t0\nCapBnd:\t000001fffeffffff\n")
    assert wrapper.bounding_set(str(status)) == HOST_MASK


def test_a_privileged_config_loses_only_what_the_host_lacks(tmp_path: Path) -> None:
    config = {
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"], "capabilities": {k: list(ALL) for k in wrapper.CAP_LISTS}},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    wrapper.rewrite(str(path), {"CAP_SYS_RESOURCE"}, whole_config=True)
    caps = json.loads(path.read_text())["process"]["capabilities"]
    for kind in wrapper.CAP_LISTS:
        assert caps[kind] == [c for c in ALL if c != "CAP_SYS_RESOURCE"]
    assert json.loads(path.read_text())["process"]["args"] == ["sh"]


def test_an_unprivileged_config_is_left_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    text = json.dumps({"process": {"capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"]}}}, indent=1)
    path.write_text(text)
    wrapper.rewrite(str(path), {"CAP_SYS_RESOURCE"}, whole_config=True)
    assert path.read_text() == text


def test_an_exec_process_file_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "process.json"
    path.write_text(
        json.dumps({"args": ["true"], "capabilities": {"effective": ["CAP_SYS_RESOURCE", "CAP_KILL"]}})
    )
    wrapper.rewrite(str(path), {"CAP_SYS_RESOURCE"}, whole_config=False)
    assert json.loads(path.read_text())["capabilities"]["effective"] == ["CAP_KILL"]


@pytest.mark.parametrize(
    ("argv", "command", "bundle"),
    [
        (
            [
                "--root",
                "/run/moby",
                "--log",
                "l.json",
                "--log-format",
                "json",
                "create",
                "--bundle",
                "/b",
                "id",
            ],
            "create",
            "/b",
        ),
        (["--systemd-cgroup", "run", "-b", "/b", "id"], "run", "/b"),
        (["create", "--bundle=/b", "id"], "create", "/b"),
        (["--root", "/r", "state", "id"], "state", None),
    ],
)
def test_the_subcommand_and_bundle_are_found_past_global_options(
    argv: list[str], command: str, bundle: str | None
) -> None:
    found, rest = wrapper.subcommand(argv)
    assert found == command
    assert wrapper.option_value(rest, "--bundle", "-b") == bundle


def test_the_process_file_of_an_exec_is_found() -> None:
    found, rest = wrapper.subcommand(["--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"])
    assert found == "exec" and wrapper.option_value(rest, "--process", "-p") == "/tmp/p.json"
