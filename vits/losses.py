"""Latent-space losses of the SVC model: KL through the flow (both directions) and the
gradient-reversal speaker loss. Computed in float32 even under autocast."""
import torch
import torch.nn.functional as F


def _gaussian_kl_sum(z, logs_q, m_p, logs_p, mask):
    """Sum over masked positions of the single-sample KL estimate
    log q(z) - log p(z) = (logs_p - logs_q) - 1/2 + 1/2 (z - m_p)^2 exp(-2 logs_p),
    where z was drawn from q (whose standardised residual squared has mean 1 -> the -1/2)."""
    z, logs_q, m_p, logs_p, mask = (t.float() for t in (z, logs_q, m_p, logs_p, mask))
    per_point = (logs_p - logs_q) - 0.5 + 0.5 * torch.square(z - m_p) * torch.exp(-2.0 * logs_p)
    return torch.sum(per_point * mask)  # all tensors [B, C, T], mask [B, 1, T]


def kl_loss(z_p, logs_q, m_p, logs_p, logdet, z_mask):
    """KL of a sample pushed through the flow: z_p = flow(z), logdet [B] = log|det dflow/dz|.

    Returns the KL per masked frame (the public so-vits-svc-5.0 normalisation).
    """
    total = _gaussian_kl_sum(z_p, logs_q, m_p, logs_p, z_mask) - torch.sum(logdet.float())
    return total / torch.sum(z_mask.float())


def speaker_loss(spk, spk_preds):
    """1 - cos(spk, spk_preds), batch mean (torch CosineEmbeddingLoss with target +1).

    The speaker classifier sits behind a gradient-reversal layer, so minimising this trains the
    classifier to recover the speaker while pushing the content encoder to hide it.
    spk, spk_preds [B, spk_dim].
    """
    return torch.mean(1.0 - F.cosine_similarity(spk.float(), spk_preds.float(), dim=1, eps=1e-8))
