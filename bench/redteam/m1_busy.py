"""M1: attempts answered 503 (busy) were charged as failed logins (account and IP).

Review: with the hashing queue full, a victim sending only the CORRECT password got
{503: 15, 303: 2, 429: 177} and was locked (failures = 10), with no login_failed rows.
Now: a place in the hashing queue is taken before anything is charged; a 503 or a 500
charges nothing. Config A (hash_concurrency = 2 cores, hash_queue = 64).

The flood comes from many addresses (rotating X-Forwarded-For): the per-IP limit now stops
a one-address flood long before it fills the queue, so only a botnet can still do it.
"""
import threading
from lib import *

header("M1 - busy (503) answers charge nothing (config A)")

victim, _, _ = signup_user("victim%s@example.com" % secrets.token_hex(3))
probe_acct, _, _ = signup_user("probe%s@example.com" % secrets.token_hex(3))
VIP, PIP = fresh_ip(), fresh_ip()

# The attacker's form: one transaction reused for every POST (it is consumed only on success).
att = browser(fresh_ip())
f, _, _ = form(att)
af = os.path.join(RT, "m1-attacker.json")
json.dump({**f, "cookie": "; ".join(f"{c.name}={c.value}" for c in att.cookies)}, open(af, "w"))

flood = node_bg("login", 7, 128, af, "rotate")
time.sleep(1.0)

vic, prb = collections.Counter(), collections.Counter()
lat = []


def victim_loop():
    t0 = time.time()
    while time.time() - t0 < 5:
        t1 = time.time()
        r, v, p = login(browser(VIP), victim, PASSWORD)
        vic[r.status_code] += 1
        lat.append(time.time() - t1)


def probe_loop():
    """Wrong passwords for one account from one address, stopping before its lockout."""
    s = browser(PIP)
    ff, _, _ = form(s)
    t0 = time.time()
    while time.time() - t0 < 5 and prb[401] < 8:
        rr = s.post(ISS + "/login", data={**ff, "email": probe_acct, "password": "Wrong-guess-123"},
                    allow_redirects=False)
        prb[rr.status_code] += 1


ths = [threading.Thread(target=victim_loop), threading.Thread(target=probe_loop)]
[t.start() for t in ths]
[t.join() for t in ths]
res = node_wait(flood)
print(f"  attacker flood (128 conns, new address per request): {res['codes']} at {res['rate']}/s")

row = db().execute("SELECT failures, locked_until FROM login_failures WHERE email = ?", (victim,)).fetchone()
verdict("M1", "victim with the CORRECT password while the hashing queue is full",
        "t_hashdos + t_hashdos_victim: login flood 128 conns from rotating addresses; victim retries 5 s",
        f"victim {dict(vic)} (max latency {max(lat):.2f} s); login_failures row {row}; "
        f"review: {{503: 15, 303: 2, 429: 177}}, locked",
        vic.get(429, 0) == 0 and (row is None or (row[0] == 0 and row[1] is None)))

# Account: only verified wrong passwords count.
fails = q1("SELECT coalesce(max(failures), 0) FROM login_failures WHERE email = ?", probe_acct)
verdict("M1", "busy answers do not count against the account",
        "wrong passwords for one account during the flood, stopping before 10 verified",
        f"probe got {dict(prb)}; stored failures {fails} (= verified 401s {prb.get(401, 0)}, not + {prb.get(503, 0)} busy)",
        prb.get(503, 0) > 0 and fails == prb.get(401, 0))

# Address: how many failures does the probe's address have left?
s = browser(PIP)
ff, _, _ = form(s)
left = 0
for i in range(120):
    rr = s.post(ISS + "/login", data={**ff, "email": f"left{i}-{secrets.token_hex(2)}@example.com",
                                      "password": "Wrong-guess-123"}, allow_redirects=False)
    if rr.status_code != 401:
        break
    left += 1
verdict("M1", "busy answers do not count against the address",
        "after the flood, the probe's address sprays until refused",
        f"{left} more verified failures before 429 (100 - {prb.get(401, 0)} verified = {100 - prb.get(401, 0)}"
        f" expected, +1 slow lane; {prb.get(503, 0)} busy answers were not charged)",
        abs(left - (100 - prb.get(401, 0))) <= 2 and prb.get(503, 0) > 0)
