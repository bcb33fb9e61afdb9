"""All preprocessing steps in order, in one process and with one worker pool (`svc_preprocessing.py`).
A step that cannot run is reported and the run goes on, except step 1: without its waves every later
step would fail alike."""
import os
import sys
from dataclasses import dataclass, field, fields

from common.audio import EXTRACT_RATE
from common.config import load_config
from common.paths import HUBERT_CKPT, SPEAKER_CKPT, WHISPER_CKPT
from common.runtime import tune_cpu_runtime
from prepare.check import check_lists
from prepare.clip_pieces import ClipOptions
from prepare.features import DEFAULT_PITCH_METHOD, step_from
from prepare.filelist import write_filelists
from prepare.jobs import StepError, make_pool, remove_temp_files, stop_pool
from prepare.resample import resample_dataset
from prepare.singer import singer_ranges, speaker_means
from prepare.specs import spec_dataset

STEPS = ("resample", "pitch", "ppg", "hubert", "speaker", "singer", "spec", "filelist", "check")
FEATURE_STEPS = STEPS[1:5]  # prepare.features.step_from
# the folders under the data root each step writes into (step 8 writes into --files)
OUTPUTS = {"resample": ("waves-16k", "waves-32k"), "pitch": ("pitch",), "ppg": ("whisper",),
           "hubert": ("hubert",), "speaker": ("speaker",), "singer": ("singer",), "spec": ("specs",)}


def parse_steps(text, skip=""):
    """'1-3,spec' -> step names in pipeline order; `skip` removes names/numbers the same way."""
    def names(spec):
        chosen = set()
        for part in filter(None, (p.strip() for p in spec.split(","))):
            if part in STEPS:
                chosen.add(part)
                continue
            low, dash, high = part.partition("-")
            bounds = (low, high if dash else low)
            if not all(b.strip().isdigit() for b in bounds):
                raise ValueError(f"--steps/--skip: unknown step {part!r}: use 1-9 or names "
                                 f"{', '.join(STEPS)}")
            for n in range(int(bounds[0]), int(bounds[1]) + 1):
                if not 1 <= n <= len(STEPS):
                    raise ValueError(f"--steps/--skip: step {n} does not exist: steps are 1-{len(STEPS)}")
                chosen.add(STEPS[n - 1])
        return chosen

    wanted = names(text or "1-9") - names(skip or "")
    return tuple(s for s in STEPS if s in wanted)


@dataclass
class Options:
    """Everything a run reads; the fields are svc_preprocessing.py's flags of the same names."""
    dataset: str = "./dataset_raw"
    data_svc: str = "./data_svc"
    files: str = "./files"
    workers: int = 1  # 0: one per CPU core
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

    @classmethod
    def from_flags(cls, args, partial=False, **given):
        """From parsed flags; `given` for the fields that are not a flag as parsed (steps, clip); `partial`:
        a script with only some of the flags (steps 2-5), the other fields keep their defaults."""
        names = [f.name for f in fields(cls) if f.name not in given and (not partial or hasattr(args, f.name))]
        return cls(**{name: getattr(args, name) for name in names}, **given)


class Pipeline:
    def __init__(self, opts):
        self.opts = opts
        self.failed_steps = []
        self.filelist_items = None
        self.check_ok = True
        # read before the first step, so a bad config stops the run at once; steps 1-6 need none
        self.hp = load_config(opts.config) if {"spec", "check"} & set(opts.steps) else None
        self.out = {name: tuple(os.path.join(opts.data_svc, folder) for folder in folders)
                    for name, folders in OUTPUTS.items()}
        self.out["filelist"] = (opts.files,)

    def run(self):
        """Run the chosen steps; returns the exit status (130 after Ctrl-C, which prints one line)."""
        tune_cpu_runtime()
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
        if self.failed_steps:
            print(f"steps that could not run: {', '.join(self.failed_steps)}", file=sys.stderr)
            return 1
        if self.filelist_items == 0:
            print("no usable clip remains: nothing was written to the training list", file=sys.stderr)
            return 1
        return 0 if self.check_ok else 1

    def interrupted_line(self, step):
        """One line after Ctrl-C: where it stopped and what was kept (half-written files removed)."""
        if step is None:
            return "interrupted before the first step: nothing was written."
        number, name = step
        folders = self.out.get(name, ())
        remove_temp_files(*folders)
        visible = {folder: [n for _, _, files in os.walk(folder) for n in files if not n.startswith(".")]
                   for folder in folders}
        kept = ", ".join(f"{folder}: {len(names)} files" for folder, names in visible.items())
        return (f"interrupted in step {number} ({name}): the files it finished are kept ({kept or 'nothing to keep'}), "
                f"half-written ones removed; run the same command again to go on.")

    def step_resample(self):
        o = self.opts
        targets = list(zip(self.out["resample"], (EXTRACT_RATE, 32000)))
        report = resample_dataset(o.dataset, targets, pool=self.pool, min_seconds=o.min_seconds,
                                  max_seconds=o.max_seconds, clip=o.clip)
        report.print_summary()
        if report.usable == 0:
            raise StepError(f"no usable clip in {o.dataset}")

    def step_feature(self, name):
        report = step_from(name, self.opts).run(self.out["resample"][0], self.out[name][0], pool=self.pool)
        report.print_summary()

    def step_singer(self):
        speaker_means(self.out["speaker"][0], self.out["singer"][0]).print_summary()
        singer_ranges(self.out["pitch"][0], self.out["singer"][0]).print_summary()  # for --auto-shift

    def step_spec(self):
        report = spec_dataset(self.out["resample"][1], self.out["spec"][0], self.hp.data, pool=self.pool)
        report.print_summary()

    def step_filelist(self):
        o = self.opts
        report = write_filelists(o.data_svc, o.files, singer_mean=o.singer_mean, wanted_valid=o.valid, seed=o.seed)
        report.print_summary()
        print(f"file lists: {report.n_train} train, {report.n_valid} valid in {o.files}", file=sys.stderr)
        self.filelist_items = report.n_train + report.n_valid

    def step_check(self):
        result = check_lists([os.path.join(self.opts.files, n) for n in ("train.txt", "valid.txt")], self.hp)
        print(result.summary(), file=sys.stderr, flush=True)
        self.check_ok = result.ok
