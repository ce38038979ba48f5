"""Fuzz pass over the data-file loaders: truncated and corrupted files never crash with a raw exception.

Every format (MNIST-style IDX plain and gzip, CIFAR pickles, .npz, a folder of .npy, CSV, image
lists and the images they name) is written small and valid under tmp_path, then each file is cut
at several points and has bits flipped (fixed seeds). Each load must either succeed with
consistent shapes and labels, or raise ``NoisyLabelsError`` whose message names the file, within
a time limit. The second half checks each error message on purpose-built bad files.
"""
import contextlib
import gzip
import pickle
import signal
import struct

import numpy as np
import pytest
from PIL import Image

from noisylabels.data.loaders import load_dataset, lookup, read_idx
from noisylabels.errors import NoisyLabelsError

FLIPS = 30  # corrupted copies per file, besides the truncations
LOAD_SECONDS = 20  # far above any load here: a corrupt header must not start a long read


@pytest.fixture(autouse=True)
def no_data_sources(monkeypatch, tmp_path):
    """Loaders see only the files a test writes."""
    monkeypatch.delenv(lookup.DATA_ENV_VAR, raising=False)
    monkeypatch.setattr(lookup, "SYSTEM_DATA_DIRS", {})


@contextlib.contextmanager
def time_limit(seconds):
    def expire(signum, frame):
        raise TimeoutError(f"load did not finish in {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def mutations(data: bytes, seed: int):
    """(description, bytes): cuts at fixed points, then FLIPS copies with 1-3 flipped bits each."""
    for cut in sorted({0, 1, 2, 3, 4, 8, 16, 64, len(data) // 3, len(data) // 2, len(data) - 1}):
        if cut < len(data):
            yield f"cut at {cut}", data[:cut]
    rng = np.random.default_rng(seed)
    for k in range(FLIPS):
        corrupted = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            corrupted[rng.integers(len(corrupted))] ^= 1 << int(rng.integers(8))
        yield f"flip #{k}", bytes(corrupted)


def assert_consistent(splits):
    for split in (splits.train, splits.test):
        if split is None:
            continue
        n = len(split.labels)
        assert split.x.shape[0] == n > 0 and np.isfinite(split.x.numpy()).all()
        assert ((split.labels >= 0) & (split.labels < split.num_classes)).all()
        assert split.true_labels is None or split.true_labels.shape == (n,)


def fuzz(files, load, names_for=lambda file: (file.name,)):
    """Corrupt each file in turn (restoring it after); every load succeeds consistently or raises
    NoisyLabelsError naming the file (or one of ``names_for(file)``)."""
    for seed, file in enumerate(files):
        original = file.read_bytes()
        try:
            for what, data in mutations(original, seed):
                file.write_bytes(data)
                try:
                    with time_limit(LOAD_SECONDS):
                        splits = load()
                except NoisyLabelsError as error:
                    assert any(name in str(error) for name in names_for(file)), (file.name, what, str(error))
                else:
                    assert_consistent(splits)
        finally:
            file.write_bytes(original)


# ----------------------------------------------------------------------------- valid files


def idx_bytes(array: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}
    header = struct.pack(">BBBB", 0, 0, codes[array.dtype], array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_mnist(folder, compress, n_train=6, n_test=4):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        for kind, array in (("images-idx3", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
                            ("labels-idx1", (np.arange(n) % 10).astype(np.uint8))):
            data = idx_bytes(array)
            name = f"{prefix}-{kind}-ubyte" + (".gz" if compress else "")
            (folder / name).write_bytes(gzip.compress(data) if compress else data)
    return folder


def write_pickle(path, content, protocol=2):
    with open(path, "wb") as handle:
        pickle.dump(content, handle, protocol=protocol)


def write_cifar10(parent):
    folder = parent / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        batch = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [i, (i + 3) % 10]}
        write_pickle(folder / f"data_batch_{i}", batch, protocol=2 + i % 4)
    write_pickle(folder / "test_batch", {b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 9, 3]})
    write_pickle(folder / "batches.meta", {b"label_names": [f"class{i}".encode() for i in range(10)]})
    return folder


def write_csv(path):
    path.write_text("width,height,label,truth\n1.0,2.5,0,0\n3.5,-1,1,1\n0,0,2,1\n1e3,1,1,1\n-2,4,0,2\n")
    return path


def write_image_list(folder):
    images = folder / "fuzzimgs"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, fmt in enumerate(("png", "jpg", "bmp")):
        Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)).save(images / f"image{i}.{fmt}")
    path = folder / "fuzzlist.txt"
    path.write_text("# path label\nfuzzimgs/image0.png 0\nfuzzimgs/image1.jpg 1\n\nfuzzimgs/image2.bmp 2\n"
                    "fuzzimgs/image0.png 1\n")
    return path


def write_arrays(folder):
    """The same arrays as fuzzarrays.npz, fuzzcompressed.npz and a folder fuzzfolder/ of .npy files."""
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(8, 3)), "y": np.arange(8) % 3, "x_test": rng.normal(size=(4, 3)),
              "y_test": np.arange(4) % 3, "y_true": np.arange(8) % 2}
    np.savez(folder / "fuzzarrays.npz", **arrays)
    np.savez_compressed(folder / "fuzzcompressed.npz", **arrays)
    (folder / "fuzzfolder").mkdir()
    for key, value in arrays.items():
        np.save(folder / "fuzzfolder" / f"{key}.npy", value)
    return folder


