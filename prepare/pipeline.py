"""All preprocessing steps in order, in one process: `python svc_preprocessing.py -t 2`.

Each model is loaded once (and only when one of its outputs is missing); one pool of worker
processes serves every CPU-bound step. A step that cannot run is reported and the run goes on
with the steps that do not need it, except step 1 (resample): without its waves (a wrong -w, no
usable clip) every later step would fail alike, so the run stops with that one error. The exit
status is 1 when a step could not run, when the check finds broken items, or when no usable clip
remains; 130 after Ctrl-C, which prints one line saying what was kept.
"""
import os
import sys
from dataclasses import dataclass, field

from common.audio import EXTRACT_RATE
from common.config import load_config
from common.paths import HUBERT_CKPT, SPEAKER_CKPT, WHISPER_CKPT
from common.runtime import tune_cpu_runtime
from prepare.clip_pieces import ClipOptions
from prepare.features import DEFAULT_PITCH_METHOD
from prepare.jobs import StepError, make_pool, remove_temp_files, stop_pool

STEPS = ("resample", "pitch", "ppg", "hubert", "speaker", "singer", "spec", "filelist", "check")
FEATURE_STEPS = STEPS[1:5]  # prepare.features.step_from


@dataclass
class Options:
    dataset: str = "./dataset_raw"
    data_svc: str = "./data_svc"
    files: str = "./files"
    workers: int = 1
    device: str = "auto"
    config: str = "configs/base.yaml"
    pitch_method: str = DEFAULT_PITCH_METHOD
    crepe_model: str = "full"
    whisper_checkpoint: str = WHISPER_CKPT
    whisper_noise: bool = True
    hubert_checkpoint: str = HUBERT_CKPT
    speaker_checkpoint: str = SPEAKER_CKPT
    singer_mean: bool = False
    min_seconds: float = 0.5
    max_seconds: float = 30.0
    clip: ClipOptions = field(default_factory=ClipOptions)   # step 1: slicing and levelling
    valid: int = 10
    seed: int = 1234
    steps: tuple = STEPS


def parse_steps(text, skip=""):
    """'1-3,spec' -> step names in pipeline order; `skip` removes names/numbers the same way."""
    def names(spec):
        chosen = set()
        for part in filter(None, (p.strip() for p in spec.split(","))):
            if "-" in part and all(s.strip().isdigit() for s in part.split("-", 1)):
                low, high = (int(s) for s in part.split("-", 1))
                numbers = range(low, high + 1)
            elif part.isdigit():
                numbers = [int(part)]
            elif part in STEPS:
                chosen.add(part)
                continue
            else:
                raise ValueError(f"unknown step {part!r}: use 1-9 or names {', '.join(STEPS)}")
            for n in numbers:
                if not 1 <= n <= len(STEPS):
                    raise ValueError(f"step {n} does not exist: steps are 1-{len(STEPS)}")
                chosen.add(STEPS[n - 1])
        return chosen

    wanted = names(text or "1-9") - names(skip or "")
    return tuple(s for s in STEPS if s in wanted)


