"""The hops of one CPU conversion, from svc_inference.py's main to the generator's stage loop
(docs/ARCHITECTURE.md "Two call paths"): at most 8 calls, as the map lists them."""
import os
import sys
import threading

import numpy as np
import soundfile as sf
import torch

from tests.test_inference import TINY, smooth_features
from vits_decoder.generator import Generator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTED = ["main", "run_inference", "convert_file", "convert", "inference", "inference",
              "map_single_threaded", "_single_threaded", "synthesise"]


def project_frames(frame):
    """Names of the project's own functions on a thread's stack, outermost first (library frames -
    torch decorators, the thread pool - are not hops a reader follows)."""
    names = []
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if path.startswith(ROOT) and "/tests/" not in path:
            names.append(frame.f_code.co_name)
        frame = frame.f_back
    return names[::-1]


def test_cpu_conversion_reaches_the_stage_loop_in_eight_calls(model_files, tmp_path, monkeypatch):
    import svc.conversion_run as cf
    import svc_inference

    t = np.arange(20000) / 16000
    sf.write(tmp_path / "in.wav", (0.4 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    ppg, vec, spk = smooth_features(2 * (20000 // 320))
    for name, array in (("in.ppg.npy", ppg), ("in.vec.npy", vec), ("singer.spk.npy", spk)):
        np.save(tmp_path / name, array)
    monkeypatch.setattr(cf, "read_pitch_csv", lambda path: np.full(125, 200.0, dtype=np.float32))

    chains = []
    plain = Generator.synthesise

    def recording(self, *args, **kwargs):
        here = project_frames(sys._getframe()) + ["synthesise"]  # this stand-in is the stage loop's frame
        if threading.current_thread() is not threading.main_thread():  # a pool thread: prepend the stack of
            caller = project_frames(sys._current_frames()[threading.main_thread().ident])  # the waiting caller
            here = caller + here
        chains.append(here)
        return plain(self, *args, **kwargs)

    monkeypatch.setattr(Generator, "synthesise", recording)
    import common.runtime

    monkeypatch.setattr(common.runtime, "cpu_cores", lambda: 2)  # the tiles go through the pool, as on any
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)          # multi-core CPU
    threads = torch.get_num_threads()
    try:
        assert svc_inference.main(["--config", TINY, "--model", str(model_files[0]), "--spk",
                                   str(tmp_path / "singer.spk.npy"), "--wave", str(tmp_path / "in.wav"),
                                   "--ppg", str(tmp_path / "in.ppg.npy"), "--vec", str(tmp_path / "in.vec.npy"),
                                   "--pit", "in.csv", "--device", "cpu",
                                   "--out", str(tmp_path / "out.wav")]) == 0
    finally:
        torch.set_num_threads(threads)
    assert chains, "the generator's stage loop was never reached"
    for chain in chains:
        chain = chain[chain.index("main"):]
        assert chain == DOCUMENTED, chain
        assert len(chain) - 1 <= 8
