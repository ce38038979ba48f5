"""Finding data folders: explicit path, then $NOISYLABELS_DATA, then system locations.

The lookup is exercised through fashion_mnist, the dataset with a system location.
"""
import pytest

from noisylabels.data.loaders import find_data_dir, load_dataset, lookup
from noisylabels.errors import NoisyLabelsError


def test_lookup_explicit_path_beats_environment(tmp_path, no_data_sources, write_mnist_folder, monkeypatch):
    monkeypatch.setenv(lookup.DATA_ENV_VAR, write_mnist_folder(tmp_path / "env", n_train=7))
    assert len(load_dataset("fashion_mnist", write_mnist_folder(tmp_path / "explicit", n_train=3)).train) == 3


def test_lookup_missing_explicit_path_does_not_fall_through(
    tmp_path, no_data_sources, write_mnist_folder, monkeypatch
):
    monkeypatch.setenv(lookup.DATA_ENV_VAR, write_mnist_folder(tmp_path / "env"))
    with pytest.raises(NoisyLabelsError, match="does not exist"):
        load_dataset("fashion_mnist", tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoisyLabelsError, match="lacks train-images-idx3-ubyte"):
        load_dataset("fashion_mnist", empty)


def test_lookup_environment_subfolder_then_itself(tmp_path, no_data_sources, write_mnist_folder, monkeypatch):
    write_mnist_folder(tmp_path / "root" / "fashion_mnist", n_train=4)
    monkeypatch.setenv(lookup.DATA_ENV_VAR, str(tmp_path / "root"))
    assert len(load_dataset("fashion_mnist").train) == 4
    monkeypatch.setenv(lookup.DATA_ENV_VAR, write_mnist_folder(tmp_path / "flat", n_train=5))
    assert len(load_dataset("fashion_mnist").train) == 5


def test_lookup_system_location_after_environment(tmp_path, no_data_sources, write_mnist_folder, monkeypatch):
    system = write_mnist_folder(tmp_path / "usr-share", n_train=8)
    monkeypatch.setattr(lookup, "SYSTEM_DATA_DIRS", {"fashion_mnist": (system,)})
    assert len(load_dataset("fashion_mnist").train) == 8
    monkeypatch.setenv(lookup.DATA_ENV_VAR, write_mnist_folder(tmp_path / "env", n_train=2))
    assert len(load_dataset("fashion_mnist").train) == 2
    # An environment folder without the files is skipped, not an error.
    monkeypatch.setenv(lookup.DATA_ENV_VAR, str(tmp_path / "usr-share" / "nothing-here"))
    assert len(load_dataset("fashion_mnist").train) == 8


def test_lookup_failure_says_where_and_how(no_data_sources):
    with pytest.raises(NoisyLabelsError) as caught:
        load_dataset("fashion_mnist")
    message = str(caught.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "NOISYLABELS_DATA" in message and str(no_data_sources) in message
    assert "\n" not in message


def test_find_data_dir_accepts_alternatives_and_subfolders(tmp_path, no_data_sources):
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "a.gz").write_bytes(b"")
    found = find_data_dir("thing", tmp_path, [("a", "a.gz")], subdirs=("inner",))
    assert found == tmp_path / "inner"
