"""Profile-image checks on local files: perceptual hashes and the StyleGAN eye-position test.

Why the module is shaped so: images are the one input echoscope cannot read in SQL, and the one it must never
fetch on its own (profile image URLs point at live platforms). So the user names a folder of images they
downloaded (``echoscope score --images DIR``), :func:`find_images` maps file names to accounts, and
:func:`scan_images` turns each file into one row of numbers (a 64-bit pHash and the eye distance) that the SQL
signals ``image_duplicate`` and ``gan_face`` then compare across accounts.

The GAN test follows the observation that StyleGAN portraits are generated on the FFHQ alignment, which puts
both eyes at nearly fixed image positions (Yang, Singh and Menczer 2024 report a landmark distance below
about 0.02 for more than 99.5% of StyleGAN faces). The template below is derived from the published FFHQ
alignment procedure -- the crop is centred 0.1 eye-to-mouth below the eye midpoint with half-width twice the
eye distance, which places the eyes at (0.375, 0.475) and (0.625, 0.475) of the image -- not fitted on any
evaluation data. Eyes are found with OpenCV's Haar cascades, which ship inside ``opencv-python-headless`` 4.x
(``cv2.data.haarcascades``; 5.0 removed them, hence the ``<5`` pin of the ``faces`` extra). Haar eye boxes are
coarser than landmark models, so a match is a lead for a person's review, never a verdict; diffusion-model
faces do not share the artefact and are not caught.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import ConfigError

#: eye centres (x, y) of StyleGAN/FFHQ-aligned portraits, as fractions of image width and height
STYLEGAN_EYES: tuple[tuple[float, float], tuple[float, float]] = ((0.375, 0.475), (0.625, 0.475))
#: mean distance from the template (fraction of the image side) below which a face is GAN-like
GAN_EYE_THRESHOLD = 0.02
#: file name endings read as images
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"})

IMAGE_SCHEMA = pa.schema([
    pa.field("account_id", pa.string(), nullable=False),
    pa.field("path", pa.string()),
    pa.field("phash", pa.int64()),
    pa.field("face_found", pa.bool_()),
    pa.field("eye_distance", pa.float64()),
    pa.field("left_eye_x", pa.float64()),
    pa.field("left_eye_y", pa.float64()),
    pa.field("right_eye_x", pa.float64()),
    pa.field("right_eye_y", pa.float64()),
    pa.field("error", pa.string()),
])


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise ConfigError("the image checks need the optional extra: pip install 'echoscope[faces]' "
                          "(opencv-python-headless>=4.8,<5, imagehash, Pillow)") from exc
    return cv2


@dataclasses.dataclass
class EyeCheck:
    """Result of :func:`eye_check` for one image.

    Attributes
    ----------
    face_found
        A frontal face was detected.
    eyes
        ((x, y), (x, y)) of the left and right eye centre in image fractions, or None.
    distance
        Mean distance of both eyes from :data:`STYLEGAN_EYES` (fraction of the image side), or None.
    reason
        Why no distance could be measured ('' when one was).
    """

    face_found: bool
    eyes: tuple[tuple[float, float], tuple[float, float]] | None
    distance: float | None
    reason: str = ""

    @property
    def gan_like(self) -> bool:
        """True when the eyes sit within :data:`GAN_EYE_THRESHOLD` of the StyleGAN template."""
        return self.distance is not None and self.distance <= GAN_EYE_THRESHOLD


class EyeDetector:
    """Haar-cascade face and eye detector (cascades load once; reuse one detector for many images)."""

    def __init__(self) -> None:
        cv2 = _cv2()
        base = Path(cv2.data.haarcascades)
        self._cv2 = cv2
        self.face = cv2.CascadeClassifier(str(base / "haarcascade_frontalface_default.xml"))
        self.eye = cv2.CascadeClassifier(str(base / "haarcascade_eye.xml"))
        if self.face.empty() or self.eye.empty():
            raise ConfigError(f"OpenCV's Haar cascades are missing from {base}; install "
                              "opencv-python-headless>=4.8,<5 (5.0 no longer ships them)")

    def check(self, path: str | os.PathLike[str]) -> EyeCheck:
        """Measure the eye positions of the largest frontal face in the image at ``path``."""
        cv2 = self._cv2
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if img is None:
            return EyeCheck(False, None, None, "not a readable image")
        h, w = img.shape
        img = cv2.equalizeHist(img)
        faces = self.face.detectMultiScale(img, scaleFactor=1.1, minNeighbors=5, minSize=(w // 5, h // 5))
        if len(faces) == 0:
            return EyeCheck(False, None, None, "no frontal face found")
        x, y, fw, fh = (int(v) for v in max(faces, key=lambda f: int(f[2]) * int(f[3])))
        roi = img[y: y + int(fh * 0.6), x: x + fw]
        found = self.eye.detectMultiScale(roi, scaleFactor=1.05, minNeighbors=4,
                                          minSize=(max(fw // 10, 4), max(fw // 10, 4)))
        centres = [(x + ex + ew / 2.0, y + ey + eh / 2.0, ew) for ex, ey, ew, eh in found]
        best: tuple[float, tuple[Any, Any]] | None = None
        for i in range(len(centres)):  # pick the pair that looks most like two eyes of one face
            for j in range(i + 1, len(centres)):
                a, b = sorted((centres[i], centres[j]))
                dx, dy = b[0] - a[0], abs(b[1] - a[1])
                if not (0.25 * fw <= dx <= 0.65 * fw) or dy > 0.15 * fw:
                    continue
                cost = dy / fw + abs(a[2] - b[2]) / fw - 0.01 * (a[2] + b[2]) / fw
                if best is None or cost < best[0]:
                    best = (cost, (a, b))
        if best is None:
            return EyeCheck(True, None, None, f"{len(centres)} eye(s) found, no left/right pair")
        a, b = best[1]
        eyes = ((a[0] / w, a[1] / h), (b[0] / w, b[1] / h))
        (tlx, tly), (trx, try_) = STYLEGAN_EYES
        d = (((eyes[0][0] - tlx) ** 2 + (eyes[0][1] - tly) ** 2) ** 0.5
             + ((eyes[1][0] - trx) ** 2 + (eyes[1][1] - try_) ** 2) ** 0.5) / 2.0
        return EyeCheck(True, eyes, d)


def eye_check(path: str | os.PathLike[str]) -> EyeCheck:
    """Eye-position check of one image (see :class:`EyeDetector` to check many)."""
    return EyeDetector().check(path)


def phash(path: str | os.PathLike[str]) -> int | None:
    """64-bit perceptual hash (imagehash.phash) of the image as a signed int64, or None if unreadable."""
    try:
        import imagehash
        from PIL import Image
    except ImportError as exc:
        raise ConfigError("perceptual hashes need the optional extra: pip install 'echoscope[faces]'") from exc
    try:
        with Image.open(path) as im:
            h = imagehash.phash(im)
    except (OSError, ValueError):
        return None
    v = int(str(h), 16)
    return v - (1 << 64) if v >= (1 << 63) else v


def find_images(folder: str | os.PathLike[str], accounts: pa.Table) -> pa.Table:
    """Map image files in ``folder`` (searched recursively) to accounts by file name.

    A file whose name without suffix equals an ``account_id`` or a ``handle`` (case-insensitive, leading '@'
    dropped) belongs to that account. Nothing is downloaded.

    Parameters
    ----------
    folder
        Directory of images the user collected.
    accounts
        Table with ``account_id`` and ``handle`` columns.

    Returns
    -------
    pyarrow.Table
        ``account_id, path``, one row per matched account (the first file in name order wins).
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"--images {root}: not a directory; give a folder of images named <account_id>.jpg "
                          "or <handle>.jpg")
    by_id = {str(a): str(a) for a in accounts.column("account_id").to_pylist()}
    by_handle: dict[str, str] = {}
    if "handle" in accounts.column_names:
        for aid, h in zip(accounts.column("account_id").to_pylist(), accounts.column("handle").to_pylist()):
            if h:
                by_handle.setdefault(str(h).lower().lstrip("@"), str(aid))
    ids: list[str] = []
    paths: list[str] = []
    seen: set[str] = set()
    for f in sorted(root.rglob("*")):
        if not f.is_file() or f.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        stem = f.stem
        aid = by_id.get(stem) or by_handle.get(stem.lower().lstrip("@"))
        if aid is not None and aid not in seen:
            seen.add(aid)
            ids.append(aid)
            paths.append(str(f))
    return pa.table({"account_id": pa.array(ids, pa.string()), "path": pa.array(paths, pa.string())})


