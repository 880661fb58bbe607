#!/usr/bin/env python3
"""kill -9 harness: the real `asched serve` (fsync always) against a real loopback application
service, SIGKILLed at random moments (compaction included) and restarted. The kills fall in
three phases: the services flapping down and up; an outage, `irc` down while batches pile up a
backlog of at least --outage-events events for it (`slack` stays up, so the log interleaves
the backlog with records compaction drops); and the catch-up, both up, with a forced retry
after each restart. Checks, from the service's side, that every acknowledged event was
delivered, in order per client, under exactly one transaction id; that new ids only grow; and
that a repeated id always carries a byte-identical body. Prints one verdict line; exits 1 on
any violation.

    tools/kill9-harness.py --binary .build/release/asched --kills 40 --outage-events 20000
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICES = {"irc": "hs_irc_secret", "slack": "hs_slack_secret"}
TOKEN = "kill9-ingest-token"
LETTERS = "abcdefghijklmnopqrstuvwxyz"


class ApplicationServices:
    """The stand-in services: records every transaction; can be taken down."""

    def __init__(self):
        self.lock = threading.Lock()
        self.down = set()  # names of the services answering 503
        self.received = []  # (service, txn id, body bytes), in arrival order

    def handler(self):
        services = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):
                parts = self.path.strip("/").split("/")
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if len(parts) != 6 or parts[0] not in SERVICES or parts[1:5] != ["_matrix", "app", "v1", "transactions"]:
                    return self.answer(404, b'{"errcode":"M_UNRECOGNIZED"}')
                if self.headers.get("Authorization") != "Bearer " + SERVICES[parts[0]]:
                    return self.answer(403, b'{"errcode":"M_FORBIDDEN"}')
                with services.lock:
                    if parts[0] in services.down:
                        return self.answer(503, b'{"errcode":"M_UNAVAILABLE"}')
                    services.received.append((parts[0], int(parts[5]), body))
                self.answer(200, b"{}")

            def answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


class QuietServer(ThreadingHTTPServer):
    """A killed daemon drops its connections mid-answer; that is the point, not an error."""
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(method, url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return response.status, json.loads(response.read() or b"{}")


class Daemon:
    def __init__(self, binary, config, log):
        self.binary, self.config, self.log = binary, config, log
        self.process = None

    def start(self, port):
        self.process = subprocess.Popen([self.binary, "serve", "--config", self.config, "--log-level", "info"],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"kill9: asched serve exited with {self.process.returncode} at start; see {self.log.name}")
            try:
                if request("GET", f"http://127.0.0.1:{port}/healthz", timeout=1)[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        raise SystemExit("kill9: asched serve did not answer /healthz within 60 s")

    def kill(self):
        """SIGKILLs the daemon; returns whether a compaction was running at that moment."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        return self.compacting()

    def compacting(self):
        """Whether the daemon's log says a compaction is running (it started and has not ended)."""
        self.log.flush()
        with open(self.log.name, "rb") as file:
            file.seek(max(0, os.path.getsize(self.log.name) - 65536))
            lines = [line for line in file.read().split(b"\n")
                     if b"compaction started" in line or b"compacted" in line or b"compaction failed" in line]
        return bool(lines) and b"compaction started" in lines[-1]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def client(number, port, acknowledged, stop, lock, counters, batch=1, weights=None):
    """Posts `batch` events at a time for one service (chosen by `weights`), each numbered per
    client; records acknowledgements."""
    rng = random.Random(number)
    names = list(SERVICES)
    while not stop.is_set():
        service = rng.choices(names, weights)[0]
        with lock:
            first = counters.get((number, service), 0) + 1
            counters[(number, service)] = first + batch - 1
        # Random letters: LZ4 must not shrink the backlog to a few segments, or compaction would not run.
        events = [{"type": "m.room.message", "content": {"client": number, "seq": sequence,
                                                         "pad": "".join(rng.choices(LETTERS, k=rng.randint(0, 400)))}}
                  for sequence in range(first, first + batch)]
        try:
            status, answer = request("POST", f"http://127.0.0.1:{port}/_asched/v1/services/{service}/enqueue",
                                     {"events": events}, timeout=5)
            if status == 200 and "position" in answer:
                with lock:
                    acknowledged.extend((service, number, sequence) for sequence in range(first, first + batch))
        except (urllib.error.URLError, ConnectionError, OSError, ValueError):
            time.sleep(0.02)


