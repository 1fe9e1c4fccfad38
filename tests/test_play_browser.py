"""`rla-gym play` in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`, driven by Selenium)
loads the page served by the command on the embedded default bundle, drives the arm with a key and the demo's chunk,
and sees the predicted frame, the reward and, where ManiSkill runs, the simulator's frame change, and the env's
uncertainty shown; a typed out-of-range target and a second tab get their messages; the video is saved; a screenshot
goes to tmp.

`scripts/setup_browser.sh` (run by `make test`) installs Chromium as root on Debian. The test skips only where
Chromium or Selenium is missing, and says why; under `RLA_GYM_REQUIRE_BROWSER=1` (CI) it fails instead. Where the
simulator runs (or `RLA_GYM_REQUIRE_SIM=1`) both worlds must move; elsewhere the page must say world-model only."""

from __future__ import annotations

import importlib.util
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sim_support import REPO, REQUIRE_SIM, sim_problem

pytestmark = pytest.mark.slow

REQUIRE_BROWSER = os.environ.get("RLA_GYM_REQUIRE_BROWSER") == "1"
CHROMIUM = ("chromium", "chromium-browser")
SERVER_START_S = 240  # the bundle, the demos' encoding and ManiSkill's first env, on a busy 2-core machine
WAIT_S = 60  # one chunk in both worlds (the BC policy is not loaded by this test)
EXIT_S = 180  # Ctrl-C: closing ManiSkill (lavapipe) and the env; slow on a 2-core machine busy with the test suite


def browser_problem() -> str | None:
    """Why headless Chromium cannot be driven here, or None."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e '.[dev]')"
    missing = [
        name for name, found in (("chromium", _chromium()), ("chromedriver", shutil.which("chromedriver"))) if not found
    ]
    if missing:
        return (
            f"Chromium cannot be installed here: no {' or '.join(missing)} on PATH (scripts/setup_browser.sh installs "
            "Debian's chromium and chromium-driver as root with apt-get; it could not on this machine)"
        )
    return None


def _chromium() -> str | None:
    return next((path for name in CHROMIUM if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def browser():
    problem = browser_problem()
    if problem is not None:
        if REQUIRE_BROWSER:
            pytest.fail(f"RLA_GYM_REQUIRE_BROWSER=1 but {problem}", pytrace=False)
        pytest.skip(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _chromium()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,860"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)  # no driver download
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`rla-gym play --port 0` on the embedded default, in its own process (ManiSkill holds one env per process)."""
    out = tmp_path_factory.mktemp("play")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "rla_gym.cli", "play", "--port", "0", "--out", str(out / "videos")]
    # started with SIGINT ignored, as a test suite's workers can leave it: Ctrl-C must still stop the page
    ignore_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=ignore_sigint
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen, url, deadline = [], None, time.monotonic() + SERVER_START_S
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if match := re.search(r"serving (http://127\.0\.0\.1:\d+/) \((.*)\)", line):
            url, worlds = match.group(1), match.group(2)
    if url is None:
        proc.kill()
        pytest.fail(f"rla-gym play did not start in {SERVER_START_S} s:\n{''.join(seen)[-3000:]}", pytrace=False)
    yield {"url": url, "worlds": worlds, "out": out, "log": seen}
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the command closes ManiSkill and exits 0
    try:
        try:
            code = proc.wait(EXIT_S)
        except subprocess.TimeoutExpired:
            code = None
        while not lines.empty():
            seen.append(lines.get())
        assert code == 0, f"rla-gym play did not exit cleanly on Ctrl-C:\n{''.join(seen)[-3000:]}"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_page_drives_both_worlds_and_saves_a_video(browser, server, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    def text(id_: str) -> str:
        return browser.find_element(By.ID, id_).text

    def src(id_: str) -> str:
        return browser.find_element(By.ID, id_).get_attribute("src") or ""

    def wait_for(what: str, check, timeout: float = WAIT_S) -> None:
        try:
            WebDriverWait(browser, timeout, poll_frequency=0.2).until(lambda _: check())
        except Exception:
            browser.save_screenshot(str(tmp_path / "failed.png"))
            pytest.fail(
                f"{what}; page message {text('message')!r}; screenshot {tmp_path / 'failed.png'}", pytrace=False
            )

    problem = sim_problem()
    both = problem is None
    if REQUIRE_SIM and not both:
        pytest.fail(f"RLA_GYM_REQUIRE_SIM=1 but the simulator cannot run: {problem}", pytrace=False)

    browser.get(server["url"])
    wait_for("the page never showed the world model's first frame", lambda: src("img-wm").startswith("data:image/png"))
    banner = text("banner")
    if both:
        assert "World model and ManiSkill RollBall" in banner, (banner, server["worlds"])
        assert src("img-sim").startswith("data:image/png"), "no ManiSkill frame"
    else:
        assert banner.startswith("World model only: no simulator"), banner
    assert text("chunks") == "0" and text("m-reward") == "\u2013"
    wm0, sim0 = src("img-wm"), src("img-sim")
    target2 = browser.find_element(By.ID, "num-1").get_attribute("value")  # joint 2, as the server last sent it

    delta = browser.find_element(By.ID, "delta")
    delta.clear()
    delta.send_keys("0.3")
    browser.find_element(By.TAG_NAME, "body").click()  # focus off the input: keys go to the page
    ActionChains(browser).send_keys("w").perform()  # joint 2 up by 0.3 rad, one chunk in both worlds
    wait_for("the key press did not step", lambda: text("chunks") == "1")
    joint2 = browser.find_element(By.ID, "num-1").get_attribute("value")
    assert float(joint2) == pytest.approx(float(target2) + 0.3, abs=1e-3), "the key did not move joint 2's target"
    wm1, sim1, reward1 = src("img-wm"), src("img-sim"), text("m-reward")
    assert wm1 != wm0, "the predicted frame did not change"
    assert re.fullmatch(r"-?\d+\.\d{4}", reward1), f"no reward after the key press: {reward1!r}"
    assert "world model" in text("m-ms"), text("m-ms")
    assert re.fullmatch(r"\d+\.\d{4}", text("m-unc")), f"no uncertainty (--uncertainty draws): {text('m-unc')!r}"
    if both:
        assert sim1 != sim0, "ManiSkill's frame did not change"
        assert "simulator" in text("m-ms")

    ActionChains(browser).send_keys("z").perform()  # the demo's own chunk
    wait_for("the demo's chunk did not step", lambda: text("chunks") == "2")
    assert src("img-wm") != wm1 and text("m-reward") != reward1, "the frame or the reward did not change"
    if both:
        assert src("img-sim") != sim1
    assert text("m-source") == "demo"

    box = browser.find_element(By.ID, "num-0")  # a typed target outside joint 1's range
    box.clear()
    box.send_keys("99", Keys.ENTER)
    wait_for("an out-of-range target got no message", lambda: "outside its range" in text("message"))
    assert text("chunks") == "2" and "Traceback" not in text("message")

    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(server["url"])
    wait_for("a second tab was not refused", lambda: "open in another browser tab" in text("message"))
    browser.close()
    browser.switch_to.window(first)

    browser.find_element(By.ID, "video").click()
    wait_for("the video was not saved", lambda: text("video-out").endswith(".mp4"))
    video = Path(text("video-out"))
    from rla_gym.data.video import count_frames

    assert video.is_file() and video.parent == server["out"] / "videos" and count_frames(video) == 3

    shot = tmp_path / "play.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if target := os.environ.get("RLA_GYM_PLAY_SCREENSHOT"):  # how docs/play.png is made
        shutil.copy(shot, target)
