"""The hops of one CPU conversion, from svc_inference.py's main to the generator's stage loop
(docs/ARCHITECTURE.md "Two call paths"): at most 8 calls, as the map lists them."""
import os
import sys
import threading

import torch

from tests.svc_fixtures import TINY
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


def test_cpu_conversion_reaches_the_stage_loop_in_eight_calls(model_files, feature_files, monkeypatch):
    import common.runtime
    import svc_inference

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
    monkeypatch.setattr(common.runtime, "cpu_cores", lambda: 2)  # the tiles go through the pool, as on any
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)          # multi-core CPU
    threads = torch.get_num_threads()
    try:
        assert svc_inference.main(["--config", TINY, "--model", str(model_files[0]), "--spk",
                                   str(feature_files / "singer.spk.npy"), "--wave", str(feature_files / "in.wav"),
                                   "--ppg", str(feature_files / "in.ppg.npy"), "--vec", str(feature_files / "in.vec.npy"),
                                   "--pit", str(feature_files / "in.csv"), "--device", "cpu",
                                   "--out", str(feature_files / "out.wav")]) == 0
    finally:
        torch.set_num_threads(threads)
    assert chains, "the generator's stage loop was never reached"
    for chain in chains:
        chain = chain[chain.index("main"):]
        assert chain == DOCUMENTED, chain
        assert len(chain) - 1 <= 8
