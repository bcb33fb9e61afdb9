"""Latent-space losses of the SVC model: KL through the flow (both directions) and the
gradient-reversal speaker loss. Computed in float32 even under autocast."""
import torch
import torch.nn.functional as F


def kl_loss(z_p, logs_q, m_p, logs_p, logdet, z_mask):
    """KL of a sample pushed through the flow: z_p = flow(z), logdet [B] = log|det dflow/dz|, per
    masked frame (the public so-vits-svc-5.0 normalisation). Single-sample estimate per point:
    log q(z) - log p(z) = (logs_p - logs_q) - 1/2 + 1/2 (z_p - m_p)^2 exp(-2 logs_p),
    where z was drawn from q (whose standardised residual squared has mean 1 -> the -1/2)."""
    z_p, logs_q, m_p, logs_p, z_mask = (t.float() for t in (z_p, logs_q, m_p, logs_p, z_mask))
    per_point = (logs_p - logs_q) - 0.5 + 0.5 * torch.square(z_p - m_p) * torch.exp(-2.0 * logs_p)
    total = torch.sum(per_point * z_mask) - torch.sum(logdet.float())  # all [B, C, T], z_mask [B, 1, T]
    return total / torch.sum(z_mask)


def speaker_loss(spk, spk_preds):
    """1 - cos(spk, spk_preds [B, spk_dim]), batch mean (CosineEmbeddingLoss with target +1). Behind
    the gradient reversal it trains the classifier to find the speaker, the content encoder to hide it."""
    return torch.mean(1.0 - F.cosine_similarity(spk.float(), spk_preds.float(), dim=1, eps=1e-8))
