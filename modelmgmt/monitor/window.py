"""What a Monitor remembers of the current data: blocks of mergeable state, in a ring.

A :class:`Batch` is observed rows already checked and converted. A :class:`Block` is the
summed state of some batches (feature sketches, prediction sketch, label and CBPE
statistics) and, while the monitor keeps rows, the batches themselves.

- Cumulative (``window=None``): one block; its rows are kept while it holds at most
  ``exact_rows`` rows (tests then run on the rows, exactly as ``mm.drift``).
- Sliding (``window=N``): a ring of blocks of about N/16 rows (at least
  ``MIN_BLOCK_ROWS``: each block costs a pass of edge look-ups), each keeping its rows. The
  window's state is the sum of the blocks after the oldest one, plus the state of the
  oldest block's rows that are still inside the window — computed from its kept rows — so
  the result equals a monitor that saw only the last N rows. Per batch the work is
  binning the batch once (as cumulative); a report sums at most ~17 blocks' histograms and
  bins at most one block's rows. Memory: the window's rows plus 17 histograms, flat in
  the stream length.
- Timed (``window_seconds=S``): blocks of the rows observed in one S/16-second slot of the
  clock (block ``k`` holds the rows observed at ``k*S/16 <= t < (k+1)*S/16``), each keeping
  its rows with their observe times. At time T the window is the rows observed at
  ``t > T - S``: blocks whose last row is older are dropped, blocks whose first row is
  younger count by their state, and the rows still inside of the (at most one or two)
  blocks straddling ``T - S`` are binned from their kept rows — so the result equals a
  monitor that saw only the rows of the last S seconds. At most 17 slots overlap a window.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs
import numpy as np

__all__ = ["Batch", "Block", "Cumulative", "Sliding", "Timed", "BLOCKS_PER_WINDOW", "MIN_BLOCK_ROWS"]

#: a sliding window is cut into about this many blocks ...
BLOCKS_PER_WINDOW = 16
#: ... of at least this many rows (a report bins at most one block's rows again)
MIN_BLOCK_ROWS = 32_768


@attrs.define(eq=False)
class Batch:
    """Checked rows: feature columns (a (features, rows) float array or a list of 1-D
    columns), the prediction column for prediction drift, the optional label arrays, and
    (time windows) each row's observe time."""

    cols: Any
    n: int
    pred: np.ndarray | None = None
    y_true: np.ndarray | None = None
    y_pred: np.ndarray | None = None
    y_score: np.ndarray | None = None
    times: np.ndarray | None = None

    def column(self, j: int) -> np.ndarray:
        """Feature ``j``'s values."""
        return self.cols[j]

    def pattern(self) -> tuple[Any, ...]:
        """Which optional parts are present (batches concatenate only with the same pattern)."""
        return (isinstance(self.cols, np.ndarray), self.pred is not None, self.y_true is not None,
                self.y_pred is not None, self.y_score is not None,
                None if self.y_score is None else self.y_score.ndim, self.times is not None)

    def slice(self, a: int, b: int) -> "Batch":
        """Rows a..b-1."""
        def cut(v: np.ndarray | None) -> np.ndarray | None:
            return None if v is None else v[a:b]

        cols = self.cols[:, a:b] if isinstance(self.cols, np.ndarray) else [c[a:b] for c in self.cols]
        return Batch(cols, b - a, cut(self.pred), cut(self.y_true), cut(self.y_pred), cut(self.y_score),
                     cut(self.times))

    def select(self, mask: np.ndarray) -> "Batch":
        """The rows where ``mask`` (a boolean array of n) is True, in order."""
        if mask.all():
            return self

        def pick(v: np.ndarray | None) -> np.ndarray | None:
            return None if v is None else v[mask]

        cols = self.cols[:, mask] if isinstance(self.cols, np.ndarray) else [c[mask] for c in self.cols]
        return Batch(cols, int(mask.sum()), pick(self.pred), pick(self.y_true), pick(self.y_pred),
                     pick(self.y_score), pick(self.times))

    @staticmethod
    def concat(batches: list["Batch"]) -> "Batch":
        """One batch of the rows of ``batches`` (all of one :meth:`pattern`)."""
        if len(batches) == 1:
            return batches[0]
        first = batches[0]
        if isinstance(first.cols, np.ndarray):
            cols: Any = np.concatenate([b.cols for b in batches], axis=1)
        else:
            cols = [np.concatenate([b.cols[j] for b in batches]) for j in range(len(first.cols))]

        def cat(name: str) -> np.ndarray | None:
            parts = [getattr(b, name) for b in batches]
            return None if parts[0] is None else np.concatenate(parts)

        return Batch(cols, sum(b.n for b in batches), cat("pred"), cat("y_true"), cat("y_pred"), cat("y_score"),
                     cat("times"))


