"""Per-browser-tab state: the input song, its cached features, the running job and the last result.

Every request names its session (a random id the page makes); sessions never share arrays, so two
tabs converting at once cannot mix their songs. The store keeps the most recently used sessions only.
"""
import re
import threading
import time
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class SessionError(ValueError):
    """A request without a usable session id, or in the wrong order (e.g. convert before choosing audio)."""


@dataclass
class InputAudio:
    name: str                # what the page shows: the uploaded file's name or the path
    wav16k: np.ndarray       # [samples] float32 at 16 kHz
    key: str = field(default_factory=lambda: uuid.uuid4().hex)  # tells cached features of two inputs apart

    @property
    def frames(self):
        """10 ms pitch frames of the input (what the pitch CSV has rows)."""
        return len(self.wav16k) // 160


class Job:
    """A background extraction or conversion; the page polls `as_dict()` for its progress."""

    def __init__(self, kind):
        self.kind = kind
        self.id = uuid.uuid4().hex[:12]
        self.state = "queued"    # queued, running, done, error
        self.stage = "waiting"
        self.fraction = 0.0
        self.error = None
        self.started = time.time()
        self.stages = []         # every stage passed, in order

    def update(self, stage, fraction=None):
        self.state = "running"
        self.stage = stage
        if not self.stages or self.stages[-1] != stage:
            self.stages.append(stage)
        if fraction is not None:
            self.fraction = float(fraction)

    @property
    def busy(self):
        return self.state in ("queued", "running")

    def as_dict(self):
        return {"id": self.id, "kind": self.kind, "state": self.state, "stage": self.stage,
                "fraction": round(self.fraction, 4), "error": self.error, "stages": self.stages[-50:],
                "seconds": round(time.time() - self.started, 1)}


class Session:
    def __init__(self, sid):
        self.id = sid
        self.lock = threading.RLock()
        self.input: Optional[InputAudio] = None
        self.features = {}           # (input key, extractor settings...) -> array
        self.extractions = Counter()  # how often each feature was extracted (the page shows it; tests check it)
        self.job: Optional[Job] = None
        self.editor_pitch = None     # dict: f0 (the extracted curve the editor starts from), method
        self.result = None           # dict: wav (float32), rate, f0 (the pitch the model got), settings, metrics

    def set_input(self, audio):
        with self.lock:
            self.input = audio
            self.features.clear()
            self.editor_pitch = None
            self.result = None

    def require_input(self):
        if self.input is None:
            raise SessionError("no input audio yet: upload a file or give its path first.")
        return self.input


class SessionStore:
    def __init__(self, max_sessions=8):
        self.max_sessions = max_sessions
        self.sessions = OrderedDict()
        self.lock = threading.Lock()

    def get(self, sid):
        if not sid or not SESSION_ID.match(sid):
            raise SessionError("missing or malformed session id: reload the page.")
        with self.lock:
            session = self.sessions.pop(sid, None) or Session(sid)
            self.sessions[sid] = session
            while len(self.sessions) > self.max_sessions:
                self.sessions.popitem(last=False)  # forget the least recently used tab
            return session
