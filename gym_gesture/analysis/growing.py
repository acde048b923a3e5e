"""An array that grows along its first axis, for what a live session keeps frame after frame."""

from __future__ import annotations

import numpy as np


class GrowingArray:
    """Rows appended one batch at a time, kept in storage that doubles when full, so appending costs the
    rows appended (amortised) and the rows so far are one contiguous view."""

    def __init__(self, shape: tuple[int, ...], dtype, fill):
        self._data = np.full((256, *shape), fill, dtype)
        self._fill = fill
        self.size = 0

    def extend(self, rows: np.ndarray) -> None:
        while self.size + len(rows) > len(self._data):
            grown = np.full((2 * len(self._data), *self._data.shape[1:]), self._fill, self._data.dtype)
            grown[:self.size] = self._data[:self.size]
            self._data = grown
        self._data[self.size:self.size + len(rows)] = rows
        self.size += len(rows)

    def truncate(self, size: int) -> None:
        """Keep the first `size` rows only."""
        self.size = min(self.size, size)

    @property
    def view(self) -> np.ndarray:
        return self._data[:self.size]
