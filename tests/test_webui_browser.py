"""svc_webui.py in a real headless Chromium: upload, convert, edit the pitch, convert again, CSV out and in.

Needs Debian's chromium + chromium-driver (the README's install step puts them in) and selenium.
Set SVC_WEBUI_SCREENSHOTS=docs to refresh the screenshots of the main views in docs/.
"""
import io
import json
import os
import shutil
import time
import urllib.request

import numpy as np
import pytest
import soundfile as sf

from tests.webui_fixtures import SONG_SECONDS, server, workspace  # noqa: F401 (fixtures)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow  # starts Chromium
SPAN = (50, 100)  # frames (10 ms) moved up an octave


def find_browser():
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail("the browser test needs chromium and chromedriver: "
                    "`apt-get install -y chromium chromium-driver` (see the README's Install section)")
    return browser, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1100,1300", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    downloads = tmp_path_factory.mktemp("downloads")
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    yield driver
    driver.quit()


def wait_for(driver, script, timeout=60, what=None):
    """Wait until the JS expression is truthy; a red page message ends the wait with that message."""
    def check(d):
        message = d.execute_script("const m = document.getElementById('message');"
                                   "return m.hidden || m.classList.contains('ok') ? null : m.textContent;")
        if message:
            raise AssertionError(f"the page says: {message}")
        return d.execute_script(f"return {script};")
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(check, what or script)


def screenshot(element, name):
    folder = os.environ.get("SVC_WEBUI_SCREENSHOTS")
    if not folder:
        return
    from PIL import Image

    image = Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB")
    image.quantize(colors=96).save(os.path.join(folder, name), optimize=True)  # keep the PNGs small


def drag(driver, start, end):
    actions = ActionChains(driver)
    actions.w3c_actions.pointer_action.move_to_location(*map(int, start)).pointer_down()
    actions.w3c_actions.pointer_action.move_to_location(*map(int, end)).pointer_up()
    actions.perform()


