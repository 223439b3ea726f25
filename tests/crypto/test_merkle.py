"""RFC 9162 Merkle trees: known answers, proofs for every shape, frontier appends, tampering."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gmalg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from netid.crypto.merkle import (
    HASHES,
    Frontier,
    TreeHasher,
    append,
    consistency_proof,
    consistency_proof_nodes,
    frontier_root,
    inclusion_proof,
    inclusion_proof_nodes,
    range_hash,
    range_nodes,
    root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "merkle_rfc9162.json").read_text())
CT_LEAVES = [bytes.fromhex(x) for x in VECTORS["leaves_hex"]]


# --- an independent oracle: the recursive definition, with independent hash implementations --


def _gmalg_sm3(data: bytes) -> bytes:
    h = gmalg.SM3()
    h.update(data)
    return bytes(h.value())


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


_ORACLE_HASH: dict[str, Callable[[bytes], bytes]] = {"sm3": _gmalg_sm3, "sha256": _sha256}


def _oracle_mth(name: str, leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of RFC 9162 §2.1.1, literally, over already-hashed leaves."""
    return _oracle_mth_cached(name, tuple(leaf_hashes))


@functools.cache
def _oracle_mth_cached(name: str, leaf_hashes: tuple[bytes, ...]) -> bytes:
    # Memoised only because the pure-Python SM3 oracle is slow; the definition is unchanged.
    h = _ORACLE_HASH[name]
    n = len(leaf_hashes)
    if n == 0:
        return h(b"")
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return h(
        b"\x01"
        + _oracle_mth_cached(name, leaf_hashes[:k])
        + _oracle_mth_cached(name, leaf_hashes[k:])
    )


