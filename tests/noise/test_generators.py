"""Each noise generator checked statistically against the transition matrix it returns."""
import zipfile

import numpy as np
import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.noise import NOISE, estimate_transition, make_noise
from noisylabels.noise.generators import resolve_mapping

N, C = 30_000, 10
SIGMAS = 5  # per entry; with ~100 entries a false alarm is ~1e-4 likely, and the seeds are fixed anyway


@pytest.fixture(scope="module")
def labels():
    return np.random.default_rng(123).integers(0, C, size=N)


@pytest.fixture(scope="module")
def features(labels):
    """(N, 2, 4, 4) image-like inputs clustered by class, as real features are."""
    rng = np.random.default_rng(7)
    class_means = rng.normal(size=(C, 2, 4, 4))
    return class_means[labels] + 0.5 * rng.normal(size=(N, 2, 4, 4))


def assert_follows(true, noisy, transition):
    """Every row's empirical distribution is within SIGMAS binomial standard deviations of T's row.

    Entries with probability 0 or 1 must match exactly (their binomial std is 0).
    """
    num_classes = len(transition)
    for i in range(num_classes):
        observed = noisy[true == i]
        empirical = np.bincount(observed, minlength=num_classes) / len(observed)
        std = np.sqrt(transition[i] * (1 - transition[i]) / len(observed))
        assert np.all(np.abs(empirical - transition[i]) <= SIGMAS * std + 1e-12), (i, empirical, transition[i])


def assert_rate_close(observed_rate, expected_rate, n=N):
    assert abs(observed_rate - expected_rate) <= SIGMAS * np.sqrt(expected_rate * (1 - expected_rate) / n)


def test_registered_types():
    assert NOISE.names() == sorted(
        ["none", "symmetric", "uniform", "pair", "asymmetric", "instance", "matrix", "file"]
    )


def test_none_is_identity(labels):
    noisy, transition = make_noise("none", labels, C, 0.5)
    np.testing.assert_array_equal(noisy, labels)
    np.testing.assert_array_equal(transition, np.eye(C))
    assert noisy.dtype == np.int64 and transition.dtype == np.float64


def test_symmetric_moves_to_a_different_class_uniformly(labels):
    rate = 0.4
    noisy, transition = make_noise("symmetric", labels, C, rate, seed=1)
    assert np.allclose(np.diag(transition), 1 - rate)
    assert np.allclose(transition[0, 1:], rate / (C - 1))
    assert_follows(labels, noisy, transition)
    # All of the rate lands on other classes (the uniform convention would change only 36%).
    assert_rate_close((noisy != labels).mean(), rate)


def test_uniform_redraws_from_all_classes(labels):
    rate = 0.4
    noisy, transition = make_noise("uniform", labels, C, rate, seed=1)
    np.testing.assert_allclose(transition, (1 - rate) * np.eye(C) + rate / C)
    assert_follows(labels, noisy, transition)
    assert_rate_close((noisy != labels).mean(), rate * (C - 1) / C)


def test_pair_flips_only_to_the_next_class(labels):
    rate = 0.3
    noisy, transition = make_noise("pair", labels, C, rate, seed=1)
    changed = noisy != labels
    np.testing.assert_array_equal(noisy[changed], (labels[changed] + 1) % C)
    assert transition[C - 1, 0] == pytest.approx(rate)
    assert_follows(labels, noisy, transition)


def test_asymmetric_cifar10_flips_exactly_a_fraction_of_each_source(labels):
    rate = 0.35
    noisy, transition = make_noise("asymmetric", labels, C, rate, seed=1)
    mapping = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}
    for cls in range(C):
        members = labels == cls
        changed = members & (noisy != labels)
        if cls in mapping:
            assert changed.sum() == round(rate * members.sum())
            assert np.all(noisy[changed] == mapping[cls])
            assert transition[cls, mapping[cls]] == pytest.approx(rate)
            assert transition[cls, cls] == pytest.approx(1 - rate)
        else:
            assert changed.sum() == 0
            np.testing.assert_array_equal(transition[cls], np.eye(C)[cls])


