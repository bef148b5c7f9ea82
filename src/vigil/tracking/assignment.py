"""Optimal one-to-one matching under a cost limit, in pure numpy.

ByteTrack uses ``lap.lapjv`` with a cost limit; this module gives the same
kind of answer without a compiled dependency. Pairs above the limit are never
matched, and the problem is split into the connected components of the
allowed pairs first: IoU cost matrices are very sparse (an object overlaps
few others), so most components are a single pair and the O(n^3) Hungarian
step only ever runs on a handful of rows.
"""

from __future__ import annotations

import numpy as np


def hungarian(cost: np.ndarray) -> np.ndarray:
    """Minimum-cost assignment of every row of a (n, m) matrix, n <= m.

    Parameters
    ----------
    cost : np.ndarray
        (n, m) finite costs with n <= m.

    Returns
    -------
    np.ndarray
        (n,) int64 column assigned to each row.

    Notes
    -----
    The shortest augmenting path form of the Hungarian algorithm with
    potentials (Kuhn-Munkres, as in e-maxx), with the inner loop over columns
    vectorised, which keeps it fast enough in Python for tracking sizes.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if n > m:
        raise ValueError(f"hungarian needs rows <= columns, got {cost.shape}")
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=np.int64)  # p[j]: row (1-based) matched to column j; 0 is free
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            used_cols = np.flatnonzero(used)
            u[p[used_cols]] += delta
            v[used_cols] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    rows = np.zeros(n, dtype=np.int64)
    cols = np.flatnonzero(p[1:])
    rows[p[1:][cols] - 1] = cols
    return rows


def _components(allowed: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Connected components (row indices, column indices) of a boolean bipartite graph."""
    n, m = allowed.shape
    row_seen = np.zeros(n, dtype=bool)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for start in np.flatnonzero(allowed.any(axis=1)):
        if row_seen[start]:
            continue
        rows = np.zeros(n, dtype=bool)
        rows[start] = True
        cols = np.zeros(m, dtype=bool)
        while True:
            new_cols = allowed[rows].any(axis=0)
            new_rows = allowed[:, new_cols].any(axis=1)
            if (new_cols == cols).all() and (new_rows == rows).all():
                break
            rows, cols = new_rows | rows, new_cols | cols
        row_seen |= rows
        out.append((np.flatnonzero(rows), np.flatnonzero(cols)))
    return out


def linear_assignment(cost: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match rows to columns maximising the total slack ``limit - cost`` over pairs with cost <= limit.

    Leaving a row and a column unmatched is as good as matching them at exactly
    the limit, which is what ``lapjv(..., extend_cost=True, cost_limit=limit)``
    computes in ByteTrack: a pair is only made when it is under the limit, and
    among those the total cost is as low as possible.

    Parameters
    ----------
    cost : np.ndarray
        (n, m) costs; ``inf`` or NaN forbids a pair.
    limit : float
        Highest cost a matched pair may have.

    Returns
    -------
    matches : np.ndarray
        (k, 2) int64 pairs (row, column), sorted by row.
    unmatched_rows, unmatched_cols : np.ndarray
        Sorted int64 indices left unmatched.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), np.int64), np.arange(n, dtype=np.int64), np.arange(m, dtype=np.int64)
    allowed = np.isfinite(cost) & (cost <= limit)
    # Fast path, vectorised: a row and a column that are each other's only option are simply paired.
    row_deg, col_deg = allowed.sum(axis=1), allowed.sum(axis=0)
    lone_rows = np.flatnonzero(row_deg == 1)
    lone_cols = allowed[lone_rows].argmax(axis=1)
    lone = col_deg[lone_cols] == 1
    pairs: list[tuple[int, int]] = list(zip(lone_rows[lone].tolist(), lone_cols[lone].tolist(), strict=True))
    rest_rows = np.setdiff1d(np.flatnonzero(row_deg), lone_rows[lone])
    rest_cols = np.setdiff1d(np.flatnonzero(col_deg), lone_cols[lone])
    rest = allowed[np.ix_(rest_rows, rest_cols)]
    for sub_r, sub_c in _components(rest):
        rows, cols = rest_rows[sub_r], rest_cols[sub_c]
        sub_allowed = rest[np.ix_(sub_r, sub_c)]
        # Slack of an allowed pair is >= a tiny epsilon so that a pair exactly at the limit is still made.
        gain = np.where(sub_allowed, limit - np.where(sub_allowed, cost[np.ix_(rows, cols)], 0.0) + 1e-9, 0.0)
        transposed = len(rows) > len(cols)
        solved = hungarian(-(gain.T if transposed else gain))
        for a, b in enumerate(solved):
            r, c = (b, a) if transposed else (a, b)
            if sub_allowed[r, c]:
                pairs.append((int(rows[r]), int(cols[c])))
    matches = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    unmatched_rows = np.setdiff1d(np.arange(n), matches[:, 0]).astype(np.int64)
    unmatched_cols = np.setdiff1d(np.arange(m), matches[:, 1]).astype(np.int64)
    return matches, unmatched_rows, unmatched_cols
