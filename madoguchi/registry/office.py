"""Back-office pages of the registry, contributed to the back office (found by `backoffice.pages`)."""

from . import restriction_pages


def register(pages) -> None:
    restriction_pages.register(pages)