class Pipeline:
    def __init__(self, opts):
        from prepare.layout import DataLayout

        self.opts = opts
        self.layout = DataLayout(opts.data_svc)
        self.pool = None
        self.failed_steps = []
        self.filelist_items = None
        self.check_ok = True
        # read before the first step, so a bad config stops the run at once; steps 1-6 need none
        self.hp = load_config(opts.config) if {"spec", "check"} & set(opts.steps) else None

    def run(self):
        """Run the chosen steps; returns the exit status (130 after Ctrl-C, which prints one line)."""
        self.pool = make_pool(self.opts.workers)
        step = None
        try:
            for number, name in enumerate(STEPS, start=1):
                if name not in self.opts.steps:
                    continue
                step = (number, name)
                print(f"== step {number}: {name}", file=sys.stderr, flush=True)
                try:
                    if name in FEATURE_STEPS:
                        self.step_feature(name)
                    else:
                        getattr(self, "step_" + name)()
                except (StepError, FileNotFoundError) as e:
                    if name == "resample":  # e.g. a wrong -w: every later step would only repeat it
                        print(f"error: step 1 (resample) could not run: {e}", file=sys.stderr, flush=True)
                        return 1
                    self.failed_steps.append(name)
                    print(f"step {number} ({name}) could not run: {e}", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            stop_pool(self.pool, interrupted=True)
            self.pool = None
            print(self.interrupted_line(step), file=sys.stderr, flush=True)
            return 130
        finally:
            stop_pool(self.pool)
        return self.exit_status()

    def step_outputs(self, name):
        """The folders step `name` writes into."""
        lay = self.layout
        return {"resample": (lay.waves16, lay.waves32), "pitch": (lay.pitch,), "ppg": (lay.whisper,),
                "hubert": (lay.hubert,), "speaker": (lay.speaker,), "singer": (lay.singer,),
                "spec": (lay.specs,), "filelist": (self.opts.files,)}.get(name, ())

    def interrupted_line(self, step):
        """One line after Ctrl-C: where it stopped and what was kept (half-written files removed)."""
        if step is None:
            return "interrupted before the first step: nothing was written."
        number, name = step
        folders = self.step_outputs(name)
        remove_temp_files(*folders)
        kept = ", ".join(f"{folder}: {_count_files(folder)} files" for folder in folders)
        return (f"interrupted in step {number} ({name}): the files it finished are kept ({kept or 'nothing to keep'}), "
                f"half-written ones removed; run the same command again to go on.")

    def exit_status(self):
        if self.failed_steps:
            print(f"steps that could not run: {', '.join(self.failed_steps)}", file=sys.stderr)
            return 1
        if self.filelist_items == 0:
            print("no usable clip remains: nothing was written to the training list", file=sys.stderr)
            return 1
        return 0 if self.check_ok else 1

    def step_resample(self):
        from prepare.resample import resample_dataset

        targets = [(self.layout.waves16, EXTRACT_RATE), (self.layout.waves32, 32000)]
        report = resample_dataset(self.opts.dataset, targets, pool=self.pool,
                                  min_seconds=self.opts.min_seconds, max_seconds=self.opts.max_seconds,
                                  clip=self.opts.clip)
        report.print_summary()
        if report.usable == 0:
            raise StepError(f"no usable clip in {self.opts.dataset}")

    def step_feature(self, name):
        """Steps 2-5: one model over the 16 kHz waves."""
        from prepare.features import step_from

        (out_root,) = self.step_outputs(name)
        step_from(name, self.opts).run(self.layout.waves16, out_root, pool=self.pool).print_summary()

    def step_singer(self):
        from prepare.singer import singer_ranges, speaker_means

        speaker_means(self.layout.speaker, self.layout.singer).print_summary()
        singer_ranges(self.layout.pitch, self.layout.singer).print_summary()  # for --auto-shift

    def step_spec(self):
        from prepare.specs import spec_dataset

        spec_dataset(self.layout.waves32, self.layout.specs, self.hp.data, pool=self.pool).print_summary()

    def step_filelist(self):
        from prepare.filelist import write_filelists

        o = self.opts
        report = write_filelists(o.data_svc, o.files, singer_mean=o.singer_mean, wanted_valid=o.valid, seed=o.seed)
        report.print_summary()
        print(f"file lists: {report.n_train} train, {report.n_valid} valid in {o.files}", file=sys.stderr)
        self.filelist_items = report.n_train + report.n_valid

    def step_check(self):
        from prepare.check import check_lists

        lists = [os.path.join(self.opts.files, n) for n in ("train.txt", "valid.txt")]
        result = check_lists(lists, self.hp)
        print(result.summary(), file=sys.stderr, flush=True)
        self.check_ok = result.ok


def _count_files(folder):
    return sum(len([n for n in files if not n.startswith(".")]) for _, _, files in os.walk(folder))


def run_pipeline(opts):
    tune_cpu_runtime()
    return Pipeline(opts).run()
