"""Amounts of money: whole yen, written as finance sections and certificates write them."""


def comma(value: int) -> str:
    """12345 → 12,345."""
    return f"{value:,}"


def yen(amount: int) -> str:
    """12345 → 12,345円."""
    return f"{amount:,}円"
