"""M7: signing keys (PEM) and password hashes sat unencrypted in a world-readable database.

Review: data_dir 755, portico.db/-wal/-shm 644, signing_keys.private_pem a clear PKCS#8 PEM.
Now: data_dir 0700, database files 0600, signing keys stored as `sealed:v1:...`
(ChaCha20-Poly1305 under PORTICO_SECRET_KEY / [secrets] key_file / <data_dir>/secret.key).
Config A (started under umask 022), plus command-line runs on copies.
"""
import shutil
import stat
from lib import *

header("M7 - data at rest (config A, server started with umask 022)")


def mode(p):
    return oct(stat.S_IMODE(os.stat(p).st_mode))[2:] if os.path.exists(p) else "absent"


modes = {n: mode(os.path.join(DATA, n)) for n in ("", "portico.db", "portico.db-wal", "portico.db-shm", "secret.key")}
modes["data_dir"] = modes.pop("")
verdict("M7", "data directory and file permissions",
        "stat the running server's data_dir and files",
        f"{modes} (review: 755 / 644)",
        modes["data_dir"] == "700" and all(v in ("600", "absent") for k, v in modes.items() if k != "data_dir"),
        good="HELD")

keys = db().execute("SELECT kid, alg, substr(private_pem, 1, 24) FROM signing_keys").fetchall()
raw = b"".join(open(os.path.join(DATA, n), "rb").read() for n in ("portico.db", "portico.db-wal")
               if os.path.exists(os.path.join(DATA, n)))
verdict("M7", "signing keys sealed at rest",
        "read signing_keys.private_pem; grep the db and WAL bytes for 'PRIVATE KEY'",
        f"{keys}; 'PRIVATE KEY' in files: {b'PRIVATE KEY' in raw}",
        all(k[2].startswith("sealed:v1:") for k in keys) and b"PRIVATE KEY" not in raw, good="HELD")

# A copy of the database without the secret signs nothing.
d = os.path.join(RT, "m7")
shutil.rmtree(d, ignore_errors=True)
os.makedirs(os.path.join(d, "copy"), mode=0o755)
os.chmod(os.path.join(d, "copy"), 0o755)
c = db()
c.execute(f"VACUUM INTO '{d}/copy/portico.db'")
c.close()
os.chmod(os.path.join(d, "copy", "portico.db"), 0o644)
cfg = open(CONFIG).read()
cfg = re.sub(r'data_dir = ".*"', f'data_dir = "{d}/copy"', cfg)
open(os.path.join(d, "portico.toml"), "w").write(cfg)
env = {**os.environ, "PORTICO_SECRET_KEY": "22" * 32}
r = subprocess.run([BIN, "keys", "list", "--config", os.path.join(d, "portico.toml")], capture_output=True,
                   text=True, env=env, timeout=60)
out = (r.stdout + r.stderr).strip().splitlines()
verdict("M7", "a copied database without the server secret",
        "VACUUM INTO a copy (0755 dir, 0644 file), `portico keys list` with another PORTICO_SECRET_KEY",
        f"exit {r.returncode}: {out[-1][:110] if out else ''}; copy now dir {mode(os.path.join(d, 'copy'))}, "
        f"db {mode(os.path.join(d, 'copy', 'portico.db'))}",
        r.returncode != 0 and "not configured" in " ".join(out)
        and mode(os.path.join(d, "copy")) == "700" and mode(os.path.join(d, "copy", "portico.db")) == "600",
        good="HELD")
info("M7", "where the default secret lives",
     "no PORTICO_SECRET_KEY or [secrets] key_file in config A",
     f"secret.key is generated inside data_dir ({modes['secret.key']}): a copy of the whole data_dir "
     f"still holds both; sealing helps against a copied database or backup of portico.db only")
