"""What svc_eval.py reports: the metrics, means per model/setting, a ranking, and the outputs
(aligned table, CSV one row per output, JSON summary, PNG)."""
import csv
import io
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from common.atomic import atomic_path, write_text


@dataclass(frozen=True)
class Metric:
    key: str
    short: str      # table / plot heading
    better: int     # +1 higher is better, -1 lower is better, 0 no better direction
    help: str


METRICS = [
    Metric("pitch_median_cents", "pitch_med", -1, "pitch kept: median |output F0 - asked F0| in cents on frames voiced "
                                                  "in both (after shift; lower is better)"),
    Metric("pitch_mean_cents", "pitch_mean", -1, "pitch kept: mean of the same error in cents (lower is better)"),
    Metric("f0_corr", "f0_corr", +1, "pitch shape kept: Pearson correlation of output and asked F0 on frames voiced in "
                                     "both (-1..1, higher is better; F0CORR of published SVC evaluations)"),
    Metric("f0_rmse", "f0_rmse", -1, "pitch error in Hz: RMSE of output - asked F0 on the same frames (lower is better; "
                                     "F0RMSE)"),
    Metric("pitch_gross", "gross", -1, "share of those frames off by more than 50 cents (0..1, lower is better)"),
    Metric("voicing_disagreement", "voicing", -1, "share of frames voiced in the source but not the output, or the "
                                                  "reverse (0..1, lower is better)"),
    Metric("spk_sim", "spk_sim", +1, "timbre reached: cosine of the output's d-vector (our speaker encoder) to the "
                                     "target --spk vector (higher is better)"),
    Metric("spk_leak", "spk_leak", -1, "timbre leakage: cosine of the output's d-vector to the source singer's "
                                       "(lower is better)"),
    Metric("ge2e_sim", "ge2e_sim", +1, "timbre reached by an independent encoder (resemblyzer GE2E), to the target "
                                       "singer's audio (--target-wave; higher is better)"),
    Metric("ge2e_leak", "ge2e_leak", -1, "leakage by the GE2E encoder: cosine to the source singer (lower is better)"),
    Metric("ppg_cos", "words", +1, "words kept: frame-aligned cosine of the Whisper PPG of source and output "
                                   "(higher is better)"),
    Metric("dnsmos_ovrl", "dnsmos", +1, "sound quality: DNSMOS overall MOS, 1..5 (speechmos; higher is better)"),
    Metric("dnsmos_p808", "p808", +1, "sound quality: DNSMOS P.808 MOS, 1..5 (speechmos; higher is better)"),
    Metric("lufs_out", "lufs_out", 0, "integrated loudness of the output in LUFS (BS.1770; compare with lufs_src)"),
    Metric("lufs_src", "lufs_src", 0, "integrated loudness of the source in LUFS (reference for lufs_out)"),
]
ID_COLUMNS = ["model", "setting", "shift", "retrieval_ratio", "input", "seconds"]


def metrics_help():
    """One line per metric for --help."""
    width = max(len(m.key) for m in METRICS)
    return "\n".join(f"  {m.key:<{width}}  {m.help}" for m in METRICS)


def present_metrics(rows):
    """The metrics that were measured in this run (judges that are not installed are left out)."""
    return [m for m in METRICS if any(m.key in r for r in rows)]


