"""A local RFC 3161 TSA over real HTTP, for the checkpoint tests."""

import pytest

from madoguchi.operations import tsa_local

from .fake_http import FakeHttpServer


class TsaServer(FakeHttpServer):
    """Serves the sandbox TSA; `mode` makes it misbehave as a broken or hostile TSA would."""

    mode = "ok"
    last_response = b""

    def handle(self, handler, method):
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if self.mode == "replay" and self.last_response:
            answer, content_type = self.last_response, "application/timestamp-reply"
        elif self.mode == "html":
            answer, content_type = b"<html>maintenance</html>", "text/html"
        elif self.mode == "garbage":
            answer, content_type = b"\x30\x82\xff\xff" + b"\x00" * 10, "application/timestamp-reply"
        elif self.mode == "refuse":
            answer, content_type = tsa_local.respond(b"not a request"), "application/timestamp-reply"
        else:
            answer, content_type = tsa_local.respond(body), "application/timestamp-reply"
            self.last_response = answer
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(answer)))
        handler.end_headers()
        handler.wfile.write(answer)


@pytest.fixture
def tsa_server(settings):
    with TsaServer() as server:
        settings.AUDIT_TSA_URL = server.base_url + "/tsa"
        yield server
