"""The layer rules of README's Layout section, checked against the real imports (ast).

- pure domain rules (app.domain) import nothing of ours;
- models use only models and domain; schemas only schemas and domain;
- services never import the API; nothing below app.api imports app.api;
- the plumbing (settings, db, http, observability, security, storage, ratelimit, images,
  fastpath, server, delivery, mail, analytics, web) imports neither routes nor services;
- the adoption of the earlier backend's database (run by the first migration) uses only itself
  and domain: later models must not change what an old migration does;
- the API runs no query itself: it imports nothing of SQLAlchemy but the session types and
  calls no `execute`/`scalar`; queries live in services;
- only the app factory and the command-line entry points read the process-wide settings.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
PLUMBING = (
    "settings",
    "db",
    "http",
    "observability",
    "security",
    "storage",
    "ratelimit",
    "images",
    "fastpath",
    "mail",
    "server",
    "delivery",
    "analytics",
    "web",
)
SETTINGS_READERS = ("get_settings", "load_settings")
# What only the services may do with the database.
QUERY_CALLS = {"execute", "scalar", "scalars", "stream", "stream_scalars", "exec_driver_sql"}
SESSION_TYPES = "sqlalchemy.ext.asyncio"


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(APP.rglob("*.py")):
        yield module_name(path), ast.parse(path.read_text(), str(path))


def imports_of(tree: ast.Module, name: str) -> set[str]:
    """Every app module this one imports (relative imports resolved)."""
    found = set()
    package = name if name.count(".") == 0 else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {item for item in found if item == "app" or item.startswith("app.")}


def database_access(tree: ast.Module) -> Iterator[str]:
    """SQLAlchemy imported beyond the session types, and query calls."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            names = []
        for imported in names:
            if imported.split(".")[0] == "sqlalchemy" and imported != SESSION_TYPES:
                yield f"imports {imported}"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in QUERY_CALLS
        ):
            yield f"calls {node.func.attr}()"


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def is_entry_point(name: str, tree: ast.Module) -> bool:
    """The app factory, `__main__` modules and scripts guarded by `if __name__ == "__main__"`."""
    if name in ("app.main", "app.settings") or name.endswith(".__main__"):
        return True
    return any(
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
        for node in tree.body
    )


def violations(checked: Iterator[tuple[str, ast.Module]] | None = None) -> list[str]:
    found = []
    for name, tree in checked or modules():
        own = layer(name)
        for target in imports_of(tree, name):
            other = layer(target)
            if own == "domain" and target != "app.domain" and other != "domain":
                found.append(f"{name} (domain) imports {target}")
            if own == "models" and other not in ("models", "domain"):
                found.append(f"{name} (models) imports {target}")
            if own == "schemas" and other not in ("schemas", "domain"):
                found.append(f"{name} (schemas) imports {target}")
            if own in PLUMBING and other in ("api", "services"):
                found.append(f"{name} (plumbing) imports {target}")
            if own not in ("api", "main") and other == "api":
                found.append(f"{name} (below the API) imports {target}")
            if own == "adoption" and other not in ("adoption", "domain"):
                found.append(f"{name} (adoption) imports {target}")
        if own == "api":
            found += [f"{name} (the API) {access}" for access in database_access(tree)]
        if not is_entry_point(name, tree):
            for node in ast.walk(tree):
                called = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
                if called in SETTINGS_READERS:
                    found.append(f"{name} reads the process-wide settings ({called})")
                    break
    return found


def test_the_layer_rules_hold() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("domain/money.py", "from app.models import Product", "(domain) imports"),
        ("models/user.py", "from app.services import users", "(models) imports"),
        ("schemas/user.py", "from app.settings import get_settings", "(schemas) imports"),
        ("http/cors.py", "from app.api.deps import SettingsDep", "(plumbing) imports"),
        ("services/users.py", "from app.api import deps", "(below the API) imports"),
        ("services/users.py", "get_settings().SECRET_KEY", "process-wide settings"),
        ("web/pages.py", "from app.services import users", "(plumbing) imports"),
        ("web/pages.py", "from app.api.routes import store", "(plumbing) imports"),
        ("adoption/legacy.py", "from app.models import User", "(adoption) imports"),
        ("api/routes/health.py", "from sqlalchemy import text", "(the API) imports sqlalchemy"),
        ("api/routes/users.py", "import sqlalchemy.orm", "(the API) imports sqlalchemy.orm"),
        ("api/routes/store.py", "await session.execute(query)", "(the API) calls execute()"),
    ],
)
def test_the_check_sees_a_violation(path: str, source: str, expected: str) -> None:
    """The walk is only as good as what it sees: each rule catches a planted line."""
    target = module_name(APP / path)

    def planted() -> Iterator[tuple[str, ast.Module]]:
        for name, tree in modules():
            if name == target:
                tree.body.extend(ast.parse(source).body)
            yield name, tree

    assert any(item.startswith(target) and expected in item for item in violations(planted()))
