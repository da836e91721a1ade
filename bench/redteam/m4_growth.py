"""M4: audit_events, refresh_tokens and users grew without bound from anonymous or
self-service traffic.

Review: POST /logout flood 4,848 audit rows/s; SSO /authorize flood +13,641 audit rows and
codes in 5 s; refresh families 1,120/s per self-registered user, kept 30 days; no audit
retention. Now: audit retention (90 days), a logout that ends nothing writes nothing, at
most 20 live refresh families per user and client (oldest deleted, their access tokens
revoked), at most 50 sessions per user, rule claims at most 4 KiB. Config A.
"""
from lib import *

header("M4 - table growth from anonymous and self-service traffic (config A)")


def audit_rows(kind=None):
    if kind:
        return q1("SELECT count(*) FROM audit_events WHERE kind = ?", kind)
    return q1("SELECT count(*) FROM audit_events")


# 1. Anonymous POST /logout flood, with a real server-minted browser id and its confirm token
#    (the review's made-up cookie is no longer accepted at all).
s = browser(fresh_ip())
page = s.get(ISS + "/logout", params={"client_id": "customers-web"})
confirm = re.search(r'name="confirm" value="([^"]+)"', page.text).group(1)
lf = os.path.join(RT, "m4-logout.json")
json.dump({"cookie": "; ".join(f"{c.name}={c.value}" for c in s.cookies), "confirm": confirm}, open(lf, "w"))
a0 = audit_rows()
f = node("logout", 4, 16, lf)
verdict("M4", "anonymous POST /logout flood (ends no session)",
        f"t_logoutflood: {f['n']} POST /logout with a minted browser id + confirm, 16 conns, {f['secs']} s",
        f"{f['codes']} at {f['rate']}/s; audit rows +{audit_rows() - a0} (review: +24,239 in 5 s)",
        audit_rows() - a0 == 0)

# 2. Refresh families of one self-registered user at one client: at most 20 live.
email, us, t_first = signup_user()
uid = jwt_parts(t_first["access_token"])[1]["sub"]
first_access = t_first["access_token"]
minted = 0
t0 = time.time()
for i in range(40):
    r, v, p = authorize(us, scope="openid offline_access")
    code = code_of(r)[0]
    t = exchange(code, v).json()
    minted += "refresh_token" in t
took = time.time() - t0
live = q1("SELECT count(*) FROM refresh_tokens WHERE user_id = ? AND client_id = 'customers-web'", uid)
ui = requests.get(ISS + "/userinfo", headers={"Authorization": "Bearer " + first_access}).status_code
verdict("M4", "refresh families per user and client",
        f"mk_sso + t_rtflood: 41 SSO /authorize + /token with offline_access for one user ({took:.1f} s)",
        f"refresh tokens minted {minted + 1}, rows kept {live} (cap 20); evicted family's access token at /userinfo -> {ui}",
        live <= 20 and ui == 401)

# 3. Sessions per user: 55 password logins from new browsers (another user).
email2, _, t2 = signup_user()
uid2 = jwt_parts(t2["access_token"])[1]["sub"]
for i in range(55):
    r, v, p = login(browser(fresh_ip()), email2, PASSWORD)
sess = q1("SELECT count(*) FROM sessions WHERE user_id = ?", uid2)
verdict("M4", "SSO sessions per user",
        "55 password logins of one user from 55 new browsers",
        f"sessions kept {sess} (cap 50)", sess <= 50)

# 4. Rule claims: 4 KiB at most per grant (the probe rule copies `blob` once or three times).
blob = "B" * 1900
r1, v, p = authorize(us, scope="openid", extra={"blob": blob})
r3, v3, p3 = authorize(us, scope="openid", extra={"blob": blob, "triple": "1"})
c1, q1_ = code_of(r1)
_, q3 = code_of(r3)
claims_ok = False
if c1:
    at = exchange(c1, v).json()["access_token"]
    claims_ok = len(jwt_parts(at)[1].get("b1", "")) == 1900
verdict("M4", "rule claims larger than 4 KiB are refused",
        "SSO logins with a rule setting a 1.9 KB claim once (1.9 KB) and three times (5.7 KB)",
        f"once -> {'code, claim in token' if claims_ok else q1_}; three times -> "
        f"{q3.get('error', ['code'])[0]}: {q3.get('error_description', [''])[0]}",
        claims_ok and q3.get("error", [None])[0] == "access_denied")

# 5. What still grows per request, kept until retention or expiry.
sf = os.path.join(RT, "m4-sso.json")
json.dump({"cookie": "; ".join(f"{c.name}={c.value}" for c in us.cookies)}, open(sf, "w"))
a0, c0 = audit_rows("sso_login"), q1("SELECT count(*) FROM authorization_codes")
f = node("sso", 4, 16, sf)
added = audit_rows("sso_login") - a0
per_row = q1("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'audit%'") / max(1, audit_rows())
rate = added / f["secs"]
verdict("M4", "audit rows from a self-registered user's SSO /authorize loop",
        f"t_ssoflood: {f['n']} SSO GET /authorize, 16 conns, {f['secs']} s",
        f"{f['codes']}; sso_login audit rows +{added} ({rate:.0f}/s, ~{per_row:.0f} B each) kept 90 days "
        f"(retention) = {rate * per_row * 86400 / 1e9:.1f} GB/day, ~{rate * per_row * 86400 * 90 / 1e9:.0f} GB at steady state; "
        f"codes +{q1('SELECT count(*) FROM authorization_codes') - c0} (purged after code_ttl)",
        False)

# A used code replayed by its own (public) client, with its verifier: one audit row each.
r, v, p = authorize(us, scope="openid")
code = code_of(r)[0]
exchange(code, v)
a0 = audit_rows("code_replay")
for i in range(100):
    exchange(code, v)
verdict("M4", "audit rows from replaying one's own used code",
        "100 x POST /token with an already used code (own client, own verifier)",
        f"code_replay audit rows +{audit_rows('code_replay') - a0} (one per replay until the code row is purged)",
        audit_rows("code_replay") - a0 <= 1)

# Rotation: the 20 allowed families, each rotated as fast as possible.
toks = []
for i in range(20):
    r, v, p = authorize(us, scope="openid offline_access")
    toks.append(exchange(code_of(r)[0], v).json()["refresh_token"])
rf = os.path.join(RT, "m4-rotate.json")
json.dump({"client_id": "customers-web", "refresh_tokens": toks}, open(rf, "w"))
r0 = q1("SELECT count(*) FROM refresh_tokens WHERE user_id = ?", uid)
f = node("rotate", 4, 20, rf)
r1 = q1("SELECT count(*) FROM refresh_tokens WHERE user_id = ?", uid)
exp = q1("SELECT max(expires_at) - strftime('%s','now') FROM refresh_tokens WHERE user_id = ?", uid)
rb = q1("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'refresh_tokens%'") / max(1, q1("SELECT count(*) FROM refresh_tokens"))
rate = (r1 - r0) / f["secs"]
verdict("M4", "refresh_tokens rows from rotating the 20 allowed families",
        f"{f['n']} refresh_token grants on 20 chains of one user, {f['secs']} s",
        f"{f['codes']}; rows for the user {r0} -> {r1} ({rate:.0f}/s, ~{rb:.0f} B each incl. indexes), "
        f"rotated rows kept until the family expires (in {exp / 86400:.0f} days) = "
        f"{rate * rb * 86400 / 1e9:.1f} GB/day per user",
        r1 - r0 <= 40)
