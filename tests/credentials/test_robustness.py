"""Hostile input never escapes as anything but a CredentialError (a 4xx, never a 500)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from netid.credentials import jws, qr, sdjwt, status_list
from netid.credentials.errors import CredentialError
from netid.crypto.jose_keys import b64url_encode
from tests.credentials import support as s

PRESENTATION = s.present(s.issue(), ["age_over_18", "name"])
QR = qr.mint(s.HOLDER_KEY, ref="R" * 100, issued_at=s.NOW)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def _refused_cleanly(call: Callable[[], object]) -> None:
    with contextlib.suppress(CredentialError):
        call()


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), st.sampled_from("~.-_Aa0é{"))
def test_mutated_presentations(position: int, char: str) -> None:
    i = position % len(PRESENTATION)
    mutated = PRESENTATION[:i] + char + PRESENTATION[i + 1 :]
    _refused_cleanly(lambda: s.verify(mutated))
    _refused_cleanly(lambda: sdjwt.claims_of(mutated))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=8), json_values, max_size=6), st.lists(json_values, max_size=3)
)
def test_arbitrary_signed_payloads_and_disclosures(
    extra: dict[str, object], values: list[object]
) -> None:
    disclosures = [b64url_encode(json.dumps(v).encode()) for v in values]
    payload = {**s.plain_payload(), **extra, "_sd": [sdjwt.digest(d) for d in disclosures]}
    prefix = s.craft(payload, disclosures)
    _refused_cleanly(lambda: s.verify(s.with_key_binding(prefix)))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6))
def test_arbitrary_qr_payloads(payload: dict[str, object]) -> None:
    token = jws.sign_compact(s.HOLDER_KEY, header={"typ": "netid-qr+jwt"}, payload=payload)
    _refused_cleanly(lambda: qr.verify(token, s.HOLDER_KEY.public_key(), now=s.NOW))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0), st.sampled_from(".-_Aa0"))
def test_mutated_qr(position: int, char: str) -> None:
    i = position % len(QR)
    mutated = QR[:i] + char + QR[i + 1 :]
    _refused_cleanly(lambda: qr.verify(mutated, s.HOLDER_KEY.public_key(), now=s.NOW))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ABCDEFabcdef0123456789-_", max_size=64), st.sampled_from([1, 2, 4, 8]))
def test_arbitrary_status_lists(lst: str, bits: int) -> None:
    _refused_cleanly(lambda: status_list.decode(lst, bits))


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    # 600 levels parse as JSON but would exhaust the resolver's stack: a 400, not a 500.
    from netid.credentials.errors import CredentialMalformed

    nested: object = 0
    for _ in range(600):
        nested = [nested]
    credential = s.craft(s.plain_payload(deep=nested), [])
    for call in (
        lambda: s.verify(credential, require_key_binding=False, audience=None, nonce=None),
        lambda: sdjwt.claims_of(credential),
    ):
        try:
            call()
        except CredentialMalformed:
            continue
        raise AssertionError("a 600-deep credential was accepted")
    # Our own shape (a claim two levels deep) is far inside the cap.
    shallow = s.craft(s.plain_payload(address={"locality": {"city": "北京"}}), [])
    assert sdjwt.claims_of(shallow)["address"] == {"locality": {"city": "北京"}}
