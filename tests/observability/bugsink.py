"""A real, self-hosted Sentry-compatible server (Bugsink) on 127.0.0.1 for end-to-end tests.

Bugsink lives in its own virtual environment (BUGSINK_VENV, made by scripts/test.sh): it installs
top-level packages named api, events, users, ... and pins its own Django and sentry-sdk.
"""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0

CONF = r"""
import os
from bugsink.settings.default import *  # noqa
from bugsink.settings.default import DATABASES
_DATA = os.environ["BUGSINK_DATA_DIR"]
SECRET_KEY = "test-only-not-secret-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
TIME_ZONE = "UTC"
DATABASES["default"]["NAME"] = os.path.join(_DATA, "db.sqlite3")
DATABASES["snappea"]["NAME"] = os.path.join(_DATA, "snappea.sqlite3")
SNAPPEA = {"TASK_ALWAYS_EAGER": True}
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
BUGSINK = {
    "BASE_URL": "http://127.0.0.1",
    "SINGLE_USER": True, "SINGLE_TEAM": True, "USER_REGISTRATION": "CB_NOBODY",
    "PHONEHOME": False,
    "INGEST_STORE_BASE_DIR": os.path.join(_DATA, "ingestion"),
    "MAX_EVENTS_PER_PROJECT_PER_5_MINUTES": 100_000, "MAX_EVENTS_PER_5_MINUTES": 100_000,
    "MAX_EVENTS_PER_PROJECT_PER_HOUR": 1_000_000, "MAX_EVENTS_PER_HOUR": 1_000_000,
}
"""

BOOTSTRAP = r"""
import json
from teams.models import Team
from bsmain.models import AuthToken
team, _ = Team.objects.get_or_create(name="tests")
print(json.dumps({"team": str(team.id), "token": AuthToken.create_full_access().token}))
"""


def bugsink_venv() -> Path:
    return Path(os.environ.get("BUGSINK_VENV", ROOT / ".venv-bugsink"))


@dataclass
class Bugsink:
    base_url: str
    port: int
    token: str
    team: str
    db_path: Path

    def _api(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - loopback URL built by us
            f"{self.base_url}/api/canonical/0/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def create_project(self, name: str) -> tuple[int, str]:
        """A fresh project (one per test keeps tests apart) -> (project id, DSN)."""
        project_id = int(self._api("POST", "projects/", {"team": self.team, "name": name})["id"])
        dsn = self._api("GET", f"projects/{project_id}/")["dsn"]
        match = re.search(r"//([0-9a-f]{32})@", dsn)
        assert match, dsn
        return project_id, f"http://{match.group(1)}@127.0.0.1:{self.port}/{project_id}"

    def raw_events(self, project_id: int) -> list[str]:
        """The stored JSON text of every event of a project, oldest first, as the SDK sent it."""
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            rows = connection.execute(
                "SELECT data FROM events_event WHERE project_id=? ORDER BY project_digest_order",
                (project_id,),
            ).fetchall()
        finally:
            connection.close()
        return [str(row[0]) for row in rows]

    def events(self, project_id: int) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.raw_events(project_id)]

    def wait_for_events(self, project_id: int, count: int, timeout: float = 10.0) -> None:
        """Bounded wait until at least `count` events are stored (normally at once after flush)."""
        deadline = time.monotonic() + timeout
        while len(self.raw_events(project_id)) < count:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)


def _manage(venv: Path, home: Path, *args: str) -> str:
    env = _server_env(home)
    return subprocess.run(  # noqa: S603 - fixed arguments
        [str(venv / "bin" / "bugsink-manage"), *args],
        cwd=home,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout


def _server_env(home: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {
        **{k: v for k, v in os.environ.items() if k in keep},
        "DJANGO_SETTINGS_MODULE": "bugsink_conf",
        "PYTHONPATH": str(home),
        "BUGSINK_DATA_DIR": str(home),
    }


def _template(venv: Path) -> Path:
    """A migrated, bootstrapped database kept next to Bugsink: migrating takes seconds, a copy
    takes milliseconds, so only the first session on a machine pays for it."""
    template = venv / "quickvendor-template"
    if (template / "boot.json").exists():
        return template
    build = Path(tempfile.mkdtemp(prefix="template-", dir=venv))
    (build / "bugsink_conf.py").write_text(CONF)
    _manage(venv, build, "migrate", "--noinput")
    boot = _manage(venv, build, "shell", "--no-imports", "-c", BOOTSTRAP)
    (build / "boot.json").write_text(boot.strip().splitlines()[-1])
    try:
        build.rename(template)
    except OSError:  # another session made it first
        shutil.rmtree(build, ignore_errors=True)
    return template


@contextmanager
def running_bugsink(home: Path) -> Iterator[Bugsink]:
    """Serve a fresh copy of the template database from `home` on a port the kernel picks."""
    venv = bugsink_venv()
    if not (venv / "bin" / "gunicorn").exists():
        raise RuntimeError(
            f"no Bugsink in {venv}: run scripts/test.sh, or create it with "
            "`uv venv .venv-bugsink && uv pip install --python .venv-bugsink bugsink==2.6.2`"
        )
    template = _template(venv)
    shutil.copy(template / "db.sqlite3", home / "db.sqlite3")
    boot = json.loads((template / "boot.json").read_text())
    (home / "bugsink_conf.py").write_text(CONF)
    env = _server_env(home)
    log_path = home / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                str(venv / "bin" / "gunicorn"),
                "--bind=127.0.0.1:0",
                "--workers=1",
                "--threads=4",
                "--no-control-socket",
                f"--chdir={home}",
                "bugsink.wsgi",
            ],
            cwd=home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            port = _wait_until_ready(process, log_path)
            yield Bugsink(
                f"http://127.0.0.1:{port}", port, boot["token"], boot["team"], home / "db.sqlite3"
            )
        finally:
            process.send_signal(signal.SIGINT)  # gunicorn: INT = fast shutdown
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_ready(process: "subprocess.Popen[bytes]", log_path: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    port = None
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("Bugsink did not start:\n" + log_path.read_text())
        if port is None:
            match = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log_path.read_text())
            port = int(match.group(1)) if match else None
        if port is not None:
            try:
                url = f"http://127.0.0.1:{port}/health/ready"
                urllib.request.urlopen(url, timeout=1).read()
                return port
            except OSError:
                pass
        time.sleep(0.05)
