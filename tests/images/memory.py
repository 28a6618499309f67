"""The memory a uvicorn worker spends on hostile and large photo uploads, read from /proc.

Shared by tests/images/test_memory.py (which asserts generous bounds) and bench/image_memory.py
(which prints the figures). One server process (one worker) on the given database; each
scenario resets the kernel's peak counter (VmHWM, via /proc/<pid>/clear_refs) first, so every
peak is that scenario's own, reported above the worker's idle resident memory.
"""

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.images import samples
from tests.servers import ApiServer, server_env

MIB = 1024 * 1024
PASSWORD = "memory-test-password-1"


def memory_mib(pid: int) -> tuple[float, float]:
    """Resident memory now and its peak (VmRSS, VmHWM) of a process, in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(value.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def reset_peak(pid: int) -> None:
    """Start VmHWM again from the current resident memory (Linux, own processes)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass(frozen=True)
class Scenario:
    name: str
    files: list[bytes]  # uploaded at once, one request each
    expected_status: int


@dataclass(frozen=True)
class Figure:
    name: str
    statuses: list[int]
    peak_above_idle: float  # MiB
    after_above_idle: float  # MiB, resident once the requests have finished


@dataclass(frozen=True)
class Report:
    idle: float  # MiB, the worker's resident memory after one small upload
    figures: list[Figure]

    def table(self) -> str:
        lines = [
            f"worker idle: {self.idle:.0f} MiB resident",
            f"{'scenario':<44} {'statuses':<22} {'peak above idle':>16} {'after':>8}",
        ]
        for figure in self.figures:
            statuses = ",".join(str(status) for status in figure.statuses)
            # Below idle (the kernel's count moves a little) shows as 0.
            peak, after = max(figure.peak_above_idle, 0), max(figure.after_above_idle, 0)
            lines.append(f"{figure.name:<44} {statuses:<22} {peak:>12.0f} MiB {after:>4.0f} MiB")
        return "\n".join(lines)


def scenarios() -> list[Scenario]:
    palette, rgba = samples.palette_bomb(), samples.rgba_bomb()
    phone, large = samples.phone_jpeg(), samples.large_png()
    admitted = samples.palette_bomb(side=4000)  # the largest the default limit takes
    return [
        Scenario(f"palette PNG bomb ({len(palette) // 1024} KB)", [palette], 413),
        Scenario(f"RGBA PNG bomb ({len(rgba) // 1024} KB)", [rgba], 413),
        Scenario("four palette PNG bombs at once", [palette] * 4, 413),
        Scenario("four RGBA PNG bombs at once", [rgba] * 4, 413),
        Scenario(f"50 MP phone JPEG ({len(phone) / MIB:.1f} MiB)", [phone], 200),
        Scenario("palette PNG 4000x4000 with transparency", [admitted], 200),
        Scenario("four 16 MP RGBA PNGs at once", [large] * 4, 200),
    ]


async def _vendor_product(http: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    email = f"memory-{uuid.uuid4().hex[:12]}@example.com"
    account = {"email": email, "password": PASSWORD, "whatsapp_number": "+234 801 234 5678"}
    (await http.post("/api/users/register", json=account)).raise_for_status()
    login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    http.cookies.clear()
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    product = await http.post("/api/products", json={"name": "Mat", "price": 5}, headers=headers)
    product.raise_for_status()
    return headers, str(product.json()["id"])


async def _run(base_url: str, pid: int, chosen: list[Scenario]) -> Report:
    async with httpx.AsyncClient(base_url=base_url, timeout=300) as http:
        headers, product_id = await _vendor_product(http)

        async def upload(data: bytes) -> int:
            response = await http.post(
                f"/api/products/{product_id}/images/upload",
                headers=headers,
                data={"image_slot": "1"},
                files={"image": ("photo.jpg", data, "image/jpeg")},
            )
            return response.status_code

        # Warm up: Pillow's codecs and the upload path load on first use.
        warm = await upload(samples.jpeg_photo((1200, 900)))
        assert warm == 200, warm
        idle, _ = memory_mib(pid)
        figures = []
        for scenario in chosen:
            reset_peak(pid)
            statuses = list(await asyncio.gather(*(upload(data) for data in scenario.files)))
            now, peak = memory_mib(pid)
            figures.append(Figure(scenario.name, statuses, peak - idle, now - idle))
        return Report(idle, figures)


def measure(
    database_url: str,
    work_dir: Path,
    *,
    pick: Callable[[list[Scenario]], list[Scenario]] = lambda found: found,
    **env: str,
) -> Report:
    """Start one uvicorn worker on the database, upload each scenario's files, read the memory."""
    media = work_dir / "media"
    settings = server_env(
        database_url, MEDIA_ROOT=str(media), PUBLIC_BASE_URL="http://127.0.0.1", **env
    )
    chosen = pick(scenarios())
    # One worker: the process started is the one that serves.
    server = ApiServer(settings, work_dir / "server.log")
    try:
        server.start()
        assert server.process is not None
        return asyncio.run(_run(server.base_url, server.process.pid, chosen))
    finally:
        server.stop()
