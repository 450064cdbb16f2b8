"""HTTP helpers shared by every channel."""


def client_ip(http_request) -> str | None:
    # Behind a proxy the deployment sets REMOTE_ADDR correctly (e.g. via the server's proxy module).
    return http_request.META.get("REMOTE_ADDR") or None
