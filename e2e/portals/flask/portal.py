"""A tiny login portal in Flask (Debian python3-flask), reading the principal the
way a plain Flask app does: request.form['email'] (the first of repeated fields)
for form bodies, request.get_json(force=True, silent=True) for anything else.

    /usr/bin/python3 portal.py [PORT]     (or PORT in the environment)

POST /login, GET /_received, POST /_reset: see e2e/portals_harness_test.go.
"""
import os
import secrets
import sys
import threading

from flask import Flask, jsonify, request

ACCOUNTS = {"victim@example.com": "right-password", "decoy@example.com": "right-password"}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

app = Flask(__name__)
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


@app.post("/login")
def login():
    if request.mimetype in FORM_TYPES:
        src = request.form
        email = request.form["email"] if "email" in src else None
        password = request.form["password"] if "password" in src else None
    else:
        data = request.get_json(force=True, silent=True)
        if not isinstance(data, dict):
            data = {}
        email, password = data.get("email"), data.get("password")
    key = key_of(email)
    with lock:
        received[key] = received.get(key, 0) + 1
    if isinstance(email, str) and isinstance(password, str) and ACCOUNTS.get(key) is not None \
            and secrets.compare_digest(ACCOUNTS[key].encode(), password.encode()):
        resp = jsonify(ok=True, email=key)
        resp.headers["Set-Cookie"] = "session=%s; Path=/; HttpOnly" % secrets.token_hex(16)
        return resp
    return jsonify(code="BAD_CREDENTIALS"), 401


@app.get("/_received")
def get_received():
    with lock:
        return jsonify(dict(received))


@app.post("/_reset")
def reset():
    with lock:
        received.clear()
    return jsonify(ok=True)


if __name__ == "__main__":
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "5000"))
    app.run(host="127.0.0.1", port=port, threaded=True)
