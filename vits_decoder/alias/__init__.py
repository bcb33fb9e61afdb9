"""Anti-aliased activations (BigVGAN): activate at twice the rate between low-pass filters."""
from vits_decoder.alias.act import SnakeAlias  # noqa: F401
