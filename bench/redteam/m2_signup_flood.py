"""M2: sign-up had no per-IP limit and could fill the hashing queue for everybody.

Review: 720 accounts in 10 s from one IP; a sign-up flood (256 conns) made every login
503 and, with M1, locked the victim: {503: 10, 429: 355}.
Now: max_signups_per_ip = 20 per hour, max_signups_per_minute = 300 in all (429), and
sign-ups use at most a quarter of the hashing queue. Config A. Runs last on A: it spends
the server's sign-up budget for a minute.
"""
import concurrent.futures as cf
import threading
from lib import *

header("M2 - sign-up budgets and the sign-up lane (config A)")

victim, _, _ = signup_user("victim%s@example.com" % secrets.token_hex(3))
users0 = q1("SELECT count(*) FROM users")

# 1. One address, 8 threads, 5 s (t_signupflood.py).
IP = fresh_ip()


def one(i):
    s = browser(IP)
    r, v, p = login(s, f"bot{i}-{secrets.token_hex(3)}@example.com", "Bot-horse-battery-%d-xyz" % i, signup=True)
    return r.status_code


t0 = time.time()
st = collections.Counter()
with cf.ThreadPoolExecutor(8) as ex:
    i = 0
    while time.time() - t0 < 5:
        for r in ex.map(one, range(i, i + 16)):
            st[r] += 1
        i += 16
created = q1("SELECT count(*) FROM users") - users0
verdict("M2", "sign-up flood from one address",
        f"t_signupflood: 8 threads for {time.time() - t0:.1f} s, new browser each time",
        f"{dict(st)}; accounts created {created} (cap 20/h); review: 720 in 10 s",
        created <= 20 and st.get(429, 0) > 0)

# 2. Many addresses (botnet) with 256 connections; the victim logs in meanwhile.
users1 = q1("SELECT count(*) FROM users")
flood = node_bg("signup", 9, 256, "rotate")
time.sleep(1.5)
vic = collections.Counter()
lat = []
t0 = time.time()
while time.time() - t0 < 7:
    t1 = time.time()
    try:
        r, v, p = login(browser(fresh_ip()), victim, PASSWORD)
        vic[r.status_code] += 1
    except Exception as e:  # noqa: BLE001
        vic[type(e).__name__] += 1
    lat.append(time.time() - t1)
res = node_wait(flood)
created = q1("SELECT count(*) FROM users") - users1
row = db().execute("SELECT failures, locked_until FROM login_failures WHERE email = ?", (victim,)).fetchone()
verdict("M2", "sign-up flood from rotating addresses (256 conns): global budget",
        f"t_signup_sat: {res['n']} sign-up cycles in {res['secs']} s",
        f"attacker {res['codes']}; accounts created {created} (cap 300/min)",
        created <= 300)
verdict("M2", "victim logs in (correct password) during the sign-up flood",
        "t_victim3 run: new browser and address per attempt for 7 s",
        f"victim {dict(vic)}, median {sorted(lat)[len(lat) // 2]:.2f} s, max {max(lat):.2f} s; "
        f"login_failures {row}; review: {{503: 10, 429: 355}}, locked",
        vic.get(429, 0) == 0 and vic.get(303, 0) > 0 and (row is None or row[1] is None))
