"""Discriminator feature matching: the generator matches the real images' D activations."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def feature_matching_loss(fake_feats: Sequence[torch.Tensor],
                          real_feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of L1 between fake and (detached) real activations."""
    terms = [F.l1_loss(f.float(), r.detach().float()) for f, r in zip(fake_feats, real_feats)]
    return sum(terms) / len(terms)
