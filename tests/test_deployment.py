"""Deployment: `check --deploy` with production settings, the client address behind trusted proxies,
HTTPS behind a TLS proxy, and the per-municipality allow-list of networks for the back office."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from madoguchi.core.http import client_ip

from .test_backoffice import make_staff, signed_in
from .test_web import status

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp_path, **extra) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
           "MADOGUCHI_SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "madoguchi.example.jp",
           "MADOGUCHI_MASTER_KEYS": "k1=" + base64.b64encode(os.urandom(32)).decode(),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}", "MADOGUCHI_TRUSTED_PROXIES": "10.0.0.0/8",
           "MADOGUCHI_STATIC_ROOT": str(tmp_path / "static")}
    env.update(extra)
    return env


def manage(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_without_a_master_key_or_with_a_bad_network(tmp_path):
    env = production_env(tmp_path)
    del env["MADOGUCHI_MASTER_KEYS"]
    result = manage(env, "check", "--deploy")
    assert result.returncode != 0 and "madoguchi.E002" in result.stderr
    result = manage(production_env(tmp_path, MADOGUCHI_TRUSTED_PROXIES="10.0.0.0/8,not-a-network"), "check")
    assert result.returncode != 0 and "madoguchi.E003" in result.stderr


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_serves_pages_and_static_files_in_production(tmp_path):
    import time
    import urllib.request

    env = production_env(tmp_path, ALLOWED_HOSTS="127.0.0.1", MADOGUCHI_TRUSTED_PROXIES="127.0.0.1/32")
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        result = manage(env, *command)
        assert result.returncode == 0, result.stderr
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                               "madoguchi.wsgi"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def get(path):
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"X-Forwarded-Proto": "https"})
            deadline = time.monotonic() + 60
            while True:
                try:
                    return urllib.request.urlopen(request, timeout=30)  # noqa: S310 (loopback)
                except urllib.error.HTTPError:
                    raise
                except (urllib.error.URLError, OSError):  # not listening yet, or still starting up
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)

        with get("/static/madoguchi/resident.css") as response:
            assert response.status == 200 and b"{" in response.read()
            assert response.headers["Content-Type"].startswith("text/css")
        with get("/office/login/") as response:
            page = response.read().decode()
            assert response.status == 200 and "職員ログイン" in page
            assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(("remote", "forwarded", "expected"), [
    ("203.0.113.5", "", "203.0.113.5"),
    ("203.0.113.5", "198.51.100.1", "203.0.113.5"),  # not from a proxy: the header is the client's word
    ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
    ("10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.9", "198.51.100.1"),  # spoofed left part ignored
    ("10.0.0.2", "10.0.0.7", "10.0.0.7"),  # only proxies: the first hop is the client
    ("10.0.0.2", "garbage, 198.51.100.1", "198.51.100.1"),
    ("10.0.0.2", "198.51.100.1, garbage", "10.0.0.2"),  # a malformed hop next to us: believe nothing left of it
    ("::ffff:10.0.0.2", "2001:db8::1", "2001:db8::1"),
])
def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(settings, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = "10.0.0.0/8"
    meta = {"REMOTE_ADDR": remote}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(RequestFactory().get("/", **meta)) == expected


@pytest.mark.django_db
def test_residents_behind_the_proxy_have_their_own_status_limits(settings, municipality, resident):
    settings.TRUSTED_PROXIES = "10.0.0.0/8"
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    first = Client(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.1")
    for n in range(10):
        status(first, municipality.code, f"1234-5678-90{n:02d}-0000", "1999-01-01")
    assert status(first, municipality.code, "1234-5678-9099-0000", "1999-01-01").status_code == 429
    second = Client(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert status(second, municipality.code, "1234-5678-9098-0000", "1999-01-01").status_code == 200
    # A client talking to us directly cannot pick a fresh address with the header.
    direct = Client(REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="192.0.2.77")
    assert status(direct, municipality.code, "1234-5678-9097-0000", "1999-01-01").status_code == 429


@pytest.mark.django_db
def test_https_is_believed_only_from_the_tls_proxy(settings, municipality):
    settings.TRUSTED_PROXIES = "10.0.0.0/8"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    url = reverse("web:home", args=[municipality.code])
    assert Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_PROTO="https").get(url).status_code == 200
    response = Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_PROTO="https").get(url)
    assert response.status_code == 301 and response.url.startswith("https://")


@pytest.mark.django_db(transaction=True)
def test_back_office_only_from_the_municipalitys_networks(settings, municipality, other_municipality):
    municipality.office_networks = "192.0.2.0/24\n198.51.100.7"
    municipality.save()
    clerk = make_staff(municipality, "clerk")
    inside = signed_in(clerk, Client(REMOTE_ADDR="192.0.2.10"))
    assert inside.get(reverse("backoffice:queue")).status_code == 200
    # The same session from outside the allow-list is refused.
    inside.defaults["REMOTE_ADDR"] = "203.0.113.5"
    response = inside.get(reverse("backoffice:queue"))
    assert response.status_code == 403 and "このネットワークからは利用できません" in response.content.decode()
    outside = Client(REMOTE_ADDR="203.0.113.5")
    response = outside.post(reverse("backoffice:login"), {"username": "clerk", "password": "correct-horse-battery"})
    assert response.status_code == 200 and "このネットワークからは業務画面を利用できません" in response.content.decode()
    # Another town without a list is not affected; the service-wide list applies to everyone.
    other = make_staff(other_municipality, "other")
    assert signed_in(other, Client(REMOTE_ADDR="203.0.113.9")).get(reverse("backoffice:queue")).status_code == 200
    settings.BACKOFFICE_NETWORKS = "192.0.2.0/24"
    assert Client(REMOTE_ADDR="203.0.113.9").get(reverse("backoffice:login")).status_code == 403
