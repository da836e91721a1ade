"""L5: weak password screening (209-entry list, whitespace/invisible accepted, no NFKC).

Review (config B): 'Password123!', 'qwerty123456', ten spaces, ten ZWSPs and 'aaaaaaaaab'
were all accepted at sign-up. Now: zxcvbn score >= 3, no invisible or whitespace-only
passwords, NFKC before hashing. Config B.
"""
from lib import *

header("L5 - password screening at sign-up (config B)")


def try_all(pws):
    out = {}
    for pw in pws:
        r, v, p = login(browser(fresh_ip()), "pw%s@example.com" % secrets.token_hex(3), pw, signup=True)
        ok = r.status_code == 303 and "code=" in r.headers.get("location", "")
        out[repr(pw)] = "ACCEPTED" if ok else (alert(r) or [r.status_code])[0][:60]
    for k, v in out.items():
        print(f"  {k:40s} -> {v}")
    return out


out = try_all(["Password123!", "qwerty123456", " " * 10, "\u200b" * 10, "aaaaaaaaab",
               "iloveyou1234", "\u00a0" * 12, "correct\u200bhorse\u200bbattery"])
verdict("L5", "weak passwords at sign-up (the review's five and variants)",
        "snip_pw: " + ", ".join(out.keys()),
        f"accepted {sum(v == 'ACCEPTED' for v in out.values())} of {len(out)} (review: 5 of 5 accepted)",
        not any(v == "ACCEPTED" for v in out.values()), good="HELD")

# The passwords a sprayer tries first (the review's own spray used 'Summer2026!').
out = try_all(["Summer2026!", "Summer2026!!", "Winter2025!!", "Welcome2026!", "Autumn2026!!",
               "P@ssw0rd2026", "Spring2026!!", "Password2026!", "Qwerty2026!!", "Acme2026!!!!"])
acc = [k for k, v in out.items() if v == "ACCEPTED"]
verdict("L5", "season+year style spray passwords at sign-up",
        "10 classic spray guesses: " + ", ".join(out.keys()),
        f"accepted {len(acc)} of {len(out)}: {acc}",
        not acc, good="HELD")

# NFKC: a password signed up in one Unicode form logs in with the compatibility form.
email = "nfkc%s@example.com" % secrets.token_hex(3)
pw_full = "ｆｕｌｌｗｉｄｔｈ-horse-battery-staple"   # full-width letters
pw_ascii = "fullwidth-horse-battery-staple"
s, r, t = full_login(email, pw_full, signup=True)
r2, v, p = login(browser(fresh_ip()), email, pw_ascii)
verdict("L5", "passwords are NFKC-normalised",
        "sign up with a full-width password, log in with its ASCII (NFKC) form",
        f"sign-up {'ok' if t else r.status_code}; login with NFKC form -> {r2.status_code}",
        t is not None and r2.status_code == 303, good="HELD")

strong = "a-long-unusual-passphrase-%s" % secrets.token_hex(2)
s, r, t = full_login("ok%s@example.com" % secrets.token_hex(3), strong, signup=True)
verdict("L5", "a strong passphrase is still accepted",
        f"sign up with '{strong}'", f"{'accepted' if t else alert(r)}", t is not None, good="HELD")
