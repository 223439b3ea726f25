"""Ethnic-group codes of GB/T 3304-1991 (中国各民族名称的罗马字母拼写法和代码).

The 56 recognised ethnic groups carry the two-digit codes ``01`` (汉族) to ``56`` (基诺族) in the
standard's order; ``97`` (其他未识别民族, not yet identified) and ``98`` (外国血统中国籍人士,
Chinese citizens of foreign origin) complete the list used by household registration. The field
applies to Chinese citizens only: foreigners have no ethnicity code.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["ETHNICITIES", "HAN", "is_ethnicity_code"]

HAN: Final = "01"

_NAMES: Final = (
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
)

ETHNICITIES: Final[Mapping[str, str]] = MappingProxyType(
    {f"{i:02d}": name for i, name in enumerate(_NAMES, start=1)}
    | {"97": "其他未识别民族", "98": "外国血统中国籍人士"}
)
"""Code → Chinese name, in code order (read-only)."""


def is_ethnicity_code(code: object) -> bool:
    """True for exactly the two-character codes in :data:`ETHNICITIES` (``"1"`` is not ``"01"``)."""
    return isinstance(code, str) and code in ETHNICITIES
