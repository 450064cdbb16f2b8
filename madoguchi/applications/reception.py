"""Reception numbers (受付番号): 16 digits, 15 random and a Luhn check digit, shown as 4-4-4-4.

Random rather than sequential so that one number reveals nothing about another; the check digit
catches a mistyped digit or two swapped neighbours before we look anything up.
"""

import secrets

from madoguchi.core.text import digits_only


def luhn_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_valid(number: str) -> bool:
    return len(number) == 16 and number.isdigit() and luhn_check_digit(number[:15]) == number[15]


def generate() -> str:
    body = str(secrets.randbelow(9 * 10**14) + 10**14)  # 15 digits, no leading zero
    return body + luhn_check_digit(body)


def normalize(text: str) -> str:
    return digits_only(text)
