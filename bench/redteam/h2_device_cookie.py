"""H2: any account's device cookie switched the per-IP limit off for every account.

Review: a self-registered attacker logged in once, then sprayed 300 accounts from one IP:
{401: 300} in 4.6 s (~65 guesses/s, ~580x the intended 100 per 15 min); the cookie value
was portable; staff-db (sign-up off) sprayed the same way: {401: 150}.
Now: the device cookie is a MAC over (server-minted browser id, connection, e-mail,
expiry) and exempts only that account; browser ids the server did not mint are replaced.
Config A (max_failures_per_ip = 100 per 900 s, so past it one attempt per 9 s).
"""
from lib import *

header("H2 - device cookie bound to one account and one server-minted browser (config A)")
LIMIT, PACE = 100, 9

# The attacker: a self-registered account, logged in once with its password.
att_ip = fresh_ip()
a = browser(att_ip)
att_email = "attacker%s@example.com" % secrets.token_hex(3)
r, v, p = login(a, att_email, PASSWORD, signup=True)
print("  attacker signup:", r.status_code)
r, v, p = login(a, att_email, PASSWORD, extra={"prompt": "login"})
print("  attacker logs in once with password:", r.status_code, "| cookies:", sorted(c.name for c in a.cookies))
assert r.status_code == 303 and a.cookies.get("portico_device"), "setup failed"


def spray(sess, n, client="customers-web", domain="example.com"):
    f, _, _ = form(sess, client=client, extra={"prompt": "login"})
    st = collections.Counter()
    t0 = time.time()
    for i in range(n):
        rr = sess.post(ISS + "/login", data={**f, "email": f"spray{i}-{secrets.token_hex(2)}@{domain}",
                                             "password": "Summer2026!x"}, allow_redirects=False)
        st[rr.status_code] += 1
    return dict(st), time.time() - t0


# 1. The review's spray: the trusted browser against 150 other accounts, from a new address.
a.headers["X-Forwarded-For"] = fresh_ip()
st, took = spray(a, 150)
allowed = LIMIT + int(took // PACE) + 1
verdict("H2", "trusted browser sprays 150 other accounts from one IP",
        "t_ipbypass3: sign up, log in once, then 150 wrong passwords for other addresses",
        f"{st} in {took:.1f} s: {st.get(401, 0)} passwords verified (limit {LIMIT} + slow lane {allowed - LIMIT}); "
        f"review: {{401: 300}} in 4.6 s",
        st.get(401, 0) <= allowed and st.get(429, 0) > 0)

# 2. The exemption still serves its owner: the attacker's own account from its own browser,
#    at the address that is now past the limit.
r, v, p = login(a, att_email, PASSWORD, extra={"prompt": "login"})
verdict("H2", "device cookie still exempts its own account (same browser, IP over limit)",
        "correct password for the cookie's own account from the trusted browser",
        f"{r.status_code} {'code' if code_of(r)[0] else alert(r)}",
        r.status_code == 303 and code_of(r)[0] is not None, good="HELD")

# 3. A made-up browser id (the review's 43-character value) is ignored and replaced.
forged = "x" * 43
s = browser(fresh_ip())
s.cookies.set("portico_browser", forged)
r, v, p = authorize(s)
set_value = None
for c in r.raw.headers.getlist("Set-Cookie") if hasattr(r.raw.headers, "getlist") else [r.headers.get("Set-Cookie", "")]:
    if c.startswith("portico_browser="):
        set_value = c.split(";")[0].split("=", 1)[1]
verdict("H2", "forged portico_browser value is replaced",
        "GET /authorize with portico_browser=" + forged[:8] + "... (43 chars)",
        f"server set a new browser id: {bool(set_value) and set_value != forged} "
        f"(format <random>.<mac>: {bool(set_value and '.' in set_value)})",
        bool(set_value) and set_value != forged and "." in set_value, good="HELD")

# 4. The device cookie copied into another browser (its own browser id) is worthless.
#    First make sure the slow lane of this address is taken (a refused spray attempt).
spray_ip = a.headers["X-Forwarded-For"]
other = browser(spray_ip)
f_other, _, _ = form(other, extra={"prompt": "login"})
retry = 0
for _ in range(30):
    rr = other.post(ISS + "/login", data={**f_other, "email": "x%s@example.com" % secrets.token_hex(3),
                                          "password": "Summer2026!x"}, allow_redirects=False)
    if rr.status_code == 429 and int(rr.headers.get("Retry-After", "0")) >= 3:
        retry = int(rr.headers["Retry-After"])
        break
    time.sleep(0.5)
c = browser(spray_ip)
c.cookies.set("portico_device", a.cookies.get("portico_device"))
r_copy, v, p = login(c, att_email, PASSWORD, extra={"prompt": "login"})
r_own, v, p = login(a, att_email, PASSWORD, extra={"prompt": "login"})
verdict("H2", "device cookie copied into another browser",
        f"attacker's portico_device in a fresh browser, correct password, IP over limit (slow lane busy {retry} s)",
        f"copied cookie -> {r_copy.status_code} {alert(r_copy) or ''}; original browser -> {r_own.status_code}",
        r_copy.status_code == 429 and r_own.status_code == 303, good="HELD")

# 5. staff-db (sign-up off) sprayed with the customers-db-trusted browser from a new address.
a.headers["X-Forwarded-For"] = fresh_ip()
st, took = spray(a, 110, client="staff-web", domain="acme.example")
allowed = LIMIT + int(took // PACE) + 1
verdict("H2", "staff-db (sign-up off) sprayed with a customers-db device cookie",
        "snip_staff: 110 wrong passwords for staff addresses from the trusted browser",
        f"{st} in {took:.1f} s (review: {{401: 150}})",
        st.get(401, 0) <= allowed and st.get(429, 0) > 0)
