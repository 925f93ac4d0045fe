"""Check characters of Chinese identifiers, computed as their standards define them.

* resident ID number (居民身份证号码), GB 11643-1999: ISO 7064 MOD 11-2, with a real birth date;
* organisation code (组织机构代码), GB 11714-1997: MOD 11;
* unified social credit code (统一社会信用代码), GB 32100-2015: MOD 31 over the 31-character set.

Check 1-5 (plausibility) uses them on applicant data; the demo generator uses them to make valid numbers.
"""

from __future__ import annotations

import re
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, Z, S, V
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# GB/T 2260 county-level code (6 digits), optionally extended to township (9) or village (12) level.
REGION_CODE = re.compile(r"[1-9]\d{5}(\d{3}(\d{3})?)?")


def id_check_digit(first17: str) -> str:
    """GB 11643 check character for the first 17 digits of a resident ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"need 17 digits, got {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def is_valid_id_number(number: str) -> bool:
    """True when ``number`` is 18 characters with a valid birth date and GB 11643 check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return id_check_digit(number[:17]) == number[17].upper()


def _org_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - 55  # A=10 … Z=35


def org_code_check(first8: str) -> str:
    """GB 11714 check character of an organisation code body (8 digits/upper-case letters)."""
    if len(first8) != 8:
        raise ValueError(f"need 8 characters, got {first8!r}")
    c = 11 - sum(_org_value(ch) * w for ch, w in zip(first8, _ORG_WEIGHTS, strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def credit_code_check(first17: str) -> str:
    """GB 32100 check character for the first 17 characters of a unified social credit code."""
    if len(first17) != 17 or any(c not in CREDIT_CHARSET for c in first17):
        raise ValueError(f"need 17 characters of {CREDIT_CHARSET}, got {first17!r}")
    total = sum(CREDIT_CHARSET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def is_valid_credit_code(code: str) -> bool:
    """True when ``code`` is 18 characters of the GB 32100 set with a correct check character."""
    if len(code) != 18 or any(c not in CREDIT_CHARSET for c in code):
        return False
    return credit_code_check(code[:17]) == code[17]
