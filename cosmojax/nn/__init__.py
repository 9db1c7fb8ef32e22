"""Flax (linen) networks for cosmology, their heads and losses, and an optax training loop.

Every network is a ``flax.linen.Module``; ``model.init(key, x)`` returns its parameters as a
plain pytree (usable by optax, numpyro and blackjax) and ``model.apply(params, x)`` is
jit, vmap and grad safe. Inputs are channels-last.

Modules
-------
cnn         CNN for 2D maps and 3D sub-cubes (``CNN``, ``density_cube_cnn``)
resnet      pre-activated bottleneck ResNet (``PreActResNet``, ``PreActBottleneck``)
timeseries  masked 1D CNN for irregular time series (``TimeSeriesCNN``)
unet        3D U-Net for field-to-field maps (``UNet3D``)
deepsets    permutation-invariant set network (``DeepSets``)
gnn         message passing over neighbour graphs with an L1 message penalty (``GNN``)
heads       ``MLP``, ``MixtureDensityHead`` (NLL, CRPS), ``GaussianHead`` (mean + Cholesky
            factor of the inverse covariance)
bias        ``NeuralBias``: the rotation-invariant 3x3x3 bias network of Charnock et al. 2020
training    ``make_trainer`` (init, step) and the ``fit`` driver
"""

from cosmojax.nn.bias_network import IsotropicConv3D, NeuralBias, isotropic_kernel
from cosmojax.nn.cnn import CNN, density_cube_cnn
from cosmojax.nn.deepsets import DeepSets
from cosmojax.nn.gnn import GNN, apply_with_message_penalty, knn_graph, message_l1, radius_graph
from cosmojax.nn.heads import (
    MLP,
    GaussianHead,
    MixtureDensityHead,
    gaussian_covariance,
    gaussian_nll,
    mdn_crps,
    mdn_log_prob,
    mdn_nll,
)
from cosmojax.nn.resnet import PreActBottleneck, PreActResNet
from cosmojax.nn.timeseries import TimeSeriesCNN
from cosmojax.nn.training import (
    FitResult,
    StepInfo,
    Trainer,
    TrainState,
    fit,
    load_checkpoint,
    make_trainer,
    save_checkpoint,
)
from cosmojax.nn.unet import UNet3D

__all__ = [
    "NeuralBias",
    "IsotropicConv3D",
    "isotropic_kernel",
    "CNN",
    "density_cube_cnn",
    "PreActResNet",
    "PreActBottleneck",
    "TimeSeriesCNN",
    "UNet3D",
    "DeepSets",
    "GNN",
    "knn_graph",
    "radius_graph",
    "message_l1",
    "apply_with_message_penalty",
    "MLP",
    "MixtureDensityHead",
    "mdn_log_prob",
    "mdn_nll",
    "mdn_crps",
    "GaussianHead",
    "gaussian_nll",
    "gaussian_covariance",
    "TrainState",
    "StepInfo",
    "Trainer",
    "FitResult",
    "make_trainer",
    "fit",
    "save_checkpoint",
    "load_checkpoint",
]
