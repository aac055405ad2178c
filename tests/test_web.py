"""The web page in a real browser: Debian's chromium (driven by playwright) speaks a digit string into
its fake microphone, and the transcript must appear on the page; an upload must show its text."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from conftest import SAMPLES
from test_server import start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                "(apt-get install chromium; .ci/run installs it)")
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (the test extra)")
pytest.importorskip("fastapi", reason="needs the serve extra")

SPOKEN = SAMPLES / "string_1.wav"  # "six eight five seven eight two"


@pytest.fixture(scope="module")
def server():
    proc, url = start_server()
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def fake_mic(tmp_path_factory) -> Path:
    """The digit string between silences, as the 48 kHz 16-bit WAV chromium's fake device plays."""
    wave, rate = sf.read(SPOKEN, dtype="float32")
    wave = soxr.resample(wave, rate, 48000)
    silence = np.zeros(48000, np.float32)
    path = tmp_path_factory.mktemp("mic") / "digits.wav"
    sf.write(path, np.concatenate([silence, wave, silence, silence, silence]), 48000, subtype="PCM_16")
    return path


def _browser(p, fake_mic: Path):
    return p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
        "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_mic}%noloop", "--autoplay-policy=no-user-gesture-required",
        "--disable-gpu", "--disable-dev-shm-usage"])


def test_speaking_into_the_microphone_shows_the_transcript(server, fake_mic, default_model, tmp_path):
    expected = default_model.transcribe(SPOKEN).text
    assert expected == "six eight five seven eight two"
    with sync_api.sync_playwright() as p:
        browser = _browser(p, fake_mic)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)  # a phone's screen
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server + "/")
            sync_api.expect(page.locator("#model")).to_contain_text("digits-commands")
            page.click("#record")
            sync_api.expect(page.locator("#record")).to_have_text("Stop", timeout=20_000)
            # the fake microphone plays 1 s of silence, the 3.4 s digit string, then silence: a final
            # result arrives at the pause, while the microphone is still on
            sync_api.expect(page.locator("#finals")).to_contain_text("six", timeout=30_000)
            page.wait_for_timeout(3000)
            page.screenshot(path=str(tmp_path / "live.png"))
            page.click("#record")
            sync_api.expect(page.locator("#transcript")).to_have_attribute("data-state", "done", timeout=30_000)
            text = " ".join(page.locator("#finals").inner_text().split())
            assert text == expected, text
            assert page.locator("#partial").inner_text() == ""
            assert int(page.locator("#transcript").get_attribute("data-partials")) >= 1  # live text came first
            assert not errors, errors
            # the page fits the phone's width: nothing scrolls sideways
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        finally:
            browser.close()


def test_uploading_a_file_shows_its_transcript(server, fake_mic, default_model):
    path = SAMPLES / "string_2.flac"
    with sync_api.sync_playwright() as p:
        browser = _browser(p, fake_mic)
        try:
            page = browser.new_page()
            page.goto(server + "/")
            page.set_input_files("#file", str(path))
            page.click("#send")
            sync_api.expect(page.locator("#file-result")).to_have_attribute("data-state", "done", timeout=30_000)
            assert page.locator("#file-result").inner_text() == default_model.transcribe(path).text
            # a file that is not audio gives the server's error on the page
            page.set_input_files("#file", __file__)  # this test's source: not audio
            page.click("#send")
            sync_api.expect(page.locator("#file-result")).to_have_attribute("data-state", "error", timeout=30_000)
            sync_api.expect(page.locator("#file-status")).to_contain_text("not a readable audio file")
        finally:
            browser.close()


def test_the_page_shows_the_words_listened_for_and_takes_a_word_list(server, fake_mic, default_model):
    words = default_model.default_options.words
    yes = SAMPLES / "yes_0ea0e2f4_0.wav"
    with sync_api.sync_playwright() as p:
        browser = _browser(p, fake_mic)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server + "/")
            sync_api.expect(page.locator("#listening")).to_have_text("Listening for: " + " ".join(words))
            # a typed word list goes with the upload as ?words=
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url) if "/v1/transcribe" in r.url else None)
            page.fill("#words", "yes no")
            page.set_input_files("#file", str(yes))
            page.click("#send")
            sync_api.expect(page.locator("#file-result")).to_have_attribute("data-state", "done", timeout=30_000)
            assert page.locator("#file-result").inner_text() == "yes"
            assert requests and requests[-1].endswith("/v1/transcribe?words=yes%20no"), requests
            # a word the model cannot say: the server's reason on the page, for an upload ...
            page.fill("#words", "yes 日本")
            page.click("#send")
            sync_api.expect(page.locator("#file-result")).to_have_attribute("data-state", "error", timeout=30_000)
            sync_api.expect(page.locator("#file-status")).to_contain_text("cannot output")
            assert "error" in page.locator("#file-status").get_attribute("class")
            # ... and for the microphone's stream, which the server refuses
            sockets: list[str] = []
            page.on("websocket", lambda ws: sockets.append(ws.url))
            page.click("#record")
            sync_api.expect(page.locator("#live-status")).to_contain_text("cannot output", timeout=30_000)
            assert "error" in page.locator("#live-status").get_attribute("class")
            sync_api.expect(page.locator("#record")).to_have_text("Start recording", timeout=10_000)
            sync_api.expect(page.locator("#record")).to_be_enabled()
            assert sockets and "&words=yes%20%E6%97%A5%E6%9C%AC" in sockets[-1], sockets
            # empty again: the model's own words
            page.fill("#words", "")
            page.click("#send")
            sync_api.expect(page.locator("#file-result")).to_have_attribute("data-state", "done", timeout=30_000)
            assert page.locator("#file-result").inner_text() == default_model.transcribe(yes).text
            assert requests[-1].endswith("/v1/transcribe"), requests
            # one word each time: always a word of the typed list
            page.fill("#words", "dog cat")
            page.check("#one-word")
            page.click("#send")
            sync_api.expect(page.locator("#file-result")).to_have_attribute("data-state", "done", timeout=30_000)
            assert page.locator("#file-result").inner_text() in {"dog", "cat"}
            assert requests[-1].endswith("/v1/transcribe?words=dog%20cat&one_word=1"), requests
            assert not errors, errors
        finally:
            browser.close()