def _mean(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def summarise(rows):
    """[{model, setting, outputs, means {key: value}, rank}] sorted best first. Rank: the mean, over the
    metrics with a better direction, of each group's place (1 = best) among the groups that measured
    it; groups equal to the table's precision share their places."""
    metrics = present_metrics(rows)
    groups = {}
    for row in rows:
        groups.setdefault((row["model"], row["setting"]), []).append(row)
    summary = [{"model": model, "setting": setting, "outputs": len(members),
                "means": {m.key: _mean([r.get(m.key) for r in members]) for m in metrics}}
               for (model, setting), members in groups.items()]
    places = {i: [] for i in range(len(summary))}
    for m in (m for m in metrics if m.better):
        # compared as the table shows them, so that groups that look tied are tied (and share places)
        scored = {i: m.better * float(_fmt(g["means"][m.key])) for i, g in enumerate(summary)
                  if not math.isnan(g["means"][m.key])}
        for i, value in scored.items():
            ahead = sum(other > value for other in scored.values())
            tied = sum(other == value for other in scored.values())
            places[i].append(ahead + (tied + 1) / 2)
    for i, group in enumerate(summary):
        group["rank"] = float(np.mean(places[i])) if places[i] else float("nan")
    return sorted(summary, key=lambda g: (math.isnan(g["rank"]), g["rank"]))


def encoders_agree(rows):
    """Spearman correlation of our and the GE2E target similarity over the outputs (None when
    GE2E was not run or fewer than 3 outputs have both): near 1 means both encoders rank alike."""
    pairs = [(r["spk_sim"], r["ge2e_sim"]) for r in rows
             if not math.isnan(r.get("spk_sim", math.nan)) and not math.isnan(r.get("ge2e_sim", math.nan))]
    if len(pairs) < 3:
        return None
    ranks = np.argsort(np.argsort(np.array(pairs), axis=0), axis=0).astype(float)
    if ranks[:, 0].std() == 0 or ranks[:, 1].std() == 0:
        return None
    return float(np.corrcoef(ranks[:, 0], ranks[:, 1])[0, 1])


def _fmt(value):
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def format_table(summary, rows):
    """Aligned text table: one line per model/setting, best rank first, means over the inputs."""
    metrics = present_metrics(rows)
    header = ["rank", "model", "setting", "n"] + [m.short for m in metrics]
    lines = [["-" if math.isnan(g["rank"]) else f"{g['rank']:.2f}", g["model"], g["setting"], str(g["outputs"])]
             + [_fmt(g["means"][m.key]) for m in metrics] for g in summary]
    arrows = ["", "", "", ""] + [{1: "higher", -1: "lower", 0: ""}[m.better] for m in metrics]
    table = [header, arrows] + lines
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    text = ["  ".join(cell.rjust(w) if i >= 3 or i == 0 else cell.ljust(w) for i, (cell, w) in
                      enumerate(zip(r, widths))).rstrip() for r in table]
    return "\n".join(text + ["(arrows: which direction is better; '-': not measurable for these outputs)"])


def csv_columns(rows):
    return ID_COLUMNS + [m.key for m in present_metrics(rows)]


def write_csv(path, rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, csv_columns(rows), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    write_text(path, buffer.getvalue())


def write_json(path, summary, rows, skipped, target_files):
    metrics = present_metrics(rows)
    document = {
        "groups": summary,
        "best": {m.key: _best(summary, m) for m in metrics if m.better},
        "encoders_agree": encoders_agree(rows),
        "inputs": sorted({r["input"] for r in rows}),
        "skipped": [{"input": path, "reason": reason} for path, reason in skipped],
        "ge2e_target_files": target_files,
        "metrics": {m.key: {"better": {1: "higher", -1: "lower", 0: None}[m.better], "help": m.help} for m in metrics},
    }
    safe = json.loads(json.dumps(document), parse_constant=lambda _: None)  # NaN and +-Infinity -> null
    write_text(path, json.dumps(safe, indent=2) + "\n")


def _best(summary, metric):
    scored = [g for g in summary if not math.isnan(g["means"][metric.key])]
    if not scored:
        return None
    best = max(scored, key=lambda g: metric.better * g["means"][metric.key])
    return {"model": best["model"], "setting": best["setting"], "value": best["means"][metric.key]}


def plot_png(path, summary, rows):
    """One bar chart per metric with a better direction, one bar per model/setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in present_metrics(rows) if m.better]
    cols = min(4, len(metrics))
    grid_rows = math.ceil(len(metrics) / cols)
    labels = [f"{g['model']}\n{g['setting']}" for g in summary]
    colours = plt.get_cmap("tab10")(np.arange(len(summary)) % 10)
    fig, axes = plt.subplots(grid_rows, cols, figsize=(3.2 * cols, 2.8 * grid_rows + 0.6), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        values = [g["means"][metric.key] for g in summary]
        ax.bar(range(len(values)), np.nan_to_num(values, nan=0.0), color=colours)
        ax.set_title(f"{metric.short} ({'higher' if metric.better > 0 else 'lower'} is better)", fontsize=9)
        ax.set_xticks([])
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    fig.legend([plt.Rectangle((0, 0), 1, 1, color=c) for c in colours], labels, loc="lower center",
               ncol=min(4, len(labels)), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.04 * math.ceil(len(labels) / 4), 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def write_reports(out_dir, result):
    """results.csv, summary.json and summary.png in `out_dir`; returns (summary, table text)."""
    summary = summarise(result.rows)
    os.makedirs(out_dir, exist_ok=True)
    write_csv(os.path.join(out_dir, "results.csv"), result.rows)
    write_json(os.path.join(out_dir, "summary.json"), summary, result.rows, result.report.failed,
               result.target_files)
    plot_png(os.path.join(out_dir, "summary.png"), summary, result.rows)
    return summary, format_table(summary, result.rows)
