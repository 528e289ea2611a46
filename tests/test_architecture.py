"""Data flows one way, and so do imports (see ../shared/style.md, principle 2).

The package is arranged in folders that are layers (core → symbolic → forms → display → testing →
cli, with ``__init__``/``__main__`` on top). A module may import any module of a lower folder,
and, inside its own folder, only modules placed lower in that folder's order. A new module must be
placed in ``LAYERS``, so its place is a decision, not an accident. No function-level imports of the
package's own modules (they hide cycles). Each folder says in its ``__init__`` docstring what it
owns and what it may import.
"""

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tensorderiv"

# folders, lowest first; inside each, its modules lowest first (a set = one rank)
LAYERS: dict[str, list[set[str]]] = {
    "core": [{"errors"}, {"options", "axes", "optional", "renderers"},
             {"arithmetic", "progress", "backends"}, {"ctensor", "symmetric", "paths", "kernels"},
             {"contract"}],
    "symbolic": [{"nodes"}, {"limits"}, {"simplify"}, {"functions"}, {"expr"}, {"subscripts"},
                 {"parse"},
                 {"differentiate", "substitute", "reverse", "factor", "fuse"}, {"values"},
                 {"compute"},
                 {"steps"}, {"evaluate"},
                 {"derivative"}, {"multi"}],
    "forms": [{"structure", "layouts", "latex"}, {"rules"}, {"matrixform"}, {"reduce"},
              {"naming"}, {"products"}, {"matrixtext"}, {"notation"}, {"collapsed"}, {"factors"}],
    "display": [{"html"}, {"rich"}, {"plot"}, {"explain"}],
    "testing": [{"domains", "differences"}, {"strategies", "diagnosis"}, {"check"}],
    "cli": [{"values"}, {"report"}, {"render", "demo"}, {"app"}],
    "": [{"__main__"}],  # the package's own __init__ sits above everything
}
FOLDERS = list(LAYERS)


def rank(name: str) -> tuple[int, int] | None:
    """(folder rank, rank inside the folder) of a dotted module name; None if not placed."""
    parts = name.split(".") if name else []
    if not parts or name == "__init__":
        return (len(FOLDERS), 0)
    folder, module = (parts[0], parts[1] if len(parts) > 1 else None)
    if folder not in LAYERS:
        folder, module = "", parts[0]
    levels = LAYERS[folder]
    if module is None:  # the folder's __init__: above its own modules
        return (FOLDERS.index(folder), len(levels))
    for r, level in enumerate(levels):
        if module in level:
            return (FOLDERS.index(folder), r)
    return None


def _modules() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1] or ["__init__"]
        yield ".".join(parts), path.read_text()


def _is_package(name: str) -> bool:
    return name == "__init__" or (PACKAGE / name.replace(".", "/") / "__init__.py").exists()


def _is_module(name: str) -> bool:
    path = PACKAGE / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _internal_imports(name: str, tree: ast.AST) -> Iterator[tuple[ast.ImportFrom, str]]:
    if name == "__init__":
        pkg: list[str] = []
    elif _is_package(name):
        pkg = name.split(".")
    else:
        pkg = name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
            target = ".".join([*base, *([node.module] if node.module else [])])
            if node.module is None or _is_module(f"{target}.{node.names[0].name}"):
                for alias in node.names:  # from . import x, y / from ..forms import notation
                    yield node, f"{target}.{alias.name}".lstrip(".")
            else:
                yield node, target
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tensorderiv"):
            yield node, node.module.removeprefix("tensorderiv").lstrip(".")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tensorderiv."):
                    yield node, alias.name.removeprefix("tensorderiv.")


def upward_imports(modules: Iterable[tuple[str, str]]) -> list[str]:
    """Every import that reaches sideways or up the layers, as readable lines."""
    bad = []
    for name, source in modules:
        here = rank(name)
        for node, target in _internal_imports(name, ast.parse(source)):
            there = rank(target)
            if there is None:  # an attribute of a module, e.g. 'symbolic.expr.E'
                there = rank(target.rsplit(".", 1)[0])
            if target != name and there is not None and here is not None and there >= here:
                bad.append(f"{name} imports {target} (line {node.lineno})")
    return bad


