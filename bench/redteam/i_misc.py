"""I1-I8 (info findings) and the review's coverage checks (t_xss, t_fuzz, t_race).

  i_misc.py a           config A: I1 /metrics token, I2 email claims, I3 client-auth
                        throttle and risky configs, I4 header limits, XSS, fuzz
  i_misc.py b           config B: I7 refresh race, code race, fuzz
  i_misc.py i8-rotate   server B2: `portico keys rotate`
  i_misc.py i8-retire   server B2: the next key is published but does not sign yet;
                        then `portico keys retire --kid OLD --now`
  i_misc.py i8-check    server B2: the withdrawn key is gone and its tokens refused
"""
import socket
from lib import *

MODE = sys.argv[1]
STATE = os.path.join(RT, "i8-state.json")
W = ("orders-worker", "orders-worker-secret-0123456789")


def fuzz(fid):
    big = "a=" + "x" * 70000
    CS = ("conf-web", "conf-web-secret-0123456789")
    form_ct = {"content-type": "application/x-www-form-urlencoded"}
    tests = [
        ("POST /token 70KB", lambda: requests.post(ISS + "/token", data=big, headers=form_ct)),
        ("POST /login 70KB", lambda: requests.post(ISS + "/login", data=big, headers=form_ct)),
        ("POST /authorize 70KB", lambda: requests.post(ISS + "/authorize", data=big, headers=form_ct)),
        ("POST /logout 70KB", lambda: requests.post(ISS + "/logout", data=big, headers=form_ct)),
        ("POST /login invalid utf8", lambda: requests.post(ISS + "/login", data=b"tx=%FF%FE&csrf=%C0&email=%FF@x.io&password=%00", headers=form_ct)),
        ("POST /login json", lambda: requests.post(ISS + "/login", json={"tx": "a"})),
        ("POST /login no body", lambda: requests.post(ISS + "/login")),
        ("GET /login?tx=%FF", lambda: requests.get(ISS + "/login?tx=%FF%00")),
        ("GET /login?tx=a&tx=b", lambda: requests.get(ISS + "/login?tx=a&tx=b")),
        ("GET /authorize bad pct", lambda: requests.get(ISS + "/authorize?client_id=%ZZ&redirect_uri=%", allow_redirects=False)),
        ("GET /branding/%FF", lambda: requests.get(ISS + "/branding/%FF%FE.css")),
        ("GET /static/../Cargo.toml", lambda: requests.get(ISS + "/static/..%2f..%2fCargo.toml")),
        ("POST /token json", lambda: requests.post(ISS + "/token", json={"grant_type": "client_credentials"})),
        ("GET /userinfo junk bearer", lambda: requests.get(ISS + "/userinfo", headers={"Authorization": "Bearer " + "a." * 3000})),
        ("GET /userinfo 'Bearer'", lambda: requests.get(ISS + "/userinfo", headers={"Authorization": "Bearer"})),
        ("GET /logout bad hint", lambda: requests.get(ISS + "/logout?id_token_hint=eyJhbGciOiJub25lIn0.e30.")),
        ("POST /introspect 60KB token", lambda: requests.post(ISS + "/introspect", data={"token": "e" * 60000}, auth=CS)),
        ("POST /revoke other client", lambda: requests.post(ISS + "/revoke", data={"token": "x.y.z", "client_id": "customers-web"})),
        ("basic non-utf8", lambda: requests.post(ISS + "/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), "X-Forwarded-For": fresh_ip()})),
        ("basic bad b64", lambda: requests.post(ISS + "/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic %%%", "X-Forwarded-For": fresh_ip()})),
        ("cookie non-utf8", lambda: requests.get(ISS + "/authorize?client_id=customers-web", headers={"Cookie": "portico_browser=\udcff".encode("utf-8", "surrogateescape").decode("latin-1")})),
        ("GET /authorize 60 params", lambda: requests.get(ISS + "/authorize?client_id=customers-web&redirect_uri=" + urllib.parse.quote(RP) + "".join(f"&p{i}=1" for i in range(60)), allow_redirects=False)),
        ("max_age overflow", lambda: requests.get(ISS + "/authorize", params={"client_id": "customers-web", "redirect_uri": RP, "response_type": "code", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256", "max_age": "9223372036854775807"}, allow_redirects=False)),
        ("javascript: redirect_uri", lambda: requests.get(ISS + "/authorize", params={"client_id": "customers-web", "redirect_uri": "javascript:alert(1)", "response_type": "code"}, allow_redirects=False)),
    ]
    res = {}
    for name, fn in tests:
        try:
            res[name] = fn().status_code
        except Exception as e:  # noqa: BLE001
            res[name] = type(e).__name__
    fivexx = {k: v for k, v in res.items() if not isinstance(v, int) or v >= 500}
    verdict(fid, "malformed input never gives a 5xx (t_fuzz)",
            f"{len(tests)} malformed requests", f"{res}", not fivexx, good="HELD")


if MODE == "a":
    header("I1-I4, I6 and coverage checks (config A)")
    tok = os.environ.get("METRICS_TOKEN", "")
    m0 = requests.get(ISS + "/metrics")
    m1 = requests.get(ISS + "/metrics", headers={"Authorization": "Bearer wrong"})
    m2 = requests.get(ISS + "/metrics", headers={"Authorization": "Bearer " + tok})
    verdict("I1", "/metrics behind [metrics] bearer_token_sha256",
            "GET /metrics without, with a wrong, with the right bearer token",
            f"{m0.status_code} / {m1.status_code} / {m2.status_code} ({len(m2.text)} B)",
            m0.status_code == 401 and m1.status_code == 401 and m2.status_code == 200, good="HELD")

    email, s, t = signup_user()
    r, v, p = authorize(s, scope="openid")
    t1 = exchange(code_of(r)[0], v).json()
    r, v, p = authorize(s, scope="openid email")
    t2 = exchange(code_of(r)[0], v).json()
    id1, id2 = jwt_parts(t1["id_token"])[1], jwt_parts(t2["id_token"])[1]
    u1 = requests.get(ISS + "/userinfo", headers={"Authorization": "Bearer " + t1["access_token"]}).json()
    verdict("I2", "email claims only with the email scope",
            "SSO code flow with scope=openid, then scope='openid email'",
            f"openid: id_token email={id1.get('email')!r}, userinfo keys {sorted(u1)}; "
            f"openid email: id_token email={id2.get('email')!r} email_verified={id2.get('email_verified')}",
            "email" not in id1 and "email" not in u1 and id2.get("email") == email, good="HELD")

    # I3: client authentication throttled per client and address.
    ip = fresh_ip()
    f = node("clientauth", 3, 16, "orders-worker", ip)
    other = token({"grant_type": "client_credentials"}, auth=("orders-worker", "wrong"),
                  headers={"X-Forwarded-For": fresh_ip()})
    right_same = token({"grant_type": "client_credentials"}, auth=W, headers={"X-Forwarded-For": ip})
    right_other = token({"grant_type": "client_credentials"}, auth=W, headers={"X-Forwarded-For": fresh_ip()})
    verdict("I3", "wrong client secrets throttled per client and address",
            f"t_clientbf: {f['n']} wrong Basic secrets for orders-worker from one address, 16 conns, {f['secs']} s",
            f"{f['codes']} at {f['rate']}/s (review: 20,764 x 401 in 5 s); another address: {other.status_code}",
            f["codes"].get("401", 0) <= 20 and f["codes"].get("429", 0) > 0 and other.status_code == 401)
    info("I3", "the right secret from the throttled address during the block",
         "orders-worker with its correct secret, same address / another address",
         f"same address {right_same.status_code} {right_same.json().get('error')}; another address "
         f"{right_other.status_code}: a flood from an address shared with a real client (NAT, or a proxy "
         f"missing from trusted_proxies) locks that client out for up to 5 min")

    d = os.path.join(RT, "i3")
    os.makedirs(d, exist_ok=True)
    base = open(CONFIG).read()
    checks = {}
    for label, old, new in [
        ("javascript: redirect URI", '"http://127.0.0.1:39999/callback"]\nconnection    = "staff-db"', '"javascript://x/%0aalert(1)"]\nconnection    = "staff-db"'),
        ("data: redirect URI", '"http://127.0.0.1:39999/callback"]\nconnection    = "staff-db"', '"data:text/html,x"]\nconnection    = "staff-db"'),
        ("reverse-domain private-use scheme", '"http://127.0.0.1:39999/callback"]\nconnection    = "staff-db"', '"com.example.app:/cb"]\nconnection    = "staff-db"'),
        ("http issuer on a public host", None, None),
        ("16-char plain client secret", 'client_secret        = "orders-worker-secret-0123456789"', 'client_secret        = "aaaaaaaaaaaaaaaa"'),
    ]:
        cfg = re.sub(r'data_dir = ".*"', f'data_dir = "{d}/data"', base)
        if old:
            assert old in cfg, label
            cfg = cfg.replace(old, new)
        else:
            cfg = re.sub(r'issuer   = ".*"', 'issuer   = "http://login.example.com"', cfg)
        p_ = os.path.join(d, "c.toml")
        open(p_, "w").write(cfg)
        r = subprocess.run([BIN, "check", "--config", p_], capture_output=True, text=True)
        lines = [l.strip() for l in (r.stdout + r.stderr).splitlines()
                 if any(w in l for w in ("redirect", "issuer", "secret", "scheme", "javascript", "data:"))]
        checks[label] = f"exit {r.returncode}: {lines[:2]}"
    for k, v in checks.items():
        print(f"  check {k:35s} -> {v[:160]}")
    verdict("I3", "`portico check` on risky configuration",
            "javascript:/data: redirect URIs, a private-use scheme, an http issuer on a public host, a weak secret",
            "; ".join(f"{k}: {v[:90]}" for k, v in checks.items()),
            checks["javascript: redirect URI"].startswith("exit 1") and checks["data: redirect URI"].startswith("exit 1")
            and checks["reverse-domain private-use scheme"].startswith("exit 0")
            and "non-loopback" in checks["http issuer on a public host"], good="HELD")

    def raw(req):
        s_ = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        s_.sendall(req)
        try:
            return s_.recv(200).split(b"\r\n")[0].decode()
        finally:
            s_.close()
    h100 = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
    h16 = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 16000 + b"\r\n\r\n")
    h200 = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: a\r\n" % i for i in range(200)) + b"\r\n")
    info("I4", "request header limits",
         "one 16 KB header; one 100 KB header; 200 headers",
         f"{h16} / {h100} / {h200} (review: 128 KiB accepted, > 96 headers 431)")

    r = requests.get(ISS + "/.well-known/openid-configuration")
    info("I6", "security headers", "GET discovery",
         f"CSP {r.headers.get('content-security-policy')!r}; XFO {r.headers.get('x-frame-options')}")

    # XSS (t_xss): login_hint and the logout state are escaped.
    pl = '"><script>alert(1)</script><x a="'
    s = browser(fresh_ip())
    r, v, p = authorize(s, extra={"login_hint": pl})
    page = s.get(ISS + r.headers["Location"]).text
    lo = s.get(ISS + "/logout", params={"client_id": "customers-web", "state": pl,
                                         "post_logout_redirect_uri": "http://127.0.0.1:39999/"}).text
    verdict("I6", "reflected input is escaped (t_xss)",
            "login_hint and logout state set to a script payload",
            f"raw payload in login page: {'<script>' in page}; in logout page: {'<script>' in lo}",
            "<script>" not in page and "<script>" not in lo, good="HELD")
    fuzz("I4")

    # S1/S4 (suspected in the review): IPv6 counted per /64, IPv4-mapped addresses as IPv4.
    prefix = "2001:db8:%x:%x" % (random.randrange(65536), random.randrange(65536))
    s = browser()
    f, _, _ = form(s)
    st = collections.Counter()
    for i in range(103):
        rr = s.post(ISS + "/login", data={**f, "email": f"s1-{i}-{secrets.token_hex(2)}@example.com",
                                          "password": "Summer2026!x"},
                    headers={"X-Forwarded-For": f"{prefix}::{i + 1:x}"}, allow_redirects=False)
        st[rr.status_code] += 1
    v4 = fresh_ip()
    st4 = collections.Counter()
    for i in range(103):
        xff = v4 if i % 2 else "::ffff:" + v4
        rr = s.post(ISS + "/login", data={**f, "email": f"s4-{i}-{secrets.token_hex(2)}@example.com",
                                          "password": "Summer2026!x"},
                    headers={"X-Forwarded-For": xff}, allow_redirects=False)
        st4[rr.status_code] += 1
    verdict("S1", "IPv6 addresses share one budget per /64; IPv4-mapped = IPv4",
            f"103 wrong passwords from 103 addresses in {prefix}::/64; 103 alternating {v4} / ::ffff:{v4}",
            f"/64: {dict(st)}; mapped: {dict(st4)}",
            st.get(429, 0) > 0 and st.get(401, 0) <= 101 and st4.get(429, 0) > 0 and st4.get(401, 0) <= 101)

elif MODE == "b":
    header("I7 and coverage checks (config B)")
    import concurrent.futures as cf
    email, s, t = signup_user()
    rt = t["refresh_token"]
    with cf.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda _: token({"grant_type": "refresh_token", "refresh_token": rt, "client_id": "customers-web"}), range(8)))
    ok = [x.json() for x in rs if x.ok]
    succ = token({"grant_type": "refresh_token", "refresh_token": ok[0]["refresh_token"], "client_id": "customers-web"}) if ok else None
    info("I7", "8 parallel refreshes of one token (t_race)",
         "8 concurrent refresh_token grants with the same token",
         f"{counts(x.status_code for x in rs)}; the winner's successor -> {succ.status_code if succ is not None else None} "
         f"{succ.json().get('error_description') if succ is not None and not succ.ok else ''} (strict reuse detection, unchanged)")
    r, v, p = authorize(s, scope="openid")
    code = code_of(r)[0]
    with cf.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda _: exchange(code, v), range(8)))
    c = counts(x.status_code for x in rs)
    verdict("I7", "8 parallel redemptions of one code",
            "t_race code race", f"{c}", c.get(200, 0) == 1, good="HELD")
    fuzz("I7")

