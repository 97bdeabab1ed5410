"""Classifiers over frozen word vectors: a CNN (Kim, 2014), a deep averaging
network and logistic regression.

Every model takes the *embedded* documents, ``x`` float [B, L, D] (padding rows
are zero vectors), and ``lengths`` long [B] (the number of real tokens, at
least 1), and returns class scores [B, C].  The embedding matrix itself is not
part of any model, so a ``state_dict`` holds only the trained layers, and the
gradient with respect to ``x`` (used by :mod:`clime.rank`) is a plain leaf
gradient.
"""

import torch
from torch import nn

MODEL_TYPES = ("cnn", "dan", "lr")
DEFAULT_WIDTHS = (3, 4, 5)
DEFAULT_FILTERS = 100
DEFAULT_HIDDEN = 300
DEFAULT_LAYERS = 3


def _mask(lengths, width):
    """[B, width] bool: True at real token positions."""
    return torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]


class CNN(nn.Module):
    """1-D convolutions (one Conv1d per width, channels = embedding dimensions),
    max over the valid positions, ReLU, dropout, linear layer.

    Documents shorter than the widest filter count as that long (their tail is
    zero padding).  Positions that only cover batch padding are masked out of
    the max, so a document's scores do not depend on the batch it is in.
    """

    def __init__(self, dim, n_classes, widths=DEFAULT_WIDTHS, filters=DEFAULT_FILTERS, dropout=0.5):
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.convs = nn.ModuleList(nn.Conv1d(dim, filters, w) for w in self.widths)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(filters * len(self.widths), n_classes)

    @property
    def min_length(self):
        return max(self.widths)

    def forward(self, x, lengths):
        L = x.shape[1]
        if L < self.min_length:
            x = nn.functional.pad(x, (0, 0, 0, self.min_length - L))
            L = self.min_length
        eff = lengths.clamp(min=self.min_length)
        xt = x.transpose(1, 2)  # [B, D, L]
        pooled = []
        for w, conv in zip(self.widths, self.convs):
            h = conv(xt)  # [B, F, L - w + 1]
            valid = _mask(eff - w + 1, h.shape[2])
            h = h.masked_fill(~valid[:, None, :], float("-inf"))
            pooled.append(h.amax(dim=2))
        h = torch.relu(torch.cat(pooled, dim=1))
        return self.out(self.dropout(h))


def _mean(x, lengths):
    mask = _mask(lengths, x.shape[1]).to(x.dtype)
    return (x * mask[:, :, None]).sum(1) / lengths.clamp(min=1).to(x.dtype)[:, None]


class DAN(nn.Module):
    """Mean of the word vectors, ``layers`` hidden layers (ReLU, dropout), linear output."""

    min_length = 1

    def __init__(self, dim, n_classes, hidden=DEFAULT_HIDDEN, layers=DEFAULT_LAYERS, dropout=0.5):
        super().__init__()
        mods, d = [], dim
        for _ in range(layers):
            mods += [nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout)]
            d = hidden
        self.hidden = nn.Sequential(*mods)
        self.out = nn.Linear(d, n_classes)

    def forward(self, x, lengths):
        return self.out(self.hidden(_mean(x, lengths)))


class LogisticRegression(nn.Module):
    """Mean of the word vectors, one linear layer (multinomial logistic regression)."""

    min_length = 1

    def __init__(self, dim, n_classes, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(dim, n_classes)

    def forward(self, x, lengths):
        return self.out(self.dropout(_mean(x, lengths)))


def build_model(model_type, sizes):
    """Make a model from its type and the ``sizes`` dict stored in checkpoints."""
    dim, n_classes, dropout = int(sizes["dim"]), int(sizes["n_classes"]), float(sizes.get("dropout", 0.0))
    if model_type == "cnn":
        return CNN(dim, n_classes, widths=sizes.get("widths", DEFAULT_WIDTHS),
                   filters=int(sizes.get("filters", DEFAULT_FILTERS)), dropout=dropout)
    if model_type == "dan":
        return DAN(dim, n_classes, hidden=int(sizes.get("hidden", DEFAULT_HIDDEN)),
                   layers=int(sizes.get("layers", DEFAULT_LAYERS)), dropout=dropout)
    if model_type == "lr":
        return LogisticRegression(dim, n_classes, dropout=dropout)
    raise ValueError(f"unknown model type {model_type!r}")
