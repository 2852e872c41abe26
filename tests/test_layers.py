"""The package's layers import only downward, and its modules and functions stay small enough to read.

Layers, lowest first (a module may import its own layer and any lower one)::

    0  recon.geometry, recon.metrics, recon._checks, recon._version, recon._logging   foundations (numpy/torch only)
    1  recon.io            files: may import layer 0 only
    2  recon.operators     A, Aᵀ, B_w, B_wᵀ
    3  recon.analytic      classical reconstruction
    3  recon.interop       ASTRA, ODL, deepinv (geometry and operators only)
    4  recon.models        known-operator networks
    5  recon.simulation    phantoms, noise, datasets
    6  recon.training      ``recon train``
    7  recon.evaluation    scores, comparison methods, reports
    8  recon.app           command line, demo, file workflows
    9  recon (__init__, __main__)   the public API

No intra-package import may hide inside a function (that is how upward imports hid before); heavy optional
third-party packages (matplotlib, h5py, astra, ...) may be imported lazily. Run as a script for the report:
``python tests/test_layers.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


PACKAGE = Path(__file__).resolve().parents[1] / "recon"
LAYERS = {"geometry": 0, "metrics": 0, "_checks": 0, "_version": 0, "_logging": 0, "io": 1, "operators": 2, "analytic": 3,
          "interop": 3, "models": 4, "simulation": 5, "training": 6, "evaluation": 7, "app": 8, "__init__": 9,
          "__main__": 9}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return LAYERS["__init__"]
    if parts[1] not in LAYERS:
        raise KeyError(f"{module}: recon.{parts[1]} has no layer; add it to LAYERS in tests/test_layers.py")
    return LAYERS[parts[1]]


def _target(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """Absolute names of the recon modules an import statement reaches (empty for third-party imports)."""
    if node.level == 0:
        base = node.module or ""
        if base != "recon" and not base.startswith("recon."):
            return []
    else:
        here = module.split(".") if is_package else module.split(".")[:-1]
        here = here[:len(here) - node.level + 1]
        base = ".".join(here + ([node.module] if node.module else []))
    if base == "recon" or node.module is None:  # from . import x: x may be a module
        return [f"{base}.{a.name}" if (PACKAGE.parent / (base + "." + a.name).replace(".", "/")).with_suffix(".py")
                .exists() or (PACKAGE.parent / (base + "." + a.name).replace(".", "/")).is_dir() else base
                for a in node.names]
    return [base]


def modules() -> list[tuple[str, Path]]:
    return sorted((_module_name(p), p) for p in PACKAGE.rglob("*.py"))


def problems() -> tuple[list[str], dict[str, set[str]]]:
    """Every rule broken, and the import graph between layers ``{module: {imported module}}``."""
    found, graph = [], {}
    for module, path in modules():
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        lines = source.count("\n") + 1
        if lines > MAX_MODULE_LINES:
            found.append(f"{module}: {lines} lines (at most {MAX_MODULE_LINES})")
        own = _layer(module)
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for fn in functions:
            length = fn.end_lineno - fn.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{module}.{fn.name} (line {fn.lineno}): {length} lines (at most {MAX_FUNCTION_LINES})")
        inside = {id(n) for fn in functions for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name == "recon" or a.name.startswith("recon.")]
            elif isinstance(node, ast.ImportFrom):
                targets = _target(module, path.name == "__init__.py", node)
            else:
                continue
            for target in targets:
                graph.setdefault(module, set()).add(target)
                if id(node) in inside:
                    found.append(f"{module} (line {node.lineno}): imports {target} inside a function")
                layer = _layer(target)
                allowed = layer == own or (layer < own and (own != LAYERS["io"] or layer == 0))
                if not allowed:
                    found.append(f"{module} (layer {own}) imports {target} (layer {layer}, line {node.lineno})")
    return found, graph


def test_layers_import_only_downward_and_modules_stay_small():
    found, _ = problems()
    assert not found, "\n".join(found)


GEOMETRY_TYPES = {"ParallelBeam", "FanBeam", "ParallelBeamVec", "FanBeamVec", "ConeBeam", "ConeBeamVec"}


def type_branches() -> list[str]:
    """``isinstance`` tests on a geometry type outside recon/geometry and recon/interop: a module elsewhere asks a
    geometry what it is (``point_source``, ``model``, its vector form), so a new geometry needs no new branch."""
    found = []
    for module, path in modules():
        if module.startswith(("recon.geometry", "recon.interop")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                if names & GEOMETRY_TYPES:
                    found.append(f"{module}:{node.lineno} branches on {sorted(names & GEOMETRY_TYPES)}")
    return found


def test_no_module_outside_geometry_and_interop_branches_on_a_geometry_type():
    found = type_branches()
    assert not found, "\n".join(found)


def main() -> int:
    found, graph = problems()
    by_layer: dict[int, set[str]] = {}
    for module, _ in modules():
        by_layer.setdefault(_layer(module), set()).add(module)
    for layer in sorted(by_layer):
        mods = sorted(by_layer[layer])
        deps = sorted({_layer(t) for m in mods for t in graph.get(m, ())} - {layer})
        print(f"layer {layer}: {', '.join(mods)}")
        print(f"    imports layers {deps or '-'}")
    print(f"\n{len(modules())} modules; {len(found)} problem(s)")
    for line in found:
        print("  " + line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
