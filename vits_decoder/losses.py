"""Decoder losses: multi-resolution STFT loss and the least-squares GAN / feature-matching terms
(over Discriminator's outputs: one (feature maps, score) per sub-discriminator)."""
import torch
import torch.nn.functional as F


def stft_magnitude(x, n_fft, hop, win, window):
    """x [B, T] -> magnitude [B, frames, n_fft // 2 + 1], floored at sqrt(1e-7) for the log."""
    spec = torch.stft(x, n_fft, hop_length=hop, win_length=win, window=window, return_complex=True)
    power = spec.real.square() + spec.imag.square()
    return torch.sqrt(torch.clamp(power, min=1e-7)).transpose(1, 2)


class MultiResolutionSTFTLoss(torch.nn.Module):
    """Mean over resolutions of spectral convergence ||Y - X||_F / ||Y||_F and of the L1 distance
    of log magnitudes. forward(fake [B, T], real [B, T]) -> (sc_loss, mag_loss)."""

    def __init__(self, resolutions):
        """resolutions: [(n_fft, hop, win), ...], e.g. hp.mrd.resolutions."""
        super().__init__()
        self.resolutions = [tuple(r) for r in resolutions]
        for n_fft, hop, win in self.resolutions:
            self.register_buffer(f"window_{n_fft}_{hop}_{win}", torch.hann_window(win), persistent=False)

    def forward(self, fake, real):
        fake, real = fake.float(), real.float()
        sc_total, mag_total = 0.0, 0.0
        for n_fft, hop, win in self.resolutions:
            window = getattr(self, f"window_{n_fft}_{hop}_{win}")
            fake_mag = stft_magnitude(fake, n_fft, hop, win, window)
            real_mag = stft_magnitude(real, n_fft, hop, win, window)
            sc_total = sc_total + torch.linalg.norm(real_mag - fake_mag) / torch.linalg.norm(real_mag)
            mag_total = mag_total + F.l1_loss(torch.log(fake_mag), torch.log(real_mag))
        return sc_total / len(self.resolutions), mag_total / len(self.resolutions)


def generator_adversarial_loss(fake_outputs):
    """Least squares: mean over sub-discriminators of E[(D(G(x)) - 1)^2]."""
    terms = [torch.mean(torch.square(score.float() - 1.0)) for _, score in fake_outputs]
    return sum(terms) / len(terms)


def discriminator_loss(real_outputs, fake_outputs):
    """Least squares: mean over sub-discriminators of E[(D(y) - 1)^2] + E[D(G(x))^2]."""
    terms = [torch.mean(torch.square(real.float() - 1.0)) + torch.mean(torch.square(fake.float()))
             for (_, real), (_, fake) in zip(real_outputs, fake_outputs)]
    return sum(terms) / len(terms)


def feature_matching_loss(real_outputs, fake_outputs):
    """2 x mean over sub-discriminators of the summed L1 distances of their feature maps
    (real features are targets: no gradient flows into them)."""
    per_disc = [sum(torch.mean(torch.abs(f.float() - r.detach().float())) for r, f in zip(reals, fakes))
                for (reals, _), (fakes, _) in zip(real_outputs, fake_outputs)]
    return 2.0 * sum(per_disc) / len(per_disc)