elif MODE == "i8-rotate":
    header("I8 - key rotation, step 1: `portico keys rotate` (server B2)")
    jw = requests.get(ISS + "/.well-known/jwks.json").json()
    old = [k["kid"] for k in jw["keys"]]
    t0 = token({"grant_type": "client_credentials"}, auth=W).json()["access_token"]
    rc, out = cli("keys", "rotate")
    print("  " + out.replace("\n", "\n  "))
    new = re.search(r"new key (\S+)", out).group(1)
    json.dump({"old": old, "new": new, "rotated_at": time.time(), "out": out,
               "old_signing": jwt_parts(t0)[0]["kid"]}, open(STATE, "w"))

elif MODE == "i8-retire":
    header("I8 - step 2: the next key is published before it signs; then `keys retire --now` (server B2)")
    st = json.load(open(STATE))
    deadline = st["rotated_at"] + 80
    while True:  # at least one look, however late this stage runs
        kids = [k["kid"] for k in requests.get(ISS + "/.well-known/jwks.json").json()["keys"]]
        if st["new"] in kids or time.time() >= deadline:
            break
        time.sleep(2)
    published_after = time.time() - st["rotated_at"]
    signer = jwt_parts(token({"grant_type": "client_credentials"}, auth=W).json()["access_token"])[0]["kid"]
    verdict("I8", "a rotated key is published before it signs",
            "`portico keys rotate`, then poll JWKS and mint a token",
            f"new key {st['new']} in JWKS (checked {published_after:.0f} s after rotate): {st['new'] in kids}; tokens still signed by "
            f"{signer} (old {st['old_signing']}); CLI: '{st['out'].splitlines()[0][:100]}'",
            st["new"] in kids and signer == st["old_signing"], good="HELD")
    victim_token = token({"grant_type": "client_credentials"}, auth=W).json()["access_token"]
    rc, out = cli("keys", "retire", "--kid", st["old_signing"], "--now")
    print("  " + out.replace("\n", "\n  "))
    right_after = jwt_parts(token({"grant_type": "client_credentials"}, auth=W).json()["access_token"])[0]["kid"]
    st.update({"retired_at": time.time(), "victim_token": victim_token, "retire_out": out, "right_after": right_after})
    json.dump(st, open(STATE, "w"))

