"""Random walks and the walk-visit similarity against brute-force references."""
import pytest
import torch

from genurl_pyg.structure.walks import random_walks, sorted_csr, walk_similarity


def _ring(n=12):
    src = torch.arange(n)
    return torch.stack([src, (src + 1) % n])


def _assert_symmetrised_and_scaled(index, weight, kept):
    """The result equals the kept row entries ``kept`` [n, n] symmetrised by max and scaled
    by 1/sqrt(m_i m_j) (m: each row's largest); symmetric, no self-pairs. Returns it dense."""
    n = kept.shape[0]
    sym = torch.maximum(kept, kept.t())
    m = sym.max(1).values
    ref = (sym / (m[:, None] * m[None, :]).sqrt().clamp_min(1e-12)).clamp(max=1.0)
    dense = torch.zeros(n, n)
    dense[index[0], index[1]] = weight
    torch.testing.assert_close(dense, ref)
    assert torch.equal(dense, dense.t()) and (index[0] != index[1]).all()
    return dense


def test_sorted_csr_symmetrises_and_sorts():
    rowptr, col = sorted_csr(torch.tensor([[0, 2, 2], [1, 1, 1]]), 3)
    assert rowptr.tolist() == [0, 1, 3, 4] and col.tolist() == [1, 0, 2, 1]


def test_walks_step_along_edges_and_stay_on_isolated_nodes():
    ei = _ring()
    rowptr, col = sorted_csr(ei, 13)  # node 12 has no edge
    g = torch.Generator().manual_seed(0)
    w = random_walks(rowptr, col, torch.arange(13).repeat(3), 6, 0.5, 2.0, g)
    assert (w[12::13] == 12).all()
    ring = w[w[:, 0] != 12]
    steps = (ring[:, 1:] - ring[:, :-1]) % 12
    assert ((steps == 1) | (steps == 11)).all()


def test_walk_similarity_matches_the_visit_shares_of_its_own_walks():
    """The weights are each row's visit shares within the window, kept top-k, symmetrised by
    max and scaled by 1/sqrt(m_i m_j): recomputed here by a loop over the same walks."""
    ei = torch.tensor([[0, 0, 1, 2, 3, 4], [1, 2, 2, 3, 4, 5]])
    n, walks, window = 6, 30, 3
    index, weight = walk_similarity(ei, n, walks, window, top_k=3, seed=5)
    rowptr, col = sorted_csr(ei, n)
    gen = torch.Generator().manual_seed(5)
    start = torch.arange(n).repeat_interleave(walks)
    w = random_walks(rowptr, col, start, window, generator=gen)[:, 1:]
    counts = torch.zeros(n, n)
    for s, row in zip(start.tolist(), w.tolist()):
        for v in row:
            if v != s:
                counts[s, v] += 1
    share = counts / (walks * window)
    kept = torch.zeros(n, n)
    for i in range(n):
        nz = [(float(share[i, j]), -j) for j in range(n) if share[i, j] > 0]
        for val, negj in sorted(nz, reverse=True)[:3]:
            kept[i, -negj] = val
    _assert_symmetrised_and_scaled(index, weight, kept)
    keys = index[0] * n + index[1]
    assert torch.equal(keys, torch.sort(keys).values)


def test_walk_similarity_reaches_beyond_one_hop_on_a_path_and_is_seeded():
    ei = torch.stack([torch.arange(9), torch.arange(1, 10)])
    index, weight = walk_similarity(ei, 10, 40, 4, top_k=6, seed=0)
    pairs = set(map(tuple, index.t().tolist()))
    assert (0, 2) in pairs and (0, 3) in pairs  # two and three hops away
    again = walk_similarity(ei, 10, 40, 4, top_k=6, seed=0)
    assert torch.equal(again[0], index) and torch.equal(again[1], weight)
    with pytest.raises(ValueError, match="'window'"):
        walk_similarity(ei, 10, window=0)


def test_degree_sized_rows_add_the_first_step_exactly_and_keep_every_neighbour():
    """size_to_degree: share_uv = A_uv / (T d_u) + (visits of u's walks to v at steps
    2..T) / (T n_u), n_u = max(walks, d_u); every neighbour is kept plus the top_k largest
    other entries; then symmetrised and scaled as before. Recomputed by loops over the same
    walks (one block, so the generator draws the same numbers)."""
    # a star (hub 0 with degree 6 > walks) hanging a path: 6 -- 7 -- 8 -- 9
    ei = torch.tensor([[0, 0, 0, 0, 0, 0, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 8, 9]])
    n, walks, window, top_k = 10, 4, 3, 1
    index, weight = walk_similarity(ei, n, walks, window, top_k=top_k, seed=3,
                                    size_to_degree=True)
    rowptr, col = sorted_csr(ei, n)
    deg = (rowptr[1:] - rowptr[:-1]).tolist()
    counts = [max(walks, d) for d in deg]
    gen = torch.Generator().manual_seed(3)
    start = torch.arange(n).repeat_interleave(torch.tensor(counts))
    w = random_walks(rowptr, col, start, window, generator=gen)[:, 2:]
    share = torch.zeros(n, n)
    for s, row in zip(start.tolist(), w.tolist()):
        for v in row:
            if v != s:
                share[s, v] += 1.0 / (window * counts[s])
    adj = torch.zeros(n, n, dtype=torch.bool)
    adj[ei[0], ei[1]] = True
    adj |= adj.t().clone()
    for u in range(n):
        for v in range(n):
            if adj[u, v]:
                share[u, v] += 1.0 / (window * deg[u])
    kept = torch.where(adj, share, torch.zeros(()))
    for i in range(n):
        far = [(float(share[i, j]), -j) for j in range(n) if share[i, j] > 0 and not adj[i, j]]
        for val, negj in sorted(far, reverse=True)[:top_k]:
            kept[i, -negj] = val
    dense = _assert_symmetrised_and_scaled(index, weight, kept)
    assert (dense[adj] > 0).all()  # the hub keeps all six neighbours, top_k is 1


def test_visit_blocks_split_start_nodes_never_a_nodes_walks():
    """Blocks hold whole nodes' walks up to VISIT_BLOCK visits (at least one node each);
    with equal walk counts they are the fixed-size node blocks of the plain mode."""
    import genurl_pyg.structure.walks as walks_mod
    from genurl_pyg.structure.walks import _start_blocks
    counts = torch.tensor([4, 6, 4, 4])
    old = walks_mod.VISIT_BLOCK
    try:
        walks_mod.VISIT_BLOCK = 30
        assert _start_blocks(counts, 3) == [(0, 2), (2, 4)]
        walks_mod.VISIT_BLOCK = 5  # smaller than one node's walks: one node per block
        assert _start_blocks(counts, 3) == [(0, 1), (1, 2), (2, 3), (3, 4)]
        walks_mod.VISIT_BLOCK = 4 * 10 * 2  # the plain mode: 2 nodes of 4 walks x 10 steps
        assert _start_blocks(torch.full((5,), 4), 10) == [(0, 2), (2, 4), (4, 5)]
    finally:
        walks_mod.VISIT_BLOCK = old
    with pytest.raises(ValueError, match="'top_k'"):
        walk_similarity(_ring(), 12, top_k=0, size_to_degree=True)
