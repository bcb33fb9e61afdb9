"""Progress bars count finished work: a bar at N/N means the step is done, not that its last file started."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tqdm as tqdm_module

from common.batch import BatchReport, extract_files
from prepare import jobs


class RecordingBar(tqdm_module.tqdm):
    made = []

    def __init__(self, *args, **kwargs):
        kwargs["disable"] = False
        super().__init__(*args, **kwargs)
        RecordingBar.made.append(self)


@pytest.fixture
def bars(monkeypatch):
    RecordingBar.made = []
    monkeypatch.setattr(tqdm_module, "tqdm", RecordingBar)  # what `from tqdm import tqdm` inside a call gets
    monkeypatch.setattr(jobs, "tqdm", RecordingBar)
    return RecordingBar.made


def front(path):
    return np.full(4, float(len(path)), dtype=np.float32)


@pytest.mark.parametrize("threads", [0, 2])
def test_extraction_bar_shows_only_finished_files_while_the_model_runs(bars, tmp_path, threads):
    seen = []

    def model(features):
        seen.append(bars[-1].n)  # the bar while this file is being worked on
        return features

    pairs = [(f"clip{'x' * i}.wav", str(tmp_path / f"{i}.npy")) for i in range(5)]
    pool = ThreadPoolExecutor(threads) if threads else None
    try:
        report = extract_files(lambda: model, pairs, BatchReport("pitch"), front, ndim=1, pool=pool)
    finally:
        if pool is not None:
            pool.shutdown()
    assert report.done == 5
    assert seen == [0, 1, 2, 3, 4]  # before: [1, 2, 3, 4, 5], i.e. 5/5 while the last file still ran
    assert bars[-1].n == 5


def test_job_bar_counts_finished_jobs(bars):
    log = []

    def job(path):
        log.append(bars[-1].n)
        return jobs.Outcome(jobs.OK, path)

    report = jobs.run_jobs(job, [("a",), ("b",), ("c",)], jobs.StepReport("spectrograms"), "spectrograms")
    assert log == [0, 1, 2] and bars[-1].n == 3 and report.done == 3
