"""Documentation that is generated from code must be current."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_configuration_table_matches_the_settings_classes():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "render_config_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_setting_is_documented_in_the_readme():
    from inthegrid.platform import settings

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for cls in (
        settings.FeedSettings,
        settings.CalculatorSettings,
        settings.RecorderSettings,
        settings.GatewaySettings,
    ):
        for name, field in cls.model_fields.items():
            assert field.description, f"{cls.__name__}.{name} has no description"
            assert f"`INTHEGRID_{name.upper()}`" in readme, f"INTHEGRID_{name.upper()} missing from README"
