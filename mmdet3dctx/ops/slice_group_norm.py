"""Group normalisation with statistics per slice (pure PyTorch)."""
import torch
import torch.nn as nn


class SliceGroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` whose statistics are taken per slice on ``(N, C, D, H, W)``.

    ``y[:, g, d] = (x[:, g, d] − mean_{c∈g, h, w}) / sqrt(var + eps) · γ + β``: each slice is normalised as
    the 2D ``GroupNorm`` would normalise it alone, so a 2D model with GroupNorm converted to 3D stays equal
    to the 2D model applied slice by slice. (``nn.GroupNorm`` on a 5-D tensor pools over D as well.) Same
    parameters and state dict as ``nn.GroupNorm``; a 4-D input is normalised as by ``nn.GroupNorm``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            return super().forward(x)
        n, c, d, h, w = x.shape
        xg = x.reshape(n, self.num_groups, c // self.num_groups, d, h * w)
        var, mean = torch.var_mean(xg, dim=(2, 4), keepdim=True, unbiased=False)
        y = ((xg - mean) * torch.rsqrt(var + self.eps)).view(n, c, d, h, w)
        if self.affine:
            y = y * self.weight.view(1, c, 1, 1, 1) + self.bias.view(1, c, 1, 1, 1)
        return y
