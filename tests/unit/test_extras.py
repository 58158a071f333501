"""A command whose optional part is not installed names the extra to install, in one line."""

from __future__ import annotations

import argparse

import pytest

from inthegrid import cli
from inthegrid.platform.extras import describe_missing_module, extras_providing


@pytest.mark.parametrize(
    ("module", "extras"),
    [
        ("gradio", ["dashboard"]),
        ("kopf", ["operator"]),
        ("kubernetes.client", ["operator"]),
        ("nats.js.api", ["services"]),  # import name differs from the distribution (nats-py)
        ("pyarrow", ["backtest"]),
        ("pandas", ["services", "backtest", "dashboard"]),
        ("defusedxml", []),  # core: no extra brings it
        ("pytest", []),  # dev only: never the answer for a runtime import
    ],
)
def test_extras_are_read_from_the_installed_metadata(module: str, extras: list[str]) -> None:
    found = extras_providing(module)
    # At least these (another extra may come to need the same package); none when none expected.
    assert set(extras) <= set(found) if extras else found == []


def test_a_missing_optional_package_names_its_extra() -> None:
    text = describe_missing_module(ModuleNotFoundError("No module named 'kopf'", name="kopf"))
    assert "'inthegrid[operator]'" in text


def test_an_unknown_missing_module_says_the_installation_is_incomplete() -> None:
    text = describe_missing_module(ModuleNotFoundError("No module named 'xyz'", name="xyz"))
    assert "'xyz' is missing" in text


def test_cli_answers_a_missing_extra_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def handler(_args: argparse.Namespace) -> int:
        import gradio_not_installed_here  # type: ignore[import-not-found]  # noqa: F401

        return 0

    parser = cli.build_parser()
    original_parse = parser.parse_args

    def parse(argv: object = None) -> argparse.Namespace:
        args = original_parse(["dashboard"])
        args.handler = handler
        return args

    monkeypatch.setattr(parser, "parse_args", parse)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    status = cli.main(["dashboard"])
    err = capsys.readouterr().err
    assert status == cli.RUNTIME_ERROR
    assert err.startswith("inthegrid dashboard: error: the Python package 'gradio_not_installed_here'")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
