"""L6: /introspect said active for a deleted user's token (while /userinfo said 401).

Review (config B, t_del.py): introspect after user deletion: True; userinfo 401.
Now: introspection checks that the user of a user token still exists. Config B.
"""
from lib import *

header("L6 - introspection after the user is deleted (config B)")
CS = ("conf-web", "conf-web-secret-0123456789")
em = "del%s@example.com" % secrets.token_hex(3)
s, r, t = full_login(em, PASSWORD, signup=True)
before = requests.post(ISS + "/introspect", data={"token": t["access_token"]}, auth=CS).json().get("active")
rc, out = cli("users", "delete", "--connection", "customers-db", "--email", em)
print("  cli:", out)
i = requests.post(ISS + "/introspect", data={"token": t["access_token"]}, auth=CS).json()
u = requests.get(ISS + "/userinfo", headers={"Authorization": "Bearer " + t["access_token"]}).status_code
ir = requests.post(ISS + "/introspect", data={"token": t["refresh_token"]}, auth=("customers-web", "")).status_code
rt = token({"grant_type": "refresh_token", "refresh_token": t["refresh_token"], "client_id": "customers-web"})
r2, v, p = authorize(s)
verdict("L6", "deleted user's access token",
        "t_del: sign up, `portico users delete`, then /introspect, /userinfo, refresh, SSO",
        f"introspect before {before}, after {i.get('active')}; userinfo {u}; refresh {rt.status_code} "
        f"{rt.json().get('error')}; SSO /authorize -> {r2.status_code} {r2.headers.get('location', '')[:22]} "
        f"(review: introspect True)",
        before is True and i.get("active") is False and u == 401 and rt.status_code == 400
        and "code=" not in r2.headers.get("location", ""), good="HELD")

# client_credentials tokens are not user tokens: still active
w = token({"grant_type": "client_credentials"}, auth=("orders-worker", "orders-worker-secret-0123456789")).json()
i = requests.post(ISS + "/introspect", data={"token": w["access_token"]}, auth=CS).json()
verdict("L6", "client_credentials token stays active (no user to check)",
        "introspect an orders-worker token", f"active={i.get('active')} sub={i.get('sub')}",
        i.get("active") is True, good="HELD")
