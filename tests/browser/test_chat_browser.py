"""The chat example in real browsers: two headless Chromium sessions, each on a
``trioquart run examples.chat:app`` process of its own, sharing the room through a real
``redis-server``; then one server is killed and restarted on the same port, and its page
reconnects by itself.

Selenium is synchronous, so these are plain (not async) test functions. Every wait is
bounded. Missing Chromium or chromedriver is a failure, not a skip: ``.ci/install-services``
installs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.redis_server import RedisServer, free_port, redis_server_running

ROOT = Path(__file__).resolve().parents[2]  # where `examples.chat` imports from
#: Seconds for a server to start answering, and for anything a page should show.
START_TIMEOUT = 20.0
WAIT = 10.0
CHROME_ARGUMENTS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class ChatServer:
    """``trioquart run examples.chat:app`` on a fixed port, with the broadcaster on Redis;
    killed by its PID, and restartable on the same port."""

    def __init__(self, folder: Path, redis_url: str) -> None:
        self.folder = folder
        self.port = free_port()
        self.redis_url = redis_url
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.starts += 1
        log_path = self.folder / f"server-{self.port}-{self.starts}.log"
        command = [sys.executable, "-m", "trioquart.cli", "run", "examples.chat:app"]
        command += ["--port", str(self.port), "--no-access-log"]
        env = {**os.environ, "TRIOQUART_BROADCAST_URL": self.redis_url, "PYTHONUNBUFFERED": "1"}
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(timeout=1) as client:
            while True:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    self.process = None
                    pytest.fail(f"the chat server exited with {code}:\n{log_path.read_text()}")
                try:
                    if client.get(self.url + "/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    pytest.fail(f"the chat server did not start:\n{log_path.read_text()}")
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, as at the end of a deployment: the server must shut down cleanly, and
        nothing in its log may say otherwise."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("the chat server did not stop within 10 s of SIGTERM")
        self.process = None
        logs = {path.name: path.read_text() for path in self.folder.glob(f"server-{self.port}-*")}
        assert code == 0, logs
        for name, log in logs.items():
            assert "Traceback" not in log and "Error" not in log, f"{name}:\n{log}"

    def kill(self) -> None:
        """SIGKILL, by PID: the server ends as in a crash, without closing anything."""
        if self.process is None:
            return
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None


class ChatPage:
    """The chat page in one browser, driven through the page's element ids."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def wait(self, condition: Any, message: str) -> Any:
        return WebDriverWait(self.driver, WAIT, poll_frequency=0.05).until(
            lambda _: condition(), message
        )

    def open(self, url: str) -> None:
        self.driver.get(url)
        assert self.state() == "idle"

    def join(self, name: str) -> None:
        self.driver.find_element(By.ID, "name").send_keys(name)
        self.driver.find_element(By.ID, "join").click()
        self.wait(lambda: self.state() == "connected", f"{name} never connected")

    def say(self, text: str) -> None:
        self.driver.find_element(By.ID, "message").send_keys(text)
        self.driver.find_element(By.ID, "send").click()

    def state(self) -> str:
        return str(self.driver.find_element(By.ID, "status").get_attribute("data-state"))

    def status_text(self) -> str:
        return str(self.driver.find_element(By.ID, "status").text)

    def messages(self) -> list[tuple[str, str]]:
        """(name, text) of each message shown, as the page's text (not its markup)."""
        rows = self.driver.execute_script(
            """return Array.from(document.querySelectorAll("#messages li.message"),
                (item) => [item.querySelector(".name").textContent,
                           item.querySelector(".text").textContent]);"""
        )
        return [(name, text) for name, text in rows]

    def notices(self) -> list[str]:
        return [
            item.text
            for item in self.driver.find_elements(By.CSS_SELECTOR, "#messages li.notice")
        ]

    def wait_for_message(self, name: str, text: str) -> None:
        self.wait(lambda: (name, text) in self.messages(), f"never showed {name}: {text}")


def open_chromium(folder: Path) -> webdriver.Chrome:
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.fail(
            "the browser tests need chromium and chromedriver: run .ci/install-services"
            " (Debian's chromium and chromium-driver packages) before the tests"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in CHROME_ARGUMENTS:
        options.add_argument(argument)
    folder.mkdir()
    options.add_argument(f"--user-data-dir={folder}")
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    return driver


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server_running() as server:
        yield server


@pytest.fixture(scope="module")
def servers(
    redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ChatServer, ChatServer]]:
    folder = tmp_path_factory.mktemp("chat-servers")
    first, second = ChatServer(folder, redis.url), ChatServer(folder, redis.url)
    try:
        first.start()
        second.start()
        yield first, second
        first.stop()
        second.stop()
    finally:
        first.kill()
        second.kill()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChatPage, ChatPage]]:
    folder = tmp_path_factory.mktemp("chromium")
    drivers: list[webdriver.Chrome] = []
    try:
        drivers.append(open_chromium(folder / "first"))
        drivers.append(open_chromium(folder / "second"))
        yield ChatPage(drivers[0]), ChatPage(drivers[1])
    finally:
        for driver in drivers:
            driver.quit()


def test_two_browsers_on_two_workers_chat_through_redis(
    servers: tuple[ChatServer, ChatServer], pages: tuple[ChatPage, ChatPage]
) -> None:
    (one, two), (ann, bob) = servers, pages
    ann.open(one.url)
    bob.open(two.url)
    # Before joining, nothing can be sent.
    assert not ann.driver.find_element(By.ID, "send").is_enabled()
    ann.join("ann")
    bob.join("bob")
    assert ann.status_text() == "connected as ann"

    ann.say("hello from ann <b>bold</b>")
    bob.wait_for_message("ann", "hello from ann <b>bold</b>")
    ann.wait_for_message("ann", "hello from ann <b>bold</b>")
    bob.say("hi ann")
    ann.wait_for_message("bob", "hi ann")
    bob.wait_for_message("bob", "hi ann")
    # Markup arrives as text: no element was made from it, on either page.
    for page in (ann, bob):
        assert page.driver.find_elements(By.CSS_SELECTOR, "#messages b") == []
    assert ann.driver.find_element(By.ID, "message").get_attribute("value") == ""


def test_a_page_reconnects_after_its_server_restarts(
    servers: tuple[ChatServer, ChatServer], pages: tuple[ChatPage, ChatPage]
) -> None:
    (one, two), (ann, bob) = servers, pages
    ann.open(one.url)
    bob.open(two.url)
    ann.join("ann")
    bob.join("bob")

    one.kill()
    ann.wait(lambda: ann.state() == "disconnected", "ann's page never showed the disconnect")
    assert ann.status_text().startswith("disconnected")
    assert not ann.driver.find_element(By.ID, "send").is_enabled()
    bob.say("while ann was away")  # bob's server is still up
    bob.wait_for_message("bob", "while ann was away")

    one.start()  # the same port
    ann.wait(lambda: ann.state() == "connected", "ann's page never reconnected")
    assert any(notice.startswith("Reconnected") for notice in ann.notices())
    assert ("bob", "while ann was away") not in ann.messages()
    bob.say("welcome back")
    ann.wait_for_message("bob", "welcome back")
    ann.say("glad to be back")
    bob.wait_for_message("ann", "glad to be back")
    ann.wait_for_message("ann", "glad to be back")
