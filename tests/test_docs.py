"""The documentation's own contract: every module of the package has an API page."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_module_is_listed_in_the_api_reference():
    """docs/api/index.rst is the one list of modules; a module missing there has no page."""
    package = ROOT / "src" / "jumpdet"
    modules = {
        ".".join(("jumpdet", *path.relative_to(package).with_suffix("").parts)).removesuffix(".__init__")
        for path in package.rglob("*.py")
        if path.name != "__main__.py"
    }
    listed = set(re.findall(r"^   (jumpdet[\w.]*)$", (ROOT / "docs" / "api" / "index.rst").read_text(), re.M))
    assert modules - listed == set(), "add these to docs/api/index.rst"
    assert listed - modules == set(), "these are listed but do not exist"
