import json
import os

import numpy as np
import pytest

from pitch.singer_range import RangeError, choose_shift, f0_range, median_voiced, range_path, read_range, write_range


def test_range_of_voiced_frames_round_trips(tmp_path):
    tracks = [np.r_[np.zeros(50), np.full(100, 200.0)], np.r_[np.full(100, 400.0), np.zeros(10)], np.zeros(30)]
    stats = f0_range(tracks)
    assert stats["voiced_frames"] == 200 and stats["median_hz"] == 300.0
    assert stats["low_hz"] == 200.0 and stats["high_hz"] == 400.0
    path = range_path(tmp_path / "alto.spk.npy")
    assert path.endswith("alto.f0.json")
    write_range(path, stats, note="data_svc/pitch/alto")
    assert json.loads(open(path).read())["source"] == "data_svc/pitch/alto"  # a readable file
    assert read_range(path)["high_hz"] == 400.0
    assert f0_range([np.zeros(20)]) is None


def test_bad_range_files_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(RangeError, match="missing.f0.json.*--shift"):
        read_range(tmp_path / "missing.f0.json")
    (tmp_path / "x.f0.json").write_text("{not json")
    with pytest.raises(RangeError, match="x.f0.json: not a readable"):
        read_range(tmp_path / "x.f0.json")
    (tmp_path / "y.f0.json").write_text('{"low_hz": 300, "high_hz": 100}')
    with pytest.raises(RangeError, match="not a range"):
        read_range(tmp_path / "y.f0.json")


@pytest.mark.parametrize("source, expected", [(250.0, 0), (110.0, 11), (880.0, -18), (170.0, 3)])
def test_smallest_whole_semitone_shift_into_the_range(source, expected):
    stats = {"low_hz": 200.0, "high_hz": 320.0, "median_hz": 250.0}
    shift = choose_shift(source, stats)
    assert shift == expected
    assert 200.0 <= source * 2 ** (shift / 12) <= 320.0
    for smaller in range(-abs(shift) + 1, abs(shift)):
        assert not 200.0 <= source * 2 ** (smaller / 12) <= 320.0


def test_narrow_range_and_nothing_voiced():
    assert choose_shift(220.0, {"low_hz": 300.0, "high_hz": 301.0, "median_hz": 300.5}) == 5  # nearest: 293.7 Hz
    assert choose_shift(None, {"low_hz": 1.0, "high_hz": 2.0}) == 0
    assert median_voiced(np.zeros(10)) is None
    assert median_voiced(np.r_[np.zeros(5), [100.0, 200.0, 300.0]]) == 200.0


def test_preprocessing_writes_each_singers_range_beside_its_timbre(tmp_path):
    from common.atomic import save_npy
    from prepare.preprocess_speaker_ave import main

    data = tmp_path / "data_svc"
    for speaker, hz in (("alto", 300.0), ("bass", 110.0)):
        save_npy(data / "speaker" / speaker / "clip.spk.npy", np.ones(4, np.float32))
        save_npy(data / "pitch" / speaker / "a.pit.npy", np.r_[np.zeros(10), np.full(40, hz)].astype(np.float32))
        save_npy(data / "pitch" / speaker / "b.pit.npy", np.full(20, hz * 1.5, np.float32))
    save_npy(data / "pitch" / "mute" / "a.pit.npy", np.zeros(30, np.float32))
    (data / "pitch" / "alto" / "broken.pit.npy").write_bytes(b"nonsense")
    assert main([str(data / "speaker"), str(data / "singer")]) == 0  # pitch/ found beside speaker/
    alto = read_range(data / "singer" / "alto.f0.json")
    assert alto["voiced_frames"] == 60 and alto["low_hz"] == 300.0 and alto["high_hz"] == 450.0
    assert read_range(data / "singer" / "bass.f0.json")["median_hz"] == 110.0
    assert (data / "singer" / "alto.spk.npy").exists() and not (data / "singer" / "mute.f0.json").exists()

    from prepare.singer import singer_ranges

    again = singer_ranges(str(data / "pitch"), str(data / "singer"))  # unchanged ranges are not rewritten
    assert again.skipped_existing == 2 and again.done == 0
    assert {os.path.basename(path) for path, _ in again.failed} == {"broken.pit.npy", "mute"}
