"""The backtest tab: run ``inthegrid backtest`` on a chosen or uploaded rule and show its report.

Prices come from the gateway's history API (so the dashboard still reads the API only) or from
an uploaded price table. The backtest is another package's program; the tab runs it as a
subprocess, so a long backtest never blocks the dashboard's event loop, and shows its
``summary.json`` and ``report.html``. When the program is not in this build the tab says so.
"""

from __future__ import annotations

import asyncio
import html
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
import yaml

from inthegrid.dashboard.client import GatewayClient
from inthegrid.dashboard.history import HISTORY_LIMIT, to_iso_utc
from inthegrid.domain.rules import PROOF_OF_CONCEPT_ZONES, rule_from_manifest
from inthegrid.errors import InTheGridError

BACKTEST_COMMAND_MODULE = "inthegrid.commands.backtest"
BUILT_IN_RULE = "proof-of-concept (built in)"
UPLOADED_RULE = "uploaded manifest"
GATEWAY_PRICES = "gateway price history"
UPLOADED_PRICES = "uploaded price table"
BACKTEST_TIMEOUT_SECONDS = 600.0
PROOF_OF_CONCEPT_MANIFEST = {
    "apiVersion": "inthegrid.io/v1alpha1",
    "kind": "ArbitrageRule",
    "metadata": {"name": "proof-of-concept"},
    "spec": {"zones": list(PROOF_OF_CONCEPT_ZONES), "costModel": {"type": "flat", "flatCostEurPerMWh": 2.5}},
}


def backtest_available() -> bool:
    try:
        return importlib.util.find_spec(BACKTEST_COMMAND_MODULE) is not None
    except ModuleNotFoundError:
        return False


def rule_zones(manifest_path: Path) -> list[str]:
    """Zones the first ArbitrageRule of a manifest file watches (what price history to fetch)."""
    for doc in yaml.safe_load_all(manifest_path.read_text(encoding="utf-8")):
        if isinstance(doc, dict) and doc.get("kind") == "ArbitrageRule":
            _, spec = rule_from_manifest(doc)
            return sorted({z for pair in spec.pair_keys() for z in pair})
    raise InTheGridError(f"{manifest_path.name} holds no ArbitrageRule")


def history_table(histories: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """API price items per zone as the backtest's table: timestamp_utc plus one column per zone."""
    records = [
        {"timestamp_utc": p.get("delivery_start"), "zone": zone, "price": p.get("price")}
        for zone, items in histories.items()
        for p in items
    ]
    frame = pd.DataFrame(records, columns=["timestamp_utc", "zone", "price"]).dropna()
    if frame.empty:
        return pd.DataFrame(columns=["timestamp_utc", *histories])
    wide = frame.pivot_table(index="timestamp_utc", columns="zone", values="price", aggfunc="last")
    return wide.reindex(columns=list(histories)).sort_index().reset_index()


def backtest_argv(prices: Path, rule: Path, out_dir: Path, start: str, end: str) -> list[str]:
    argv = [sys.executable, "-m", "inthegrid.cli", "backtest", "--prices", str(prices), "--rule", str(rule)]
    argv += ["--out", str(out_dir)]
    if start:
        argv += ["--from", start]
    if end:
        argv += ["--to", end]
    return argv


def render_report_frame(report_html: str) -> str:
    """The report in a sandboxed iframe, so its scripts (Plotly) run without touching the page."""
    return (
        '<iframe sandbox="allow-scripts" style="width:100%;height:900px;border:0" '
        f'srcdoc="{html.escape(report_html, quote=True)}"></iframe>'
    )


async def run_backtest(
    client: GatewayClient,
    rule_choice: str,
    rule_upload: str | None,
    price_choice: str,
    price_upload: str | None,
    start: str,
    end: str,
) -> tuple[Any, str, str]:
    work = Path(tempfile.mkdtemp(prefix="inthegrid-backtest-"))
    if rule_choice == UPLOADED_RULE:
        if not rule_upload:
            return None, "Upload an ArbitrageRule manifest (YAML) or choose the built-in rule.", ""
        rule_path = Path(rule_upload)
    else:
        rule_path = work / "rule.yaml"
        rule_path.write_text(yaml.safe_dump(PROOF_OF_CONCEPT_MANIFEST), encoding="utf-8")
    if price_choice == UPLOADED_PRICES:
        if not price_upload:
            return None, "Upload a price table (CSV, CSV.gz or Parquet) or use the gateway's history.", ""
        prices_path = Path(price_upload)
    else:
        try:
            zones = rule_zones(rule_path)
            start_iso, end_iso = to_iso_utc(start.strip() or None), to_iso_utc(end.strip() or None)
            items = await asyncio.gather(
                *(client.price_history(z, start=start_iso, end=end_iso, limit=HISTORY_LIMIT) for z in zones)
            )
        except (InTheGridError, ValueError, yaml.YAMLError) as exc:
            return None, f"**{exc}**", ""
        table = history_table(dict(zip(zones, items, strict=True)))
        if table.empty:
            return None, "No data yet: the gateway has no prices for these zones in this period.", ""
        prices_path = work / "prices.csv"
        table.to_csv(prices_path, index=False)
    return await _run(backtest_argv(prices_path, rule_path, work / "out", start.strip(), end.strip()), work)


async def _run(argv: list[str], work: Path) -> tuple[Any, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), BACKTEST_TIMEOUT_SECONDS)
    except TimeoutError:
        proc.kill()
        return None, f"The backtest took longer than {BACKTEST_TIMEOUT_SECONDS:.0f}s and was stopped.", ""
    text = output.decode(errors="replace")[-2000:]
    summary_path, report_path = work / "out" / "summary.json", work / "out" / "report.html"
    if proc.returncode != 0 or not summary_path.exists():
        return None, f"The backtest failed (exit {proc.returncode}):\n\n```\n{text}\n```", ""
    report = render_report_frame(report_path.read_text()) if report_path.exists() else "No report.html."
    return json.loads(summary_path.read_text()), f"```\n{text.strip()}\n```", report


def build_backtest_tab(client: GatewayClient) -> None:
    if not backtest_available():
        gr.Markdown(
            "**Backtest unavailable**: this build has no `inthegrid backtest` program "
            f"(module `{BACKTEST_COMMAND_MODULE}` is missing)."
        )
        return
    with gr.Row():
        rule = gr.Radio([BUILT_IN_RULE, UPLOADED_RULE], value=BUILT_IN_RULE, label="Rule")
        rule_upload = gr.File(
            label="ArbitrageRule manifest (YAML)", file_types=[".yaml", ".yml"], type="filepath"
        )
    with gr.Row():
        prices = gr.Radio([GATEWAY_PRICES, UPLOADED_PRICES], value=GATEWAY_PRICES, label="Prices")
        price_upload = gr.File(
            label="Price table (timestamp_utc + zone columns)",
            type="filepath",
            file_types=[".csv", ".gz", ".parquet"],
        )
    with gr.Row():
        start = gr.Textbox(label="From (YYYY-MM-DD, UTC)", placeholder="2026-01-01")
        end = gr.Textbox(label="To (YYYY-MM-DD, inclusive)", placeholder="2026-01-07")
        run = gr.Button("Run backtest", variant="primary")
    note = gr.Markdown()
    summary = gr.JSON(label="Summary")
    report = gr.HTML()

    async def on_run(*values: Any) -> tuple[Any, str, str]:
        return await run_backtest(client, *values)

    run.click(
        on_run,
        inputs=[rule, rule_upload, prices, price_upload, start, end],
        outputs=[summary, note, report],
        concurrency_limit=1,
    )
