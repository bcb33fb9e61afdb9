"""The evaluation panel: svc_eval.py's measures (svc.evaluate.Measurer, reusing the conversion's
extractors) of a tab's last conversion; its pitch is compared with the edited and shifted curve."""
import os
from dataclasses import replace

import numpy as np

from svc.eval_report import METRICS
from svc.evaluate import EvalOptions, Measurer, default_target_waves, singer_from_speaker_file
from svc.feature_files import load_speaker


class Evaluator:
    def __init__(self, engine):
        self.engine = engine
        self._measurer, self._key = None, None
        self._targets = {}  # (singer, data_svc) -> GE2E vector of the singer's own audio, made once

    def measurer(self, req):
        """The Measurer for this conversion's extractors (made again only when they change)."""
        whisper, hubert = self.engine.whisper(req.no_noise), self.engine.hubert()
        pitch = self.engine.pitch_extractor(req.pitch_method, req.crepe_model)
        key = (id(whisper), id(hubert), id(pitch))
        if key != self._key:
            s = self.engine.settings
            options = EvalOptions(conversion=replace(req, device=s.device), speaker_checkpoint=s.speaker_checkpoint,
                                  ge2e=s.eval_judges, dnsmos=s.eval_judges)
            self._measurer = Measurer(options, whisper, hubert, pitch)
            self._key = key
            self._targets.clear()
        return self._measurer

    def evaluate(self, session, job):
        """Metrics of the session's last conversion: [{key, short, better, help, value}] (svc.eval_report)."""
        result = session.require_result()
        audio, req = session.require_input(), result["request"]
        job.update("loading the judges", 0.05)
        measurer = self.measurer(req)
        singer = self.engine.singers.check(req.spk, "--singer-dir")
        key = ("eval source", audio.key, id(measurer))
        if key not in session.features:
            job.update("measuring the source (voicing, timbre, words, loudness)", 0.2)
            session.features[key] = measurer.source_audio(audio.name, audio.wav16k, content=False)
        job.update("measuring the conversion", 0.6)
        target_key = (singer, self.engine.settings.data_svc)
        if target_key not in self._targets:
            self._targets[target_key] = measurer.target_ge2e(default_target_waves(*target_key))
        target_ge2e = self._targets[target_key]
        row = measurer.output(session.features[key], result["f0"], result["wav"], result["rate"],
                              load_speaker(singer, self.engine.hp.vits.spk_dim), target_ge2e)
        why = dict(measurer.why)
        if target_ge2e is None:
            why.setdefault("ge2e_sim", f"no recordings of this singer in "
                                       f"{os.path.join(self.engine.settings.data_svc, 'waves-16k', singer_from_speaker_file(singer))}"
                                       f" to compare with (the GE2E judge's target)")
        result["metrics"] = [{"key": m.key, "short": m.short, "better": m.better, "help": m.help,
                              "value": None if not np.isfinite(row[m.key]) else float(row[m.key]),  # nan -> null
                              "why": None if np.isfinite(row[m.key]) else why_not(m.key, row[m.key], why)}
                             for m in METRICS if m.key in row]
        return result["metrics"]


def why_not(key, value, why):
    """The reason a measure has no value, in words."""
    if key in why:
        return why[key]
    if key.startswith("lufs") and value == float("-inf"):
        return "the audio is silent (no loudness to measure)"
    return "the measure could not be made on this audio"