def function_level_imports(modules: Iterable[tuple[str, str]]) -> list[str]:
    """Imports of the package's own modules inside functions (they hide cycles)."""
    bad = []
    for name, source in modules:
        for fn in ast.walk(ast.parse(source)):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(fn):
                    if isinstance(node, ast.ImportFrom) and (
                            node.level or (node.module or "").startswith("tensorderiv")):
                        bad.append(f"{name}.{fn.name} (line {node.lineno})")
    return bad


def test_every_module_has_a_layer():
    missing = [name for name, _ in _modules() if rank(name) is None]
    assert not missing, f"place these modules in LAYERS: {missing}"


def test_every_folder_is_a_layer_with_a_docstring_saying_what_it_owns():
    folders = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert folders == sorted(f for f in FOLDERS if f), "a folder missing from LAYERS (or gone)"
    for folder in folders:
        doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text()))
        assert doc and len(doc) > 200 and "import" in doc, f"{folder}/__init__.py docstring"


def test_imports_point_down_the_layers():
    bad = upward_imports(_modules())
    assert not bad, "imports that reach upstream or sideways:\n" + "\n".join(bad)


def test_an_upward_import_is_caught():
    # the checker itself can fail: a core module reaching up, a folder reaching up, a sideways
    # import inside a folder, and a plain `import tensorderiv.x` form
    planted = [
        ("core.axes", "from ..symbolic.expr import Expr\n"),
        ("symbolic.nodes", "from ..forms import notation\n"),
        ("forms.structure", "from .reduce import reduce\n"),
        ("testing.check", "import tensorderiv.cli.app\n"),
        ("cli.values", "from .values import Values\n"),  # itself: allowed
    ]
    assert upward_imports(planted) == [
        "core.axes imports symbolic.expr (line 1)",
        "symbolic.nodes imports forms.notation (line 1)",
        "forms.structure imports forms.reduce (line 1)",
        "testing.check imports cli.app (line 1)",
    ]


def test_no_function_level_imports_of_the_package():
    bad = function_level_imports(_modules())
    assert not bad, f"function-level imports of the package: {bad}"
    assert function_level_imports([("forms.reduce", "def f():\n    from ..core import axes\n")])


MAX_LINES = 600  # a module near this splits by concern (the brief)


def test_no_module_over_the_line_limit():
    long = {name: n for name, source in _modules() if (n := len(source.splitlines())) > MAX_LINES}
    assert not long, f"split these modules by concern (over {MAX_LINES} lines): {long}"


def test_no_eval_or_exec_in_the_package():
    for name, source in _modules():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("eval", "exec", "compile"), f"{name}: {node.func.id}"


# the public surface before the package was arranged in folders: it must not shrink
PUBLIC = """Axis CTensor Compiled DenseLimitError Derivative DomainError Expr LabelError MatrixForm
ParseError ShapeError StructureError TensorDerivError ValuesError abs chain contract cos dense_limit
derive det diag dot einsum einsum_notation evaluate exp get_dense_limit inv log logdet logsumexp
matrix_notation mean norm outer parse reduce relu set_dense_limit sigmoid sin softmax softplus sqrt
square sum tanh to_layout trace var""".split()  # noqa: SIM905 - a word list reads better


def test_the_public_api_survives_the_move():
    import tensorderiv
    import tensorderiv.testing
    from tensorderiv.cli import main  # the console script's old entry point

    assert set(PUBLIC) <= set(tensorderiv.__all__)
    assert all(hasattr(tensorderiv, name) for name in PUBLIC)
    assert {"AUTO_DENSE_MAX", "DerivativeCheck", "check_derivative"} <= set(
        tensorderiv.testing.__all__)
    assert main(["derive", "sum(x * x)", "--wrt", "x", "--shape", "x=2"]) == 0
