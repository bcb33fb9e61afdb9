"""Draw an F0 contour to PNG (time in s, Hz on a log axis with note-name gridlines)."""
import numpy as np

from common.atomic import atomic_path

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def _note_ticks(lo, hi):
    """(Hz, label) for notes in [lo, hi]: every natural note when the range is narrow, else every C and A."""
    first = int(np.floor(69 + 12 * np.log2(lo / 440.0)))
    last = int(np.ceil(69 + 12 * np.log2(hi / 440.0)))
    names = ("C", "D", "E", "F", "G", "A", "B") if last - first <= 30 else ("C", "A")
    return [(440.0 * 2 ** ((midi - 69) / 12), f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}")
            for midi in range(first, last + 1) if NOTE_NAMES[midi % 12] in names]


def plot_f0(path, f0, hop_seconds=0.01, title=None, repairs=()):
    """`repairs`: pitch.repair.Repair spans, shaded and labelled so a singer sees what was changed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f0 = np.asarray(f0, dtype=np.float64)
    times = np.arange(len(f0)) * hop_seconds
    voiced = np.where(f0 > 0, f0, np.nan)  # gaps where unvoiced
    fig, ax = plt.subplots(figsize=(max(8.0, min(40.0, len(f0) * hop_seconds)), 4.5))
    ax.plot(times, voiced, lw=1.2, color="tab:blue")
    for i, span in enumerate(repairs):
        ax.axvspan(span.start, span.end, color="tab:orange", alpha=0.3, lw=0,
                   label="repaired" if i == 0 else None)
        ax.annotate(span.kind, (span.start, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                    va="bottom", color="tab:orange")
    if repairs:
        ax.legend(loc="upper right")
    ax.set(xlabel="time (s)", ylabel="f0 (Hz)", title=title or "F0 contour")
    if np.any(f0 > 0):
        lo, hi = np.nanmin(voiced) / 1.06, np.nanmax(voiced) * 1.06
        ax.set_yscale("log")
        ax.set_ylim(lo, hi)
        ticks = _note_ticks(lo, hi)
        ax.set_yticks([hz for hz, _ in ticks], [f"{name} {hz:.0f}" for hz, name in ticks])
        ax.minorticks_off()
        ax.grid(True, axis="y", alpha=0.35)
    ax.grid(True, axis="x", alpha=0.2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