# ----------------------------------------------------------------------------- fuzzing


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_fuzzed_idx_files_load_or_raise_naming_the_file(tmp_path, compress):
    folder = write_mnist(tmp_path / "mnist", compress)
    splits = load_dataset("mnist", folder)
    assert splits.train.x.shape == (6, 1, 28, 28) and splits.test.x.shape == (4, 1, 28, 28)
    fuzz(sorted(folder.iterdir()), lambda: load_dataset("mnist", folder))


def test_fuzzed_cifar_pickles_load_or_raise_naming_the_file(tmp_path):
    folder = write_cifar10(tmp_path)
    assert load_dataset("cifar10", folder).train.x.shape == (10, 3, 32, 32)
    fuzz(sorted(folder.iterdir()), lambda: load_dataset("cifar10", folder))


@pytest.mark.parametrize("name", ["fuzzarrays.npz", "fuzzcompressed.npz"])
def test_fuzzed_npz_files_load_or_raise_naming_the_file(tmp_path, name):
    path = write_arrays(tmp_path) / name
    assert len(load_dataset("arrays", path).train) == 8
    # Labels are checked where the splits are built, which names the data set (the file's stem).
    fuzz([path], lambda: load_dataset("arrays", path), lambda file: (file.name, file.stem))


def test_fuzzed_npy_folder_loads_or_raises_naming_the_file(tmp_path):
    folder = write_arrays(tmp_path) / "fuzzfolder"
    assert len(load_dataset("arrays", folder).test) == 4
    fuzz(sorted(folder.iterdir()), lambda: load_dataset("arrays", folder), lambda file: (file.name, folder.name))


def test_fuzzed_csv_loads_or_raises_naming_the_file(tmp_path):
    path = write_csv(tmp_path / "fuzzed.csv")
    assert load_dataset("csv", path, true_label_column="truth").train.x.shape == (5, 2)
    fuzz([path], lambda: load_dataset("csv", path, true_label_column="truth"), lambda file: (file.name, file.stem))


def test_fuzzed_image_list_and_images_load_or_raise_naming_the_file(tmp_path):
    path = write_image_list(tmp_path)
    assert load_dataset("image_list", path, size=4).train.x.shape == (4, 3, 4, 4)
    files = [path, *sorted((tmp_path / "fuzzimgs").iterdir())]
    fuzz(files, lambda: load_dataset("image_list", path, size=4), lambda file: (file.name, path.stem))


# ----------------------------------------------------------------------------- each error message


def test_missing_files_are_named(tmp_path):
    folder = write_mnist(tmp_path / "mnist", compress=False)
    (folder / "train-labels-idx1-ubyte").unlink()
    cases = [
        (lambda: load_dataset("mnist", folder), "lacks train-labels-idx1-ubyte or train-labels-idx1-ubyte.gz"),
        (lambda: read_idx(tmp_path / "nothing-idx1-ubyte"), "IDX file .*nothing-idx1-ubyte not found"),
        (lambda: load_dataset("csv", tmp_path / "none.csv"), "CSV file .*none.csv not found"),
        (lambda: load_dataset("image_list", tmp_path / "none.txt"), "image list .*none.txt not found"),
        (lambda: load_dataset("arrays", tmp_path / "none.npz"), "arrays file .*none.npz not found"),
        (lambda: load_dataset("cifar10", tmp_path / "no-cifar"), "data path .*no-cifar does not exist"),
    ]
    for call, message in cases:
        with pytest.raises(NoisyLabelsError, match=message):
            call()