def scan_images(mapping: pa.Table | Iterable[tuple[str, str]], *, gan: bool = True, hashes: bool = True,
                progress: Callable[[dict[str, Any]], None] | None = None) -> pa.Table:
    """Hash and eye-check local images.

    Parameters
    ----------
    mapping
        ``account_id, path`` table (from :func:`find_images`) or pairs.
    gan, hashes
        Run the eye-position check / the perceptual hash.
    progress
        Called with ``{"event": "step", "n": 1}`` per image.

    Returns
    -------
    pyarrow.Table
        :data:`IMAGE_SCHEMA`: one row per image.
    """
    pairs = (list(zip(mapping.column("account_id").to_pylist(), mapping.column("path").to_pylist()))
             if isinstance(mapping, pa.Table) else list(mapping))
    det = EyeDetector() if gan else None
    rows: dict[str, list[Any]] = {f.name: [] for f in IMAGE_SCHEMA}
    for aid, path in pairs:
        ph = phash(path) if hashes else None
        chk = det.check(path) if det is not None else EyeCheck(False, None, None, "not checked")
        eyes = chk.eyes or ((None, None), (None, None))
        rows["account_id"].append(str(aid))
        rows["path"].append(str(path))
        rows["phash"].append(ph)
        rows["face_found"].append(chk.face_found)
        rows["eye_distance"].append(chk.distance)
        rows["left_eye_x"].append(eyes[0][0])
        rows["left_eye_y"].append(eyes[0][1])
        rows["right_eye_x"].append(eyes[1][0])
        rows["right_eye_y"].append(eyes[1][1])
        rows["error"].append(chk.reason or None)
        if progress:
            progress({"event": "step", "n": 1})
    return pa.table(rows, schema=IMAGE_SCHEMA)
