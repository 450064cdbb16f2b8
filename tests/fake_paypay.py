"""A local fake of the PayPay Open Payment API, speaking its protocol over real HTTP on 127.0.0.1.

It checks the `hmac OPA-Auth` Authorization header the way PayPay does (HMAC-SHA256 over resource,
method, nonce, epoch, content type and the MD5 body hash, keyed with the API secret), the
X-ASSUME-MERCHANT header, and answers with PayPay's `resultInfo` envelope and error codes.
Faults: `fail_next("METHOD /path-prefix", kind)` makes the next such request answer
500, answer an HTML page, or do its work and then stall past the client's timeout.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time

from .fake_http import FakeHttpServer


def body_hash(content_type: str, body: bytes) -> str:
    digest = hashlib.md5()  # noqa: S324 (the protocol's body digest, not a security hash)
    digest.update(content_type.encode())
    digest.update(body)
    return base64.b64encode(digest.digest()).decode()


class FakePayPay(FakeHttpServer):
    def __init__(self, api_key: str, api_secret: str, merchant_id: str):
        self.api_key, self.api_secret, self.merchant_id = api_key, api_secret, merchant_id
        self.payments: dict[str, dict] = {}  # by merchantPaymentId
        self.refunds: dict[str, dict] = {}  # by merchantRefundId
        self.requests: list[tuple[str, str]] = []
        self.faults: dict[str, str] = {}
        self.stall_seconds = 2.0
        super().__init__()

    def fail_next(self, prefix: str, kind: str) -> None:
        """kind: "500", "html" or "stall" (the work is done, the answer comes too late)."""
        self.faults[prefix] = kind

    # --- what the resident does on PayPay's side ----------------------------------------------------

    def pay(self, merchant_payment_id: str) -> dict:
        with self.lock:
            payment = self.payments[merchant_payment_id]
            payment["status"] = "COMPLETED"
            payment["paymentId"] = payment["paymentId"] or str(secrets.randbelow(10**18))
            payment["acceptedAt"] = int(time.time())
            return payment

    def webhook_body(self, merchant_payment_id: str, state: str = "COMPLETED") -> bytes:
        payment = self.payments[merchant_payment_id]
        return json.dumps({
            "notification_type": "Transaction", "merchant_id": self.merchant_id, "store_id": "",
            "pos_id": "", "order_id": payment["paymentId"], "merchant_order_id": merchant_payment_id,
            "authorized_at": None, "expires_at": None, "paid_at": "2026-11-23T10:00:00Z",
            "order_amount": payment["amount"]["amount"], "state": state,
        }).encode()

    # --- the API ------------------------------------------------------------------------------------

    def _authorized(self, handler, method: str, body: bytes) -> bool:
        header = handler.headers.get("Authorization", "")
        prefix = "hmac OPA-Auth:"
        if not header.startswith(prefix) or handler.headers.get("X-ASSUME-MERCHANT") != self.merchant_id:
            return False
        parts = header[len(prefix):].split(":")
        if len(parts) != 5:
            return False
        key, mac, nonce, epoch, digest = parts
        content_type = handler.headers.get("Content-Type", "") if body else "empty"
        expected_digest = body_hash(content_type, body) if body else "empty"
        resource = handler.path.split("?")[0]
        message = "\n".join([resource, method, nonce, epoch, content_type, expected_digest])
        expected = base64.b64encode(hmac.new(self.api_secret.encode(), message.encode(), hashlib.sha256)
                                    .digest()).decode()
        fresh = epoch.isdigit() and abs(time.time() - int(epoch)) < 120
        return key == self.api_key and digest == expected_digest and fresh and hmac.compare_digest(mac, expected)

    def _send(self, handler, status: int, code: str, data: dict | None = None):
        payload = {"resultInfo": {"code": code, "message": code, "codeId": "08100001"}}
        if data is not None:
            payload["data"] = data
        raw = json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(raw)))
            handler.end_headers()
            handler.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a stalled answer)

    def handle(self, handler, method: str):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = handler.path.split("?")[0]
        self.requests.append((method, path))
        fault = next((self.faults.pop(p) for p in list(self.faults) if f"{method} {path}".startswith(p)), None)
        if fault == "500":
            return self._send(handler, 500, "INTERNAL_SERVER_ERROR")
        if fault == "html":
            handler.send_response(502)
            handler.end_headers()
            handler.wfile.write(b"<html>Bad Gateway</html>")
            return None
        if not self._authorized(handler, method, body):
            return self._send(handler, 401, "UNAUTHORIZED")
        with self.lock:
            status, code, data = self.route(method, path, body)
        if fault == "stall":
            time.sleep(self.stall_seconds)
        return self._send(handler, status, code, data)

    def route(self, method: str, path: str, body: bytes) -> tuple[int, str, dict | None]:
        request = json.loads(body) if body else {}
        if method == "POST" and path == "/v2/codes":
            mpid = request.get("merchantPaymentId")
            amount = request.get("amount", {}).get("amount")
            if not isinstance(mpid, str) or type(amount) is not int or amount <= 0:
                return 400, "INVALID_PARAMS", None
            if mpid in self.payments:
                return 400, "DUPLICATE_DYNAMIC_QR_REQUEST", None
            code_id = "04-" + secrets.token_hex(8)
            self.payments[mpid] = {"merchantPaymentId": mpid, "amount": request["amount"], "status": "CREATED",
                                   "paymentId": None, "codeId": code_id, "refunds": {"data": []},
                                   "redirectUrl": request.get("redirectUrl")}
            return 201, "SUCCESS", {"codeId": code_id, "url": f"{self.base_url}/checkout/{code_id}",
                                    "deeplink": f"paypay://payment?link_key={code_id}",
                                    "merchantPaymentId": mpid, "amount": request["amount"]}
        if method == "GET" and path.startswith("/v2/codes/payments/"):
            payment = self.payments.get(path.rsplit("/", 1)[1])
            if payment is None:
                return 400, "DYNAMIC_QR_PAYMENT_NOT_FOUND", None
            return 200, "SUCCESS", {k: v for k, v in payment.items() if k != "redirectUrl"}
        if method == "GET" and path.startswith("/v2/refunds/"):
            refund = self.refunds.get(path.rsplit("/", 1)[1])
            return (200, "SUCCESS", refund) if refund else (400, "NO_SUCH_REFUND_ORDER", None)
        if method == "POST" and path in {"/v2/refunds", "/v2/refunds/"}:
            key, payment_id = request.get("merchantRefundId"), request.get("paymentId")
            amount = request.get("amount", {}).get("amount")
            if key in self.refunds:
                return 400, "DUPLICATE_REFUND_REQUEST", None
            payment = next((p for p in self.payments.values() if p["paymentId"] == payment_id), None)
            if payment is None or payment["status"] not in {"COMPLETED"}:
                return 400, "NO_SUCH_PAYMENT", None
            refunded = sum(r["amount"]["amount"] for r in payment["refunds"]["data"])
            if type(amount) is not int or not 0 < amount <= payment["amount"]["amount"] - refunded:
                return 400, "INVALID_REFUND_AMOUNT", None
            refund = {"status": "CREATED", "merchantRefundId": key, "paymentId": payment_id,
                      "amount": request["amount"], "acceptedAt": int(time.time())}
            self.refunds[key] = refund
            payment["refunds"]["data"].append(refund)
            if refunded + amount == payment["amount"]["amount"]:
                payment["status"] = "REFUNDED"
            return 201, "SUCCESS", refund
        return 404, "NOT_FOUND", None
