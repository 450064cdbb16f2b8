"""HTTP helpers shared by every channel."""


def client_ip(http_request) -> str | None:
    # Behind a proxy the deployment sets REMOTE_ADDR correctly (e.g. via the server's proxy module).
    return http_request.META.get("REMOTE_ADDR") or None


# "This browser owns this request": the public ids of the requests this session made (web) or opened
# from the LINE conversation (LIFF). Only such a browser continues a request (sign, pay) or sees its
# done page and receipt; the public id alone in a URL is not enough.
OWNED_REQUESTS = "requests"
MAX_OWNED_REQUESTS = 10
# The requests of 「申請の一覧」 opened from a signed link sent to their notice address (replaced, not
# added to, each time the list is shown).
GRANTED_REQUESTS = "granted_requests"
MAX_GRANTED_REQUESTS = 200


def remember_request(http_request, public_id) -> None:
    owned = http_request.session.get(OWNED_REQUESTS, [])
    http_request.session[OWNED_REQUESTS] = [*owned[-(MAX_OWNED_REQUESTS - 1):], str(public_id)]


def grant_requests(http_request, public_ids) -> None:
    http_request.session[GRANTED_REQUESTS] = [str(p) for p in public_ids][:MAX_GRANTED_REQUESTS]


def owned_request_ids(http_request) -> list[str]:
    return [*http_request.session.get(OWNED_REQUESTS, []), *http_request.session.get(GRANTED_REQUESTS, [])]


def owns_request(http_request, public_id) -> bool:
    return str(public_id) in owned_request_ids(http_request)
