import torch

from noisylabels.data import DeviceLoader


def test_every_index_once_per_epoch_and_batches_carry_indices():
    x = torch.arange(10.0)[:, None] * 10
    y = torch.arange(10) % 3
    loader = DeviceLoader(x, y, batch_size=4, generator=torch.Generator().manual_seed(0))
    assert len(loader) == 3
    seen = []
    for batch in loader:
        assert torch.equal(batch.x[:, 0], batch.idx.float() * 10) and torch.equal(batch.y, batch.idx % 3)
        seen.append(batch.idx)
    assert sorted(torch.cat(seen).tolist()) == list(range(10))


def test_order_is_seeded_and_changes_between_epochs():
    x, y = torch.zeros(50, 1), torch.zeros(50, dtype=torch.long)
    first = [b.idx for b in DeviceLoader(x, y, 50, generator=torch.Generator().manual_seed(0))]
    again = [b.idx for b in DeviceLoader(x, y, 50, generator=torch.Generator().manual_seed(0))]
    assert torch.equal(first[0], again[0])
    loader = DeviceLoader(x, y, 50, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(next(iter(loader)).idx, next(iter(loader)).idx)


def test_drop_last_and_no_shuffle():
    loader = DeviceLoader(torch.zeros(10, 1), torch.zeros(10, dtype=torch.long), 4, shuffle=False, drop_last=True)
    assert [b.idx.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_weights_draw_with_replacement_in_proportion():
    x, y = torch.zeros(10, 1), torch.zeros(10, dtype=torch.long)
    loader = DeviceLoader(x, y, batch_size=4, generator=torch.Generator().manual_seed(0))
    loader.indices = torch.tensor([2, 7])
    loader.weights = torch.tensor([1.0, 3.0])
    draws = torch.cat([b.idx for _ in range(2000) for b in loader])
    assert set(draws.tolist()) == {2, 7} and len(draws) == 4000  # len(pool) draws per epoch
    share = (draws == 7).float().mean().item()
    assert abs(share - 0.75) < 4 * (0.75 * 0.25 / 4000) ** 0.5
