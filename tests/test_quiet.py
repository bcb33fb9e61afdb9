"""Never quiet (issue 27): every slow step of a conversion - loading a model, an extractor, the pitch,
a synthesis chunk, reading and writing - keeps the screen moving, one file or a batch; and the gap
measurement of bench/bench_quiet.py is right."""
import sys
import time

import numpy as np
import pytest
import soundfile as sf

import svc_inference
from bench.screen_gaps import ScreenLog
from svc import progress
from tests.svc_fixtures import TINY, smooth_features

DELAY = 0.5    # each slowed step takes this long
REDRAW = 0.1   # the live lines' redraw interval in these tests (1 s in use)
BOUND = 0.45   # no unchanged screen this long: a silent slowed step would show as >= DELAY


def test_screen_log_counts_changes_not_writes():
    log = ScreenLog(start=0.0)
    log.feed(0.5, "loading model m.pth (00:00)")
    log.feed(1.5, "\rloading model m.pth (00:00)")  # drawn again, nothing changed
    log.feed(3.5, "\rloading model m.pth (00:03)\n")
    log.feed(4.0, "pitch (fcpe):  50%|#    | 1/2 [00:00<00:00]")
    log.feed(4.2, "\r\x1b[A\x1b[Kfile 1/2: a.wav")  # line start, cursor up, erase that line, write there
    log.close(9.0)
    gaps = log.gaps()
    assert [round(g.seconds, 3) for g in gaps] == [4.8, 3.0, 0.5, 0.5, 0.2]
    assert gaps[0].phase.startswith("pitch (fcpe):") and gaps[0].start == 4.2  # the lowest line: the inner bar
    assert gaps[1].phase == "loading model m.pth (00:00)" and gaps[1].start == 0.5
    assert gaps[2].phase == "(nothing on screen yet)"
    assert log.screen.text() == "file 1/2: a.wav\npitch (fcpe):  50%|#    | 1/2 [00:00<00:00]"


def slowed(monkeypatch, owner, name):
    """`owner.name` (a function or method) made DELAY seconds slower on its first call (the same step
    again runs the same code; the test stays short)."""
    original, calls = getattr(owner, name), []

    def slow(*args, **kwargs):
        if not calls:
            time.sleep(DELAY)
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, slow)


def slow_steps(monkeypatch, only=None):
    """Every step that takes long on a real song made slow here (`only`: those named): the model load,
    an extractor's load and its chunks, the pitch tracker, the speaker encoder's load, each synthesis
    chunk, reading and writing the audio."""
    import hubert.units
    import pitch.extractor
    import speaker.encoder
    import whisper.ppg
    from svc import chunking, conversion_run, convert

    monkeypatch.setattr(progress, "REDRAW_SECONDS", REDRAW)
    steps = {"model": (convert, "load_svc_model"), "whisper load": (whisper.ppg.WhisperPPG, "__init__"),
             "hubert chunk": (hubert.units.HubertSoft, "_run_chunk"),
             "pitch": (pitch.extractor.PitchExtractor, "contour"),
             "speaker load": (speaker.encoder.SpeakerEncoder, "__init__"), "synthesis chunk": (chunking.Crossfade, "add"),
             "reading": (conversion_run, "load_audio"), "writing": (conversion_run, "save_audio")}
    for name, (owner, attribute) in steps.items():
        if only is None or name in only:
            slowed(monkeypatch, owner, attribute)


@pytest.fixture
def workspace(tmp_path, model_files):
    from tests import tiny_hubert, tiny_speaker, tiny_whisper

    t = np.arange(int(1.5 * 16000)) / 16000
    songs = tmp_path / "songs"
    songs.mkdir()
    for name, hz in (("a.wav", 220), ("b.wav", 330)):
        sf.write(songs / name, (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), 16000)
    sf.write(tmp_path / "clip.wav", (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 16000)
    np.save(tmp_path / "alice.spk.npy", smooth_features(10)[2])
    return tmp_path, ["--config", TINY, "--model", str(model_files[0]), "--device", "cpu", "--seed", "0",
                      "--pitch-method", "fcpe", "--chunk-seconds", "1.0", "--overlap-seconds", "0.2",
                      "--whisper-checkpoint", str(tiny_whisper.make_checkpoint(tmp_path / "whisper.pt")),
                      "--hubert-checkpoint", str(tiny_hubert.make_checkpoint(tmp_path / "hubert.pt")),
                      "--speaker-checkpoint", str(tiny_speaker.make_checkpoint(tmp_path / "speaker.pt"))]


class TimedStream:
    """A text stream (stand-in for sys.stderr / sys.stdout) that feeds every write to a ScreenLog."""

    def __init__(self, log, clock=time.monotonic):
        self.log, self.clock = log, clock

    def write(self, text):
        self.log.feed(self.clock(), text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return True


def watched(monkeypatch, argv):
    """svc_inference.main(argv) with stdout and stderr timed: (exit code, ScreenLog, what was written).
    Every write counts: a bar redrawn every REDRAW s shows the same clock (whole seconds) for a second."""
    log = ScreenLog(time.monotonic(), every_write=True)
    monkeypatch.setattr(sys, "stderr", TimedStream(log))
    monkeypatch.setattr(sys, "stdout", TimedStream(log))
    code = svc_inference.main(argv)
    log.close(time.monotonic())
    monkeypatch.undo()  # the real streams back before the test reports
    return code, log, log.output()


def test_every_slow_step_of_one_conversion_keeps_the_screen_moving(monkeypatch, workspace):
    folder, base = workspace
    slow_steps(monkeypatch)
    code, log, text = watched(monkeypatch, base + ["--spk", str(folder / "clip.wav"),
                                                   "--wave", str(folder / "songs" / "a.wav"),
                                                   "--out", str(folder / "one.wav")])
    assert code == 0 and (folder / "one.wav").is_file()
    longest = log.longest()
    assert longest.seconds < BOUND, (longest, text)
    for line in ("loading model", "loading Whisper", "units (HuBERT)", "pitch (fcpe)", "convert:",
                 "loading the speaker encoder", "reading", "writing"):
        assert line in text, (line, text)


def test_a_batch_shows_each_file_and_its_inner_progress(monkeypatch, workspace):
    """A batch used to show only a bar over files: one long song left the screen unchanged for minutes."""
    folder, base = workspace
    slow_steps(monkeypatch, only=("model", "pitch", "synthesis chunk", "writing"))
    code, log, text = watched(monkeypatch, base + ["--spk", str(folder / "alice.spk.npy"),
                                                   "--wave", str(folder / "songs"), "--out", str(folder / "out")])
    assert code == 0 and sorted(p.name for p in (folder / "out").iterdir()) == ["a_svc.wav", "b_svc.wav"]
    longest = log.longest()
    assert longest.seconds < BOUND, (longest, text)
    first, second = text.index("file 1/2: "), text.index("file 2/2: ")
    for part in (text[first:second], text[second:]):  # each file: its header, then its own bars
        for line in ("pitch (fcpe)", "PPG (Whisper)", "units (HuBERT)", "convert:", "writing"):
            assert line in part, (line, part)
