"""HTTP helpers shared by every channel."""


def client_ip(http_request) -> str | None:
    # Behind a proxy the deployment sets REMOTE_ADDR correctly (e.g. via the server's proxy module).
    return http_request.META.get("REMOTE_ADDR") or None


# "This browser owns this request": the public ids of the requests this session made (web) or opened
# from the LINE conversation (LIFF). Only such a browser continues a request (sign, pay) or sees its
# done page and receipt; the public id alone in a URL is not enough.
OWNED_REQUESTS = "requests"
MAX_OWNED_REQUESTS = 10


def remember_request(http_request, public_id) -> None:
    owned = http_request.session.get(OWNED_REQUESTS, [])
    http_request.session[OWNED_REQUESTS] = [*owned[-(MAX_OWNED_REQUESTS - 1):], str(public_id)]


def owns_request(http_request, public_id) -> bool:
    return str(public_id) in http_request.session.get(OWNED_REQUESTS, [])