def test_cifar100_mapping_is_cyclic_inside_blocks_of_five():
    mapping = resolve_mapping("cifar100", 100)
    assert mapping[0] == 1 and mapping[3] == 4 and mapping[4] == 0 and mapping[9] == 5 and mapping[99] == 95
    for block_start in range(0, 100, 5):
        block = list(range(block_start, block_start + 5))
        assert sorted(mapping[i] for i in block) == block  # a permutation of its own block

    labels = np.random.default_rng(0).integers(0, 100, size=N)
    noisy, _ = make_noise("asymmetric", labels, 100, 0.4, seed=2, mapping="cifar100")
    changed = noisy != labels
    np.testing.assert_array_equal(noisy[changed], labels[changed] - labels[changed] % 5 + (labels[changed] + 1) % 5)
    for cls in range(100):
        assert changed[labels == cls].sum() == round(0.4 * (labels == cls).sum())


def test_asymmetric_dict_mapping_accepts_yaml_string_keys(labels):
    noisy, transition = make_noise("asymmetric", labels, C, 1.0, seed=0, mapping={"0": "1"})
    assert np.all(noisy[labels == 0] == 1)
    np.testing.assert_array_equal(noisy[labels != 0], labels[labels != 0])
    assert transition[0, 1] == 1.0


@pytest.mark.parametrize(
    "mapping, num_classes",
    [({0: 0}, C), ({0: 12}, C), ({"a": 1}, C), ("cifar100", 12), ("cifar10", 5), ("imagenet", C), ([1, 2], C)],
)
def test_bad_asymmetric_mapping(labels, mapping, num_classes):
    with pytest.raises(NoisyLabelsError):
        make_noise("asymmetric", labels % num_classes, num_classes, 0.2, mapping=mapping)


def test_instance_noise_matches_its_rate_and_expected_matrix(labels, features):
    rate = 0.4
    noisy, transition = make_noise("instance", labels, C, rate, seed=3, features=features)
    assert_rate_close((noisy != labels).mean(), rate)
    np.testing.assert_allclose(transition.sum(axis=1), 1.0)
    assert np.all(transition >= 0)
    # The empirical transition follows the expected one (a sum of Bernoullis varies less than a binomial).
    assert_follows(labels, noisy, transition)
    # Unlike symmetric noise the flips are concentrated: some off-diagonal entries are far above rate/(C-1).
    off_diagonal = transition[~np.eye(C, dtype=bool)]
    assert off_diagonal.max() > 2 * rate / (C - 1)


def test_instance_noise_ignores_the_feature_scale(labels, features):
    small, _ = make_noise("instance", labels, C, 0.3, seed=4, features=features)
    large, _ = make_noise("instance", labels, C, 0.3, seed=4, features=1000 * features)
    np.testing.assert_array_equal(small, large)


def test_instance_noise_without_spread_uses_one_flip_rate(labels, features):
    noisy, transition = make_noise("instance", labels, C, 0.25, seed=5, features=features, std=0)
    np.testing.assert_allclose(np.diag(transition), 0.75)
    assert_rate_close((noisy != labels).mean(), 0.25)


def test_matrix_noise_follows_the_given_matrix(labels, tmp_path):
    given = np.random.default_rng(0).dirichlet(np.ones(C), size=C) * 0.5 + 0.5 * np.eye(C)
    noisy, transition = make_noise("matrix", labels, C, seed=1, matrix=given.tolist())
    np.testing.assert_allclose(transition, given)
    assert_follows(labels, noisy, transition)

    np.save(tmp_path / "t.npy", given)
    np.savetxt(tmp_path / "t.csv", given, delimiter=",")
    for path in (tmp_path / "t.npy", str(tmp_path / "t.csv")):
        from_file, _ = make_noise("matrix", labels, C, seed=1, matrix=path)
        np.testing.assert_array_equal(from_file, noisy)


@pytest.mark.parametrize(
    "matrix",
    [
        [[0.5, 0.4], [0.0, 1.0]],  # a row that does not sum to 1
        [[1.5, -0.5], [0.0, 1.0]],  # a negative entry
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],  # not square
        np.eye(3).tolist(),  # square but for the wrong number of classes
        [[1.0, 0.0], [1.0]],  # ragged
        None,  # missing
        "no/such/matrix.npy",
    ],
)
def test_bad_matrix(matrix):
    with pytest.raises(NoisyLabelsError):
        make_noise("matrix", [0, 1, 1], 2, matrix=matrix)


