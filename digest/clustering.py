"""Average-linkage agglomerative clustering of sparse vectors (digest.themes groups comments
with it): a similarity table through an inverted index, merged with Lance–Williams updates.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping, Sequence


def _similarities(vectors: Sequence[Mapping[str, float]]) -> list[dict[int, float]]:
    """Pairwise cosine similarities, through an inverted index (only pairs sharing a term)."""
    index: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, vec in enumerate(vectors):
        for t, v in vec.items():
            index[t].append((i, v))
    sims: list[dict[int, float]] = [{} for _ in vectors]
    common = max(20, len(vectors) // 4)
    for postings in index.values():
        # A term in a quarter of the comments says little about which belong together (its IDF
        # is low) and would cost a product for every pair of them: left out.
        if len(postings) < 2 or len(postings) > common:
            continue
        for k, (i, vi) in enumerate(postings):
            row = sims[i]
            for j, vj in postings[k + 1 :]:
                row[j] = row.get(j, 0.0) + vi * vj
    for i, row in enumerate(sims):  # symmetric
        for j, s in list(row.items()):
            if j > i:
                sims[j][i] = s
    return sims


def cluster(vectors: Sequence[Mapping[str, float]], merge_at: float) -> list[list[int]]:
    """Groups of the vectors' indices: average-linkage agglomerative clustering on their dot
    products, stopped at `merge_at` (Lance–Williams updates on a sparse similarity table; a heap
    with stale entries skipped)."""
    sims = _similarities(vectors)
    size = [1] * len(vectors)
    members: dict[int, list[int]] = {i: [i] for i in range(len(vectors))}
    heap = [
        (-s, i, j) for i, row in enumerate(sims) for j, s in row.items() if i < j and s >= merge_at
    ]
    heapq.heapify(heap)
    while heap:
        negative, a, b = heapq.heappop(heap)
        if -negative < merge_at:
            break
        if a not in members or b not in members or sims[a].get(b) != -negative:
            continue  # merged away, or updated since
        na, nb = size[a], size[b]
        members[a] += members.pop(b)
        size[a] = na + nb
        neighbours = (set(sims[a]) | set(sims[b])) - {a, b}
        for x in neighbours:
            s = (na * sims[a].get(x, 0.0) + nb * sims[b].get(x, 0.0)) / (na + nb)
            sims[a][x] = sims[x][a] = s
            sims[x].pop(b, None)
            if s >= merge_at:
                heapq.heappush(heap, (-s, min(a, x), max(a, x)))
        sims[a].pop(b, None)
        sims[b] = {}
    return sorted(members.values(), key=lambda m: min(m))
