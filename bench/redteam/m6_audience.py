"""M6: any client obtained tokens for any API, with all its scopes by default.

Review (config B): orders-worker got aud=admin, scope admin:all; public customers-web got
an admin token with admin:all orders:write; admin:all rode on an orders-audience token.
Now: per-client `apis` (default: its audience); other APIs get invalid_target; scopes of
other APIs are dropped. Config B (no client lists `apis`).
"""
from lib import *

header("M6 - client -> API authorisation (config B)")
W = ("orders-worker", "orders-worker-secret-0123456789")

r = token({"grant_type": "client_credentials", "resource": "https://admin.example.com"}, auth=W)
verdict("M6", "worker asks for another API (resource=admin)",
        "t_aud (a): client_credentials, resource=https://admin.example.com",
        f"{r.status_code} {r.json().get('error')} (review: 200, aud admin, scope admin:all)",
        r.status_code == 400 and r.json().get("error") == "invalid_target", good="HELD")

r = token({"grant_type": "client_credentials", "audience": "https://admin.example.com"}, auth=W)
verdict("M6", "worker asks for another API (audience=admin)",
        "client_credentials, audience=https://admin.example.com",
        f"{r.status_code} {r.json().get('error')} (review: 200 admin:all)",
        r.status_code == 400 and r.json().get("error") == "invalid_target", good="HELD")

r = token({"grant_type": "client_credentials"}, auth=W)
p = jwt_parts(r.json()["access_token"])[1] if r.ok else {}
r2 = token({"grant_type": "client_credentials", "scope": "admin:all orders:read"}, auth=W)
p2 = jwt_parts(r2.json()["access_token"])[1] if r2.ok else {}
verdict("M6", "worker default and cross-API scopes",
        "client_credentials with no scope; then scope='admin:all orders:read'",
        f"default -> aud {p.get('aud')} scope '{p.get('scope')}'; asking admin:all -> scope '{p2.get('scope')}'",
        r.ok and p.get("aud") == "https://api.example.com" and "admin:all" not in p.get("scope", "")
        and r2.ok and "admin:all" not in p2.get("scope", ""), good="HELD")

# (b) the public client asks for the admin API in the code flow
email, s, t = signup_user("bob%s@example.com" % secrets.token_hex(3))
r, v, params = authorize(s, extra={"resource": "https://admin.example.com", "scope": "openid admin:all orders:write"})
code, q = code_of(r)
verdict("M6", "public client asks for the admin API (code flow)",
        "t_aud (b): /authorize resource=https://admin.example.com scope='openid admin:all orders:write'",
        f"{r.status_code} -> error={q.get('error', [None])[0]} (review: token with aud admin, admin:all)",
        code is None and q.get("error", [None])[0] == "invalid_target", good="HELD")

# (c) another API's scope under the client's own audience
r, v, params = authorize(s, extra={"scope": "openid admin:all orders:read"})
code, q = code_of(r)
at = jwt_parts(exchange(code, v).json()["access_token"])[1] if code else {}
verdict("M6", "another API's scope under the default audience",
        "t_aud (c): scope='openid admin:all orders:read', no resource",
        f"aud {at.get('aud')} scope '{at.get('scope')}' (review: 'openid admin:all')",
        bool(code) and "admin:all" not in at.get("scope", ""), good="HELD")

# (d) resource at the token endpoint that differs from the authorized one
r, v, params = authorize(s, extra={"scope": "openid orders:read"})
code, q = code_of(r)
rr = token({"grant_type": "authorization_code", "code": code, "code_verifier": v, "client_id": "customers-web",
            "redirect_uri": RP, "resource": "https://admin.example.com"})
verdict("M6", "switching the API at /token",
        "code for the orders API redeemed with resource=https://admin.example.com",
        f"{rr.status_code} {rr.json().get('error')}",
        rr.status_code == 400 and rr.json().get("error") == "invalid_target", good="HELD")

# (e) a client with no audience (staff-web) asking for an API
r, v, params = authorize(requests.Session(), client="staff-web", extra={"resource": "https://admin.example.com"})
code, q = code_of(r)
verdict("M6", "client without an audience asks for an API",
        "staff-web /authorize resource=https://admin.example.com",
        f"{r.status_code} error={q.get('error', [None])[0]}",
        code is None and q.get("error", [None])[0] == "invalid_target", good="HELD")
