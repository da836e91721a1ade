"""Helpers for the red-team re-run (adapted from the 2026-11-28 review's lib.py).

Every script is started by bench/redteam/run with these environment variables:

  ISS        the issuer under test, e.g. http://127.0.0.1:40123
  DATA       its data_dir (read-only SQLite reads for row counts and file sizes)
  CONFIG     its configuration file (for `portico` command-line calls)
  RT         the run's temporary directory (results.jsonl is appended there)
  BIN        the portico binary (target/debug/portico)
  NODE       node (for the floods in flood.mjs)

The servers trust X-Forwarded-For from 127.0.0.1 (`[login] trusted_proxies`), so a
script can stand for many client addresses: `fresh_ip()` gives one nobody used yet.
"""
import base64
import collections
import hashlib
import json
import os
import random
import re
import secrets
import sqlite3
import subprocess
import sys
import time
import urllib.parse

import requests

ISS = os.environ.get("ISS", "http://127.0.0.1:8080")
PORT = int(urllib.parse.urlparse(ISS).port or 80)
DATA = os.environ.get("DATA", "")
CONFIG = os.environ.get("CONFIG", "")
RT = os.environ.get("RT", "/tmp")
BIN = os.environ.get("BIN", "target/debug/portico")
NODE = os.environ.get("NODE", "node")
HERE = os.path.dirname(os.path.abspath(__file__))
RP = "http://127.0.0.1:39999/callback"
# zxcvbn score >= 3 (the new sign-up policy)
PASSWORD = "a-long-unusual-passphrase"

_ip_rng = random.Random(secrets.randbits(64))


def fresh_ip():
    """A client address of its own (198.18.0.0/15, the benchmarking range)."""
    return "198.%d.%d.%d" % (_ip_rng.choice((18, 19)), _ip_rng.randrange(256), _ip_rng.randrange(1, 255))


def browser(ip=None):
    """A browser: a cookie jar, optionally behind its own address (X-Forwarded-For)."""
    s = requests.Session()
    if ip:
        s.headers["X-Forwarded-For"] = ip
    return s


# ----------------------------------------------------------------------------- verdicts

def verdict(fid, check, tried, measured, ok, good="BOUNDED"):
    """Print one verdict line and append it to $RT/results.jsonl for the summary table."""
    v = good if ok else ("NOT " + good if good == "BOUNDED" else "NOT HELD")
    print(f"  [{fid}] {check}")
    print(f"      tried:    {tried}")
    print(f"      measured: {measured}")
    print(f"      VERDICT {fid}: {v}")
    sys.stdout.flush()
    with open(os.path.join(RT, "results.jsonl"), "a") as f:
        f.write(json.dumps({"id": fid, "check": check, "tried": tried, "measured": measured, "verdict": v}) + "\n")
    return ok


def info(fid, check, tried, measured):
    """A measurement with no pass/fail (informational)."""
    print(f"  [{fid}] {check}\n      tried:    {tried}\n      measured: {measured}\n      VERDICT {fid}: INFO")
    with open(os.path.join(RT, "results.jsonl"), "a") as f:
        f.write(json.dumps({"id": fid, "check": check, "tried": tried, "measured": measured, "verdict": "INFO"}) + "\n")


def header(title):
    print("\n" + "=" * 78 + "\n" + title + "\n" + "=" * 78)
    sys.stdout.flush()


# ----------------------------------------------------------------------------- OAuth

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def pkce():
    v = b64u(secrets.token_bytes(32))
    return v, b64u(hashlib.sha256(v.encode()).digest())


def jwt_parts(t):
    h, p, _s = t.split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)
    return json.loads(base64.urlsafe_b64decode(pad(h))), json.loads(base64.urlsafe_b64decode(pad(p)))


def authorize(sess, client="customers-web", extra=None, method="GET", redirect_uri=RP,
              scope="openid email offline_access orders:read"):
    v, c = pkce()
    p = {"client_id": client, "redirect_uri": redirect_uri, "response_type": "code", "scope": scope,
         "state": "st-" + secrets.token_hex(4), "nonce": "n-" + secrets.token_hex(4),
         "code_challenge": c, "code_challenge_method": "S256"}
    if extra:
        p.update(extra)
    p = {k: v2 for k, v2 in p.items() if v2 is not None}
    if method == "GET":
        r = sess.get(ISS + "/authorize", params=p, allow_redirects=False)
    else:
        r = sess.post(ISS + "/authorize", data=p, allow_redirects=False)
    return r, v, p


