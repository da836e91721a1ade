"""M5: request bodies had no read timeout (slow POST); fds ran out at 1,024.

Review (ulimit -n 1024): 1,100 trickling POST bodies made /healthz time out and the log
said "Too many open files". Now: body_timeout_secs = 10 (408, connection closed),
header_timeout_secs = 5, RLIMIT_NOFILE raised to the hard limit at start, max_connections.
Server D: config B started with a soft open-file limit of 1024 (systemd's default).
"""
import socket
import threading
from lib import *

header("M5 - slow bodies, slow heads, open-file limit (server D, soft nofile 1024 at start)")
pid = int(os.environ["PID"])
limits = open(f"/proc/{pid}/limits").read()
m = re.search(r"Max open files\s+(\d+)\s+(\d+)", limits)
soft, hard = int(m.group(1)), int(m.group(2))
verdict("M5", "open-file limit raised at start",
        "server started under `ulimit -Sn 1024`",
        f"/proc/PID/limits: soft {soft}, hard {hard}", soft == hard and soft > 1024)


def slow_post(body_interval=1.0, path="/token"):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              f"Content-Length: 60000\r\n\r\na".encode())
    return s


def time_to_close(s, trickle=1.0, limit=30):
    """Keep sending one byte per `trickle` s; return (seconds until the server closed, first line)."""
    t0 = time.time()
    s.settimeout(trickle)
    got = b""
    while time.time() - t0 < limit:
        try:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        except socket.timeout:
            try:
                s.sendall(b"a")
            except OSError:
                break
        except OSError:
            break
    return time.time() - t0, got.split(b"\r\n")[0].decode(errors="replace")


# 1. One body trickling at 1 byte/s (the review's connection stayed > 25 s).
took, line = time_to_close(slow_post())
verdict("M5", "one POST body trickling at 1 byte/s",
        "Content-Length 60000, one byte per second",
        f"server answered '{line}' and closed after {took:.1f} s (body_timeout 10 s; review: open > 25 s)",
        took <= 13 and "408" in line)

# 2. A head that never ends.
s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
t0 = time.time()
s.settimeout(30)
try:
    data = s.recv(200)
except OSError:
    data = b""
took = time.time() - t0
verdict("M5", "request head never finished",
        "GET with an unfinished head",
        f"answered '{data.split(chr(13).encode())[0].decode(errors='replace')}' / closed after {took:.1f} s (header_timeout 5 s)",
        took <= 7)
s.close()

# 3. The review's attack: 1,100 trickling bodies (one byte per socket every 2 s).
socks = []
for i in range(1100):
    try:
        socks.append(slow_post())
    except OSError as e:
        print("  connect", i, e)
        break
fds = len(os.listdir(f"/proc/{pid}/fd"))
probes = []
closed_at = {}
t0 = time.time()
for k in range(7):
    time.sleep(2)
    for i, s in enumerate(socks):
        if i in closed_at:
            continue
        try:
            s.sendall(b"a")
        except OSError:
            closed_at[i] = time.time() - t0
    fds = max(fds, len(os.listdir(f"/proc/{pid}/fd")))
    try:
        t1 = time.time()
        code = requests.get(ISS + "/healthz", timeout=5).status_code
        probes.append(f"{code}/{time.time() - t1:.2f}s")
    except Exception as e:  # noqa: BLE001
        probes.append(type(e).__name__)
# Sockets the server closed show as readable EOF.
alive = 0
for i, s in enumerate(socks):
    if i in closed_at:
        continue
    s.setblocking(False)
    try:
        d = s.recv(4096)
        if d == b"" or b"408" in d:
            closed_at[i] = time.time() - t0
        else:
            alive += 1
    except BlockingIOError:
        alive += 1
    except OSError:
        closed_at[i] = time.time() - t0
for s in socks:
    s.close()
log = open(os.environ["LOG"]).read()
verdict("M5", "1,100 trickling POST bodies (t_slowbody)",
        f"{len(socks)} connections, one byte per socket every 2 s, for 14 s",
        f"server fds at peak {fds}; /healthz every 2 s: {probes}; attacker sockets still open after 14 s: {alive}; "
        f"'Too many open files' in log: {'Too many open files' in log} (review: healthz FAILED)",
        all(p.startswith("200") for p in probes) and alive == 0 and "Too many open files" not in log)

# 4. Past the connection cap: 10,500 connections that send half a head and wait (one client).
#    The cap keeps the server's fds bounded; what it costs the others is measured (INFO).
time.sleep(2)
socks = []
t0 = time.time()
for i in range(10500):
    try:
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", PORT))
        socks.append(c)
    except OSError as e:
        print("  connect", i, e)
        break
time.sleep(1)
for c in socks:
    try:
        c.send(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    except OSError:
        pass
peak = 0
probes = []
for k in range(6):
    peak = max(peak, len(os.listdir(f"/proc/{pid}/fd")))
    try:
        t1 = time.time()
        code = requests.get(ISS + "/healthz", timeout=15).status_code
        probes.append(f"{code}/{time.time() - t1:.1f}s")
    except Exception as e:  # noqa: BLE001
        probes.append(type(e).__name__)
    time.sleep(1)
for c in socks:
    c.close()
time.sleep(2)
after = requests.get(ISS + "/healthz", timeout=15).status_code
log = open(os.environ["LOG"]).read()
info("M5", "10,500 stalled connections from one client (past max_connections 10000)",
     f"{len(socks)} sockets each sending a head with Content-Length 100 and no body",
     f"server fds peak {peak}; /healthz during: {probes}; after release: {after}; "
     f"'Too many open files' in log: {'Too many open files' in log}")
