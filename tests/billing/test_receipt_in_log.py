"""A receipt fetched after the next checkpoint proves, offline, that its entry is in the log:
entry → leaf hash → inclusion proof → a checkpoint signed by a published log key."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from netid.billing.errors import ReceiptInvalid
from netid.billing.receipts import published_sm2_keys, verify_receipt, verify_receipt_in_log
from netid.container import Container
from netid.crypto.notes import parse_verifier_key
from netid.keys.export import public_key_document, with_log_verifier_keys
from tests.verification.support import approved, load_people
from tests.verification.test_service import answer_of, ask, id2

pytestmark = pytest.mark.db


def published(container: Container) -> dict[str, Any]:
    with container.transaction(write=False) as session:
        keys = container.keyring_service(session).public_keys()
    document = public_key_document(keys)
    with_log_verifier_keys(document, keys, container.log_origin())
    return json.loads(json.dumps(document))  # as an auditor would read the file


def test_receipt_is_proven_in_the_log_and_tampering_fails(container: Container) -> None:
    people = load_people(container)
    bank = approved(container, industry="banking_finance", purposes=["account_opening"])
    answer = answer_of(ask(container, bank, id2(people)))
    with container.transaction(write=False) as session:
        before = container.receipts(session).signed(answer.receipt.id, institution_code=bank.code)
    assert "log" not in before  # no checkpoint covers it yet
    with container.transaction() as session:
        assert container.audit(session).cut_checkpoint() is not None
    with container.transaction(write=False) as session:
        document = container.receipts(session).signed(answer.receipt.id, institution_code=bank.code)
    keys = published(container)
    verifiers = [parse_verifier_key(line) for line in keys["log"]["verifier_keys"]]
    receipt = verify_receipt(document, published_sm2_keys(keys))
    size = verify_receipt_in_log(receipt, document["log"], verifiers)
    assert size == document["log"]["tree_size"] > receipt["log_index"]

    def tampered(change: Any) -> None:
        bad = copy.deepcopy(document)
        change(bad["log"])
        with pytest.raises(ReceiptInvalid) as raised:
            verify_receipt_in_log(receipt, bad["log"], verifiers)
        assert raised.value.reason == "log"

    tampered(lambda log: log.update(entry=log["entry"].replace('"match"', '"mismatch"')))
    tampered(lambda log: log.update(tree_size=log["tree_size"] + 1))
    zero = "A" * 43 + "="  # base64 of 32 zero bytes: a well-formed, wrong sibling hash
    tampered(lambda log: log.update(inclusion=[zero, *log["inclusion"][1:]]))
    tampered(lambda log: log.update(inclusion=[*log["inclusion"], zero]))
    tampered(lambda log: log.update(checkpoint=log["checkpoint"].replace("\n\n", "\n\n ")))
    tampered(lambda log: log.update(hash="sha256"))
    with pytest.raises(ReceiptInvalid):
        verify_receipt_in_log(receipt, document["log"], [])  # no known log key
    other = {**receipt, "price_fen": receipt["price_fen"] + 1}
    with pytest.raises(ReceiptInvalid):
        verify_receipt_in_log(other, document["log"], verifiers)  # another receipt's proof
