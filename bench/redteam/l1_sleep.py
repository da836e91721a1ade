"""L1: Rhai's sleep() ignored the 200 ms rule limit (a rule could block a login forever).

Review (`portico rules test`, the same engine): sleep(5) succeeded after 5.01 s,
'sleep(2); let x = 1; x += 1;' denied after 2.01 s, sleep(1e9) still sleeping after 6 s.
Now: sleep() raises an error, so the rule denies at once.
"""
from lib import *

header("L1 - sleep() in rules (portico rules test, same engine as the server)")
d = os.path.join(RT, "l1")
os.makedirs(d, exist_ok=True)
base = f'''issuer = "http://127.0.0.1:1"
data_dir = "{d}/data"
[[connection]]
name = "db"
signup = true
[[client]]
client_id = "web"
type = "public"
redirect_uris = ["http://127.0.0.1:39999/callback"]
connection = "db"
'''
res = {}
for name, script in [("s1", "sleep(5)"), ("s2", "sleep(2); let x = 1; x += 1;"), ("s3", "sleep(1e9)"),
                     ("s4", "let d = 3; sleep(d);"), ("s5", "try { sleep(5); } catch { }"),
                     ("s6", "let f = Fn(\"sleep\"); f.call(5);")]:
    cfg = os.path.join(d, f"{name}.toml")
    open(cfg, "w").write(base + f"[[rule]]\nname = \"{name}\"\nscript = '''{script}'''\n")
    t0 = time.time()
    try:
        r = subprocess.run([BIN, "rules", "test", "--client", "web", "--email", "a@b.co", "--config", cfg],
                           capture_output=True, text=True, timeout=15)
        out = (r.stdout + r.stderr).strip().splitlines()
        out = out[-1] if out else ""
    except subprocess.TimeoutExpired:
        out = "STILL RUNNING after 15 s (killed)"
    res[script] = (round(time.time() - t0, 2), out[:90])
    print(f"  {script:32s} -> {res[script][1]} ({res[script][0]} s)")
slow = {k: v for k, v in res.items() if v[0] > 1.0}
verdict("L1", "sleep() in a rule",
        "portico rules test with: " + "; ".join(res.keys()),
        f"slowest {max(v[0] for v in res.values())} s; outcomes: " + "; ".join(f"{k} -> {v[1][:50]}" for k, v in res.items())
        + " (review: 5.01 s success, 2.01 s, > 6 s)",
        not slow)