def test_wrong_magic_numbers_are_named(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x01\x02" + idx_bytes(np.zeros((2, 3, 3), np.uint8))[2:])
    with pytest.raises(NoisyLabelsError, match="train-images-idx3-ubyte: bad magic number, not an IDX file"):
        read_idx(path)
    path.write_bytes(b"\x00\x00\x07\x03" + idx_bytes(np.zeros((2, 3, 3), np.uint8))[4:])
    with pytest.raises(NoisyLabelsError, match="unknown IDX data type code 0x07"):
        read_idx(path)
    (tmp_path / "gz-idx1-ubyte").write_bytes(gzip.compress(idx_bytes(np.zeros(5, np.uint8)))[:-6])
    with pytest.raises(NoisyLabelsError, match="gz-idx1-ubyte: cannot decompress"):
        read_idx(tmp_path / "gz-idx1-ubyte")
    (tmp_path / "notzip.npz").write_bytes(b"PK\x00\x00 not really a zip")
    with pytest.raises(NoisyLabelsError, match="cannot read .*notzip.npz .*re-save it with np.savez"):
        load_dataset("arrays", tmp_path / "notzip.npz")
    folder = write_cifar10(tmp_path)
    (folder / "test_batch").write_bytes(b"\x80\x05garbage")
    with pytest.raises(NoisyLabelsError, match="test_batch: truncated or corrupt pickle"):
        load_dataset("cifar10", folder)


def test_wrong_dimensions_are_named(tmp_path):
    folder = write_mnist(tmp_path / "mnist", compress=True)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((4, 784), np.uint8))))
    with pytest.raises(NoisyLabelsError, match=r"t10k-images-idx3-ubyte.gz: expected \(N, H, W\) unsigned-byte images"):
        load_dataset("mnist", folder)
    cifar = write_cifar10(tmp_path)
    write_pickle(cifar / "data_batch_2", {b"data": np.zeros((2, 100), np.uint8), b"labels": [1, 2]})
    with pytest.raises(NoisyLabelsError, match=r"data_batch_2: expected uint8 data \(N, 3072\)"):
        load_dataset("cifar10", cifar)
    np.savez(tmp_path / "deep.npz", x=np.zeros((2, 1, 1, 1, 1)), y=[0, 1])
    with pytest.raises(NoisyLabelsError, match=r"deep.npz x has shape \(2, 1, 1, 1, 1\); expected \(N, D\)"):
        load_dataset("arrays", tmp_path / "deep.npz")
    (tmp_path / "ragged.csv").write_text("a,b,label\n1,2,0\n3,1\n")
    with pytest.raises(NoisyLabelsError, match="ragged.csv line 3: 2 cells for 3 columns"):
        load_dataset("csv", tmp_path / "ragged.csv")


def test_label_count_mismatches_are_named(tmp_path):
    folder = write_mnist(tmp_path / "mnist", compress=False)
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(NoisyLabelsError, match="train-labels-idx1-ubyte: .*labels for 6 images .*do not belong together"):
        load_dataset("mnist", folder)
    cifar = write_cifar10(tmp_path)
    write_pickle(cifar / "data_batch_4", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2, 3]})
    with pytest.raises(NoisyLabelsError, match=r"data_batch_4: expected uint8 data \(N, 3072\) and N labels"):
        load_dataset("cifar10", cifar)
    np.savez(tmp_path / "short.npz", x=np.zeros((3, 2)), y=[0, 1])
    with pytest.raises(NoisyLabelsError, match="short: 2 labels for 3 feature rows"):
        load_dataset("arrays", tmp_path / "short.npz")


def test_non_integer_and_out_of_range_labels_are_named(tmp_path):
    """The IDX, CIFAR and image-list cases named only the data set (or raised OverflowError) before."""
    folder = write_mnist(tmp_path / "mnist", compress=False)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 2, 200, 3], np.uint8)))
    with pytest.raises(NoisyLabelsError, match="t10k-labels-idx1-ubyte: labels must be class indices 0..9"):
        load_dataset("mnist", folder)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 2, 0.5, 3], ">f4")))
    with pytest.raises(NoisyLabelsError, match="t10k-labels-idx1-ubyte: labels must be class indices 0..9"):
        load_dataset("mnist", folder)
    cifar = write_cifar10(tmp_path)
    write_pickle(cifar / "data_batch_5", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]})
    with pytest.raises(NoisyLabelsError, match="data_batch_5: 'labels' must be class indices 0..9"):
        load_dataset("cifar10", cifar)
    write_pickle(cifar / "data_batch_5", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [1.0, 2.5]})
    with pytest.raises(NoisyLabelsError, match="data_batch_5: 'labels' must be class indices 0..9"):
        load_dataset("cifar10", cifar)
    np.savez(tmp_path / "halves.npz", x=np.zeros((2, 2)), y=[0.0, 0.5])
    with pytest.raises(NoisyLabelsError, match="halves labels must be whole numbers"):
        load_dataset("arrays", tmp_path / "halves.npz")
    Image.new("RGB", (3, 3)).save(tmp_path / "a.png")
    for line, message in (("a.png cat", "line 2: expected '<image path> <integer label>', got 'a.png cat'"),
                          ("a.png -1", "line 2: label -1 is not a class index"),
                          ("a.png 99999999999999999999", "line 2: label 99999999999999999999 is not a class index")):
        (tmp_path / "labels.txt").write_text(f"a.png 0\n{line}\n")
        with pytest.raises(NoisyLabelsError, match=message):
            load_dataset("image_list", tmp_path / "labels.txt")


