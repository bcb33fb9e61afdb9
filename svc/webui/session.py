"""Per-browser-tab state: the input song, its cached features, the running job and the last result.
Only the server issues session ids (128 random bits); a full store forgets the least recently used
tab without a result or a job in flight, and refuses a new tab when every tab holds work."""
import re
import secrets
import threading
import time
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
IDLE_SECONDS = 24 * 3600   # a tab unused for a day may be forgotten even with a result


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
        self.queue = None        # the JobQueue holding it (its place in line while queued)

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
        ahead = self.queue.position(self) if self.queue is not None and self.state == "queued" else 0
        stage = self.stage
        if self.state == "queued":
            stage = f"waiting in line: {ahead} job{'s' if ahead != 1 else ''} before this one" if ahead else "starting"
        return {"id": self.id, "kind": self.kind, "state": self.state, "stage": stage, "position": ahead,
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
        self.used = time.time()

    def set_input(self, audio):  # the caller holds self.lock
        self.input = audio
        self.features.clear()
        self.editor_pitch = None
        self.result = None

    def require_input(self):
        if self.input is None:
            raise SessionError("no input audio yet: upload a file or give its path first.")
        return self.input

    def require_result(self):
        if self.result is None:
            raise SessionError("nothing converted yet in this tab: press Convert first.")
        return self.result


class SessionFull(SessionError):
    """Every session holds a result or a running job: a new tab must wait."""


class UnknownSession(SessionError):
    """An id this server did not issue (or forgot): the page asks for a new one."""


class SessionStore:
    def __init__(self, max_sessions=32):
        self.max_sessions = max_sessions
        self.sessions = OrderedDict()
        self.lock = threading.Lock()

    def create(self):
        """A new session with a fresh unguessable id; makes room by forgetting an idle tab."""
        with self.lock:
            while len(self.sessions) >= self.max_sessions:
                now = time.time()  # never a tab with a job in flight; one with a result only after a day idle
                idle = next((sid for sid, s in self.sessions.items() if not (s.job and s.job.busy)
                             and (s.result is None or now - s.used > IDLE_SECONDS)), None)
                if idle is None:
                    raise SessionFull(f"{len(self.sessions)} tabs hold results or running jobs, the most this server "
                                      f"keeps: close a tab (or wait for its job) and reload this page.")
                del self.sessions[idle]
            session = Session(secrets.token_urlsafe(16))
            self.sessions[session.id] = session
            return session

    def get(self, sid):
        if not sid or not SESSION_ID.match(sid):
            raise SessionError("missing or malformed session id: reload the page.")
        with self.lock:
            session = self.sessions.get(sid)
            if session is None:
                raise UnknownSession("this tab's session is not known to the server (it was restarted, or the tab "
                                     "was idle long enough to be forgotten): reload the page.")
            self.sessions.move_to_end(sid)
            session.used = time.time()
            return session
