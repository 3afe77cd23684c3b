"""Datasets: scikit-learn's 8x8 digits (ships with scikit-learn; the default) and Fashion-MNIST
(Debian package `dataset-fashion-mnist`). Nothing is downloaded.

Pixels are float32 in [0, 1]; images are (N, 1, H, W). Splits are fixed and seeded:
- digits: 1797 images; a stratified 25% test split (seed 0), then 10% of the rest for validation;
- fashion-mnist: the official 60k/10k train/test; the last 5000 of a seeded permutation of the
  training set for validation.
Hyper-parameters are chosen on `val`, never on `test`.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ir.errors import DatasetMissingError, InputError

__all__ = ["DATASETS", "Dataset", "fashion_mnist_dir", "load_dataset"]

DATASETS = ("digits", "fashion-mnist")
FASHION_MNIST_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_VAL = 5000  # training images held out for validation
MAX_IDX_VALUES = 1 << 30  # Fashion-MNIST's largest file holds 47 million
_FMNIST_FILES = {
    "train_x": "train-images-idx3-ubyte.gz",
    "train_y": "train-labels-idx1-ubyte.gz",
    "test_x": "t10k-images-idx3-ubyte.gz",
    "test_y": "t10k-labels-idx1-ubyte.gz",
}


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_features(self) -> int:
        return int(np.prod(self.image_shape))

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in ("train", "val", "test"):
            raise InputError(f"dataset split must be train, val or test, got {name!r}")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


def load_dataset(name: str, seed: int = 0) -> Dataset:
    if name == "digits":
        return _digits(seed)
    if name == "fashion-mnist":
        return _fashion_mnist(seed)
    raise InputError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")


def _digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None, :, :]
    y = d.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.25, random_state=seed, stratify=y
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.1, random_state=seed, stratify=y_rest
    )
    return Dataset("digits", x_train, y_train, x_val, y_val, x_test, y_test, 10)


def fashion_mnist_dir() -> Path:
    return Path(os.environ.get("SNNC_FASHION_MNIST_DIR", FASHION_MNIST_DEFAULT_DIR))


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """A gzipped IDX file of uint8 values; its header's size is checked before decompressing
    the rest (a damaged or hostile file can declare, or inflate to, any size)."""
    try:
        with gzip.open(path, "rb") as fh:
            head = fh.read(4 + 4 * ndim)
            if len(head) < 4 + 4 * ndim:
                raise InputError(f"{path}: truncated IDX header")
            magic = struct.unpack(">I", head[:4])[0]
            if magic != 0x0800 + ndim:
                raise InputError(f"{path}: not an IDX file of {ndim} dimensions (magic {magic:#x})")
            dims = struct.unpack(f">{ndim}I", head[4:])
            count = math.prod(dims)
            if count > MAX_IDX_VALUES:
                raise InputError(f"{path}: shape {dims} is larger than {MAX_IDX_VALUES} values")
            raw = fh.read(count + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: cannot read as gzip ({e})") from None
    if len(raw) != count:
        raise InputError(
            f"{path}: expected {count} values for shape {dims}, found "
            f"{len(raw)}{'+' if len(raw) > count else ''}"
        )
    return np.frombuffer(raw, dtype=np.uint8).reshape(dims)


def _fashion_mnist(seed: int) -> Dataset:
    root = fashion_mnist_dir()
    missing = [f for f in _FMNIST_FILES.values() if not (root / f).is_file()]
    if missing:
        raise DatasetMissingError(
            f"Fashion-MNIST is not installed ({root / missing[0]} is missing); install it with "
            "`apt-get install dataset-fashion-mnist` (or set SNNC_FASHION_MNIST_DIR)"
        )
    arr = {k: _read_idx(root / f, 3 if k.endswith("x") else 1) for k, f in _FMNIST_FILES.items()}
    for split in ("train", "test"):
        x, y = arr[f"{split}_x"], arr[f"{split}_y"]
        where = root / _FMNIST_FILES[f"{split}_x"]
        if x.shape[1:] != (28, 28):
            raise InputError(
                f"{where}: images are {x.shape[1]}x{x.shape[2]}, Fashion-MNIST's are 28x28"
            )
        if len(x) != len(y) or len(y) == 0:
            raise InputError(
                f"{where}: {len(x)} images, but {root / _FMNIST_FILES[f'{split}_y']} has {len(y)} "
                "labels"
            )
        if y.max() >= 10:
            raise InputError(
                f"{root / _FMNIST_FILES[f'{split}_y']}: label {int(y.max())} is outside 0..9"
            )
    if len(arr["train_y"]) <= FASHION_MNIST_VAL:
        raise InputError(
            f"{root / _FMNIST_FILES['train_y']}: {len(arr['train_y'])} training images leave none "
            f"beside the {FASHION_MNIST_VAL} held out for validation"
        )
    x_all = (arr["train_x"].astype(np.float32) / 255.0)[:, None]
    y_all = arr["train_y"].astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y_all))
    train_idx, val_idx = np.sort(perm[:-FASHION_MNIST_VAL]), np.sort(perm[-FASHION_MNIST_VAL:])
    x_test = (arr["test_x"].astype(np.float32) / 255.0)[:, None]
    return Dataset(
        "fashion-mnist",
        x_all[train_idx],
        y_all[train_idx],
        x_all[val_idx],
        y_all[val_idx],
        x_test,
        arr["test_y"].astype(np.int64),
        10,
    )
