"""M8: e-mail normalisation accepted invisible and look-alike characters.

Review (config A, t_email.py): ZWSP, soft hyphen, word joiner and BOM variants of a
blocked domain signed up (bypassing the deny rule); 'alice\\u200b', Cyrillic 'а' and
full-width 'ａ' look-alikes of alice@example.com signed up.
Now: control/format/invisible characters and mixed-script local parts are refused, domains
go through UTS 46, look-alikes of an existing address (UTS 39 skeleton) are refused,
non-UTF-8 form bodies get 400. Config A.
"""
from lib import *

header("M8 - e-mail normalisation (config A)")
alice = "alice%s@example.com" % secrets.token_hex(2)
alice_local = alice.split("@")[0]
signup_user(alice)
coco = "coco%d@example.com" % random.randrange(10**6, 10**7)
signup_user(coco)
cyr = {"a": "\u0430", "c": "\u0441", "o": "\u043e", "e": "\u0435"}
coco_cyr = "".join(cyr.get(ch, ch) for ch in coco.split("@")[0][:4]) + coco.split("@")[0][4:]

cases = {
    "plain blocked (rule denies)": "eve@blocked.example",
    "upper-case blocked": "Eve2@BLOCKED.example",
    "full-width blocked domain": "eve6@\uff42\uff4c\uff4f\uff43\uff4b\uff45\uff44.example",
    "zero-width space after domain": "eve3@blocked.example\u200b",
    "soft hyphen in domain": "eve4@blocked.exam\u00adple",
    "word joiner": "eve5@blocked.example\u2060",
    "trailing dot on blocked domain": "eve7@blocked.example.",
    "alice + ZWSP": alice_local + "\u200b@example.com",
    "RTL override": "\u202emoc.elpmaxe@nimda",
    "cyrillic a in alice (mixed script)": "\u0430" + alice_local[1:] + "@example.com",
    "fullwidth a in alice": "\uff41" + alice_local[1:] + "@example.com",
    "BOM prefix": "\ufeff" + alice,
    "NUL char": alice_local + "\x00@example.com",
    "whole-script Cyrillic look-alike of coco": coco_cyr + "@example.com",
    "cyrillic a in alice's domain": alice_local + "@ex\u0430mple.com",
}
results = {}
for label, em in cases.items():
    s = browser(fresh_ip())
    r, v, p = login(s, em, PASSWORD + "-" + secrets.token_hex(2), signup=True)
    code, q = code_of(r)
    if code:
        t = exchange(code, v).json()
        _, idt = jwt_parts(t["id_token"])
        out = f"SIGNED UP as {idt.get('email')!r}"
    elif "error" in q:
        out = q["error"][0]
    else:
        out = (alert(r) or [r.status_code])[0]
    results[label] = out
    print(f"  {label:45s} -> {out}")

signed = {k: v for k, v in results.items() if str(v).startswith("SIGNED UP")}
bypass = {k: v for k, v in signed.items() if "blocked" in k or "alice" in k or "coco" in k}
verdict("M8", "invisible, look-alike and blocked-domain e-mail variants at sign-up",
        f"t_email: {len(cases)} variants ({', '.join(cases)})",
        f"signed up {len(signed)}: {signed or 'none'}; review: 7 of 10 signed up",
        not bypass, good="HELD")

# Non-UTF-8 form body
r = requests.post(ISS + "/signup", data=b"tx=%FF%FE&csrf=%C0&email=%FF@x.io&password=%00",
                  headers={"content-type": "application/x-www-form-urlencoded"})
r2 = requests.post(ISS + "/login", data=b"tx=%FF%FE&csrf=%C0&email=%FF@x.io&password=%00",
                   headers={"content-type": "application/x-www-form-urlencoded"})
verdict("M8", "form bodies that are not UTF-8",
        "POST /signup and /login with percent-encoded invalid UTF-8",
        f"/signup {r.status_code}, /login {r2.status_code}",
        r.status_code == 400 and r2.status_code == 400, good="HELD")

# Logging in with a look-alike of an existing address never reaches the account
r, v, p = login(browser(fresh_ip()), "\uff41" + alice_local[1:] + "@example.com", PASSWORD)
r2, v, p = login(browser(fresh_ip()), alice.upper(), PASSWORD)
verdict("M8", "login with look-alike vs case variant of an existing address",
        "full-width 'ａ' variant with alice's password; upper-case variant with alice's password",
        f"look-alike -> {r.status_code}; upper-case -> {r2.status_code}",
        r.status_code == 401 and r2.status_code == 303, good="HELD")