SEEDED_KINDS = ["symmetric", "uniform", "pair", "asymmetric", "instance", "matrix"]


def _extra(kind, features):
    if kind == "instance":
        return {"features": features}
    if kind == "matrix":
        return {"matrix": (0.7 * np.eye(C) + 0.3 / C).tolist()}
    return {}


@pytest.mark.parametrize("kind", SEEDED_KINDS)
def test_seed_reproduces(kind, labels, features):
    first, t1 = make_noise(kind, labels, C, 0.3, seed=11, **_extra(kind, features))
    again, t2 = make_noise(kind, labels, C, 0.3, seed=11, **_extra(kind, features))
    other, _ = make_noise(kind, labels, C, 0.3, seed=12, **_extra(kind, features))
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(t1, t2)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("kind", ["symmetric", "uniform", "pair", "asymmetric", "instance"])
def test_rate_zero_is_identity(kind, labels, features):
    noisy, transition = make_noise(kind, labels, C, 0.0, seed=3, **_extra(kind, features))
    np.testing.assert_array_equal(noisy, labels)
    np.testing.assert_array_equal(transition, np.eye(C))


@pytest.mark.parametrize("rate", [1.5, -0.1, float("nan"), 40, "0.4"])
@pytest.mark.parametrize("kind", ["symmetric", "uniform"])
def test_rate_outside_unit_interval(kind, rate):
    with pytest.raises(NoisyLabelsError, match=r"\[0, 1\]"):
        make_noise(kind, [0, 1, 2], 3, rate)


def test_symmetric_rate_error_explains_the_range():
    with pytest.raises(NoisyLabelsError, match="symmetric noise rate must be in \\[0, 1\\]"):
        make_noise("symmetric", [0, 1, 2], 3, 1.5)


@pytest.mark.parametrize(
    "labels, num_classes",
    [([0, 1, 3], 3), ([-1, 0], 3), ([[0, 1]], 3), ([0.5, 1], 3), (["a"], 3), ([], 3), ([0, 1], 1)],
)
def test_bad_labels(labels, num_classes):
    with pytest.raises(NoisyLabelsError):
        make_noise("symmetric", labels, num_classes, 0.2)


def test_unknown_option_lists_the_accepted_ones():
    with pytest.raises(NoisyLabelsError, match="accepted: mapping"):
        make_noise("asymmetric", [0, 1], 10, 0.2, mappin="cifar10")
    with pytest.raises(NoisyLabelsError, match="accepted: none"):
        make_noise("symmetric", [0, 1], 10, 0.2, std=0.1)


def test_unknown_kind():
    with pytest.raises(NoisyLabelsError, match="symmetric"):
        make_noise("symetric", [0, 1], 10, 0.2)


def test_instance_noise_needs_features():
    with pytest.raises(NoisyLabelsError, match="needs the features"):
        make_noise("instance", [0, 1], 10, 0.2)
    with pytest.raises(NoisyLabelsError, match="one feature row per label"):
        make_noise("instance", [0, 1], 10, 0.2, features=np.ones((3, 4)))
    with pytest.raises(NoisyLabelsError, match="std"):
        make_noise("instance", [0, 1], 10, 0.2, features=np.ones((2, 4)), std=-1)


# --- real noise from files -------------------------------------------------------------------------------


@pytest.fixture
def clean_and_noisy():
    rng = np.random.default_rng(0)
    clean = rng.integers(0, C, size=500)
    noisy = np.where(rng.random(500) < 0.2, rng.integers(0, C, size=500), clean)
    return clean, noisy