def fundamental(x, rate):
    """The lowest strong spectral peak (>= half the strongest) between 60 and 1500 Hz, in Hz."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), rate))  # 1 Hz bins
    band = spectrum[60:1500]
    first = int(np.argmax(band >= 0.5 * band.max()))
    return 60 + first + int(np.argmax(band[first:first + 30]))


def pitch_ratio(wav, rate, a, b):
    """Pitch of frames a..b of the output over that of the frames before (10 frames kept off each edge)."""
    margin = 10

    def part(f0, f1):
        return wav[(f0 + margin) * rate // 100:(f1 - margin) * rate // 100]
    return fundamental(part(a, b), rate) / fundamental(part(0, a), rate)


def api_get(base, session, path):
    request = urllib.request.Request(base + path, headers={"X-Session": session})
    with urllib.request.urlopen(request, timeout=60) as res:
        return res.read()


def test_convert_edit_an_octave_and_reconvert_in_the_browser(browser, server, workspace):
    from pitch.csv_io import read_f0_csv

    base, d = server[0], browser
    d.get(base + "/")
    wait_for(d, "document.getElementById('model-list').options.length > 1")
    Select(d.find_element(By.ID, "model-list")).select_by_value(os.path.realpath(workspace["model"]))
    Select(d.find_element(By.ID, "singer-list")).select_by_value(os.path.realpath(workspace["singer"]))
    Select(d.find_element(By.ID, "crepe-model")).select_by_value("tiny")
    d.find_element(By.ID, "no-noise").click()

    # a path outside the allowed folders: a message in the page, not a traceback
    d.find_element(By.ID, "audio-path").send_keys("/etc/passwd")
    d.find_element(By.ID, "open-path").click()
    message = WebDriverWait(d, 10).until(lambda d: d.find_element(By.ID, "message").text)
    assert "not inside the audio folders" in message and "Traceback" not in message
    d.find_element(By.ID, "audio-path").clear()

    d.find_element(By.ID, "upload").send_keys(workspace["song"])
    wait_for(d, "document.getElementById('input-info').textContent.includes('take1.wav')")
    d.find_element(By.ID, "convert").click()
    wait_for(d, "!document.getElementById('result-panel').hidden && "
                "document.getElementById('result-audio').readyState >= 1", what="the converted audio")
    duration = d.execute_script("return document.getElementById('result-audio').duration")
    assert abs(duration - SONG_SECONDS) < 0.01
    assert d.find_element(By.ID, "download").get_attribute("download") == "take1_svc.wav"
    d.find_element(By.ID, "evaluate").click()
    wait_for(d, "!document.getElementById('eval-table').hidden", what="the evaluation panel")
    cells = d.execute_script("return Object.fromEntries(Array.from(document.querySelectorAll('#eval-table tbody tr'), "
                             "(r) => [r.dataset.key, r.children[1].textContent]))")
    assert float(cells["pitch_median_cents"]) < 50 and float(cells["spk_sim"]) <= 1, cells
    screenshot(d.find_element(By.TAG_NAME, "body"), "webui_convert.png")

    d.find_element(By.ID, "open-editor").click()
    wait_for(d, "window.svcEditor.f0 !== null && !document.getElementById('editor-panel').hidden")
    original = np.array(d.execute_script("return Array.from(window.svcEditor.f0)"))
    canvas = d.find_element(By.ID, "editor")
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    points = [d.execute_script(f"return window.svcEditor.clientPoint({frame}, 57)") for frame in SPAN]
    drag(d, *points)
    selection = d.execute_script("return window.svcEditor.selection")
    assert selection and abs(selection[0] - SPAN[0]) < 1.5 and abs(selection[1] - SPAN[1]) < 1.5
    d.find_element(By.ID, "octave-up").click()
    edited = np.array(d.execute_script("return Array.from(window.svcEditor.f0)"))
    a, b = (int(np.floor(selection[0])), int(np.ceil(selection[1])))
    np.testing.assert_allclose(edited[a:b], 2 * original[a:b], rtol=1e-5)
    np.testing.assert_array_equal(np.delete(edited, np.s_[a:b]), np.delete(original, np.s_[a:b]))
    screenshot(d.find_element(By.ID, "editor-panel"), "webui_editor.png")

    d.find_element(By.ID, "convert-edited").click()
    wait_for(d, "document.getElementById('result-panel').dataset.edited === '1' && "
                "document.getElementById('result-audio').readyState >= 1", what="the re-converted audio")
    session = d.execute_script("return sessionStorage.getItem('svcSession')")
    result = json.loads(api_get(base, session, "/api/result"))
    assert result["extractions"] == {"pitch": 1, "content": 1}  # the re-conversion extracted nothing again
    np.testing.assert_allclose(result["f0"], edited, rtol=1e-4)  # the model got the edited pitch
    wav, rate = sf.read(io.BytesIO(api_get(base, session, "/api/result.wav")))
    assert rate == 32000 and len(wav) == round(SONG_SECONDS * 32000)
    ratio = pitch_ratio(wav, rate, a, b)
    assert 1.8 < ratio < 2.2, f"the converted span is {ratio:.2f}x the pitch around it, expected 2x"

    d.find_element(By.ID, "save-csv").click()
    saved = d.downloads / "take1.csv"
    deadline = time.time() + 20
    while not saved.exists() and time.time() < deadline:
        time.sleep(0.1)
    np.testing.assert_allclose(read_f0_csv(saved), edited, atol=0.006)
    d.find_element(By.ID, "undo").click()
    np.testing.assert_array_equal(d.execute_script("return Array.from(window.svcEditor.f0)"), original)
    d.find_element(By.ID, "load-csv").send_keys(str(saved))
    wait_for(d, "document.getElementById('message').textContent.includes('Loaded take1.csv')")
    np.testing.assert_allclose(d.execute_script("return Array.from(window.svcEditor.f0)"), edited, atol=0.006)


def test_editor_tools_draw_snap_unvoice_zoom(browser, server, workspace):
    base, d = server[0], browser
    d.get(base + "/")
    wait_for(d, "document.getElementById('model-list').options.length > 1")
    Select(d.find_element(By.ID, "pitch-method")).select_by_value("fcpe")
    d.find_element(By.ID, "audio-path").send_keys(str(workspace["root"] / "songs" / "jump.wav"))
    d.find_element(By.ID, "open-path").click()
    wait_for(d, "document.getElementById('input-info').textContent.includes('jump.wav')")
    d.find_element(By.ID, "open-editor").click()
    wait_for(d, "window.svcEditor.f0 !== null && !document.getElementById('editor-panel').hidden")
    # the octave error at 0.7-0.8 s was repaired, and the editor marks the span
    assert d.execute_script("return window.svcEditor.repairs.map((r) => r.kind)") == ["octave"]
    assert "Repaired (orange): 0.7" in d.find_element(By.ID, "editor-info").text
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", d.find_element(By.ID, "editor"))
    f0 = lambda: np.array(d.execute_script("return Array.from(window.svcEditor.f0)"))  # noqa: E731
    point = lambda frame, midi: d.execute_script(f"return window.svcEditor.clientPoint({frame}, {midi})")  # noqa: E731
    original = f0()

    d.find_element(By.ID, "snap").click()  # no span selected yet: a message, nothing changed
    assert "Select a span first" in d.find_element(By.ID, "message").text
    np.testing.assert_array_equal(f0(), original)

    d.find_element(By.CSS_SELECTOR, "input[name=tool][value=draw]").click()
    drag(d, point(20.5, 60), point(40.5, 62))  # a line from C4 to D4 by hand
    drawn = 69 + 12 * np.log2(f0()[20:41] / 440)
    assert abs(drawn[0] - 60) < 0.2 and abs(drawn[-1] - 62) < 0.2 and np.all(np.diff(drawn) > 0)
    np.testing.assert_array_equal(f0()[60:], original[60:])

    d.find_element(By.CSS_SELECTOR, "input[name=tool][value=select]").click()
    drag(d, point(20, 57), point(41, 57))
    d.find_element(By.ID, "snap").click()
    snapped = 69 + 12 * np.log2(f0()[21:40] / 440)
    np.testing.assert_allclose(snapped, np.round(snapped), atol=1e-3)
    d.find_element(By.ID, "unvoiced").click()
    assert np.all(f0()[21:40] == 0)
    for _ in range(3):  # unvoiced, snap, drawing undone
        d.find_element(By.ID, "undo").click()
    np.testing.assert_array_equal(f0(), original)
    d.find_element(By.ID, "redo").click()
    assert not np.array_equal(f0(), original)
    screenshot(d.find_element(By.ID, "editor-panel"), "webui_editor_tools.png")

    fpp = d.execute_script("return window.svcEditor.framesPerPixel")
    d.find_element(By.ID, "zoom-in").click()
    assert abs(d.execute_script("return window.svcEditor.framesPerPixel") - fpp / 2) < 1e-9
    scroll = d.find_element(By.ID, "scroll")
    assert int(scroll.get_attribute("max")) > 0
    d.execute_script("const s = arguments[0]; s.value = s.max; s.dispatchEvent(new Event('input'))", scroll)
    start = d.execute_script("return window.svcEditor.start")
    assert abs(start + d.execute_script("return window.svcEditor.width * window.svcEditor.framesPerPixel")
               - len(original)) < 1.5  # scrolled to the end of the song
