"""Links handed out of band point at the running server (issue 22, item 12): with
PUBLIC_BASE_URL unset, `create_account --email` prints a set-password link to the address
gunicorn listens on (`PORT=18533 make run`), not to port 8000."""

from __future__ import annotations

import io

import pytest
import requests
from django.core.management import call_command

from jobs import public_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_set_password_link_works_against_the_running_server(gunicorn_server, settings, monkeypatch):
    monkeypatch.delenv("ACCOUNT_PASSWORD", raising=False)
    settings.PUBLIC_BASE_URL = ""
    base = gunicorn_server(PUBLIC_BASE_URL="")  # a free port, never 8000
    out = io.StringIO()
    call_command("create_account", "studio", "--email", "ana@studio.example", stdout=out)
    [line] = [line for line in out.getvalue().splitlines() if line.startswith("Owner login:")]
    link = line.rsplit(" ", 1)[-1]
    assert link.startswith(base + "/password/"), (link, base)
    page = requests.get(link, timeout=30)  # the token link redirects to the form
    assert page.status_code == 200 and "Choose a password" in page.text


def test_public_base_url_wins_and_without_a_server_it_is_localhost_on_port(settings, tmp_path):
    settings.WEB_SERVER_URL_FILE = tmp_path / "web-server-url"
    settings.PUBLIC_BASE_URL, settings.PORT = "", 18533
    assert public_url.out_of_band() == "http://localhost:18533"
    settings.WEB_SERVER_URL_FILE.write_text("http://127.0.0.1:40001\n")
    assert public_url.out_of_band() == "http://127.0.0.1:40001"
    settings.PUBLIC_BASE_URL = "https://app.example.com"
    assert public_url.out_of_band() == "https://app.example.com"
