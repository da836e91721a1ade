"""L2: replaying a used code as ANOTHER client revoked the real client's tokens.

Review (config B, t_token.py step 4): replay by customers-web (no secret) -> 400, then the
owner's access token was inactive and its refresh token revoked.
Now: the code's client, redirect_uri and PKCE verifier are checked first; a foreign replay
is refused with no side effect. Config B. Also re-runs the rest of t_token.py.
"""
from lib import *

header("L2 - code replay by another client (config B)")
CS = ("conf-web", "conf-web-secret-0123456789")
email, _, _ = signup_user("bob%s@example.com" % secrets.token_hex(3))


def conf_code(extra=None, pk=True):
    s = browser(fresh_ip())
    v, c = pkce()
    p = {"client_id": "conf-web", "redirect_uri": RP, "response_type": "code", "scope": "openid offline_access",
         "state": "s", "nonce": "n"}
    if pk:
        p.update({"code_challenge": c, "code_challenge_method": "S256"})
    if extra:
        p.update(extra)
    r = s.get(ISS + "/authorize", params=p, allow_redirects=False)
    f = page_fields(s.get(ISS + "/login", params={"tx": tx_of(r)}).text)
    r = s.post(ISS + "/login", data={**f, "email": email, "password": PASSWORD}, allow_redirects=False)
    return code_of(r)[0], v


code, v = conf_code()
r0 = token({"grant_type": "authorization_code", "code": code, "redirect_uri": RP, "code_verifier": v,
            "client_id": "customers-web"})
r = token({"grant_type": "authorization_code", "code": code, "redirect_uri": RP, "code_verifier": v}, auth=CS)
t = r.json()
print(f"  unused code redeemed by customers-web: {r0.status_code} {r0.json().get('error_description')}; then owner: {r.status_code}")
a0 = q1("SELECT count(*) FROM audit_events WHERE kind = 'code_replay'")
rr = token({"grant_type": "authorization_code", "code": code, "redirect_uri": RP, "code_verifier": "b" * 43,
            "client_id": "customers-web"})
intro = requests.post(ISS + "/introspect", data={"token": t["access_token"]}, auth=CS).json().get("active")
rt = token({"grant_type": "refresh_token", "refresh_token": t["refresh_token"]}, auth=CS)
a1 = q1("SELECT count(*) FROM audit_events WHERE kind = 'code_replay'")
verdict("L2", "used code replayed by another (public, unauthenticated) client",
        "t_token step 4: owner redeems, then customers-web presents the same code",
        f"replay {rr.status_code} '{rr.json().get('error_description')}'; owner's access token active={intro}; "
        f"owner's refresh -> {rt.status_code}; code_replay audit rows +{a1 - a0} "
        f"(review: active=False, refresh revoked)",
        rr.status_code == 400 and intro is True and rt.status_code == 200, good="HELD")

# The owner's own replay still revokes (RFC 6749 4.1.2).
code, v = conf_code()
t = token({"grant_type": "authorization_code", "code": code, "redirect_uri": RP, "code_verifier": v}, auth=CS).json()
rr = token({"grant_type": "authorization_code", "code": code, "redirect_uri": RP, "code_verifier": v}, auth=CS)
intro = requests.post(ISS + "/introspect", data={"token": t["access_token"]}, auth=CS).json().get("active")
verdict("L2", "replay by the owning client still revokes",
        "conf-web redeems its code twice",
        f"replay {rr.status_code} '{rr.json().get('error_description')}'; access token active={intro}",
        rr.status_code == 400 and intro is False, good="HELD")

# The rest of t_token.py (these held in the review; re-checked).
code, v = conf_code()
r = token({"grant_type": "authorization_code", "code": code, "redirect_uri": RP}, auth=CS)
code2, v2 = conf_code(pk=False)
r2 = token({"grant_type": "authorization_code", "code": code2, "redirect_uri": RP, "code_verifier": "a" * 43}, auth=CS)
res = {}
for label, auth, data in [
    ("basic wrong secret", ("conf-web", "x"), {}),
    ("basic + post", CS, {"client_id": "conf-web", "client_secret": CS[1]}),
    ("public client basic empty secret", ("customers-web", ""), {}),
    ("confidential client no auth", None, {"client_id": "conf-web"}),
]:
    x = token({"grant_type": "client_credentials", **data}, auth=auth, headers={"X-Forwarded-For": fresh_ip()})
    res[label] = f"{x.status_code} {x.json().get('error')}"
verdict("L2", "PKCE downgrade both ways and client authentication rules (t_token 1, 2, 5)",
        "challenge without verifier; verifier without challenge; wrong/mixed/missing client auth",
        f"no verifier -> {r.status_code} {r.json().get('error')}; verifier w/o challenge -> {r2.status_code} "
        f"{r2.json().get('error')}; {res}",
        r.status_code == 400 and r2.status_code == 400 and res["basic wrong secret"].startswith("401")
        and res["basic + post"].startswith("400") and not any(v.startswith("200") for v in res.values()),
        good="HELD")
