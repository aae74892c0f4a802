"""A tiny single-file login portal in Django (Debian python3-django), reading the
principal the way a plain Django view does: request.POST['email'] (the last of
repeated fields) for form bodies, json.loads(request.body) when the
Content-Type is application/json. No CSRF middleware.

    /usr/bin/python3 portal.py [PORT]     (or PORT in the environment)

POST /login, GET /_received, POST /_reset: see e2e/portals_harness_test.go.
"""
import json
import os
import secrets
import sys
import threading

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="loginguard-e2e-portal-not-secret",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
)
django.setup()

from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.http import require_GET, require_POST  # noqa: E402

ACCOUNTS = {"victim@example.com": "right-password", "decoy@example.com": "right-password"}

lock = threading.Lock()
received = {}


def key_of(v):
    if isinstance(v, str):
        return v.strip().lower()
    if v is None:
        return "<missing>"
    if isinstance(v, list):
        return "<array>"
    if isinstance(v, dict):
        return "<object>"
    return "<other>"


def credentials(request):
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {}
        return data.get("email"), data.get("password")
    try:
        form = request.POST
        email = form["email"] if "email" in form else None
        password = form["password"] if "password" in form else None
    except Exception:  # unparsable form, too many fields: nothing to read
        return None, None
    return email, password


@require_POST
def login(request):
    email, password = credentials(request)
    key = key_of(email)
    with lock:
        received[key] = received.get(key, 0) + 1
    if isinstance(email, str) and isinstance(password, str) and ACCOUNTS.get(key) is not None \
            and secrets.compare_digest(ACCOUNTS[key].encode(), password.encode()):
        resp = JsonResponse({"ok": True, "email": key})
        resp["Set-Cookie"] = "session=%s; Path=/; HttpOnly" % secrets.token_hex(16)
        return resp
    return JsonResponse({"code": "BAD_CREDENTIALS"}, status=401)


@require_GET
def get_received(request):
    with lock:
        return JsonResponse(dict(received))


@require_POST
def reset(request):
    with lock:
        received.clear()
    return JsonResponse({"ok": True})


urlpatterns = [
    path("login", login),
    path("_received", get_received),
    path("_reset", reset),
]

if __name__ == "__main__":
    from django.core.servers.basehttp import run
    from django.core.wsgi import get_wsgi_application

    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8000"))
    run("127.0.0.1", port, get_wsgi_application(), threading=True)
