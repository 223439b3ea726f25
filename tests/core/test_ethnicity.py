"""GB/T 3304-1991 ethnic-group codes."""

from __future__ import annotations

import pytest

from netid.core.ethnicity import ETHNICITIES, HAN, is_ethnicity_code


def test_codes() -> None:
    assert list(ETHNICITIES) == [f"{i:02d}" for i in range(1, 57)] + ["97", "98"]
    assert ETHNICITIES[HAN] == "汉族"
    assert ETHNICITIES["05"] == "维吾尔族"
    assert ETHNICITIES["23"] == "高山族"
    assert ETHNICITIES["46"] == "德昂族"
    assert ETHNICITIES["56"] == "基诺族"
    assert ETHNICITIES["97"] == "其他未识别民族"
    assert ETHNICITIES["98"] == "外国血统中国籍人士"
    assert len(set(ETHNICITIES.values())) == 58
    assert all(name.endswith(("族", "人士")) for name in ETHNICITIES.values())


def test_read_only() -> None:
    with pytest.raises(TypeError):
        ETHNICITIES["99"] = "x"  # type: ignore[index]


@pytest.mark.parametrize("code", ["01", "56", "97", "98"])
def test_valid(code: str) -> None:
    assert is_ethnicity_code(code)


@pytest.mark.parametrize("code", ["", "1", "00", "57", "96", "99", " 01", "01 ", "０１", 1, None])
def test_invalid(code: object) -> None:
    assert not is_ethnicity_code(code)
