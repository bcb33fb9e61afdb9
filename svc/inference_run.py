"""svc_inference.py's one call: parsed options -> one file or a batch, with optional retrieval."""
import os
import sys

from common.runtime import tune_cpu_runtime
from svc.convert import ExtractorSettings
from svc.convert_batch import convert_files, is_batch, output_path
from svc.convert_file import convert_file
from svc.retrieval_setup import RetrievalSettings

DEFAULT_OUT_FILE = "svc_out.wav"
DEFAULT_OUT_DIR = "svc_out"
INDEX_FLAGS = ("hubert_index_path", "whisper_index_path", "retrieval_ratio", "n_retrieval_vectors")
CODEBOOK_FLAGS = ("hubert_codebook_path", "whisper_codebook_path")


def flag(name):
    return "--" + name.replace("_", "-")


def retrieval_settings(args):
    """RetrievalSettings from the options, or None when retrieval is off; contradictions are errors."""
    index_given = [flag(n) for n in INDEX_FLAGS if getattr(args, n) is not None]
    codebook_given = [flag(n) for n in CODEBOOK_FLAGS if getattr(args, n) is not None]
    use_codebook = args.cluster_ratio is not None
    if args.enable_retrieval and use_codebook:
        raise ValueError("--enable-retrieval (nearest training frames) and --cluster-ratio (k-means centres) are "
                         "two variants of retrieval: choose one.")
    if index_given and not args.enable_retrieval:
        raise ValueError(f"{', '.join(index_given)} only work with --enable-retrieval: add it, or leave them out.")
    if codebook_given and not use_codebook:
        raise ValueError(f"{', '.join(codebook_given)} only work with --cluster-ratio R: add it, or leave them out.")
    common = dict(singer=args.retrieval_singer, data_root=args.data_svc, backend=args.retrieval_backend)
    if args.enable_retrieval:
        return RetrievalSettings("index", 0.5 if args.retrieval_ratio is None else args.retrieval_ratio,
                                 3 if args.n_retrieval_vectors is None else args.n_retrieval_vectors,
                                 args.hubert_index_path, args.whisper_index_path, **common)
    if use_codebook:
        return RetrievalSettings("kmeans", args.cluster_ratio, 1, args.hubert_codebook_path,
                                 args.whisper_codebook_path, **common)
    return None


def run_inference(args):
    """Convert as the options say; returns the exit status (0 when at least one output was written)."""
    tune_cpu_runtime()
    retrieval = retrieval_settings(args)
    extractors = ExtractorSettings(args.whisper_checkpoint, args.hubert_checkpoint, args.pitch_method,
                                   args.crepe_model)
    common = dict(shift=args.shift, device=args.device, extractors=extractors, seed=args.seed, no_noise=args.no_noise,
                  chunk_seconds=args.chunk_seconds, overlap_seconds=args.overlap_seconds, retrieval=retrieval)
    if is_batch(args.wave):
        given = [flag(n) for n in ("ppg", "vec", "pit") if getattr(args, n)]
        if given:
            raise ValueError(f"{', '.join(given)} describe one input file, but --wave gives "
                             f"{'a folder' if len(args.wave) == 1 else f'{len(args.wave)} inputs'}: convert that "
                             f"file on its own, or leave {', '.join(given)} out to extract features per file.")
        out_dir = args.out or DEFAULT_OUT_DIR
        report = convert_files(args.config, args.model, args.spk, args.wave, out_dir, **common)
        report.print_summary(file=sys.stderr)  # the stream of now, not of import time
        return 0 if report.done else 1
    wave = args.wave[0]
    out = args.out or DEFAULT_OUT_FILE
    if os.path.isdir(out):
        out = output_path(out, wave)
    convert_file(args.config, args.model, args.spk, wave, out, ppg=args.ppg, vec=args.vec, pit=args.pit, **common)
    print(f"{wave} -> {out}")
    return 0