def tx_of(r):
    m = re.search(r"tx=([A-Za-z0-9_-]+)", r.headers.get("Location", ""))
    return m.group(1) if m else None


def page_fields(html):
    f = {}
    for name in ("tx", "csrf"):
        m = re.search(r'name="%s" value="([^"]*)"' % name, html)
        if m:
            f[name] = m.group(1)
    return f


def alert(r):
    return re.findall(r'role="alert"[^>]*>([^<]*)', r.text)


def form(sess, client="customers-web", extra=None, signup=False):
    """/authorize then the form page: the hidden fields (tx, csrf), or None."""
    r, v, p = authorize(sess, client, extra)
    tx = tx_of(r)
    if not tx:
        return None, r, v
    page = sess.get(ISS + ("/signup" if signup else "/login"), params={"tx": tx})
    return page_fields(page.text), r, v


def login(sess, email, password, client="customers-web", extra=None, signup=False):
    r, v, p = authorize(sess, client, extra)
    tx = tx_of(r)
    if not tx:
        return r, v, p
    page = sess.get(ISS + ("/signup" if signup else "/login"), params={"tx": tx})
    f = page_fields(page.text)
    r2 = sess.post(ISS + ("/signup" if signup else "/login"),
                   data={**f, "email": email, "password": password}, allow_redirects=False)
    return r2, v, p


def code_of(r):
    q = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers.get("Location", "")).query)
    return q.get("code", [None])[0], q


def token(data, auth=None, headers=None):
    return requests.post(ISS + "/token", data=data, auth=auth, headers=headers or {})


def exchange(code, verifier, client="customers-web", redirect_uri=RP, auth=None):
    d = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": redirect_uri}
    if auth is None:
        d["client_id"] = client
    return token(d, auth=auth)


def full_login(email, password, client="customers-web", signup=False, extra=None, sess=None, ip=None):
    s = sess or browser(ip or fresh_ip())
    r, v, p = login(s, email, password, client, extra, signup)
    code, q = code_of(r)
    if not code:
        return s, r, None
    t = exchange(code, v, client)
    return s, r, t.json()


def signup_user(email=None, password=PASSWORD, client="customers-web", ip=None):
    """A fresh self-registered account (its own address, so sign-up budgets do not bite)."""
    email = email or "u%s@example.com" % secrets.token_hex(4)
    s, r, t = full_login(email, password, client=client, signup=True, ip=ip or fresh_ip())
    if t is None:
        raise SystemExit(f"sign-up of {email} failed: {r.status_code} {r.headers.get('Location')} {alert(r)}")
    return email, s, t


# ----------------------------------------------------------------------------- server side

def db():
    """The server's database, read-only."""
    return sqlite3.connect(f"file:{DATA}/portico.db?mode=ro", uri=True, timeout=10)


def q1(sql, *args):
    c = db()
    try:
        return c.execute(sql, args).fetchone()[0]
    finally:
        c.close()


def fsize(name):
    try:
        return os.path.getsize(os.path.join(DATA, name))
    except OSError:
        return 0


def mb(n):
    return "%.1f MB" % (n / 1e6)


def cli(*args, stdin=None):
    """Run `portico <args> --config $CONFIG` (never cargo)."""
    r = subprocess.run([BIN, *args, "--config", CONFIG], input=stdin, capture_output=True, text=True, timeout=120)
    return r.returncode, (r.stdout + r.stderr).strip()


def node(*args, timeout=120):
    """Run a flood from flood.mjs; it prints one JSON line last."""
    r = subprocess.run([NODE, os.path.join(HERE, "flood.mjs"), ISS, *map(str, args)],
                       capture_output=True, text=True, timeout=timeout)
    lines = [l for l in r.stdout.strip().splitlines() if l.startswith("{")]
    if r.returncode != 0 or not lines:
        raise SystemExit(f"flood failed: {r.stdout} {r.stderr}")
    return json.loads(lines[-1])


def node_bg(*args):
    return subprocess.Popen([NODE, os.path.join(HERE, "flood.mjs"), ISS, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def node_wait(p, timeout=120):
    out, err = p.communicate(timeout=timeout)
    lines = [l for l in out.strip().splitlines() if l.startswith("{")]
    if not lines:
        raise SystemExit(f"flood failed: {out} {err}")
    return json.loads(lines[-1])


def counts(iterable):
    return dict(sorted(collections.Counter(iterable).items(), key=lambda kv: str(kv[0])))
