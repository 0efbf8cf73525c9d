"""The package's layout: docs/architecture.rst shows the tree as it is, and imports go one way."""

import ast
import re
from pathlib import Path

import pytest

import jumpdet

PACKAGE = Path(jumpdet.__file__).parent
DOC = Path(__file__).parents[1] / "docs" / "architecture.rst"

# Top to bottom: a module may import only modules below it. Package __init__ files
# re-export, and count as the package itself.
ORDER = [
    "cli",
    "cli.demo",
    "cli.compile",
    "cli.run",
    "batch",
    "batch.engine",
    "batch._preload",
    "batch.warm",
    "batch.progress",
    "batch.report",
    "batch.exposure",
    "batch.parameters",
    "report",
    "tune",
    "entry_points",
    "pipeline",
    "step",
    "references",
    "references.loading",
    "references.sanity",
    "references.crds_access",
    "references.crds_cache",
    "saving",
    "inputs",
    "errors",
    "plotting",
    "simulate",
    "simulate.ramps",
    "simulate.events",
    "simulate.frames",
    "detect",
    "catalog",
    "table_text",
    "significance",
    "recording",
    "large_events",
    "large_events.showers",
    "large_events.snowballs",
    "large_events.footprints",
    "large_events.snr_planes",
    "large_events._ring_smoothing",
    "large_events._overlap_add",
    "large_events._ellipses",
    "large_events._regions",
    "likelihood",
    "likelihood_flags",
    "postprocess",
    "twopoint",
    "tiling",
    "plan",
    "_stats",
    "_stats.likelihood_screen",
    "_stats.ramp_likelihood",
    "_stats.sigma_clip",
    "_stats.medians",
    "exposure",
    "params",
    "flags",
    "atomic",
    "compilation",
]
CORE = ORDER[ORDER.index("detect") :]
OUTSIDE_THE_CORE = ("jwst", "stdatamodels", "stpipe", "crds")


def documented_tree() -> set[str]:
    """Paths of the ``.. code-block:: text`` tree in architecture.rst (4 spaces a level)."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split(".. code-block:: text", 1)[1].split("\nImports", 1)[0]
    paths, parents = set(), []
    for line in block.splitlines():
        match = re.match(r"^   ( *)(\S+)", line)
        if not match or not match.group(2).replace("/", "").replace("_", "").replace(".", "").isalnum():
            continue
        name, depth = match.group(2), len(match.group(1)) // 4
        if len(match.group(1)) % 4 or depth > len(parents):
            continue  # a continued description, not a path
        parents = [*parents[:depth], name.rstrip("/")]
        paths.add("/".join(parents))
    return paths


def package_tree() -> set[str]:
    files = [p for p in PACKAGE.rglob("*") if p.suffix in (".py", ".cfg") and "__pycache__" not in p.parts]
    paths = set()
    for path in files:
        parts = ("jumpdet", *path.relative_to(PACKAGE).parts)
        paths.update("/".join(parts[:k]) for k in range(1, len(parts) + 1))
    return paths


def test_the_documented_tree_is_the_package_tree():
    assert documented_tree() == package_tree()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """jumpdet modules (relative to the package) and outside packages that ``path`` imports."""
    parts = module_name(path).split(".")
    package = parts if path.name == "__init__.py" else parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1] if node.level > 1 else package
            found.add(".".join([*base, *([node.module] if node.module else [])]))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                inside = name.startswith("jumpdet.")
                found.add(name.removeprefix("jumpdet.") if inside else name.split(".")[0])
    return found


def known(module: str) -> str:
    """The entry of ORDER that ``module`` is (or lies in)."""
    while module not in ORDER and "." in module:
        module = module.rsplit(".", 1)[0]
    return module


MODULES = sorted(
    p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts and p != PACKAGE / "__init__.py"
)


def test_every_module_has_its_place_in_the_import_order():
    assert {module_name(p) for p in MODULES} == set(ORDER)


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_imports_go_downwards(path):
    here = ORDER.index(module_name(path))
    for target in imported_modules(path):
        if known(target) in ORDER:
            assert ORDER.index(known(target)) > here, f"{module_name(path)} imports {target}"


@pytest.mark.parametrize("path", [p for p in MODULES if module_name(p) in CORE], ids=module_name)
def test_the_core_imports_no_datamodels_nor_stpipe(path):
    assert not imported_modules(path) & set(OUTSIDE_THE_CORE)
