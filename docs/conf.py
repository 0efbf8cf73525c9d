"""Sphinx configuration.

Build (from the repository root, after ``pip install ".[docs]"``)::

    python -m sphinx -n -W -b html docs docs/_build/html

The build is offline: no intersphinx, no remote theme assets. References to other
packages (numpy, jwst, stpipe, ...) therefore cannot resolve and are listed in
``nitpick_ignore_regex``; every reference to jumpdet itself must resolve (``-n -W``).
"""

import importlib
import re
from types import ModuleType

from jumpdet import __version__

project = "jumpdet"
author = "jumpdet developers"
copyright = "jumpdet developers"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx.ext.mathjax",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "api/generated/*.*.rst.tmp"]
nitpicky = True

# API pages: the module lists in api/index.rst drive autosummary, which writes one
# page per module into api/generated/ (not kept in git) from _templates/autosummary/.
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = False  # a package page lists its __all__
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # types are in the numpydoc text, with shapes and units
# a step's ``spec`` (configobj text) is its arguments page, in prose: step/arguments.rst
autodoc_default_options = {"show-inheritance": True, "exclude-members": "spec"}
# numpydoc sections; types stay text ("(nints, ngroups) float ndarray, DN"), not links
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True
numpydoc_validation_checks: set[str] = set()

# Names outside jumpdet: no inventories offline, so they are not checked.
_EXTERNAL = (
    "numpy",
    "np",
    "numba",
    "scipy",
    "skimage",
    "astropy",
    "asdf",
    "crds",
    "stpipe",
    "stcal",
    "jwst",
    "stdatamodels",
    "matplotlib",
    "concurrent",
    "pathlib",
    "os",
    "typing",
    "collections",
    "enum",
    "argparse",
)
nitpick_ignore_regex = [
    (r"py:.*", rf"({'|'.join(_EXTERNAL)})(\..*)?"),
    (r"py:.*", r"(ndarray|Path|NamedTuple|Figure|Axes|RampModel|GainModel|ReadnoiseModel|Step|Pipeline)"),
]

html_theme = "pydata_sphinx_theme"
html_title = f"jumpdet {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}


def _lookup(target: str):
    """The jumpdet object a dotted name names, and the module it was found in; (None, None) if none."""
    if not re.fullmatch(r"jumpdet(\.\w+)+", target):
        return None, None
    parts = target.split(".")
    for split in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        obj = module
        try:
            for name in parts[split:]:
                obj = getattr(obj, name)
        except AttributeError:
            return None, None
        return obj, module
    return None, None


def _resolve_reexports(app, env, node, contnode):
    """Resolve a jumpdet name that has no entry of its own.

    A re-exported name (``jumpdet.JumpStep``, ``jumpdet.large_events.flag_showers_inplace``)
    links to the entry where its object is defined (``jumpdet.step.JumpStep``); a name
    that exists but is not documented on its own (a module constant, a private helper)
    links to its module's page. A name that does not exist stays unresolved, and ``-n -W``
    fails on it.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    if not target.startswith("jumpdet.") and node.get("py:module"):
        target = f"{node['py:module']}.{target}"  # a short name inside a module's docstring
    obj, module = _lookup(target)
    if module is None:
        return None
    domain = env.get_domain("py")
    candidates = []
    if isinstance(obj, ModuleType):
        candidates.append(("mod", obj.__name__))
    else:
        name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
        if getattr(obj, "__module__", None) and name:
            candidates.append((node["reftype"], f"{obj.__module__}.{name}"))
        candidates.append(("mod", module.__name__))
    for reftype, canonical in candidates:
        if canonical == node["reftarget"] and reftype == node["reftype"]:
            continue
        resolved = domain.resolve_xref(env, node["refdoc"], app.builder, reftype, canonical, node, contnode)
        if resolved is not None:
            return resolved
    return None


def setup(app):
    app.connect("missing-reference", _resolve_reexports)
