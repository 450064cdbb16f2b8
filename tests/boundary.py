"""What a refused input looks like now that hostile text is stopped at the boundary (core.inputs):
either the page's own form error, or the boundary's Japanese 400 page before any view runs."""

BOUNDARY_MESSAGE = "正しくない文字"


def refused_kindly(response, alert: str = 'role="alert"') -> bool:
    body = response.content.decode()
    if response.status_code == 400:
        return BOUNDARY_MESSAGE in body
    return response.status_code == 200 and alert in body


def answered(response) -> bool:
    """A page or the boundary's refusal; never a 500."""
    return response.status_code == 200 or (response.status_code == 400
                                            and BOUNDARY_MESSAGE in response.content.decode())
