"""M3: past the per-IP limit, a correct password from a new browser was refused (429).

Review: alice (correct password, new browser, IP over the failure limit): 429.
Now: past the limit one attempt per failure_window / max_failures_per_ip = 9 s per address
is still verified (the slow lane); others get 429 with Retry-After. Config A.
"""
import threading
from lib import *

header("M3 - slow lane past the per-IP limit (config A: 100 failures / 900 s, pace 9 s)")
LIMIT, PACE = 100, 9

alice, _, _ = signup_user("alice%s@example.com" % secrets.token_hex(3))
NAT = fresh_ip()  # one shared address: a sprayer and alice behind it

sprayer = browser(NAT)
f, _, _ = form(sprayer)
st = collections.Counter()
for i in range(LIMIT + 3):
    rr = sprayer.post(ISS + "/login", data={**f, "email": f"victim{i}-{secrets.token_hex(2)}@example.com",
                                            "password": "Summer2026!x"}, allow_redirects=False)
    st[rr.status_code] += 1
print(f"  sprayer behind {NAT}: {dict(st)}; last Retry-After {rr.headers.get('Retry-After')}")


def alice_tries(deadline_s):
    """alice from a new browser behind the NAT, retrying as Retry-After says."""
    t0 = time.time()
    tries = []
    while time.time() - t0 < deadline_s:
        s = browser(NAT)
        r, v, p = login(s, alice, PASSWORD)
        tries.append(r.status_code)
        if r.status_code == 303:
            return True, tries, time.time() - t0
        time.sleep(int(r.headers.get("Retry-After", "1")) if r.status_code == 429 else 1)
    return False, tries, time.time() - t0


# (a) the sprayer has stopped
ok, tries, took = alice_tries(3 * PACE)
verdict("M3", "correct password, new browser, IP over the limit (sprayer idle)",
        "t_ipdos: alice logs in from a new browser behind the throttled address",
        f"attempts {tries}, in after {took:.1f} s (review: 429, refused for 15 min)",
        ok and took <= PACE + 2, good="HELD")

# (b) the sprayer does not stop: 429s cost it nothing, so it keeps sending (2 threads, no
#     pause) while alice tries for 30 s (three slow-lane periods).
stop = threading.Event()
sp = collections.Counter()


def keep_spraying():
    s = browser(NAT)
    ff, _, _ = form(s)
    while not stop.is_set():
        rr = s.post(ISS + "/login", data={**ff, "email": "v%s@example.com" % secrets.token_hex(4),
                                          "password": "Summer2026!x"}, allow_redirects=False)
        sp[rr.status_code] += 1


ths = [threading.Thread(target=keep_spraying) for _ in range(2)]
t0 = time.time()
[th.start() for th in ths]
time.sleep(1)
ok, tries, took = alice_tries(30)
stop.set()
[th.join() for th in ths]
spray_secs = time.time() - t0
verdict("M3", "sprayer past the limit gets one verified guess per 9 s",
        f"2 sprayer threads without pause ({sum(sp.values()) / spray_secs:.0f} attempts/s) for {spray_secs:.0f} s "
        f"behind the throttled address",
        f"sprayer {dict(sp)}: {sp.get(401, 0)} verified (allowed ~{int(spray_secs // PACE) + 1})",
        sp.get(401, 0) <= int(spray_secs // PACE) + 2)
verdict("M3", "correct password, new browser, while the sprayer keeps spraying",
        "alice retries from new browsers, honouring Retry-After, for up to 30 s",
        f"{'got in' if ok else 'never got in'} after {took:.1f} s, attempts {counts(tries)}",
        ok, good="HELD")
