#!/usr/bin/env python3
"""WatchUsers measured from outside, against a running user-rpc-server (scripts/bench-feed.sh runs it).

  watch_bench.py idle PORT PID N          memory of N open, idle watchers (server RSS before and after)
  watch_bench.py latency PORT RATE SECS   p50/p99 from a RegisterUser's answer to a watcher's event,
                                          while RATE registrations a second are made
  watch_bench.py throughput PORT N        events a second one watcher takes, N events already in the feed
                                          (fewer than the feed's capacity, 100,000 by default)

Frames are written from docs/PROTOCOL.md: a 4-byte big-endian length, then a JSON object.
"""
import json
import socket
import struct
import sys
import threading
import time


class Connection:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, frame):
        body = json.dumps(frame, separators=(",", ":")).encode()
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def _read(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def receive(self):
        (length,) = struct.unpack(">I", self._read(4))
        return json.loads(self._read(length))


def watch(connection, call_id, window=64, since=None):
    payload = {"bookmarks": True}
    if since:
        payload["since"] = since
    connection.send({"type": "request", "id": call_id, "method": "user.v2.UserService/WatchUsers", "window": window, "payload": payload})


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle(port, pid, count):
    before = rss_kib(pid)
    per_connection = 50
    connections = [Connection(port) for _ in range((count + per_connection - 1) // per_connection)]
    opened = 0
    for index, connection in enumerate(connections):
        streams = min(per_connection, count - index * per_connection)
        for call in range(1, streams + 1):
            watch(connection, call)
        for _ in range(streams):
            frame = connection.receive()
            assert frame["type"] == "message" and frame["payload"]["kind"] == "BOOKMARK", frame
            opened += 1
    time.sleep(1)
    after = rss_kib(pid)
    print(f"{opened} idle watchers on {len(connections)} connections: server RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB "
          f"(+{(after - before) / 1024:.1f} MiB, {(after - before) * 1024 / opened:.0f} bytes each)")


def latency(port, rate, seconds):
    watcher = Connection(port)
    watch(watcher, 1, window=1 << 20)
    assert watcher.receive()["payload"]["kind"] == "BOOKMARK"
    answered = {}
    seen = {}
    total = int(rate * seconds)

    def read_events():
        while len(seen) < total:
            frame = watcher.receive()
            if frame["type"] == "message" and frame["payload"]["kind"] == "REGISTERED":
                seen[frame["payload"]["user"]["username"]] = time.perf_counter()

    reader = threading.Thread(target=read_events, daemon=True)
    reader.start()
    writer = Connection(port)
    stamp = int(time.time())
    start = time.perf_counter()
    for index in range(total):
        # Paced: call `index` leaves at start + index / rate.
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        name = f"lat{stamp}n{index}"
        writer.send({"type": "request", "id": index + 1, "method": "user.v2.UserService/RegisterUser",
                     "payload": {"username": name, "email": f"{name}@bench.example"}})
        answer = writer.receive()
        answered[name] = time.perf_counter()
        assert answer["status"]["code"] == "OK", answer
    reader.join(timeout=30)
    delays = sorted(max(0.0, seen[name] - answered[name]) * 1000 for name in answered if name in seen)
    missing = total - len(delays)
    p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
    print(f"{total} registrations at {rate}/s: a watcher saw each {p(0.5):.2f} ms (p50), {p(0.99):.2f} ms (p99), "
          f"{delays[-1]:.2f} ms (max) after its call was answered; {missing} not seen")


def throughput(port, count):
    # The feed's start: where a watch from now begins; then `count` events already there are read.
    probe = Connection(port)
    watch(probe, 1)
    head = probe.receive()["payload"]["cursor"]
    position = int(head.rsplit(".", 1)[1])
    since = head.rsplit(".", 1)[0] + "." + str(max(0, position - count))
    watcher = Connection(port)
    start = time.perf_counter()
    watch(watcher, 1, window=1 << 20, since=since)
    taken = 0
    while taken < count:
        frame = watcher.receive()
        if frame["type"] == "response":
            sys.exit(f"the watch ended: {frame['status']}")
        if frame["type"] == "message" and frame["payload"]["kind"] != "BOOKMARK":
            taken += 1
    elapsed = time.perf_counter() - start
    print(f"one watcher took {taken} events in {elapsed:.2f} s: {taken / elapsed:,.0f} events/s")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "idle":
        idle(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "latency":
        latency(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
    elif mode == "throughput":
        throughput(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(__doc__)