def test_unreadable_images_and_text_files_are_named(tmp_path):
    Image.new("RGB", (3, 3)).save(tmp_path / "ok.png")
    (tmp_path / "text.png").write_text("not an image")
    Image.new("RGB", (4, 4)).save(tmp_path / "bomb.bmp")
    header = bytearray((tmp_path / "bomb.bmp").read_bytes())
    header[18:26] = struct.pack("<ii", 100_000, 100_000)  # declares 10^10 pixels: Pillow's DecompressionBombError
    (tmp_path / "bomb.bmp").write_bytes(bytes(header))
    for image in ("text.png", "bomb.bmp"):
        (tmp_path / "list.txt").write_text(f"ok.png 0\n{image} 1\n")
        with pytest.raises(NoisyLabelsError, match=f"list.txt line 2: cannot decode .*{image}"):
            load_dataset("image_list", tmp_path / "list.txt")
    (tmp_path / "latin1.txt").write_bytes("ok.png 0\ncaf\xe9.png 1\n".encode("latin-1"))
    with pytest.raises(NoisyLabelsError, match="cannot read .*latin1.txt as text"):
        load_dataset("image_list", tmp_path / "latin1.txt")
    (tmp_path / "latin1.csv").write_bytes("f,label\n1,caf\xe9\n2,b\n".encode("latin-1"))
    with pytest.raises(NoisyLabelsError, match="cannot read .*latin1.csv as CSV text"):
        load_dataset("csv", tmp_path / "latin1.csv")
    cifar = write_cifar10(tmp_path)
    write_pickle(cifar / "batches.meta", {b"label_names": [b"one", b"two"]})
    with pytest.raises(NoisyLabelsError, match="batches.meta: 'label_names' must list 10 class names"):
        load_dataset("cifar10", cifar)
    write_pickle(cifar / "batches.meta", {b"label_names": [b"caf\xe9"] * 10})  # not UTF-8: was UnicodeDecodeError
    assert load_dataset("cifar10", cifar).train.class_names[0] == "caf\ufffd"


@pytest.mark.filterwarnings("ignore:loadtxt")  # a CSV cut to nothing: numpy warns, then we raise
@pytest.mark.parametrize("suffix", ["npy", "csv", "npz", "pt"])
def test_fuzzed_noisy_label_files_load_or_raise_naming_the_file(tmp_path, suffix):
    """make_noise("file"): CIFAR-N style label files (.pt dicts of arrays) and plain arrays."""
    import torch

    from noisylabels.noise import make_noise

    clean = np.arange(12) % 4
    noisy = (clean + (np.arange(12) % 3 == 0)) % 4
    path = tmp_path / f"fuzzlabels.{suffix}"
    if suffix == "npy":
        np.save(path, noisy)
    elif suffix == "csv":
        np.savetxt(path, noisy, fmt="%d")
    elif suffix == "npz":
        np.savez(path, worse_label=noisy)
    else:
        torch.save({"worse_label": noisy, "clean_label": clean}, path)
    key = None if suffix in ("npy", "csv") else "worse_label"
    assert (make_noise("file", clean, 4, path=path, key=key)[0] == noisy).all()

    original = path.read_bytes()
    for what, data in mutations(original, seed=len(suffix)):
        path.write_bytes(data)
        try:
            with time_limit(LOAD_SECONDS):
                labels, transition = make_noise("file", clean, 4, path=path, key=key)
        except NoisyLabelsError as error:
            assert path.name in str(error), (what, str(error))
        else:
            assert labels.shape == (12,) and ((labels >= 0) & (labels < 4)).all()
            assert np.allclose(transition.sum(1), 1)