def test_cifar_n_style_pt_file_with_numpy_arrays(tmp_path, clean_and_noisy):
    clean, noisy = clean_and_noisy
    path = tmp_path / "CIFAR-10_human.pt"
    torch.save({"clean_label": clean, "worse_label": noisy, "aggre_label": clean.astype(np.int32)}, path)

    loaded, transition = make_noise("file", clean, C, path=path, key="worse_label")
    np.testing.assert_array_equal(loaded, noisy)
    np.testing.assert_allclose(transition, estimate_transition(clean, noisy, C))
    aggre, _ = make_noise("file", clean, C, path=str(path), key="aggre_label")
    np.testing.assert_array_equal(aggre, clean)

    with pytest.raises(NoisyLabelsError, match="available keys: clean_label, worse_label, aggre_label"):
        make_noise("file", clean, C, path=path, key="noisy_label")
    with pytest.raises(NoisyLabelsError, match="key="):
        make_noise("file", clean, C, path=path)


def test_pt_file_pickled_by_numpy_1(tmp_path, clean_and_noisy):
    """The published CIFAR-N files predate numpy 2, so they name numpy.core, not numpy._core."""
    clean, noisy = clean_and_noisy
    torch.save({"worse_label": noisy}, tmp_path / "new.pt")
    with zipfile.ZipFile(tmp_path / "new.pt") as new, zipfile.ZipFile(tmp_path / "old.pt", "w") as old:
        for item in new.infolist():
            data = new.read(item.filename)
            if item.filename.endswith("data.pkl"):
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            old.writestr(item, data)
    loaded, _ = make_noise("file", clean, C, path=tmp_path / "old.pt", key="worse_label")
    np.testing.assert_array_equal(loaded, noisy)


def test_pt_file_with_tensors(tmp_path, clean_and_noisy):
    clean, noisy = clean_and_noisy
    torch.save({"noisy_label": torch.from_numpy(noisy)}, tmp_path / "n.pt")
    loaded, _ = make_noise("file", clean, C, path=tmp_path / "n.pt")  # a lone entry needs no key
    np.testing.assert_array_equal(loaded, noisy)


class NotLabels:
    pass


def test_pt_file_with_arbitrary_objects_is_refused(tmp_path, clean_and_noisy):
    torch.save({"noisy_label": NotLabels()}, tmp_path / "evil.pt")
    with pytest.raises(NoisyLabelsError, match="safety"):
        make_noise("file", clean_and_noisy[0], C, path=tmp_path / "evil.pt", key="noisy_label")


def test_npy_csv_and_npz_files(tmp_path, clean_and_noisy):
    clean, noisy = clean_and_noisy
    np.save(tmp_path / "n.npy", noisy)
    np.savetxt(tmp_path / "n.csv", noisy, fmt="%d")
    np.savez(tmp_path / "n.npz", worse=noisy, clean=clean)
    for path, key in ((tmp_path / "n.npy", None), (tmp_path / "n.csv", None), (tmp_path / "n.npz", "worse")):
        loaded, _ = make_noise("file", clean, C, path=path, key=key)
        np.testing.assert_array_equal(loaded, noisy)
    with pytest.raises(NoisyLabelsError, match="available keys: worse, clean"):
        make_noise("file", clean, C, path=tmp_path / "n.npz", key="aggre")


def test_bad_label_files(tmp_path, clean_and_noisy):
    clean, noisy = clean_and_noisy
    with pytest.raises(NoisyLabelsError, match="not found"):
        make_noise("file", clean, C, path=tmp_path / "missing.npy")
    with pytest.raises(NoisyLabelsError, match="needs option path"):
        make_noise("file", clean, C)
    np.save(tmp_path / "short.npy", noisy[:-1])
    with pytest.raises(NoisyLabelsError, match="499 labels but the dataset has 500"):
        make_noise("file", clean, C, path=tmp_path / "short.npy")
    np.save(tmp_path / "range.npy", noisy + C)
    with pytest.raises(NoisyLabelsError, match="outside"):
        make_noise("file", clean, C, path=tmp_path / "range.npy")
    (tmp_path / "labels.txt").write_text("1\n2\n")
    with pytest.raises(NoisyLabelsError, match="unsupported"):
        make_noise("file", clean, C, path=tmp_path / "labels.txt")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(NoisyLabelsError, match="could not read"):
        make_noise("file", clean, C, path=tmp_path / "junk.npy")
