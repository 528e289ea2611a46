"""Data flows one way, and so do imports (see ../shared/style.md, principle 2).

Each module of the package may import only modules of a lower layer. A new module must be
placed in LAYERS, so the order is a decision, not an accident. No function-level imports of the
package's own modules (they hide cycles).
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tensorderiv"

# lowest first; a module may import any module of a lower layer
LAYERS = [
    {"errors", "options", "axes", "optional"},
    {"ctensor"},
    {"contract"},
    {"structure", "layouts"},
    {"matrixform", "latex"},
    {"reduce"},
    {"nodes"},
    {"simplify"},
    {"functions"},
    {"expr"},
    {"parse"},
    {"differentiate"},
    {"evaluate"},
    {"derivative"},
    {"notation"},
    {"testing.strategies", "testing.differences"},
    {"testing.check"},
    {"testing"},
    {"cli_values"},
    {"cli_report"},
    {"cli_render", "cli_demo"},
    {"cli"},
    {"__init__"},
    {"__main__"},
]
RANK = {m: r for r, layer in enumerate(LAYERS) for m in layer}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        yield ".".join(parts), path


def _internal_imports(name, tree):
    pkg = name.split(".")[:-1] if "." in name else []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
            target = ".".join([*base, node.module]) if node.module else ".".join(base)
            if node.module is None:  # from . import x, y
                for alias in node.names:
                    yield node, ".".join([*base, alias.name])
            else:
                yield node, target
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tensorderiv"):
            yield node, node.module.removeprefix("tensorderiv").lstrip(".")


def test_every_module_has_a_layer():
    missing = [name for name, _ in _modules() if name not in RANK]
    assert not missing, f"place these modules in LAYERS: {missing}"


def test_imports_point_down_the_pipeline():
    bad = []
    for name, path in _modules():
        tree = ast.parse(path.read_text())
        for node, target in _internal_imports(name, tree):
            if target == "":
                continue
            t = target if target in RANK else target.split(".")[0]
            if t in RANK and RANK[t] >= RANK[name] and t != name:
                bad.append(f"{name} imports {target} (line {node.lineno})")
    assert not bad, "imports that reach upstream or sideways:\n" + "\n".join(bad)


def test_no_function_level_imports_of_the_package():
    bad = []
    for name, path in _modules():
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(fn):
                    if isinstance(node, ast.ImportFrom) and (
                            node.level or (node.module or "").startswith("tensorderiv")):
                        bad.append(f"{name}.{fn.name} (line {node.lineno})")
    assert not bad, f"function-level imports of the package: {bad}"


def test_no_eval_or_exec_in_the_package():
    for name, path in _modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("eval", "exec", "compile"), f"{name}: {node.func.id}"
