"""History entries are shown only with their inclusion proof checked (RFC 9162 §2.1.3.2)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from netid.crypto.merkle import TreeHasher, inclusion_proof, root
from netid.crypto.notes import Checkpoint, Ed25519NoteSigner, sign_checkpoint
from netid.wallet.errors import ServerAnswerInvalid
from netid.wallet.history import verify_history

HASHER = TreeHasher("sm3")
ORIGIN = "netid.test/log"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def make_log(size: int) -> tuple[list[dict[str, Any]], list[bytes]]:
    entries = [{"index": i, "action": f"verification.{i}", "outcome": "ok"} for i in range(size)]
    return entries, [HASHER.leaf(canonical(e)) for e in entries]


def signer() -> Ed25519NoteSigner:
    return Ed25519NoteSigner(ORIGIN, ed25519.Ed25519PrivateKey.generate())


def answer(
    entries: list[dict[str, Any]], leaves: list[bytes], mine: list[int], note_signer: Any
) -> dict[str, Any]:
    """What ``GET /v1/me/history`` answers (netid.citizens over netid.audit)."""
    size = len(leaves)
    top = root(HASHER, leaves)
    note = sign_checkpoint(Checkpoint(ORIGIN, size, top), [note_signer])
    return {
        "checkpoint": {"tree_size": size, "root_hash": b64(top), "note": note},
        "entries": [
            {
                "index": i,
                "leaf_hash": b64(leaves[i]),
                "entry": entries[i],
                "canonical": canonical(entries[i]).decode(),
                "inclusion_proof": {
                    "index": i,
                    "tree_size": size,
                    "leaf_hash": b64(leaves[i]),
                    "hashes": [
                        b64(h)
                        for h in inclusion_proof(
                            HASHER, i, size, lambda lv, ix: perfect(leaves, lv, ix)
                        )
                    ],
                },
            }
            for i in mine
        ],
    }


def perfect(leaves: list[bytes], level: int, index: int) -> bytes:
    width = 1 << level
    return root(HASHER, leaves[index * width : (index + 1) * width])


def test_proven_entries_are_marked_verified() -> None:
    entries, leaves = make_log(13)
    s = signer()
    checked = verify_history(answer(entries, leaves, [0, 5, 12], s))
    assert [e.verified for e in checked.entries] == [True, True, True]
    assert checked.tree_size == 13 and checked.checkpoint_signed is None
    with_keys = verify_history(answer(entries, leaves, [3], s), [s.verifier()])
    assert with_keys.checkpoint_signed is True and with_keys.entries[0].verified


def test_a_tampered_proof_or_leaf_is_marked_not_hidden() -> None:
    entries, leaves = make_log(9)
    body = answer(entries, leaves, [2, 4, 7], signer())
    body["entries"][0]["inclusion_proof"]["hashes"][0] = b64(b"\x00" * 32)
    another = canonical({"index": 4, "action": "another entry"})
    body["entries"][1]["leaf_hash"] = b64(HASHER.leaf(another))
    body["entries"][1]["canonical"] = another.decode()
    body["entries"][2]["index"] = body["entries"][2]["inclusion_proof"]["index"] = 6  # for 7
    checked = verify_history(body)
    assert [(e.verified, e.reason) for e in checked.entries] == [
        (False, "inclusion"),
        (False, "inclusion"),
        (False, "inclusion"),
    ]
    assert checked.to_json()["unverified"] == 3


def test_a_canonical_entry_is_hashed_by_the_wallet() -> None:
    entries, leaves = make_log(5)
    body = answer(entries, leaves, [1, 3], signer())
    body["entries"][0]["canonical"] = canonical(entries[1]).decode()
    body["entries"][1]["canonical"] = canonical({**entries[3], "outcome": "denied"}).decode()
    checked = verify_history(body)
    assert [(e.verified, e.reason) for e in checked.entries] == [(True, None), (False, "leaf_hash")]


def test_a_checkpoint_signed_by_another_key_proves_nothing() -> None:
    entries, leaves = make_log(4)
    checked = verify_history(answer(entries, leaves, [1], signer()), [signer().verifier()])
    assert checked.checkpoint_signed is False
    assert [(e.verified, e.reason) for e in checked.entries] == [(False, "checkpoint_signature")]


def test_entries_after_the_checkpoint_wait_for_the_next_one() -> None:
    entries, leaves = make_log(6)
    body = answer(entries, leaves[:4], [1], signer())
    body["entries"].append(
        {"index": 5, "leaf_hash": b64(leaves[5]), "entry": entries[5], "inclusion_proof": None}
    )
    checked = verify_history(body)
    assert [(e.verified, e.reason) for e in checked.entries] == [
        (True, None),
        (False, "after_checkpoint"),
    ]


@pytest.mark.parametrize(
    "broken",
    [
        {"checkpoint": {"tree_size": 3, "root_hash": "", "note": "garbage"}},
        {"checkpoint": None},
    ],
)
def test_no_usable_checkpoint_marks_everything_unverified(broken: dict[str, Any]) -> None:
    entries, leaves = make_log(3)
    body = answer(entries, leaves, [0, 1], signer()) | broken
    checked = verify_history(body)
    assert [(e.verified, e.reason) for e in checked.entries] == [(False, "no_checkpoint")] * 2


def test_malformed_items_are_marked() -> None:
    entries, leaves = make_log(3)
    body = answer(entries, leaves, [0], signer())
    good = body["entries"][0]
    body["entries"] += [
        "text",
        {"index": "1", "leaf_hash": "!!", "inclusion_proof": "x"},
        good | {"inclusion_proof": good["inclusion_proof"] | {"hashes": ["%%"]}},
        good | {"inclusion_proof": good["inclusion_proof"] | {"tree_size": 2}},
    ]
    checked = verify_history(body)
    assert [(e.verified, e.reason) for e in checked.entries] == [
        (True, None),
        (False, "malformed"),
        (False, "malformed"),
        (False, "malformed"),
        (False, "tree_size"),
    ]


def test_a_sha256_log_verifies_too() -> None:
    sha = TreeHasher("sha256")
    entries = [{"index": i} for i in range(3)]
    leaves = [sha.leaf(canonical(e)) for e in entries]
    top = root(sha, leaves)
    note = sign_checkpoint(Checkpoint(ORIGIN, 3, top), [signer()])
    proof = inclusion_proof(sha, 2, 3, lambda lv, ix: root(sha, leaves[ix << lv : (ix + 1) << lv]))
    body = {
        "checkpoint": {"tree_size": 3, "root_hash": b64(top), "note": note},
        "entries": [
            {
                "index": 2,
                "leaf_hash": b64(leaves[2]),
                "entry": entries[2],
                "canonical": canonical(entries[2]).decode(),
                "inclusion_proof": {
                    "index": 2,
                    "tree_size": 3,
                    "leaf_hash": b64(leaves[2]),
                    "hashes": [b64(h) for h in proof],
                },
            }
        ],
    }
    assert verify_history(body).entries[0].verified


def test_an_answer_without_entries_is_refused() -> None:
    with pytest.raises(ServerAnswerInvalid):
        verify_history({"items": []})


def test_the_entry_shown_is_the_one_the_leaf_proves() -> None:
    entries, leaves = make_log(5)
    body = answer(entries, leaves, [2], signer())
    body["entries"][0]["canonical"] = canonical(entries[2]).decode()
    body["entries"][0]["entry"] = {**entries[2], "action": "verification.forged"}
    (shown,) = verify_history(body).entries
    assert shown.verified
    assert shown.entry["action"] == entries[2]["action"]
    body["entries"][0]["canonical"] = "[1, 2]"
    assert verify_history(body).entries[0].reason == "malformed"


def test_an_entry_without_its_leaf_bytes_proves_nothing() -> None:
    # The proof holds for the leaf hash the server sent; without the canonical bytes nothing
    # ties that leaf to the entry shown beside it, which could say anything.
    entries, leaves = make_log(5)
    body = answer(entries, leaves, [2], signer())
    del body["entries"][0]["canonical"]
    body["entries"][0]["entry"] = {**entries[2], "action": "verification.forged"}
    (shown,) = verify_history(body).entries
    assert (shown.verified, shown.reason) == (False, "no_canonical")


def test_a_canonical_entry_with_a_duplicate_member_is_malformed() -> None:
    entries, leaves = make_log(3)
    body = answer(entries, leaves, [1], signer())
    text = '{"action":"verification.1","action":"consent.revoke","index":1,"outcome":"ok"}'
    body["entries"][0]["canonical"] = text
    body["entries"][0]["leaf_hash"] = b64(HASHER.leaf(text.encode()))
    assert verify_history(body).entries[0].reason == "malformed"


def test_the_hash_the_server_names_is_the_one_used() -> None:
    # netid.citizens names the log's tree hash as "hash_alg": only that one is tried.
    entries, leaves = make_log(4)
    body = answer(entries, leaves, [1], signer())
    assert verify_history(body | {"hash_alg": "sm3"}).entries[0].verified
    assert verify_history(body | {"hash_alg": "sha256"}).entries[0].reason == "leaf_hash"
