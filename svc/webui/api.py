"""The JSON API behind the page: one method per route, each reading and writing one session and
returning a dict (sent as JSON) or a `Reply` (bytes: the WAV, the CSV)."""
import base64
import io
import os
import re
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass, field
from urllib.parse import quote

import numpy as np
import soundfile as sf

from common.audio import to_pcm16
from pitch.csv_io import read_f0_csv, write_f0_csv
from svc.webui.engine import ConvertRequest, read_upload
from svc.webui.jobs import JobQueue
from svc.webui.session import Job, SessionError, SessionStore
from svc.webui.spectrogram import MIDI_LOW, ROWS_PER_SEMITONE, note_spectrogram

@dataclass
class Reply:
    body: bytes
    content_type: str
    headers: dict = field(default_factory=dict)


def result_name(input_name):
    return os.path.splitext(os.path.basename(input_name))[0] + "_svc.wav"


def safe_name(name):
    """A file name without control characters (CR/LF would end a header) or path separators."""
    name = re.sub(r"[\x00-\x1f\x7f-\x9f]", "", str(name or ""))
    return os.path.basename(name.replace("\\", "/")).strip() or "file"


def attachment(name):
    """Content-Disposition for a download named `name` (RFC 6266/5987: any Unicode name survives)."""
    name = safe_name(name)
    fallback = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class Api:
    def __init__(self, engine, work_dir=None, log=print, max_waiting=8, max_sessions=16):
        self.engine = engine
        self.sessions = SessionStore(max_sessions)
        self.own_work_dir = work_dir is None
        self.work_dir = work_dir or tempfile.mkdtemp(prefix="svc_webui_")
        self.queue = JobQueue(max_waiting, log=log)

    def close(self):
        """Remove the scratch folder (uploads and CSVs pass through it) when the Api made it."""
        if self.own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- plumbing -----------------------------------------------------------------------------
    def start_job(self, session, kind, work):
        """Queue `work(job)` (the JobQueue runs one at a time); one job per session at a time."""
        with session.lock:
            if session.job is not None and session.job.busy:
                raise SessionError(f"a {session.job.kind} job is still running in this tab: wait for it to finish.")
            job = Job(kind)
            self.queue.submit(job, work)  # QueueFull: refused now, with the line's length
            session.job = job
        return {"job": job.as_dict()}

    # -- routes -------------------------------------------------------------------------------
    def call(self, route, req):
        """Run the route named in ROUTES; all but session and options act on the tab's session."""
        if route in ("session", "options"):
            return getattr(self, route)(req)
        return getattr(self, route)(req, self.sessions.get(req.session))

    def session(self, req):
        """The tab's session: the one it names when the server knows it, else a new one."""
        if req.session:
            with suppress(SessionError):
                return {"session": self.sessions.get(req.session).id, "new": False}
        return {"session": self.sessions.create().id, "new": True}

    def options(self, req):
        return self.engine.options()

    def open_path(self, req, session):
        return self._set_input(session, self.engine.open_path(req.json().get("path")))

    def upload(self, req, session):
        audio = self.engine.open_upload(safe_name(req.query.get("name") or "upload.wav"), req.body, os.path.join(self.work_dir, session.id))
        return self._set_input(session, audio)

    def _set_input(self, session, audio):
        with session.lock:
            if session.job is not None and session.job.busy:
                raise SessionError("a job is running on the current input: wait for it before changing the input.")
            session.set_input(audio)
        return {"name": audio.name, "seconds": round(len(audio.wav16k) / 16000, 3), "frames": audio.frames}

    def extract_pitch(self, req, session):
        session.require_input()
        checked = ConvertRequest.from_json(req.json())  # the pitch method, CREPE size and repair switch

        def work(job):
            contour = self.engine.pitch(session, job, checked.pitch_method, checked.crepe_model, checked.repair)
            session.editor_pitch = {"f0": contour.f0, "method": checked.pitch_method, "repairs": contour.repairs}
        return self.start_job(session, "pitch", work)

    def convert(self, req, session):
        audio = session.require_input()
        body = req.json()
        request = ConvertRequest.from_json(body)
        f0 = body.get("f0")  # an edited curve is checked now: a bad one fails at once
        f0 = None if f0 is None else self.engine.edited_pitch(f0, audio.frames)
        return self.start_job(session, "convert", lambda job: self.engine.convert(session, job, request, f0))

    def evaluate(self, req, session):
        session.require_result()
        return self.start_job(session, "evaluate", lambda job: self.engine.evaluate(session, job))

    def job(self, req, session):
        return {"job": session.job.as_dict() if session.job else None,
                "extractions": dict(session.extractions)}

    def pitch(self, req, session):
        audio = session.require_input()
        editor = session.editor_pitch
        if editor is None:
            raise SessionError("the pitch of this input is not extracted yet: press 'Open pitch editor'.")
        key = ("spectrogram", audio.key)  # the input's features are cleared when the input changes
        image = session.features.get(key)
        if image is None:
            image = session.features[key] = note_spectrogram(audio.wav16k, audio.frames)  # [rows, frames]
        repairs = [{"start": r.start, "end": r.end, "kind": r.kind, "text": str(r)} for r in editor["repairs"]]
        return {"f0": np.round(editor["f0"], 3).tolist(), "method": editor["method"], "hop_seconds": 0.01,
                "repairs": repairs,
                "name": audio.name, "spectrogram": {"rows": image.shape[0], "cols": image.shape[1],
                                                    "midi_low": MIDI_LOW, "rows_per_semitone": ROWS_PER_SEMITONE,
                                                    "data": base64.b64encode(image.tobytes()).decode("ascii")}}

    def result(self, req, session):
        r = session.require_result()
        return {"input": r["input"], "seconds": round(len(r["wav"]) / r["rate"], 3), "rate": r["rate"],
                "edited": r["edited"], "f0": np.round(r["f0"], 3).tolist(), "metrics": r["metrics"],
                "file_name": result_name(r["input"]), "extractions": dict(session.extractions),
                "notes": r["notes"], "shift": r["shift"]}

    def result_wav(self, req, session):
        r = session.require_result()
        headers = {"Content-Disposition": attachment(result_name(r["input"]))} if req.query.get("download") else {}
        wav = io.BytesIO()
        sf.write(wav, to_pcm16(r["wav"]), r["rate"], subtype="PCM_16", format="WAV")
        return Reply(wav.getvalue(), "audio/wav", headers)

    def save_csv(self, req, session):
        """The edited curve as the pitch CSV that Excel edits and svc_inference.py --pit reads."""
        audio = session.require_input()
        f0 = self.engine.edited_pitch(req.json().get("f0"), audio.frames)
        path = os.path.join(self.work_dir, session.id, "pitch.csv")
        write_f0_csv(path, f0)
        with open(path, "rb") as f:
            data = f.read()
        os.remove(path)
        name = os.path.splitext(audio.name)[0] + ".csv"
        return Reply(data, "text/csv", {"Content-Disposition": attachment(name)})

    def load_csv(self, req, session):
        """A pitch CSV (ours, or after an Excel edit) -> the curve, fitted to the input."""
        audio = session.require_input()
        name = safe_name(req.query.get("name") or "pitch.csv")
        f0 = read_upload(req.body, os.path.join(self.work_dir, session.id), name, read_f0_csv)
        try:
            f0 = self.engine.edited_pitch(f0, audio.frames)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        return {"f0": np.round(f0, 3).tolist(), "name": name}

    ROUTES = {("POST", "/api/session"): "session", ("GET", "/api/options"): "options", ("POST", "/api/input"): "open_path",
              ("POST", "/api/upload"): "upload", ("POST", "/api/extract_pitch"): "extract_pitch",
              ("POST", "/api/convert"): "convert", ("POST", "/api/evaluate"): "evaluate",
              ("GET", "/api/job"): "job", ("GET", "/api/pitch"): "pitch",
              ("GET", "/api/result"): "result", ("GET", "/api/result.wav"): "result_wav",
              ("POST", "/api/pitch.csv"): "save_csv", ("POST", "/api/load_csv"): "load_csv"}
