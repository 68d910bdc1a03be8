r"""Self-supervised learning for chapter 8: the Barlow Twins and SimCLR (NT-Xent) losses, projector heads, two-view
augmentations (kornia), the two-view loss the trainer calls, and a linear probe (scikit-learn) on frozen features.

A self-supervised model is a backbone (here :class:`paperlib.models.ResNet`, whose pooled last-stage features are
the representation) followed by a projector; the loss compares the projections :math:`z^{(1)}, z^{(2)}` of two
augmented views of the same images. The geometry of chapter 8 is that of the *backbone's* features, and the classes
that colour its figures come from a logistic-regression probe trained on them with the labels.

kornia and scikit-learn are imported by the functions that use them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_choice, check_int, check_number

__all__ = ["barlow_twins_loss", "nt_xent_loss", "HEADS", "projector", "SSLModel", "TwoViewLoss", "digit_views",
           "cifar10_views", "LinearProbe", "linear_probe"]


def _check_pair(z1: object, z2: object) -> None:
    for name, z in (("z1", z1), ("z2", z2)):
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or not z.dtype.is_floating_point:
            raise ValueError(f"{name} must be a floating tensor of shape (B, D)")
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape; got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if z1.shape[0] < 2:
        raise ValueError(f"the batch must hold at least 2 pairs of views; got {z1.shape[0]}")


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambd: float = 0.005, eps: float = 1e-5) -> torch.Tensor:
    r"""Barlow Twins loss (Zbontar et al., 2021) of the projections of two views, ``z1, z2: (B, D)`` -> scalar.

    Each view is standardised over the batch, :math:`\hat z_{bi} = (z_{bi} - \mu_i)/\sqrt{\sigma_i^2 + \epsilon}`
    (biased variance: batch norm without affine parameters, in training mode), and

    .. math::  C_{ij} = \frac1B \sum_b \hat z^{(1)}_{bi}\, \hat z^{(2)}_{bj}, \qquad
               \mathcal L = \sum_i (1 - C_{ii})^2 + \lambda \sum_{i \ne j} C_{ij}^2 .

    The first term makes the two views' features agree, the second decorrelates the features. :math:`\mathcal L = 0`
    exactly when :math:`C = I` (e.g. identical views whose standardised features are uncorrelated over the batch).
    The authors' scripts use :math:`\lambda = 0.005` and divide by the batch size, as here.

    Args:
        z1, z2: ``(B, D)`` projections of the two views (``B >= 2``).
        lambd: weight :math:`\lambda` of the off-diagonal term; eps: :math:`\epsilon` of the standardisation.

    Returns:
        A scalar tensor (shape ``()``).

    Example:
        >>> z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])  # standardised, uncorrelated
        >>> float(barlow_twins_loss(z, z)) < 1e-8  # C = I
        True
        >>> _ = torch.manual_seed(0)
        >>> loss = barlow_twins_loss(torch.randn(16, 4), torch.randn(16, 4))  # unrelated views
        >>> tuple(loss.shape), bool(loss > 1)
        ((), True)
    """
    _check_pair(z1, z2)
    lambd = check_number(lambd, "lambd", min=0)
    B = z1.shape[0]

    def standardise(z):
        return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + eps)

    c = standardise(z1).T @ standardise(z2) / B
    on = (1 - torch.diagonal(c)).square().sum()
    off = c.square().sum() - torch.diagonal(c).square().sum()
    return on + lambd * off


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    r"""NT-Xent, the SimCLR loss (Chen et al., 2020) of the projections of two views, ``z1, z2: (B, D)`` -> scalar.

    With the :math:`2B` projections :math:`u_k` (both views) normalised to unit length,
    :math:`s_{kl} = u_k \cdot u_l / \tau`, and :math:`p(k)` the other view of the same image,

    .. math::  \mathcal L = \frac{1}{2B} \sum_{k=1}^{2B} -\log
               \frac{e^{s_{k\,p(k)}}}{\sum_{l \ne k} e^{s_{kl}}} .

    For two identical views whose :math:`B` images have orthonormal projections,
    :math:`\mathcal L = \log\big(1 + (2B - 2)\,e^{-1/\tau}\big)`. The authors' SimCLR runs use
    :math:`\tau = 0.07`.

    Args:
        z1, z2: ``(B, D)`` projections of the two views (``B >= 2``).
        temperature: :math:`\tau > 0`.

    Returns:
        A scalar tensor (shape ``()``).

    Example:
        >>> z = torch.eye(3)  # B = 3 images with orthonormal projections, two identical views
        >>> loss = nt_xent_loss(z, z, temperature=0.5)
        >>> tuple(loss.shape), round(loss.item(), 5), round(math.log(1 + 4 * math.exp(-2)), 5)
        ((), 0.43265, 0.43265)
    """
    _check_pair(z1, z2)
    temperature = check_number(temperature, "temperature", min=0, open_min=True)
    B = z1.shape[0]
    u = F.normalize(torch.cat([z1, z2]), dim=1)
    s = u @ u.T / temperature
    s = s.masked_fill(torch.eye(2 * B, dtype=torch.bool, device=s.device), -math.inf)
    partner = torch.cat([torch.arange(B, 2 * B), torch.arange(B)]).to(s.device)
    return F.cross_entropy(s, partner)


#: The projector heads of :func:`projector`: the authors' Barlow Twins projector, SimCLR's two-layer head and
#: Barlow Twins' standard three-layer head (``"mlp"`` is an older name of ``"three_layer"``).
HEADS = ("linear", "two_layer", "three_layer", "mlp")


def projector(kind: str, in_dim: int, out_dim: int, hidden: int | None = None, *,
              activation: str = "relu") -> nn.Module:
    r"""A projector head ``(B, in_dim) -> (B, out_dim)``.

    - ``"linear"``: :math:`z = \mathrm{BN}(W h)`, one bias-free linear map followed by batch norm without affine
      parameters -- the projector the authors' Barlow Twins scripts actually used;
    - ``"two_layer"``: SimCLR's head (Chen et al., 2020), :math:`z = W_2\, \phi(W_1 h + b_1) + b_2`,
      Linear-``activation``-Linear (``hidden`` units, default ``in_dim``). SimCLR used ReLU; the authors' SimCLR
      runs used GELU, Linear(512, 512)-GELU-Linear(512, 10);
    - ``"three_layer"`` (also ``"mlp"``): Barlow Twins' standard head (Zbontar et al., 2021),
      Linear-BN-ReLU-Linear-BN-ReLU-Linear (``hidden`` units, default ``out_dim``; ``activation`` is not used).

    Args:
        kind: one of :data:`HEADS`; in_dim: features in; out_dim: projections out.
        hidden: hidden units of the multi-layer heads.
        activation: of ``"two_layer"``, ``"relu"`` or ``"gelu"``.

    Returns:
        A new ``nn.Module`` (in training mode).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> z = projector("linear", 16, 8)(torch.randn(4, 16))  # batch norm: each projection centred over the batch
        >>> tuple(z.shape), torch.allclose(z.mean(0), torch.zeros(8), atol=1e-6)
        ((4, 8), True)
        >>> [type(m).__name__ for m in projector("two_layer", 16, 8, activation="gelu")]
        ['Linear', 'GELU', 'Linear']
        >>> tuple(projector("three_layer", 16, 8, hidden=32)(torch.randn(4, 16)).shape)
        (4, 8)
    """
    check_choice(kind, "kind", HEADS)
    in_dim, out_dim = check_int(in_dim, "in_dim", min=1), check_int(out_dim, "out_dim", min=1)
    act = check_choice(activation, "activation", ("relu", "gelu"))
    if kind == "linear":
        return nn.Sequential(nn.Linear(in_dim, out_dim, bias=False), nn.BatchNorm1d(out_dim, affine=False))
    if kind == "two_layer":
        h = check_int(hidden, "hidden", min=1, none_ok=True) or in_dim
        return nn.Sequential(nn.Linear(in_dim, h), nn.GELU() if act == "gelu" else nn.ReLU(), nn.Linear(h, out_dim))
    h = check_int(hidden, "hidden", min=1, none_ok=True) or out_dim
    return nn.Sequential(nn.Linear(in_dim, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(),
                         nn.Linear(h, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, out_dim))


class SSLModel(nn.Module):
    """A backbone with a projector: ``forward(x)`` is ``head(backbone.features(x).mean((2, 3)))``, the projection
    the loss sees; the backbone's ``feature_map`` is the representation whose geometry is measured.

    Args:
        backbone: a :class:`paperlib.models.ResNet` (its readout is not used).
        head: the projector, e.g. :func:`projector`.

    ``forward``: ``(B, C, H, W) -> (B, out_dim)``; :meth:`representation`: ``(B, C, H, W) -> (B, feature_dim)``.

    Example:
        >>> from paperlib.models import ResNet
        >>> _ = torch.manual_seed(0)
        >>> backbone = ResNet((1, 1, 1, 1), width=2, in_channels=1)  # feature_dim = 8 * width = 16
        >>> model = SSLModel(backbone, projector("linear", backbone.feature_dim, 8))
        >>> x = torch.randn(4, 1, 8, 8)
        >>> tuple(model.representation(x).shape), tuple(model(x).shape)
        ((4, 16), (4, 8))
    """

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        if not hasattr(backbone, "features") or not hasattr(backbone, "feature_map"):
            raise TypeError("backbone must be a paperlib.models.ResNet (with features and feature_map)")
        self.backbone, self.head = backbone, head

    def representation(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's pooled features ``(B, feature_dim)``."""
        return self.backbone.features(x).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.representation(x))


