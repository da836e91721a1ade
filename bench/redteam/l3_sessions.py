"""L3: earlier SSO sessions survived re-authentication and logout.

Review (snip_session): cookie rotated on prompt=login, logout 200, and the OLD session
cookie still gave a code afterwards (303 code).
Now: a password login replaces the browser's session in that connection; logout ends every
session the browser holds, in every connection. Config A (customers-db and staff-db).
"""
from lib import *

header("L3 - sessions after re-authentication and logout (config A)")
email, s, t = signup_user()
name = [c.name for c in s.cookies if c.name.startswith("portico_session_")][0]
old = s.cookies.get(name)
login(s, email, PASSWORD, extra={"prompt": "login"})
rotated = old != s.cookies.get(name)
x = browser(fresh_ip())
x.cookies.set(name, old)
r, v, p = authorize(x)
verdict("L3", "old session cookie after a new password login",
        "snip_session: log in, keep the cookie, log in again with prompt=login, replay the old cookie",
        f"cookie rotated {rotated}; old cookie -> {r.status_code} {r.headers.get('location', '')[:20]}... "
        f"({'code' if 'code=' in r.headers.get('location', '') else 'no code'}; review: 303 code)",
        rotated and "code=" not in r.headers.get("location", ""), good="HELD")

# Same browser signed in at two doors (customers-db and staff-db), its cookies also stolen.
rc, out = cli("users", "create", "--connection", "staff-db", "--email", email, "--password-stdin",
              stdin=PASSWORD + "\n")
print("  cli:", out)
r, v, p = login(s, email, PASSWORD, client="staff-web")
print("  staff-web login:", r.status_code, "code" if code_of(r)[0] else r.headers.get("location"))
stolen = {c.name: c.value for c in s.cookies if c.name.startswith("portico_session_")}
thief = browser(fresh_ip())
for k, v_ in stolen.items():
    thief.cookies.set(k, v_)
before = {c: "code" if code_of(authorize(thief, client=c)[0])[0] else "no code" for c in ("customers-web", "staff-web")}
page = s.get(ISS + "/logout", params={"client_id": "customers-web"})
conf = re.search(r'name="confirm" value="([^"]+)"', page.text).group(1)
lo = s.post(ISS + "/logout", data={"confirm": conf, "client_id": "customers-web"}, allow_redirects=False)
after = {c: "code" if code_of(authorize(thief, client=c)[0])[0] else "no code" for c in ("customers-web", "staff-web")}
verdict("L3", "logout ends the browser's sessions at every door",
        f"{len(stolen)} session cookies (customers-db, staff-db) copied elsewhere; logout via customers-web",
        f"copies before logout {before}; logout {lo.status_code}; copies after {after}",
        before == {"customers-web": "code", "staff-web": "code"} and set(after.values()) == {"no code"}, good="HELD")
