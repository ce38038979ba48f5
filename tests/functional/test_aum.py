import pytest
import torch

from noisylabels import NoisyLabelsError
from noisylabels.functional import (assign_threshold_samples, aum_flags, aum_threshold, combine_runs, logit_margin,
                                    threshold_labels)


def official_flags(aum, is_threshold, percentile):
    """Loop reference of the official rule: flag a real sample when more than (100-p)% of the
    threshold samples have a strictly larger AUM."""
    values = [v for v, t in zip(aum.tolist(), is_threshold.tolist()) if t]
    flags = []
    for a, t in zip(aum.tolist(), is_threshold.tolist()):
        above = sum(v > a for v in values)
        flags.append(not t and above / len(values) > (100 - percentile) / 100)
    return torch.tensor(flags)


def test_threshold_sets_have_n_over_c_plus_1_samples_and_are_disjoint():
    generator = torch.Generator().manual_seed(0)
    first = assign_threshold_samples(103, 4, generator)
    second = assign_threshold_samples(103, 4, generator, exclude=first)
    assert first.dtype == torch.bool and len(first) == 103
    assert int(first.sum()) == int(second.sum()) == 103 // 5
    assert not (first & second).any()
    again = assign_threshold_samples(103, 4, torch.Generator().manual_seed(0))
    assert torch.equal(first, again)  # the generator alone decides the draw


def test_threshold_assignment_errors_say_what_to_fix():
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(NoisyLabelsError, match="at least 4 training samples"):
        assign_threshold_samples(3, 3, generator)
    with pytest.raises(NoisyLabelsError, match="use fewer runs"):
        assign_threshold_samples(10, 1, generator, exclude=torch.arange(10) < 6)


def test_threshold_labels_move_threshold_samples_to_the_fake_class():
    labels = torch.tensor([0, 1, 2, 0, 1])
    is_threshold = torch.tensor([False, True, False, True, False])
    assert threshold_labels(labels, is_threshold, 3).tolist() == [0, 3, 2, 3, 1]
    assert labels.tolist() == [0, 1, 2, 0, 1]  # the observed labels are untouched


@pytest.mark.parametrize("num_threshold, percentile", [(100, 99), (100, 90), (37, 99), (37, 95.5), (7, 100), (250, 99)])
def test_flags_match_the_official_counting_rule(num_threshold, percentile):
    generator = torch.Generator().manual_seed(num_threshold)
    aum = torch.randn(400, generator=generator).round(decimals=1)  # rounding makes ties
    is_threshold = torch.zeros(400, dtype=torch.bool)
    is_threshold[torch.randperm(400, generator=generator)[:num_threshold]] = True
    flags = aum_flags(aum, is_threshold, percentile)
    assert torch.equal(flags, official_flags(aum, is_threshold, percentile))
    cut = aum_threshold(aum, is_threshold, percentile)
    assert torch.equal(flags, (aum < cut) & ~is_threshold)
    assert cut in aum[is_threshold].tolist()  # an order statistic, never interpolated


def test_99th_percentile_of_100_threshold_samples_is_their_second_largest():
    aum = torch.cat([torch.arange(100.0), torch.tensor([97.5, 98.0, 98.5])])
    is_threshold = torch.arange(103) < 100
    assert aum_threshold(aum, is_threshold, 99) == 98.0
    assert aum_flags(aum, is_threshold, 99)[100:].tolist() == [True, False, False]


def test_flag_options_are_checked():
    aum, is_threshold = torch.zeros(5), torch.tensor([True, False, False, False, False])
    with pytest.raises(NoisyLabelsError, match=r"percentile must be in \(0, 100\]"):
        aum_flags(aum, is_threshold, 0)
    with pytest.raises(NoisyLabelsError, match="at least one threshold sample"):
        aum_flags(aum, torch.zeros(5, dtype=torch.bool))


def test_combine_runs_drops_only_samples_flagged_in_every_run_they_voted_in():
    # sample:            0      1      2      3      4      5
    flags = [torch.tensor([True, True, False, False, False, True]),
             torch.tensor([True, False, False, True, False, False])]
    thresholds = [torch.tensor([False, False, False, True, True, False]),
                  torch.tensor([False, False, False, False, False, True])]
    drop = combine_runs(flags, thresholds)
    # 0 flagged twice; 1 and 2 not in both; 3 voted only in run 2 (flagged); 4 voted only in run 2
    # (not flagged); 5 voted only in run 1 (flagged).
    assert drop.tolist() == [True, False, False, True, False, True]
    never_voted = combine_runs([torch.tensor([True])], [torch.tensor([True])])
    assert never_voted.tolist() == [False]
    with pytest.raises(NoisyLabelsError, match="one threshold mask per flag mask"):
        combine_runs(flags, thresholds[:1])


def test_planted_mislabeled_samples_are_found_and_clean_ones_kept():
    """Margins over epochs with a known answer: clean samples fit (margin ~ +3), threshold samples
    sit on a random class (~ -1), planted mislabeled samples are contradicted (~ -4)."""
    generator = torch.Generator().manual_seed(0)
    num_samples, num_classes, epochs = 600, 5, 8
    planted = torch.zeros(num_samples, dtype=torch.bool)
    planted[torch.randperm(num_samples, generator=generator)[:60]] = True
    flags, thresholds = [], []
    for run in range(2):
        is_threshold = assign_threshold_samples(num_samples, num_classes, generator,
                                                exclude=thresholds[0] if thresholds else None)
        centre = torch.full((num_samples,), 3.0)
        centre[planted] = -4.0
        centre[is_threshold] = -1.0
        margins = centre + 0.5 * torch.randn(epochs, num_samples, generator=generator)  # (E, N) history
        aum = margins.mean(0)
        flags.append(aum_flags(aum, is_threshold))
        thresholds.append(is_threshold)
        real = ~is_threshold
        assert torch.equal(flags[-1], planted & real)
    assert torch.equal(combine_runs(flags, thresholds), planted)


def test_margin_is_measured_against_the_fake_class_for_threshold_samples():
    logits = torch.tensor([[2.0, 0.0, 0.0, 1.0], [2.0, 0.0, 0.0, 1.0]])
    labels = threshold_labels(torch.tensor([0, 0]), torch.tensor([False, True]), 3)
    assert logit_margin(logits, labels).tolist() == [1.0, -1.0]