class TwoViewLoss:
    r"""The trainer's loss for self-supervised learning: for a batch ``(x, ...)`` (labels unused) it draws two views
    ``transforms[0](x)``, ``transforms[1](x)`` (per-sample randomness from torch's RNG, which
    :func:`paperlib.train.train` seeds per epoch) and returns ``loss(model(v1), model(v2))``.

    Args:
        kind: ``"barlow"`` (:func:`barlow_twins_loss`) or ``"simclr"`` (:func:`nt_xent_loss`).
        transforms: one transform for both views, or a pair (asymmetric views, as in Barlow Twins).
        lambd, temperature: of the two losses.

    Its ``description`` (kind, parameters, the transforms' ``repr``) enters the training cache key; it pickles.

    Calling it, ``loss(model, batch)``, returns a scalar tensor.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> loss = TwoViewLoss("barlow", lambda x: x + 0.1 * torch.randn_like(x))  # a toy augmentation
        >>> model, batch = nn.Linear(4, 3), (torch.randn(16, 4), torch.zeros(16))  # (inputs, labels unused)
        >>> value = loss(model, batch)
        >>> tuple(value.shape), bool(value >= 0), loss.description["two_view_loss"]
        ((), True, 'barlow')
    """

    def __init__(self, kind: str, transforms: Callable | Sequence[Callable], *, lambd: float = 0.005,
                 temperature: float = 0.07):
        self.kind = check_choice(kind, "kind", ("barlow", "simclr"))
        pair = tuple(transforms) if isinstance(transforms, (list, tuple)) else (transforms, transforms)
        if len(pair) != 2 or not all(callable(t) for t in pair):
            raise TypeError("transforms must be a callable or a pair of callables")
        self.transforms = pair
        self.lambd = check_number(lambd, "lambd", min=0)
        self.temperature = check_number(temperature, "temperature", min=0, open_min=True)
        self.description = {"two_view_loss": kind, "lambd": self.lambd, "temperature": self.temperature,
                            "transforms": [repr(t) for t in pair]}

    def __call__(self, model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        x = batch[0]
        z1, z2 = model(self.transforms[0](x)), model(self.transforms[1](x))
        if self.kind == "barlow":
            return barlow_twins_loss(z1, z2, self.lambd)
        return nt_xent_loss(z1, z2, self.temperature)


def _pixel_space(augment: nn.Module, mean: Sequence[float], std: Sequence[float]) -> nn.Module:
    """``augment`` applied in pixel space ([0, 1]) to normalised images: denormalise, augment, normalise."""
    import kornia.augmentation as K

    m, s = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
    return nn.Sequential(K.Denormalize(m, s, keepdim=True), augment, K.Normalize(m, s, keepdim=True))


def digit_views(mean: float, std: float, *, scale: tuple[float, float] = (0.6, 1.0)) -> nn.Module:
    """Two-view augmentation for grayscale digits normalised with ``mean``/``std`` (kornia, per sample): a random
    resized crop (area ``scale``, aspect 3/4 to 4/3), brightness and contrast jitter (0.4, probability 0.8) and a
    Gaussian blur (sigma 0.1 to 1, probability 0.5), in pixel space.

    The subset of the CIFAR recipe that makes sense for digits: no horizontal flip (a mirrored digit is another
    shape, or no digit), no saturation or hue jitter and no grayscale (one channel), no solarisation (it inverts the
    strokes of a black-and-white image).

    Args:
        mean, std: the normalisation of the images; scale: area range of the crop.

    Returns:
        An ``nn.Module``, ``(B, 1, H, W) -> (B, 1, 32, 32)``, drawing new random views at every call.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> views, x = digit_views(0.1307, 0.3081), torch.randn(4, 1, 32, 32)  # MNIST's mean and std
        >>> v1, v2 = views(x), views(x)
        >>> tuple(v1.shape), torch.equal(v1, v2)  # two random views of the same images
        ((4, 1, 32, 32), False)
    """
    import kornia.augmentation as K

    aug = nn.Sequential(K.RandomResizedCrop((32, 32), scale=scale, keepdim=True),
                        K.ColorJitter(0.4, 0.4, 0.0, 0.0, p=0.8, keepdim=True),
                        K.RandomGaussianBlur((3, 3), (0.1, 1.0), p=0.5, keepdim=True))
    return _pixel_space(aug, [mean], [std])


def cifar10_views(mean: Sequence[float], std: Sequence[float]) -> tuple[nn.Module, nn.Module]:
    """The two asymmetric views of the Barlow Twins recipe on normalised CIFAR-10 images (kornia, per sample):
    random resized crop 32, horizontal flip (0.5), colour jitter (0.4, 0.4, 0.2, 0.1; probability 0.8), grayscale
    (0.2), Gaussian blur with sigma in [0.1, 2] (probability 1.0 for the first view, 0.1 for the second) and
    solarisation (0 and 0.2), in pixel space.

    Args:
        mean, std: the per-channel normalisation of the images (three numbers each).

    Returns:
        ``(first, second)``: two ``nn.Module``, each ``(B, 3, H, W) -> (B, 3, 32, 32)``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> first, second = cifar10_views((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))
        >>> x = torch.randn(2, 3, 32, 32)
        >>> tuple(first(x).shape), tuple(second(x).shape)
        ((2, 3, 32, 32), (2, 3, 32, 32))
    """
    import kornia.augmentation as K

    def view(blur: float, solarize: float) -> nn.Module:
        steps = [K.RandomResizedCrop((32, 32), keepdim=True), K.RandomHorizontalFlip(keepdim=True),
                 K.ColorJitter(0.4, 0.4, 0.2, 0.1, p=0.8, keepdim=True), K.RandomGrayscale(p=0.2, keepdim=True),
                 K.RandomGaussianBlur((3, 3), (0.1, 2.0), p=blur, keepdim=True)]
        if solarize:
            steps.append(K.RandomSolarize(0.0, 0.0, p=solarize, keepdim=True))
        return _pixel_space(nn.Sequential(*steps), mean, std)

    return view(1.0, 0.0), view(0.1, 0.2)


@dataclass
class LinearProbe:
    r"""A logistic-regression probe on frozen features (:func:`linear_probe`), held as tensors (so it is cached like
    any result and used without scikit-learn): the logits of features :math:`f` are
    :math:`W (f - \mu)/\sigma + b`.

    Attributes:
        weight: ``(C, D)``; bias: ``(C,)``; classes: ``(C,)`` the class labels of the logits' columns.
        mean, std: ``(D,)`` the standardisation of the features, fitted on the training features and applied to
            every input (training, test, lines, planes alike).
        train_accuracy, test_accuracy: fraction of correct predictions.

    Example:
        With identity weights the logits are the features themselves, so the larger feature wins:

        >>> one, zero = torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
        >>> probe = LinearProbe(weight=torch.diag(one), bias=zero, classes=torch.tensor([3, 7]), mean=zero, std=one)
        >>> probe.predict(torch.tensor([[2.0, 0.0], [0.0, 1.0]])).tolist()
        [3, 7]
        >>> tuple(probe.probabilities(torch.zeros(5, 2)).shape)
        (5, 2)
    """

    weight: torch.Tensor
    bias: torch.Tensor
    classes: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    train_accuracy: float = math.nan
    test_accuracy: float = math.nan

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, D) -> (B, C)`` the probe's logits (float64): a softmax gives :meth:`probabilities`."""
        if not isinstance(features, torch.Tensor) or features.ndim != 2 or features.shape[1] != self.mean.numel():
            raise ValueError(f"features must be a tensor of shape (B, {self.mean.numel()})")
        return ((features.detach().double().cpu() - self.mean) / self.std) @ self.weight.T + self.bias

    def probabilities(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, D) -> (B, C)`` class probabilities (float64)."""
        return torch.softmax(self.logits(features), 1)

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, D) -> (B,)`` predicted classes."""
        return self.classes[self.logits(features).argmax(1)]


def linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                 test_labels: torch.Tensor, *, max_iter: int = 2000, seed: int = 0) -> LinearProbe:
    r"""Fit a multinomial logistic regression (scikit-learn ``LogisticRegression``, L2 penalty ``C = 1``, lbfgs) on
    frozen features ``(N, D)`` with labels ``(N,)``, after standardising each feature with the training mean and
    deviation; report the training and test accuracy. The same standardisation is applied to every input the probe
    sees (the authors' Barlow Twins probe was fitted on normalised images and tested on unnormalised ones).

    Args:
        train_features, test_features: ``(N, D)`` and ``(N', D)`` features.
        train_labels, test_labels: ``(N,)`` and ``(N',)`` class labels.
        max_iter: iterations of lbfgs; seed: ``random_state`` of the regression.

    Returns:
        :class:`LinearProbe` with ``weight (C, D)`` (``C >= 2``; two classes give two logits) and both accuracies.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> y = torch.arange(40) % 2  # two classes
        >>> f = torch.randn(40, 3) + 4 * y[:, None]  # well separated features (N, D)
        >>> probe = linear_probe(f[:30], y[:30], f[30:], y[30:])
        >>> tuple(probe.weight.shape), probe.train_accuracy, probe.test_accuracy
        ((2, 3), 1.0, 1.0)
    """
    from sklearn.linear_model import LogisticRegression

    for name, f, y in (("train", train_features, train_labels), ("test", test_features, test_labels)):
        if not isinstance(f, torch.Tensor) or f.ndim != 2:
            raise ValueError(f"{name}_features must be a tensor of shape (N, D)")
        if not isinstance(y, torch.Tensor) or y.shape != f.shape[:1]:
            raise ValueError(f"{name}_labels must be a tensor of shape ({f.shape[0]},)")
    f = train_features.detach().double().cpu()
    mean, std = f.mean(0), f.std(0).clamp_min(1e-12)
    clf = LogisticRegression(max_iter=check_int(max_iter, "max_iter", min=1), random_state=seed)
    clf.fit(((f - mean) / std).numpy(), train_labels.cpu().numpy())
    w, b = torch.from_numpy(clf.coef_).double(), torch.from_numpy(clf.intercept_).double()
    if w.shape[0] == 1:  # two classes: sklearn keeps one logit z; softmax([0, z]) is its sigmoid
        w, b = torch.cat([torch.zeros_like(w), w]), torch.cat([torch.zeros_like(b), b])
    probe = LinearProbe(w, b, torch.from_numpy(clf.classes_), mean, std)
    probe.train_accuracy = float((probe.predict(train_features) == train_labels.cpu()).double().mean())
    probe.test_accuracy = float((probe.predict(test_features) == test_labels.cpu()).double().mean())
    return probe
