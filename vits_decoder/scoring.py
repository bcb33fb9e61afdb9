"""The forward pass every discriminator shares: a conv stack with leaky ReLUs, then a scoring conv."""
import torch
from torch.nn import functional as F


def score(convs, conv_post, x, slope):
    """x through each of `convs` (+ leaky ReLU), then conv_post -> (feature maps of every layer,
    the scores flattened to [B, -1]). The feature maps feed the feature-matching loss."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), slope)
        features.append(x)
    x = conv_post(x)
    features.append(x)
    return features, torch.flatten(x, 1, -1)
