"""Does having `sniffio` installed make the Baseten client cheaper? Prints the figures.

httpcore asks sniffio which event loop runs each time it sets up a lock, an event or a
cancellation shield; without sniffio installed each ask is a failed import, which
searches sys.path again. This times the bot's real BasetenClient doing N requests
against a loopback server, in fresh processes that see the same site-packages with and
without sniffio (a directory of symlinks, so both sides search paths alike), and
prints the client's CPU time per request and its request rate, median of the rounds.

    python bench/sniffio_cost.py                       # 5 rounds of 3,000 requests each way
    python bench/sniffio_cost.py --requests 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

BODY = json.dumps(
    {
        "id": "dep1",
        "created_at": "2026-11-20T10:00:00Z",
        "name": "v1",
        "model_id": "mdl1",
        "is_production": True,
        "is_development": False,
        "status": "ACTIVE",
        "active_replica_count": 1,
        "autoscaling_settings": None,
        "instance_type_name": "1x L4 (24 GiB)",
        "environment": "production",
    }
).encode()

# run in the child: the bot's client, a limiter that never holds back, `concurrency` callers
CHILD = """
import asyncio, json, sys, time
sys.path[:0] = [{root!r}]
import site
site.addsitedir({packages!r})
from bot.baseten.client import BasetenClient
from bot.baseten.ratelimit import RateLimiter

async def main():
    client = BasetenClient(api_key="k", base_url={url!r}, limiter=RateLimiter(1e9), max_concurrency={concurrency})
    await client.get_deployment("mdl1", "dep1")  # connect and warm up outside the timing
    left = {requests}

    async def worker():
        nonlocal left
        while left > 0:
            left -= 1
            await client.get_deployment("mdl1", "dep1")

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range({concurrency})))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await client.aclose()
    try:
        import sniffio  # noqa: F401
        has = True
    except ImportError:
        has = False
    print(json.dumps({{"cpu": cpu, "wall": wall, "sniffio": has}}))

asyncio.run(main())
"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


def farm(into: Path, *, with_sniffio: bool) -> Path:
    """site-packages again, as symlinks, optionally without sniffio."""
    site_packages = Path(sysconfig.get_paths()["purelib"])
    into.mkdir()
    for entry in site_packages.iterdir():
        if not with_sniffio and entry.name.lower().startswith("sniffio"):
            continue
        (into / entry.name).symlink_to(entry)
    return into


def run(packages: Path, url: str, requests: int, concurrency: int) -> dict[str, Any]:
    code = CHILD.format(root=str(ROOT), packages=str(packages), url=url, requests=requests, concurrency=concurrency)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    out = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    results: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {flag: farm(Path(tmp) / f"sniffio-{flag}", with_sniffio=flag) for flag in (True, False)}
        for _ in range(args.rounds):
            for flag in (True, False):  # alternate, so drift in machine load hits both alike
                result = run(dirs[flag], url, args.requests, args.concurrency)
                assert result["sniffio"] is flag, "the child did not see the site-packages meant for it"
                results[flag].append(result)
    server.shutdown()

    python = sys.version.split()[0]
    print(f"{args.requests} requests x {args.rounds} rounds, {args.concurrency} concurrent, Python {python}")
    print(f"{'sniffio':<14}{'CPU µs/request':>16}{'requests/s':>12}")
    cpu: dict[bool, float] = {}
    for flag in (True, False):
        cpu[flag] = statistics.median(r["cpu"] for r in results[flag]) / args.requests * 1e6
        rate = statistics.median(args.requests / r["wall"] for r in results[flag])
        print(f"{'installed' if flag else 'not installed':<14}{cpu[flag]:>16.1f}{rate:>12.0f}")
        spread = [round(r["cpu"] / args.requests * 1e6, 1) for r in results[flag]]
        print(f"{'':<14}rounds: {spread}")
    print(f"CPU saved per request with sniffio: {cpu[False] - cpu[True]:.1f} µs ({(1 - cpu[True] / cpu[False]):.1%})")


if __name__ == "__main__":
    main()
