"""L7: the playground printed arbitrary text from its URL on the issuer's origin, and turning
it on silently added its redirect URIs to every public client.

Review: /playground?error=...&error_description=... showed "Your account was suspended: Call
+1-555-0100"; every public code client got ISSUER/playground/callback.
Now: the page never shows text from its URL; only `[playground] clients` get its URIs
(`check` names them). Config A: playground on, clients = ["customers-web"].
"""
from lib import *

header("L7 - playground (config A: clients = [\"customers-web\"])")
phish = "Call +1-555-0100 to verify your identity"
r = requests.get(ISS + "/playground", params={"error": "Your account was suspended", "error_description": phish})
m = re.search(r'id="error"[^>]*>([^<]*)', r.text)
verdict("L7", "text from the playground URL",
        "t_xss: /playground?error=Your account was suspended&error_description=Call +1-555-0100...",
        f"{r.status_code}; phishing text on page: {phish in r.text or 'suspended' in r.text}; error box: {m.group(1) if m else None!r}",
        r.status_code == 200 and phish not in r.text and "suspended" not in r.text, good="HELD")

cb = ISS + "/playground/callback"
rp, v, p = authorize(browser(fresh_ip()), client="partners-web", redirect_uri=cb)
rc, v, p = authorize(browser(fresh_ip()), client="customers-web", redirect_uri=cb)
lo = requests.get(ISS + "/logout", params={"client_id": "partners-web", "post_logout_redirect_uri": ISS + "/playground"})
verdict("L7", "playground redirect URIs only for the listed clients",
        "partners-web (public, code grant, not listed) with redirect_uri / post_logout_redirect_uri on the playground",
        f"partners-web authorize -> {rp.status_code} {rp.headers.get('location', '')[:30]!r}; logout -> {lo.status_code}; "
        f"customers-web (listed) -> {rc.status_code} {rc.headers.get('location', '')[:12]!r}",
        rp.status_code == 400 and lo.status_code == 400 and rc.status_code == 303
        and rc.headers.get("location", "").startswith("/login"), good="HELD")

# `check` names what the playground registers; with no list, nobody gets it.
d = os.path.join(RT, "l7")
os.makedirs(d, exist_ok=True)
cfg = open(CONFIG).read().replace('clients = ["customers-web"]\n', "")
cfg = re.sub(r'data_dir = ".*"', f'data_dir = "{d}/data"', cfg)
open(os.path.join(d, "nolist.toml"), "w").write(cfg)
r = subprocess.run([BIN, "check", "--config", os.path.join(d, "nolist.toml")], capture_output=True, text=True)
warn = [l.strip() for l in (r.stdout + r.stderr).splitlines() if "playground" in l]
verdict("L7", "playground on without a client list",
        "portico check on config A without [playground] clients",
        f"exit {r.returncode}; {warn}",
        any("no client" in w for w in warn), good="HELD")
