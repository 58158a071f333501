"""One exception root: every exception class InTheGrid defines derives from InTheGridError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import inthegrid
import inthegrid_operator
from inthegrid.errors import InTheGridError

SKIP = {"inthegrid.dashboard.app", "inthegrid.dashboard.backtest"}  # import Gradio: slow


def own_exception_classes() -> list[type[BaseException]]:
    found = []
    for package in (inthegrid, inthegrid_operator):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if info.name in SKIP or info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                    found.append(cls)
    return found


def test_every_exception_class_is_under_the_one_root() -> None:
    classes = own_exception_classes()
    assert len(classes) >= 10  # the walk found the package's errors
    strays = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, InTheGridError)]
    assert strays == []
