"""A local fake of GMO Payment Gateway over real HTTP on 127.0.0.1: the link-type Plus payment
page (checks the URL's SHA-256 hash), the result return and notification it produces, and the
protocol APIs SearchTrade / AlterTran / ChangeTran (`key=value&...` answers, ErrCode/ErrInfo errors).
Faults: `fail_next("/payment/Name", kind)` answers 500 or "E92000001" (busy), or does the work and
stalls past the client's timeout ("stall")."""

import base64
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qsl, urlencode

from .fake_http import FakeHttpServer


class FakeGmoPg(FakeHttpServer):
    def __init__(self, shop_id: str, shop_pass: str):
        self.shop_id, self.shop_pass = shop_id, shop_pass
        self.trades: dict[str, dict] = {}  # by OrderID
        self.calls: list[str] = []
        self.faults: dict[str, str] = {}
        super().__init__()

    def fail_next(self, path: str, kind: str) -> None:
        self.faults[path] = kind

    def _hash(self, alpha: str) -> str:
        return hashlib.sha256((alpha + self.shop_pass).encode()).hexdigest()

    # --- the resident on GMO-PG's page ----------------------------------------------------------------

    def pay(self, order_id: str) -> dict:
        with self.lock:
            trade = self.trades[order_id]
            trade.update(Status="CAPTURE", JobCd="CAPTURE", TranID=secrets.token_hex(14),
                         ProcessDate=time.strftime("%Y%m%d%H%M%S"), Approve="1234567")
            return trade

    def result_param(self, order_id: str, **changes) -> str:
        trade = self.trades[order_id]
        data = {"OrderID": order_id, "Status": trade["Status"], "Amount": trade["Amount"], **changes}
        alpha = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
        return f"{alpha}.{self._hash(alpha)}"

    def notification(self, order_id: str, **changes) -> bytes:
        trade = self.trades[order_id]
        form = {"ShopID": self.shop_id, "ShopPass": "**********", "AccessID": trade["AccessID"],
                "AccessPass": "********************************", "OrderID": order_id, "Status": trade["Status"],
                "JobCd": trade["JobCd"], "Amount": trade["Amount"], "Tax": "0", "Currency": "JPN",
                "TranID": trade.get("TranID", ""), "ErrCode": "", "ErrInfo": "", "PayType": "0", **changes}
        return urlencode(form).encode()

    # --- HTTP -------------------------------------------------------------------------------------------

    def _answer(self, handler, status: int, body: str, content_type: str = "text/plain;charset=Windows-31J"):
        raw = body.encode("cp932")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(raw)))
            handler.end_headers()
            handler.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def handle(self, handler, method: str):
        path = handler.path.split("?")[0]
        length = int(handler.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(handler.rfile.read(length).decode())) if length else {}
        self.calls.append(path)
        fault = self.faults.pop(path, None)
        if fault == "500":
            return self._answer(handler, 500, "Internal Server Error")
        if fault == "busy":
            return self._answer(handler, 200, "ErrCode=E92&ErrInfo=E92000001")
        with self.lock:
            status, body = self.route(method, path, form)
        if fault == "stall":
            time.sleep(2.0)
        return self._answer(handler, status, body, "text/html;charset=UTF-8" if path.startswith("/v1/") else
                            "text/plain;charset=Windows-31J")

    def route(self, method: str, path: str, form: dict) -> tuple[int, str]:
        prefix = f"/v1/plus/{self.shop_id}/checkout/"
        if method == "GET" and path.startswith(prefix):
            alpha, _, gamma = path[len(prefix):].partition(".")
            if self._hash(alpha) != gamma:
                return 400, "ErrCode=E01&ErrInfo=E01990001"  # the URL was altered
            params = json.loads(base64.urlsafe_b64decode(alpha))
            tran = params["transaction"]
            self.trades.setdefault(tran["OrderID"], {
                "OrderID": tran["OrderID"], "Status": "UNPROCESSED", "JobCd": "", "Amount": str(tran["Amount"]),
                "Tax": str(tran.get("Tax", 0)), "AccessID": secrets.token_hex(16), "AccessPass": secrets.token_hex(16),
                "RetUrl": tran["RetUrl"], "ProcessDate": ""})
            return 200, "<html><body>カード情報の入力</body></html>"
        if method != "POST" or not path.startswith("/payment/"):
            return 404, "not found"
        if form.get("ShopID") != self.shop_id or form.get("ShopPass") != self.shop_pass:
            return 200, "ErrCode=E01&ErrInfo=E01030002"  # shop id or password wrong
        name = path.removeprefix("/payment/")
        if name == "SearchTrade.idPass":
            trade = self.trades.get(form.get("OrderID", ""))
            if trade is None:
                return 200, "ErrCode=E01&ErrInfo=E01110002"
            fields = ["OrderID", "Status", "ProcessDate", "JobCd", "AccessID", "AccessPass", "Amount", "Tax",
                      "TranID", "Approve"]
            return 200, urlencode({k: trade.get(k, "") for k in fields})
        trade = next((t for t in self.trades.values() if t["AccessID"] == form.get("AccessID")
                      and t["AccessPass"] == form.get("AccessPass")), None)
        if trade is None:
            return 200, "ErrCode=E01&ErrInfo=E01110002"
        if name == "AlterTran.idPass":
            if trade["Status"] not in {"CAPTURE", "SALES"} or form.get("JobCd") not in {"VOID", "RETURN"}:
                return 200, "ErrCode=M01&ErrInfo=M01004010"  # status does not allow this
            trade.update(Status=form["JobCd"], JobCd=form["JobCd"])
            return 200, urlencode({"AccessID": trade["AccessID"], "AccessPass": trade["AccessPass"]})
        if name == "ChangeTran.idPass":
            amount = form.get("Amount", "")
            if trade["Status"] not in {"CAPTURE", "SALES"} or not amount.isdigit() or not 0 < int(amount):
                return 200, "ErrCode=E01&ErrInfo=E01170001"
            trade.update(Amount=amount)
            return 200, urlencode({"AccessID": trade["AccessID"], "AccessPass": trade["AccessPass"]})
        return 404, "not found"