def group(batches: list[Batch]) -> list[Batch]:
    """Consecutive batches of one pattern concatenated (fewer, larger batches to bin)."""
    out: list[Batch] = []
    run: list[Batch] = []
    for b in batches:
        if run and b.pattern() != run[0].pattern():
            out.append(Batch.concat(run))
            run = []
        run.append(b)
    if run:
        out.append(Batch.concat(run))
    return out


@attrs.define(eq=False)
class Block:
    """Summed state of some rows: per-feature states, prediction state, labels, CBPE; plus
    the rows themselves while kept (``batches`` is None once they were dropped)."""

    features: list
    pred: Any
    labels: Any
    cbpe: Any
    n: int = 0
    batches: list[Batch] | None = attrs.field(factory=list)

    def merge(self, other: "Block", keep_rows: int | None) -> "Block":
        """Add ``other`` in place; rows stay kept while the total is at most ``keep_rows``
        (None: always)."""
        for a, b in zip(self.features, other.features):
            a.merge(b)
        if self.pred is not None:
            self.pred.merge(other.pred)
        self.labels.merge(other.labels, 0 if keep_rows is None else keep_rows)
        self.cbpe.merge(other.cbpe)
        total = self.n + other.n
        if self.batches is not None and other.batches is not None and (keep_rows is None or total <= keep_rows):
            self.batches = self.batches + other.batches
        else:
            self.batches = None
        self.n = total
        return self


class Cumulative:
    """Everything since the last reset: one block, rows kept up to ``exact_rows``."""

    def __init__(self, empty: Callable[[], Block], exact_rows: int):
        self._empty = empty
        self.exact_rows = exact_rows
        self.block = empty()

    @property
    def n(self) -> int:
        return self.block.n

    def add(self, block: Block) -> None:
        """Add the summarised state of new rows."""
        self.block.merge(block, self.exact_rows)

    def state(self, summarize: Callable[[list[Batch], bool], Block]) -> Block:
        """The state of the rows to report on (shared, do not modify)."""
        return self.block

    def batches(self) -> list[Batch] | None:
        """The rows of the window, oldest first, when kept."""
        return self.block.batches