def queued(port, service):
    """The events queued or pending for `service`, as the daemon reports them (0 if it cannot)."""
    try:
        _, answer = request("GET", f"http://127.0.0.1:{port}/_asched/v1/services")
        return next(s["queued_events"] for s in answer["services"] if s["id"] == service)
    except (urllib.error.URLError, ConnectionError, OSError, ValueError, StopIteration):
        return 0


def check(received, acknowledged):
    violations = []
    bodies, first_seen = {}, {}
    for service, txn, body in received:
        known = bodies.setdefault(service, {})
        if txn in known:
            if known[txn] != body:
                violations.append(f"{service} transaction {txn} was resent with a different body")
        else:
            known[txn] = body
            first_seen.setdefault(service, []).append(txn)
    for service, ids in first_seen.items():
        if ids != sorted(ids):
            violations.append(f"{service}: new transaction ids arrived out of order: {ids[:20]}")
    delivered = {}
    for service, known in bodies.items():
        per_client = {}
        for txn in sorted(known):
            for event in json.loads(known[txn]).get("events", []):
                key = (service, event["content"]["client"], event["content"]["seq"])
                if key in delivered:
                    violations.append(f"{key} delivered under transactions {delivered[key]} and {txn}")
                delivered[key] = txn
                per_client.setdefault(event["content"]["client"], []).append(event["content"]["seq"])
        for number, sequences in per_client.items():
            if sequences != sorted(sequences):
                violations.append(f"{service}: client {number}'s events arrived out of order")
    missing = [key for key in acknowledged if key not in delivered]
    if missing:
        violations.append(f"{len(missing)} acknowledged events never delivered, e.g. {missing[:5]}")
    return violations, delivered, bodies


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/asched", help="the asched executable")
    parser.add_argument("--kills", type=int, default=30, help="how many times to SIGKILL the daemon")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="seed of the kill timing and flapping")
    parser.add_argument("--workdir", help="keep the data directory and daemon log here")
    parser.add_argument("--outage-events", type=int, default=3000,
                        help="the outage lasts until at least this many events are acknowledged for the DOWN service")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    workdir = args.workdir or tempfile.mkdtemp(prefix="asched-kill9-")
    os.makedirs(workdir, exist_ok=True)
    services = ApplicationServices()
    server = QuietServer(("127.0.0.1", 0), services.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    as_port, port = server.server_address[1], free_port()
    registrations = []
    for service, hs_token in SERVICES.items():
        path = os.path.join(workdir, f"{service}.yaml")
        with open(path, "w") as file:
            file.write(f"id: {service}\nurl: http://127.0.0.1:{as_port}/{service}\nas_token: as_{service}\n"
                       f"hs_token: {hs_token}\nsender_localpart: {service}bot\n"
                       f"namespaces:\n  users: [{{regex: \"@{service}_.*\", exclusive: true}}]\n")
        registrations.append(path)
    config = os.path.join(workdir, "asched.yaml")
    with open(config, "w") as file:
        file.write(f"data_dir: data\nlisten: 127.0.0.1:{port}\ningest_token: {TOKEN}\nfsync: always\n"
                   f"segment_size: 16KiB\nbackoff_initial: 50ms\nbackoff_max: 500ms\nsend_timeout: 2s\n"
                   f"registrations: [{', '.join(registrations)}]\n")
    log = open(os.path.join(workdir, "asched.log"), "ab")
    daemon = Daemon(args.binary, config, log)
    acknowledged, lock, counters = [], threading.Lock(), {}
    during_compaction = 0

    # Kill rounds [0, outage_from) flap, [outage_from, drain_from) are the outage, the rest the catch-up.
    outage_from, drain_from = args.kills // 3, 2 * args.kills // 3
    outage_kills = drain_kills = backlog_peak = 0
    acknowledged_before_outage = 0

    def outage_acknowledged():
        return sum(1 for key in acknowledged[acknowledged_before_outage:] if key[0] == "irc")

    print(f"kill9: seed {args.seed}, {args.kills} kills, outage of {args.outage_events} events, work directory {workdir}",
          flush=True)
    for round_number in range(args.kills + 1):
        outage = outage_from <= round_number < drain_from
        if round_number == outage_from:
            with lock:
                acknowledged_before_outage = len(acknowledged)
        with services.lock:
            if outage:
                services.down = {"irc"}
            elif round_number >= drain_from:
                services.down = set()
        daemon.start(port)
        if round_number >= drain_from:
            try:
                request("POST", f"http://127.0.0.1:{port}/_asched/v1/services/irc/retry")
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                pass
        stop = threading.Event()
        # During the outage, batches of 10, three in four for the DOWN service, build the backlog.
        batch, weights = (10, [3, 1]) if outage else (1, None)
        threads = [threading.Thread(target=client, args=(number, port, acknowledged, stop, lock, counters, batch, weights))
                   for number in range(args.clients)]
        for thread in threads:
            thread.start()
        if round_number == args.kills:
            break
        time.sleep(rng.uniform(0.05, 0.8))
        if outage and round_number == drain_from - 1:
            # The outage's last round lasts until the backlog is built.
            deadline = time.time() + 300
            while outage_acknowledged() < args.outage_events and time.time() < deadline:
                time.sleep(0.05)
        if outage:
            backlog_peak = max(backlog_peak, queued(port, "irc"))
            # Half the outage's kills aim at a compaction: the backlog's checkpoints are the large ones.
            deadline = time.time() + (2 if rng.random() < 0.5 else 0)
            while time.time() < deadline and not daemon.compacting():
                time.sleep(0.002)
        during_compaction += daemon.kill()
        outage_kills += outage
        drain_kills += round_number >= drain_from
        stop.set()
        for thread in threads:
            thread.join()
        with services.lock:
            if round_number + 1 < outage_from:
                services.down = set(SERVICES) if rng.random() < 0.3 else set()
        if sys.stderr.isatty():
            print(f"\rkill9: {round_number + 1}/{args.kills} kills, {len(acknowledged)} events acknowledged", end="",
                  file=sys.stderr, flush=True)

    stop.set()
    for thread in threads:
        thread.join()
    with services.lock:
        services.down = set()
    deadline = time.time() + 120
    while time.time() < deadline:
        _, answer = request("GET", f"http://127.0.0.1:{port}/_asched/v1/services")
        if all(s["pending_txns"] == 0 and s["queued_events"] == 0 for s in answer["services"]):
            break
        time.sleep(0.1)
    status = daemon.stop()
    server.shutdown()
    verify = subprocess.run([args.binary, "verify", os.path.join(workdir, "data")], capture_output=True, text=True)

    violations, delivered, bodies = check(services.received, acknowledged)
    if status != 0:
        violations.append(f"SIGTERM exit status {status}")
    if args.outage_events and drain_from > outage_from and outage_acknowledged() < args.outage_events:
        violations.append(f"the outage built a backlog of {outage_acknowledged()} events, not {args.outage_events}")
    if verify.returncode != 0:
        violations.append("asched verify: " + verify.stdout.strip().splitlines()[-1])
    resent = len(services.received) - sum(len(known) for known in bodies.values())
    print(f"\nkill9: {'OK' if not violations else 'FAILED'}: {args.kills} kills survived, {len(acknowledged)} events "
          f"acknowledged, {len(delivered)} delivered in {sum(len(k) for k in bodies.values())} transactions "
          f"({resent} resent), {during_compaction} kills during compaction, {len(violations)} violations (seed {args.seed}); "
          f"outage: {outage_acknowledged()} events acknowledged for irc while down (backlog up to {backlog_peak} queued), "
          f"{outage_kills} kills during the outage, {drain_kills} during the catch-up")
    for violation in violations[:20]:
        print("  " + violation)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
