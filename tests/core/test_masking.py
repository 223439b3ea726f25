"""SEC-41: one masking pattern; the birth date (characters 7-14) of an ID is never shown."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netid.core.masking import MASK_CHAR, mask_document_number, mask_name, mask_phone

_ID_CHARS = st.sampled_from("0123456789X")
_DOC_CHARS = st.characters(codec="utf-8")


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "110105********002X"),
        ("810000199001010014", "810000********0014"),
        ("911156199001010011", "911156********0011"),
        ("110105491231002", "11***********02"),  # first-generation 15-digit resident ID
        ("USA110090123001", "US***********01"),  # 2004/2017 foreigner's card
        ("E12345678", "E******78"),
        ("EA1234567", "E******67"),
        ("H12345678", "H******78"),
        ("H1234567890", "H*******890"),
        ("12345678", "1*****78"),
        ("1234567890", "1******890"),
        ("123456789012", "12*******012"),
        ("1234567", "*******"),
        ("", ""),
    ],
)
def test_document_examples(number: str, masked: str) -> None:
    assert mask_document_number(number) == masked


@settings(max_examples=2000)
@given(st.text(alphabet=_ID_CHARS, min_size=18, max_size=18))
def test_id_birth_date_never_shown(number: str) -> None:
    masked = mask_document_number(number)
    assert masked[6:14] == MASK_CHAR * 8
    assert masked[:6] == number[:6] and masked[14:] == number[14:]


@settings(max_examples=2000)
@given(st.text(alphabet=_DOC_CHARS, max_size=40))
def test_document_mask_shape(number: str) -> None:
    masked = mask_document_number(number)
    assert len(masked) == len(number)
    shown = [i for i, (a, b) in enumerate(zip(number, masked, strict=True)) if b != MASK_CHAR]
    assert all(masked[i] == number[i] for i in shown)
    if len(number) != 18:
        # at least half hidden, at most 2 leading and 3 trailing characters shown
        assert len(shown) * 2 <= len(number)
        assert all(i < 2 or i >= len(number) - 3 for i in shown)
    else:
        assert not any(6 <= i < 14 for i in shown)


@given(st.text(alphabet=_ID_CHARS, min_size=15, max_size=15))
def test_fifteen_character_birth_dates_hidden(number: str) -> None:
    masked = mask_document_number(number)
    # first-generation resident IDs: YYMMDD at 7-12; 2017 foreigner's cards: at 8-13
    assert masked[6:13] == MASK_CHAR * 7


def test_mask_is_deterministic_so_no_mosaic() -> None:
    number = "11010519491231002X"
    assert {mask_document_number(number) for _ in range(5)} == {"110105********002X"}


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张伟", "张*"),
        ("欧阳修远", "欧***"),
        ("王", "*"),
        ("", ""),
        ("阿依古丽·买买提", "阿*******"),
        ("\U00020bb7田太郎", "\U00020bb7***"),
        ("赵孟\U0002b5af", "赵**"),
        ("John Smith", "J*********"),
    ],
)
def test_name_examples(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_name_mask_shape(name: str) -> None:
    masked = mask_name(name)
    assert len(masked) == len(name)
    if len(name) >= 2:
        assert masked[0] == name[0]
        assert masked[1:] == MASK_CHAR * (len(name) - 1)
    else:
        assert masked == MASK_CHAR * len(name)
    masked.encode("utf-8")  # never a split surrogate pair


@given(st.text(alphabet=st.characters(min_codepoint=0x10000, codec="utf-8"), min_size=2))
def test_name_mask_keeps_whole_supplementary_character(name: str) -> None:
    masked = mask_name(name)
    # the first character survives as a full surrogate pair in UTF-16 (4 bytes), never half
    assert masked.encode("utf-16-le")[:4] == name[0].encode("utf-16-le")
    assert masked.encode("utf-16-le").decode("utf-16-le") == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+8613812345678", "+86138****5678"),
        ("+8619912345678", "+86199****5678"),
        ("13812345678", "138****5678"),
        ("+447911123456", "+44********56"),
        ("+12025550123", "+12*******23"),
        ("123", "***"),
        ("", ""),
    ],
)
def test_phone_examples(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@given(st.from_regex(r"\+861[3-9][0-9]{9}", fullmatch=True))
def test_mainland_phone_shape(phone: str) -> None:
    masked = mask_phone(phone)
    assert masked[:6] == phone[:6] and masked[6:10] == "****" and masked[10:] == phone[10:]


@given(st.text(alphabet=st.sampled_from("+0123456789"), max_size=20))
def test_phone_mask_hides_at_least_a_third(phone: str) -> None:
    masked = mask_phone(phone)
    assert len(masked) == len(phone)
    hidden = masked.count(MASK_CHAR)
    assert hidden * 3 >= len(phone)
