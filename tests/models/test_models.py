"""Every registered model: output shape, finiteness, gradients; and the factory's user errors."""
import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.models import MODELS, create_model

NUM_CLASSES = 5


def _check_forward_backward(model: torch.nn.Module, in_shape: tuple[int, ...], batch: int = 2) -> None:
    torch.manual_seed(0)
    model.train()
    logits = model(torch.randn(batch, *in_shape))
    assert logits.shape == (batch, NUM_CLASSES)
    assert torch.isfinite(logits).all()
    logits.logsumexp(dim=1).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"no gradient for {name}"
        assert torch.isfinite(p.grad).all(), f"non-finite gradient for {name}"


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_on_cifar_sized_images(name):
    model = create_model(name, NUM_CLASSES, (3, 32, 32))
    _check_forward_backward(model, (3, 32, 32))


@pytest.mark.parametrize("in_shape", [(1, 28, 28), (1, 8, 8), (3, 32, 32)])
def test_cnn_input_sizes(in_shape):
    _check_forward_backward(create_model("cnn", NUM_CLASSES, in_shape), in_shape)


def test_cnn_width_option():
    model = create_model("cnn", NUM_CLASSES, (1, 28, 28), width=8)
    _check_forward_backward(model, (1, 28, 28))


@pytest.mark.parametrize("in_shape", [(20,), (4, 5), (1, 6, 6)])
def test_mlp_any_shape(in_shape):
    _check_forward_backward(create_model("mlp", NUM_CLASSES, in_shape), in_shape)


def test_mlp_options():
    model = create_model("mlp", NUM_CLASSES, (20,), hidden_sizes=[32, 16, 8], dropout=0.3)
    assert sum(isinstance(m, torch.nn.Linear) for m in model.modules()) == 4
    _check_forward_backward(model, (20,), batch=4)


def test_wrn_dropout_option():
    _check_forward_backward(create_model("wrn28_2", NUM_CLASSES, (3, 16, 16), dropout=0.3), (3, 16, 16))


def test_eval_mode_is_deterministic():
    model = create_model("cnn", NUM_CLASSES, (1, 28, 28)).eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_unknown_model_lists_choices():
    with pytest.raises(NoisyLabelsError, match="unknown model 'vgg'.*cnn"):
        create_model("vgg", NUM_CLASSES, (3, 32, 32))


@pytest.mark.parametrize("name", ["cnn", "preact_resnet18", "resnet32", "wrn28_2"])
def test_image_models_reject_vectors(name):
    with pytest.raises(NoisyLabelsError, match="use mlp for vector data"):
        create_model(name, NUM_CLASSES, (20,))


def test_unknown_option_lists_accepted_ones():
    with pytest.raises(NoisyLabelsError, match="no option depth; accepted: width"):
        create_model("cnn", NUM_CLASSES, (1, 28, 28), depth=3)
    with pytest.raises(NoisyLabelsError, match="hidden_sizes, dropout"):
        create_model("mlp", NUM_CLASSES, (20,), hidden=[8])
    with pytest.raises(NoisyLabelsError, match="accepted: none"):
        create_model("resnet32", NUM_CLASSES, (3, 32, 32), width=2)


@pytest.mark.parametrize("num_classes", [1, 0, 2.5, True])
def test_bad_num_classes(num_classes):
    with pytest.raises(NoisyLabelsError, match="num_classes"):
        create_model("mlp", num_classes, (20,))


@pytest.mark.parametrize("in_shape", [(), (0, 28, 28), (1, -2, 28), (1.0, 28, 28), "1x28x28", 20])
def test_bad_in_shape(in_shape):
    with pytest.raises(NoisyLabelsError, match="in_shape"):
        create_model("mlp", NUM_CLASSES, in_shape)


@pytest.mark.parametrize("options", [{"width": 0}, {"width": 1.5}])
def test_bad_cnn_width(options):
    with pytest.raises(NoisyLabelsError, match="width"):
        create_model("cnn", NUM_CLASSES, (1, 28, 28), **options)


@pytest.mark.parametrize("options", [{"dropout": 1.0}, {"dropout": -0.1}, {"hidden_sizes": [0]},
                                     {"hidden_sizes": "big"}])
def test_bad_mlp_options(options):
    with pytest.raises(NoisyLabelsError, match="mlp"):
        create_model("mlp", NUM_CLASSES, (20,), **options)


def test_list_in_shape_is_accepted():
    model = create_model("cnn", NUM_CLASSES, [1, 28, 28])
    _check_forward_backward(model, (1, 28, 28))