class Sliding:
    """The last ``size`` rows, as a ring of blocks (see the module docstring)."""

    def __init__(self, empty: Callable[[], Block], size: int, exact_rows: int):
        self._empty = empty
        self.size = size
        self.exact_rows = exact_rows
        self.block_rows = max(1, -(-size // BLOCKS_PER_WINDOW), MIN_BLOCK_ROWS)
        self.blocks: list[Block] = []  # closed blocks, oldest first
        self.head = empty()
        self.seen = 0  # rows ever added (since reset)
        # numeric rows live in one circular buffer (a fresh array per batch would cost page
        # faults); rows alive <= size + block_rows, each write <= block_rows
        self.capacity = size + 2 * self.block_rows
        self._ring: np.ndarray | None = None
        self._pos = 0

    @property
    def buffer_nbytes(self) -> int:
        """Bytes of the circular buffer of numeric rows (0 before the first)."""
        return 0 if self._ring is None else int(self._ring.nbytes)

    def cuts(self, n: int, numeric: bool) -> list[tuple[int, int]]:
        """Where to cut a batch of n rows: at block boundaries, and at the buffer's end."""
        out: list[tuple[int, int]] = []
        a, head, pos = 0, self.head.n, self._pos
        while a < n:
            k = min(n - a, max(1, self.block_rows - head))
            if numeric:
                k = min(k, self.capacity - pos)
                pos = (pos + k) % self.capacity
            head = 0 if head + k >= self.block_rows else head + k
            out.append((a, a + k))
            a += k
        return out

    def stash(self, batch: Batch) -> Batch:
        """``batch`` with its numeric columns copied into the circular buffer (a piece from
        :meth:`cuts`, so it never wraps)."""
        if not isinstance(batch.cols, np.ndarray):
            return batch
        f, k = batch.cols.shape
        if self._ring is None or self._ring.shape[0] != f:
            self._ring = np.empty((f, self.capacity))
        view = self._ring[:, self._pos : self._pos + k]
        view[...] = batch.cols
        self._pos = (self._pos + k) % self.capacity
        return attrs.evolve(batch, cols=view)

    @property
    def n(self) -> int:
        return min(self.seen, self.size)

    def add(self, block: Block) -> None:
        """Add the summarised state (with its rows) of new rows."""
        if self.head.n == 0 and block.batches is not None:
            self.head = block
        else:
            self.head.merge(block, None)
        self.seen += block.n
        if self.head.n >= self.block_rows:
            self.blocks.append(self.head)
            self.head = self._empty()
        # drop blocks that lie wholly before the window
        start = self.seen - self.size
        first = self.seen - self.head.n - sum(b.n for b in self.blocks)
        while self.blocks and first + self.blocks[0].n <= start:
            first += self.blocks.pop(0).n

    def _window_batches(self) -> tuple[list[Batch], list[Block]]:
        """(rows of the oldest block still inside the window, the blocks after it)."""
        blocks = [*self.blocks, self.head] if self.head.n else list(self.blocks)
        if not blocks:
            return [], []
        start = self.seen - self.size
        first = self.seen - sum(b.n for b in blocks)
        skip = max(0, start - first)
        if skip == 0:
            return [], blocks
        tail: list[Batch] = []
        pos = 0
        for b in blocks[0].batches or []:
            a = max(skip - pos, 0)
            if a < b.n:
                tail.append(b if a == 0 else b.slice(a, b.n))
            pos += b.n
        return tail, blocks[1:]

    def batches(self) -> list[Batch]:
        """The rows of the window, oldest first."""
        tail, blocks = self._window_batches()
        return tail + [b for blk in blocks for b in blk.batches or []]

    def state(self, summarize: Callable[[list[Batch], bool], Block]) -> Block:
        """The window's state: from its rows when at most ``exact_rows`` (kept, exact tests),
        else the oldest block's remaining rows binned plus the other blocks' states."""
        if self.n <= self.exact_rows:
            return summarize(self.batches(), True)
        tail, blocks = self._window_batches()
        out = summarize(tail, False)
        for b in blocks:
            out.merge(b, 0)
        return out


class Timed:
    """The rows observed in the last ``seconds`` seconds, as blocks of S/16-second slots
    (see the module docstring). ``now`` is the latest time known: the newest row's, or a
    later one given to :meth:`advance` (a report's clock reading)."""

    def __init__(self, empty: Callable[[], Block], seconds: float, exact_rows: int):
        self._empty = empty
        self.seconds = seconds
        self.exact_rows = exact_rows
        self.block_seconds = seconds / BLOCKS_PER_WINDOW
        self.blocks: dict[int, Block] = {}  # by slot
        self.spans: dict[int, tuple[float, float]] = {}  # slot -> (first, last) observe time
        self.now = -np.inf

    @property
    def cutoff(self) -> float:
        """Rows observed at this time or before are outside the window."""
        return self.now - self.seconds

    def advance(self, now: float) -> None:
        """Move the window's end to ``now`` (never back) and drop the blocks that left it."""
        self.now = max(self.now, now)
        cutoff = self.cutoff
        for k in [k for k, (_, last) in self.spans.items() if last <= cutoff]:
            del self.blocks[k], self.spans[k]

    def split(self, batch: Batch) -> list[tuple[int, Batch]]:
        """``batch`` (with times) cut by slot, rows already outside the window left out."""
        assert batch.times is not None
        inside = batch.times > max(self.now, float(batch.times.max())) - self.seconds
        batch = batch.select(inside)
        if batch.n == 0:
            return []
        assert batch.times is not None
        slots = np.floor(batch.times / self.block_seconds).astype(np.int64)
        if slots[0] == slots[-1] and (slots == slots[0]).all():
            return [(int(slots[0]), batch)]
        return [(int(k), batch.select(slots == k)) for k in np.unique(slots)]

    def add(self, slot: int, block: Block) -> None:
        """Add the summarised state (with its rows and their times) of rows of one slot."""
        assert block.batches is not None
        times = [b.times for b in block.batches if b.times is not None]
        first, last = min(float(t.min()) for t in times), max(float(t.max()) for t in times)
        if slot in self.blocks:
            self.blocks[slot].merge(block, None)
            a, b = self.spans[slot]
            self.spans[slot] = (min(a, first), max(b, last))
        else:
            self.blocks[slot] = block
            self.spans[slot] = (first, last)
        self.advance(last)

    def _parts(self) -> tuple[list[Batch], list[Block]]:
        """(the rows inside the window of the blocks straddling its start, the blocks wholly
        inside), oldest slot first."""
        cutoff = self.cutoff
        tail: list[Batch] = []
        whole: list[Block] = []
        for k in sorted(self.blocks):
            block, (first, _) = self.blocks[k], self.spans[k]
            if first > cutoff:
                whole.append(block)
                continue
            for b in block.batches or []:
                assert b.times is not None
                mask = b.times > cutoff
                if mask.any():
                    tail.append(b.select(mask))
        return tail, whole

    @property
    def n(self) -> int:
        tail, whole = self._parts()
        return sum(b.n for b in tail) + sum(b.n for b in whole)

    def batches(self) -> list[Batch]:
        """The rows of the window (with their times), oldest slot first."""
        cutoff = self.cutoff
        out: list[Batch] = []
        for k in sorted(self.blocks):
            for b in self.blocks[k].batches or []:
                assert b.times is not None
                mask = b.times > cutoff
                if mask.any():
                    out.append(b.select(mask))
        return out

    def state(self, summarize: Callable[[list[Batch], bool], Block]) -> Block:
        """The window's state: from its rows when at most ``exact_rows`` (kept, exact tests),
        else the straddling blocks' remaining rows binned plus the other blocks' states."""
        tail, whole = self._parts()
        if sum(b.n for b in tail) + sum(b.n for b in whole) <= self.exact_rows:
            return summarize(self.batches(), True)
        out = summarize(tail, False)
        for b in whole:
            out.merge(b, 0)
        return out
