#!/usr/bin/env python3
"""Connection attacks against a running nabla on loopback, one at a time, each with a
probe that asks for a cached /v1/gradient on a new connection every 50 ms and reports
its latency (p50, p99, max) and any answer that is not 200.

    scripts/attacks.py PORT [seconds] [only attacks whose name contains this]

Attacks: slow headers (2,000 connections sending a request head one byte every 5 s),
slow bodies (600 requests whose 100,000-byte bodies trickle a byte a second), idle
connections (20,000, or as many as the file-descriptor limit allows, that never send a
byte; from examples/idle_connections.rs). An attacker whose connection is closed opens
another. Traffic goes to 127.0.0.1
only, and every loop ends by itself.
"""
import asyncio
import resource
import sys
import time

HOST = "127.0.0.1"
BODY = b'{"expression": "0.5*x^2 + y*z - ln(1+exp(x^2*y^3*z))", "variables": ["x", "y", "z"], "point": {"x": 0.7, "y": -1.3, "z": 0.4}}'
REQUEST = (
    b"POST /v1/gradient HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\nConnection: close\r\n\r\n" + BODY
)


async def probe_once(port):
    start = time.perf_counter()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(HOST, port), 5)
        w.write(REQUEST)
        data = await asyncio.wait_for(r.read(), 5)
        w.close()
        status = data[9:12].decode(errors="replace")
    except Exception as e:  # a refused or timed-out probe is a failure to report
        status = type(e).__name__
    return status, (time.perf_counter() - start) * 1000


async def probe_in_process(port, seconds):
    # The probe runs in a process of its own, so the attackers' event loop does not
    # delay it: its latencies are the server's.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--probe", str(port), str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    results = []
    for line in out.decode().splitlines():
        status, ms = line.split()
        results.append((status, float(ms)))
    return results


async def probe(port, seconds):
    results = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        results.append(await probe_once(port))
        await asyncio.sleep(0.05)
    return results


async def slow_header(port, end):
    head = b"POST /v1/gradient HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 200
    while time.monotonic() < end[0]:
        try:
            r, w = await asyncio.open_connection(HOST, port)
            for b in head:
                if time.monotonic() >= end[0]:
                    break
                w.write(bytes([b]))
                await w.drain()
                await asyncio.sleep(5)
            w.close()
        except Exception:
            await asyncio.sleep(0.5)


async def slow_body(port, end):
    head = b"POST /v1/gradient HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    while time.monotonic() < end[0]:
        try:
            r, w = await asyncio.open_connection(HOST, port)
            w.write(head)
            await w.drain()
            while time.monotonic() < end[0]:
                w.write(b" ")
                await w.drain()
                await asyncio.sleep(1)
            w.close()
        except Exception:
            await asyncio.sleep(0.5)


async def idle(port, end):
    while time.monotonic() < end[0]:
        try:
            r, w = await asyncio.open_connection(HOST, port)
            # Held until the server closes it (or the attack ends).
            try:
                await asyncio.wait_for(r.read(), max(0.1, end[0] - time.monotonic()))
            except asyncio.TimeoutError:
                pass
            w.close()
        except Exception:
            await asyncio.sleep(0.5)


def summary(name, n, results):
    lat = sorted(ms for _, ms in results)
    bad = [s for s, _ in results if s != "200"]
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
    print(f"| {name} | {n} | {len(results)} | {len(bad)} | {pct(0.5):.1f} | {pct(0.99):.1f} | {lat[-1] if lat else float('nan'):.1f} |")
    sys.stdout.flush()


async def main():
    if sys.argv[1] == "--probe":
        for status, ms in await probe(int(sys.argv[2]), float(sys.argv[3])):
            print(status, ms)
        return
    port = int(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("| attack | connections | probes | probes not 200 | p50 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    await probe_once(port)  # warm the cache
    summary("none", 0, await probe_in_process(port, min(seconds, 10)))
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    for name, attack, n in [
        ("slow headers, a byte every 5 s", slow_header, 2_000),
        ("slow bodies, a byte a second", slow_body, 600),
    ]:
        if only and only not in name:
            continue
        end = [time.monotonic() + 3600]  # set once every attacker is under way
        tasks = []
        for i in range(n):
            tasks.append(asyncio.create_task(attack(port, end)))
            if i % 200 == 199:
                await asyncio.sleep(0.05)
        await asyncio.sleep(2)  # let the attack take hold
        end[0] = time.monotonic() + seconds + 1
        results = await probe_in_process(port, seconds)
        summary(name, n, results)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(1)


async def idle_attack(port, seconds):
    """The idle connections come from a Rust client (examples/idle_connections.rs): this
    event loop cannot reopen them as fast as the server closes them past its cap."""
    n = 20_000
    proc = await asyncio.create_subprocess_exec(
        "target/release/examples/idle_connections", f"127.0.0.1:{port}", str(n), str(seconds + 12),
        stdout=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(10)  # let every connection open
    results = await probe_in_process(port, seconds)
    summary("idle connections (each reopened when closed)", n, results)
    out, _ = await proc.communicate()
    print(out.decode().strip())


async def run_all():
    await main()
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    if sys.argv[1] != "--probe" and (not only or only in "idle connections"):
        await idle_attack(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 30)


asyncio.run(run_all())