elif MODE == "i8-check":
    header("I8 - step 3: the withdrawn key is gone and its tokens refused (server B2)")
    st = json.load(open(STATE))
    deadline = st["retired_at"] + 80
    while True:  # at least one look, however late this stage runs
        kids = [k["kid"] for k in requests.get(ISS + "/.well-known/jwks.json").json()["keys"]]
        if st["old_signing"] not in kids or time.time() >= deadline:
            break
        time.sleep(2)
    gone_after = time.time() - st["retired_at"]
    CS = ("conf-web", "conf-web-secret-0123456789")
    intro = requests.post(ISS + "/introspect", data={"token": st["victim_token"]}, auth=CS).json().get("active")
    signer = jwt_parts(token({"grant_type": "client_credentials"}, auth=W).json()["access_token"])[0]["kid"]
    verdict("I8", "`keys retire --kid KID --now` withdraws a key",
            "retire the signing key, poll JWKS, introspect a token it signed, mint a new token",
            f"old key gone from JWKS (checked {gone_after:.0f} s after retire): {st['old_signing'] not in kids}; its token active={intro}; "
            f"new tokens signed by {signer}; JWKS now {kids}",
            st["old_signing"] not in kids and signer in kids and intro is False and signer != st["old_signing"],
            good="HELD")
    repl = re.search(r"new key (\S+) \(\S+\) signs now", st["retire_out"])
    jw = requests.get(ISS + "/.well-known/jwks.json")
    info("I8", "what signs right after `keys retire --now`",
         "mint a token just after the CLI withdrew the signing key; read the CLI output and JWKS caching",
         f"token minted right after retire signed by {st['right_after']} "
         f"({'the withdrawn key: the server signs with it until its next reload, <= 60 s' if st['right_after'] == st['old_signing'] else 'another key'}); "
         f"replacement: {repl.group(1) if repl else None} signs at once although the published next key {st['new']} existed "
         f"(not promoted); JWKS Cache-Control '{jw.headers.get('cache-control')}', so verifiers that only refetch on "
         f"expiry reject the replacement's tokens for up to that long")
