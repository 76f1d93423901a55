"""DNS lookup latency against a container's resolver, with the loop's own cost.

Run inside a container on a user-defined network (see scripts/bench-dns.sh):

    dns-latency.py [-n QUERIES] [-w WARMUP] [--server ADDR] NAME...

For each NAME: a UDP socket connected to the resolver (127.0.0.11:53, the
embedded DNS server hoist runs in each such container's network namespace)
sends WARMUP untimed and then QUERIES timed A queries, one at a time, each
timed from its send to the receipt of its answer; every answer is checked
(same id, a response, RCODE 0, at least one A record) or the run fails.
Then, as a baseline for the loop's own cost (Python, two system calls, the
kernel's UDP path), the same number of round trips of a datagram of the
same size to a trivial UDP echo server that this script runs in a thread on
127.0.0.1 (in the same network namespace): what DNS takes beyond that is
the resolver's own share (its wake-up, parsing, the lookup, the answer).
Prints, per measurement, the median, p90, p99, min and max in microseconds.
Python 3 standard library only.
"""

import argparse
import socket
import struct
import sys
import threading
import time


def query(qid, name):
    """A DNS query for the A record of NAME, recursion desired."""
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)


def skip_name(msg, i):
    """The offset just past the (possibly compressed) name at offset I."""
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def check(reply, q):
    """The A addresses in REPLY, the answer to Q; raises if it is not a good one."""
    if len(reply) < 12:
        raise ValueError(f"short reply ({len(reply)} bytes)")
    qid, flags, qdcount, ancount = struct.unpack(">HHHH", reply[:8])
    if qid != struct.unpack(">H", q[:2])[0]:
        raise ValueError(f"id {qid}, asked {struct.unpack('>H', q[:2])[0]}")
    if not flags & 0x8000:
        raise ValueError("not a response")
    if flags & 0xF:
        raise ValueError(f"RCODE {flags & 0xF}")
    if ancount < 1:
        raise ValueError("no answer record")
    i = 12
    for _ in range(qdcount):
        i = skip_name(reply, i) + 4
    addresses = []
    for _ in range(ancount):
        i = skip_name(reply, i)
        rtype, _rclass, _ttl, rdlength = struct.unpack(">HHIH", reply[i : i + 10])
        i += 10
        if rtype == 1 and rdlength == 4:
            addresses.append(socket.inet_ntoa(reply[i : i + 4]))
        i += rdlength
    if not addresses:
        raise ValueError("no A record among the answers")
    return addresses


def percentile(sorted_ns, p):
    """Nearest-rank percentile P (0-100) of SORTED_NS, in microseconds."""
    k = max(0, min(len(sorted_ns) - 1, -(-len(sorted_ns) * p // 100) - 1))
    return sorted_ns[k] / 1000


def summary(label, times, extra=""):
    times.sort()
    print(
        f"{label:24} median {percentile(times, 50):7.1f}  p90 {percentile(times, 90):7.1f}"
        f"  p99 {percentile(times, 99):7.1f}  min {times[0] / 1000:7.1f}  max {times[-1] / 1000:8.1f} us{extra}",
        flush=True,
    )
    return percentile(times, 50)


def time_dns(server, name, n, warmup):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(server)
    s.settimeout(2)
    clock = time.perf_counter_ns
    times = []
    addresses = None
    for i in range(warmup + n):
        q = query(i & 0xFFFF, name)
        t = clock()
        s.send(q)
        r = s.recv(512)
        elapsed = clock() - t
        try:
            got = check(r, q)
        except (ValueError, IndexError, struct.error) as e:
            sys.exit(f"dns-latency: query {i} for {name}: bad answer: {e}: {r!r}")
        addresses = addresses or got
        if i >= warmup:
            times.append(elapsed)
    s.close()
    return times, addresses


def echo_server(sock):
    while True:
        data, peer = sock.recvfrom(512)
        if data == b"":
            return
        sock.sendto(data, peer)


def time_echo(size, n, warmup):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=echo_server, args=(server,), daemon=True)
    thread.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(server.getsockname())
    s.settimeout(2)
    clock = time.perf_counter_ns
    payload = bytes(size)
    times = []
    for i in range(warmup + n):
        t = clock()
        s.send(payload)
        r = s.recv(512)
        elapsed = clock() - t
        if len(r) != size:
            sys.exit(f"dns-latency: echo {i}: {len(r)} bytes back, sent {size}")
        if i >= warmup:
            times.append(elapsed)
    s.send(b"")
    thread.join(2)
    s.close()
    server.close()
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--queries", type=int, default=5000)
    ap.add_argument("-w", "--warmup", type=int, default=200)
    ap.add_argument("--server", default="127.0.0.11")
    ap.add_argument("names", nargs="+")
    a = ap.parse_args()
    server = (a.server, 53)
    print(f"{a.queries} timed queries per name after {a.warmup} warm-up, one at a time, to {a.server}:53 (UDP)")
    medians = {}
    for name in a.names:
        try:
            times, addresses = time_dns(server, name, a.queries, a.warmup)
        except socket.timeout:
            sys.exit(f"dns-latency: no answer for {name} from {a.server}:53 within 2 s")
        medians[name] = summary(f"A {name}", times, f"  -> {', '.join(addresses)}")
    size = len(query(0, a.names[0]))
    echo = summary(f"echo 127.0.0.1 ({size} B)", time_echo(size, a.queries, a.warmup))
    for name, med in medians.items():
        print(f"A {name}: median {med:.1f} us, {med - echo:.1f} us beyond the echo loop's median (target: median < 1000 us)")


if __name__ == "__main__":
    main()