def _oracle_path(name: str, m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, literally."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*_oracle_path(name, m, leaves[:k]), _oracle_mth(name, leaves[k:])]
    return [*_oracle_path(name, m - k, leaves[k:]), _oracle_mth(name, leaves[:k])]


def _oracle_subproof(name: str, m: int, leaves: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1, literally."""
    n = len(leaves)
    if m == n:
        return [] if b else [_oracle_mth(name, leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*_oracle_subproof(name, m, leaves[:k], b), _oracle_mth(name, leaves[k:])]
    return [*_oracle_subproof(name, m - k, leaves[k:], False), _oracle_mth(name, leaves[:k])]


def _leaves(hasher: TreeHasher, count: int, seed: int = 0) -> list[bytes]:
    return [hasher.leaf(f"entry-{seed}-{i}".encode()) for i in range(count)]


def _perfect_from(name: str, leaf_hashes: Sequence[bytes]) -> Callable[[int, int], bytes]:
    """A ``perfect`` callback backed by brute force; it refuses nodes outside the tree."""

    cache: dict[tuple[int, int], bytes] = {}

    def perfect(level: int, index: int) -> bytes:
        lo, hi = index << level, (index + 1) << level
        assert level >= 0 and lo >= 0 and hi <= len(leaf_hashes), (level, index)
        if (level, index) not in cache:
            cache[(level, index)] = _oracle_mth(name, leaf_hashes[lo:hi])
        return cache[(level, index)]

    return perfect


@pytest.fixture(params=HASHES)
def hasher(request: pytest.FixtureRequest) -> TreeHasher:
    return TreeHasher(request.param)


# --- hasher -------------------------------------------------------------------------------


def test_hasher_prefixes_and_sizes(hasher: TreeHasher) -> None:
    h = _ORACLE_HASH[hasher.name]
    assert hasher.size == 32
    assert hasher.empty() == h(b"")
    assert hasher.leaf(b"abc") == h(b"\x00abc")
    assert hasher.node(b"L" * 32, b"R" * 32) == h(b"\x01" + b"L" * 32 + b"R" * 32)
    # Domain separation: a leaf is never mistaken for a node over the same bytes.
    assert hasher.leaf(b"L" * 32 + b"R" * 32) != hasher.node(b"L" * 32, b"R" * 32)


def test_unknown_hash_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tree hash"):
        TreeHasher("md5")


# --- known answers ------------------------------------------------------------------------


@pytest.mark.parametrize("name", HASHES)
def test_known_roots(name: str) -> None:
    hasher = TreeHasher(name)
    leaf_hashes = [hasher.leaf(d) for d in CT_LEAVES]
    expected = VECTORS[name]["roots_by_size"]
    assert len(expected) == 9
    for size_text, hex_root in expected.items():
        size = int(size_text)
        got = root(hasher, leaf_hashes[:size])
        assert got.hex() == hex_root, (name, size)
        # The stored answers are themselves recomputed by the independent oracle.
        assert _oracle_mth(name, leaf_hashes[:size]).hex() == hex_root


def test_sha256_empty_root_is_the_ct_value() -> None:
    assert root(TreeHasher("sha256"), []).hex().startswith("e3b0c442")


@pytest.mark.parametrize("vector", VECTORS["sha256"]["inclusion_proofs"])
def test_ct_inclusion_vectors(vector: dict[str, Any]) -> None:
    hasher = TreeHasher("sha256")
    leaf_hashes = [hasher.leaf(d) for d in CT_LEAVES]
    index, size = vector["index"], vector["size"]
    expected = [bytes.fromhex(p) for p in vector["path"]]
    perfect = _perfect_from("sha256", leaf_hashes[:size])
    assert inclusion_proof(hasher, index, size, perfect) == expected
    tree_root = bytes.fromhex(VECTORS["sha256"]["roots_by_size"][str(size)])
    assert verify_inclusion(hasher, index, size, leaf_hashes[index], expected, tree_root)


@pytest.mark.parametrize("vector", VECTORS["sha256"]["consistency_proofs"])
def test_ct_consistency_vectors(vector: dict[str, Any]) -> None:
    hasher = TreeHasher("sha256")
    leaf_hashes = [hasher.leaf(d) for d in CT_LEAVES]
    first, second = vector["first"], vector["second"]
    expected = [bytes.fromhex(p) for p in vector["path"]]
    perfect = _perfect_from("sha256", leaf_hashes[:second])
    assert consistency_proof(hasher, first, second, perfect) == expected
    roots = VECTORS["sha256"]["roots_by_size"]
    assert verify_consistency(
        hasher,
        first,
        second,
        expected,
        bytes.fromhex(roots[str(first)]),
        bytes.fromhex(roots[str(second)]),
    )


# --- range_hash ---------------------------------------------------------------------------


def _recursion_ranges(n: int) -> set[tuple[int, int]]:
    """Every [start, end) that MTH, PATH and SUBPROOF over D[0:n] evaluate an MTH on."""
    out: set[tuple[int, int]] = set()

    def walk(lo: int, hi: int) -> None:
        out.add((lo, hi))
        if hi - lo > 1:
            k = 1
            while k * 2 < hi - lo:
                k *= 2
            walk(lo, lo + k)
            walk(lo + k, hi)

    walk(0, n)
    return out


@pytest.mark.parametrize("name", HASHES)
def test_range_hash_equals_mth_on_every_recursion_range(name: str) -> None:
    hasher = TreeHasher(name)
    leaf_hashes = _leaves(hasher, 64)
    perfect = _perfect_from(name, leaf_hashes)
    checked = 0
    for n in range(1, 65):
        for start, end in _recursion_ranges(n):
            got = range_hash(hasher, start, end, perfect)
            assert got == _oracle_mth(name, leaf_hashes[start:end]), (n, start, end)
            assert got == root(hasher, leaf_hashes[start:end])
            # Aligned ranges cost one callback per set bit of the size.
            assert len(range_nodes(start, end)) == (end - start).bit_count()
            checked += 1
    assert checked > 1000


def test_range_hash_is_correct_on_arbitrary_ranges() -> None:
    hasher = TreeHasher("sha256")
    leaf_hashes = _leaves(hasher, 40)
    perfect = _perfect_from("sha256", leaf_hashes)
    for start in range(40):
        for end in range(start, 41):
            got = range_hash(hasher, start, end, perfect)
            expected = (
                hasher.empty() if start == end else _oracle_mth("sha256", leaf_hashes[start:end])
            )
            assert got == expected, (start, end)


def test_range_hash_rejects_reversed_ranges() -> None:
    with pytest.raises(ValueError, match="start <= end"):
        range_hash(TreeHasher("sm3"), 5, 4, lambda level, index: b"")
    with pytest.raises(ValueError, match="start <= end"):
        range_hash(TreeHasher("sm3"), -1, 4, lambda level, index: b"")


# --- proofs for every shape ---------------------------------------------------------------


@pytest.mark.parametrize("name", HASHES)
def test_every_inclusion_proof_up_to_40(name: str) -> None:
    hasher = TreeHasher(name)
    leaf_hashes = _leaves(hasher, 40, seed=1)
    perfect = _perfect_from(name, leaf_hashes)
    for n in range(1, 41):
        tree_root = _oracle_mth(name, leaf_hashes[:n])
        for m in range(n):
            proof = inclusion_proof(hasher, m, n, perfect)
            assert proof == _oracle_path(name, m, leaf_hashes[:n]), (m, n)
            assert verify_inclusion(hasher, m, n, leaf_hashes[m], proof, tree_root)
            # The wrong leaf, index, size or root fails.
            other = leaf_hashes[(m + 1) % n]
            if n > 1:
                assert not verify_inclusion(hasher, m, n, other, proof, tree_root)
                assert not verify_inclusion(
                    hasher, (m + 1) % n, n, leaf_hashes[m], proof, tree_root
                )
            if n < 40:  # the bigger tree's root does not accept the smaller tree's proof
                bigger = _oracle_mth(name, leaf_hashes[: n + 1])
                assert not verify_inclusion(hasher, m, n + 1, leaf_hashes[m], proof, bigger)
            assert not verify_inclusion(hasher, m, n, leaf_hashes[m], proof, hasher.leaf(b"x"))


@pytest.mark.parametrize("name", HASHES)
def test_every_consistency_proof_up_to_40(name: str) -> None:
    hasher = TreeHasher(name)
    leaf_hashes = _leaves(hasher, 40, seed=2)
    perfect = _perfect_from(name, leaf_hashes)
    roots = [_oracle_mth(name, leaf_hashes[:n]) for n in range(41)]
    for n in range(1, 41):
        for m in range(1, n + 1):
            proof = consistency_proof(hasher, m, n, perfect)
            assert proof == _oracle_subproof(name, m, leaf_hashes[:n], True), (m, n)
            assert verify_consistency(hasher, m, n, proof, roots[m], roots[n])
            if m < n:
                assert not verify_consistency(hasher, m, n, proof, roots[m - 1], roots[n])
                assert not verify_consistency(hasher, m, n, proof, roots[m], roots[n - 1])
                assert not verify_consistency(hasher, m, n, [], roots[m], roots[n])
                assert not verify_consistency(hasher, m, n, proof[:-1], roots[m], roots[n])


def test_proof_arguments_out_of_range_raise_value_error() -> None:
    hasher = TreeHasher("sm3")

    def perfect(level: int, index: int) -> bytes:
        raise AssertionError("no node may be read for a refused request")

    for index, size in [(0, 0), (5, 5), (6, 5), (-1, 5), (0, -1)]:
        with pytest.raises(ValueError, match="inclusion proof"):
            inclusion_proof(hasher, index, size, perfect)
        with pytest.raises(ValueError, match="inclusion proof"):
            inclusion_proof_nodes(index, size)
    for first, second in [(0, 5), (6, 5), (-1, 3), (0, 0)]:
        with pytest.raises(ValueError, match="consistency proof"):
            consistency_proof(hasher, first, second, perfect)
        with pytest.raises(ValueError, match="consistency proof"):
            consistency_proof_nodes(first, second)


def _recording(
    reads: list[tuple[int, int]], inner: Callable[[int, int], bytes]
) -> Callable[[int, int], bytes]:
    def perfect(level: int, index: int) -> bytes:
        reads.append((level, index))
        return inner(level, index)

    return perfect


def test_proof_node_lists_are_exactly_what_the_proofs_read() -> None:
    hasher = TreeHasher("sha256")
    leaf_hashes = _leaves(hasher, 300, seed=3)
    for size in (1, 2, 3, 7, 64, 65, 129, 300):
        reads: list[tuple[int, int]] = []
        perfect = _recording(reads, _perfect_from("sha256", leaf_hashes[:size]))

        for index in {0, size // 2, size - 1}:
            reads.clear()
            inclusion_proof(hasher, index, size, perfect)
            assert set(reads) == set(inclusion_proof_nodes(index, size))
        for first in {1, size // 2 or 1, size - 1 or 1, size}:
            reads.clear()
            consistency_proof(hasher, first, size, perfect)
            assert set(reads) == set(consistency_proof_nodes(first, size))
    # Logarithmic: at a million entries a proof needs well under a hundred nodes.
    assert len(inclusion_proof_nodes(123_456, 1_000_000)) <= 2 * 20
    assert len(consistency_proof_nodes(999_999, 1_000_000)) <= 2 * 20
    for level, index in inclusion_proof_nodes(123_456, 1_000_000):
        assert (index + 1) << level <= 1_000_000


# --- frontier -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", HASHES)
def test_frontier_appends_give_every_root_and_every_perfect_node(name: str) -> None:
    hasher = TreeHasher(name)
    leaf_hashes = _leaves(hasher, 70, seed=4)
    frontier = Frontier.empty()
    assert frontier_root(hasher, frontier) == hasher.empty()
    stored: dict[tuple[int, int], bytes] = {}
    for i, leaf_hash in enumerate(leaf_hashes):
        frontier, completed = append(hasher, frontier, leaf_hash)
        assert frontier.size == i + 1
        assert completed[0] == (0, i, leaf_hash)
        # One node per level closed: 1 + the number of trailing one bits of the old size.
        trailing = (i ^ (i + 1)).bit_length() - 1
        assert len(completed) == 1 + trailing
        for level, index, node_hash in completed:
            assert (index + 1) << level == i + 1  # the node ends at the new leaf
            assert node_hash == _oracle_mth(
                name, leaf_hashes[index << level : (index + 1) << level]
            )
            assert (level, index) not in stored
            stored[(level, index)] = node_hash
        assert frontier_root(hasher, frontier) == _oracle_mth(name, leaf_hashes[: i + 1])
        assert root(hasher, leaf_hashes[: i + 1]) == frontier_root(hasher, frontier)
        assert Frontier.from_bytes(frontier.to_bytes()) == frontier
    # Every perfect subtree of the final tree was emitted exactly once; proofs served from
    # the stored nodes alone verify.
    n = len(leaf_hashes)
    expected_nodes = {(lv, ix) for lv in range(8) for ix in range(n >> lv)}
    assert set(stored) == expected_nodes
    tree_root = frontier_root(hasher, frontier)
    for m in range(n):
        proof = inclusion_proof(hasher, m, n, lambda level, index: stored[(level, index)])
        assert verify_inclusion(hasher, m, n, leaf_hashes[m], proof, tree_root)


def test_frontier_bytes_layout_and_validation() -> None:
    hasher = TreeHasher("sm3")
    frontier = Frontier.empty()
    for leaf_hash in _leaves(hasher, 5):
        frontier, _ = append(hasher, frontier, leaf_hash)
    data = frontier.to_bytes()
    assert data[:8] == (5).to_bytes(8, "big")
    assert len(data) == 8 + 2 * 32  # 5 = 4 + 1: two subtrees
    assert Frontier.empty().to_bytes() == bytes(8)
    for bad in [b"", bytes(7), data[:-1], data + b"\x00", (7).to_bytes(8, "big") + data[8:]]:
        with pytest.raises(ValueError, match="frontier"):
            Frontier.from_bytes(bad)
    with pytest.raises(ValueError, match="frontier"):
        Frontier(3, (bytes(32),))
    with pytest.raises(ValueError, match="leaf hash"):
        append(hasher, frontier, b"short")


# --- property tests: tampering ------------------------------------------------------------

_sizes = st.integers(min_value=1, max_value=200)


@st.composite
def _tree_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(_sizes)
    return size, draw(st.integers(min_value=0, max_value=size - 1))


_PROPERTY_HASHER = TreeHasher("sm3")
_PROPERTY_LEAVES = _leaves(_PROPERTY_HASHER, 200, seed=5)
_PROPERTY_FRONTIERS: list[Frontier] = [Frontier.empty()]
_PROPERTY_NODES: dict[tuple[int, int], bytes] = {}
for _leaf in _PROPERTY_LEAVES:
    _f, _done = append(_PROPERTY_HASHER, _PROPERTY_FRONTIERS[-1], _leaf)
    _PROPERTY_FRONTIERS.append(_f)
    _PROPERTY_NODES.update({(lv, ix): h for lv, ix, h in _done})


def _stored(level: int, index: int) -> bytes:
    return _PROPERTY_NODES[(level, index)]


def _root_at(size: int) -> bytes:
    return frontier_root(_PROPERTY_HASHER, _PROPERTY_FRONTIERS[size])


@given(tree=_tree_and_index(), data=st.data())
def test_tampered_inclusion_proofs_are_rejected(tree: tuple[int, int], data: st.DataObject) -> None:
    size, index = tree
    h = _PROPERTY_HASHER
    leaf = _PROPERTY_LEAVES[index]
    proof = inclusion_proof(h, index, size, _stored)
    tree_root = _root_at(size)
    assert verify_inclusion(h, index, size, leaf, proof, tree_root)
    if proof:
        # Flip one bit of one proof element.
        pos = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        bad = list(proof)
        bad[pos] = bytes(
            b ^ (1 << (bit % 8)) if j == bit // 8 else b for j, b in enumerate(bad[pos])
        )
        assert not verify_inclusion(h, index, size, leaf, bad, tree_root)
        # Drop, duplicate or reorder elements.
        assert not verify_inclusion(h, index, size, leaf, proof[:-1], tree_root)
        assert not verify_inclusion(h, index, size, leaf, [*proof, proof[-1]], tree_root)
        if len(proof) > 1 and proof[0] != proof[1]:
            swapped = [proof[1], proof[0], *proof[2:]]
            assert not verify_inclusion(h, index, size, leaf, swapped, tree_root)
    other_index = data.draw(st.integers(0, size - 1))
    if other_index != index:
        assert not verify_inclusion(h, other_index, size, leaf, proof, tree_root)
        assert not verify_inclusion(h, index, size, _PROPERTY_LEAVES[other_index], proof, tree_root)
    other_size = data.draw(st.integers(1, 200))
    if other_size != size:
        # A different tree size with its own root never accepts this proof.
        assert not verify_inclusion(h, index, other_size, leaf, proof, _root_at(other_size))
    assert not verify_inclusion(h, index, size, leaf, proof, bytes(32))


@given(
    sizes=st.tuples(_sizes, _sizes).map(lambda t: (min(t), max(t))),
    data=st.data(),
)
def test_tampered_consistency_proofs_are_rejected(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    first, second = sizes
    h = _PROPERTY_HASHER
    proof = consistency_proof(h, first, second, _stored)
    r1, r2 = _root_at(first), _root_at(second)
    assert verify_consistency(h, first, second, proof, r1, r2)
    if first == second:
        assert proof == []
        assert not verify_consistency(h, first, second, [r1], r1, r2)
        return
    pos = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    bad = list(proof)
    bad[pos] = bytes(b ^ (1 << (bit % 8)) if j == bit // 8 else b for j, b in enumerate(bad[pos]))
    assert not verify_consistency(h, first, second, bad, r1, r2)
    assert not verify_consistency(h, first, second, proof[:-1], r1, r2)
    assert not verify_consistency(h, first, second, [*proof, proof[-1]], r1, r2)
    # A forked log: the same first tree, a different leaf later on.
    forked = [*_PROPERTY_LEAVES[:second]]
    victim = data.draw(st.integers(0, second - 1))
    forked[victim] = h.leaf(b"forged")
    forked_root = root(h, forked)
    assert not verify_consistency(h, first, second, proof, r1, forked_root)
    if victim < first:
        assert not verify_consistency(h, first, second, proof, root(h, forked[:first]), r2)
    other_first = data.draw(st.integers(1, second))
    if other_first != first:
        assert not verify_consistency(h, other_first, second, proof, _root_at(other_first), r2)


def test_verifiers_reject_malformed_input_without_raising() -> None:
    h = TreeHasher("sha256")
    leaf = h.leaf(b"a")
    assert verify_inclusion(h, 0, 1, leaf, [], leaf)
    assert not verify_inclusion(h, 0, 1, leaf[:31], [], leaf)
    assert not verify_inclusion(h, 0, 1, leaf, [], leaf + b"\x00")
    assert not verify_inclusion(h, 0, 2, leaf, [b"short"], leaf)
    assert not verify_inclusion(h, -1, 1, leaf, [], leaf)
    assert not verify_inclusion(h, 0, 0, leaf, [], leaf)
    assert not verify_consistency(h, 0, 1, [], h.empty(), leaf)
    assert not verify_consistency(h, 2, 1, [leaf], leaf, leaf)
    assert not verify_consistency(h, 1, 2, [b"short"], leaf, leaf)


@pytest.mark.parametrize("name", HASHES)
def test_a_subtree_root_is_not_accepted_as_a_bigger_trees_root(name: str) -> None:
    """The final ``sn == 0`` checks of §2.1.3.2 step 5 and §2.1.4.2 step 7: a truncated proof
    that ends on an inner node must not pass for the tree size claimed."""
    h = TreeHasher(name)
    leaf_hashes = _leaves(h, 16, seed=6)
    l0, l1 = leaf_hashes[0], leaf_hashes[1]
    pair = h.node(l0, l1)
    assert verify_inclusion(h, 0, 2, l0, [l1], pair)
    assert verify_consistency(h, 1, 2, [l1], l0, pair)
    for size in (3, 4, 8, 16):
        assert not verify_inclusion(h, 0, size, l0, [l1], pair)
        assert not verify_consistency(h, 1, size, [l1], l0, pair)
    # Generally: every proper prefix of a proof, with the inner node it reaches as "root".
    for n in range(2, 17):
        perfect = _perfect_from(name, leaf_hashes[:n])
        for m in range(n):
            proof = inclusion_proof(h, m, n, perfect)
            for cut in range(1, len(proof)):
                level = cut  # the prefix climbs `cut` levels inside a perfect subtree
                index = m >> level
                if (index + 1) << level <= n:
                    inner = perfect(level, index)
                    assert not verify_inclusion(h, m, n, leaf_hashes[m], proof[:cut], inner)


def test_root_streams_an_iterable_and_checks_leaf_sizes() -> None:
    hasher = TreeHasher("sm3")
    leaf_hashes = _leaves(hasher, 37, seed=7)
    assert root(hasher, iter(leaf_hashes)) == _oracle_mth("sm3", leaf_hashes)
    assert root(hasher, (h for h in leaf_hashes[:1])) == leaf_hashes[0]
    with pytest.raises(ValueError, match="leaf hash"):
        root(hasher, [leaf_hashes[0], b"short"])
