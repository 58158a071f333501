"""Which optional part (pyproject extra) brings a package that is not installed.

The slim images and a plain ``pip install inthegrid`` carry only some extras; a command that needs
another one then fails on an import. This names the extra to install instead of a traceback. The
extras are read from the installed package's metadata, so pyproject.toml stays their one definition.
"""

from __future__ import annotations

import re
from importlib import metadata

# Import names that differ from the name of the distribution that provides them.
_DISTRIBUTION_OF = {"nats": "nats-py", "yaml": "pyyaml", "PIL": "pillow"}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
# Extras for developing and running on a laptop, never the answer for a missing runtime package.
_NOT_RUNTIME = {"dev", "local"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extras_providing(module: str, distribution: str = "inthegrid") -> list[str]:
    """The runtime extras of ``distribution`` that require the package behind ``module``."""
    top = module.split(".")[0]
    wanted = _canonical(_DISTRIBUTION_OF.get(top, top))
    try:
        requirements = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    found: list[str] = []
    for requirement in requirements:
        name, marker = _NAME.match(requirement), _EXTRA.search(requirement)
        extra = marker.group(1) if marker else None
        if name and extra and _canonical(name.group(1)) == wanted and extra not in _NOT_RUNTIME:
            found.append(extra)
    return list(dict.fromkeys(found))  # in pyproject order, each once


def describe_missing_module(exc: ModuleNotFoundError) -> str:
    """One line for the user: what is missing and which extra provides it."""
    module = exc.name or str(exc)
    extras = extras_providing(module)
    if not extras:
        return f"the Python package {module!r} is missing (is the installation complete?)"
    choices = " or ".join(f"'inthegrid[{extra}]'" for extra in extras)
    return (
        f"this command needs {module.split('.')[0]}, which comes with {choices}; "
        "install that extra or use an image built with it"
    )
