"""The seven services (and optionally the SMTP sink) as local processes.

Used by ``burnrate-dev up`` and by the end-to-end and fault tests, which kill and restart
single services while the others keep running.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

#: service name → (module, default port)
SERVICES: dict[str, tuple[str, int]] = {
    "contracts": ("burnrate_contracts", 8001),
    "worklog-ingest": ("burnrate_worklog_ingest", 8002),
    "rules": ("burnrate_rules", 8003),
    "notifier": ("burnrate_notifier", 8004),
    "reporting": ("burnrate_reporting", 8005),
    "billing": ("burnrate_billing", 8006),
    "tickets": ("burnrate_tickets", 8007),
}


def port_variable(service: str) -> str:
    return f"BURNRATE_{service.upper().replace('-', '_')}_PORT"


@dataclass
class Stack:
    env: dict[str, str]
    log_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: {s: p for s, (_, p) in SERVICES.items()})
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, service: str, name: str | None = None) -> None:
        """Start ``service``; with a ``name`` (and a port under that name in ``ports``), one
        more replica of it beside the first, sharing its database and queues."""
        name = name or service
        module, _ = SERVICES[service]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, port_variable(service): str(self.ports[name])}
        log = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", module, "serve"], env=env, stdout=log, stderr=log
        )

    def start_process(self, name: str, args: list[str]) -> None:
        """Start a helper process (the SMTP sink) whose lifetime the stack manages."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(  # noqa: S603
            [sys.executable, *args], env={**os.environ, **self.env}, stdout=log, stderr=log
        )

    def kill(self, service: str) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash."""
        process = self.processes.pop(service)
        process.send_signal(signal.SIGKILL)
        process.wait()

    async def wait_ready(self, service: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                process = self.processes[service]
                if process.poll() is not None:
                    log = (self.log_dir / f"{service}.log").read_text()[-3000:]
                    raise RuntimeError(f"{service} exited with {process.returncode}:\n{log}")
                try:
                    if (await client.get(self.url(service) + "/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service} not ready within {timeout}s")
                await asyncio.sleep(0.1)

    async def start_all(self) -> None:
        for service in SERVICES:
            self.start(service)
        await asyncio.gather(*(self.wait_ready(s) for s in SERVICES))

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
