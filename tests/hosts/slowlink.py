"""A slow link for one lab host: every byte the host sends to the services host arrives `--delay`
seconds later, as `tc qdisc add dev eth0 root netem delay 100ms` on the host's egress would make it.

Why by hand: this kernel is built without sch_netem (CONFIG_NET_SCH_NETEM is not set), and no
other qdisc it has (htb, tbf, ingress) delays packets. Loss, the other half of netem, stays in the
kernel: hostlab drops packets on the host's eth0 with nftables `numgen random`, so TCP really
retransmits; only the latency is added here, per TCP segment as the host hands it over.

Runs inside the host's network namespace. nftables redirects the host's connections to the
services host to this proxy; SO_ORIGINAL_DST tells it where each was going. Its own upstream
connections carry the firewall mark `MARK`, which the redirect rule lets through.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import time

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h
MARK = 0x4C


def original_destination(sock: socket.socket) -> tuple[str, int]:
    """(address, port) the redirected connection was made to (a struct sockaddr_in)."""
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    (port,) = struct.unpack("!H", raw[2:4])
    return socket.inet_ntoa(raw[4:8]), port


async def delayed_copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy one direction, each chunk leaving `delay` seconds after it arrived (order kept, so
    a busy connection keeps its throughput and only gains latency)."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, chunk = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.create_task(send())
    try:
        while True:
            chunk = await reader.read(65536)
            queue.put_nowait((time.monotonic() + delay, chunk))
            if not chunk:
                break
        await sender
    finally:
        sender.cancel()


async def serve(port: int, delay: float) -> None:
    loop = asyncio.get_running_loop()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_writer = None
        try:
            host, dport = original_destination(client_writer.get_extra_info("socket"))
            await asyncio.sleep(delay)  # the SYN crosses the slow link too
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, MARK)
            upstream.setblocking(False)
            await asyncio.wait_for(loop.sock_connect(upstream, (host, dport)), 30)
            upstream_reader, upstream_writer = await asyncio.open_connection(sock=upstream)
            await asyncio.gather(
                delayed_copy(client_reader, upstream_writer, delay), delayed_copy(upstream_reader, client_writer, 0.0)
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass  # the host's client sees its connection close, as after a reset
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.close()

    server = await asyncio.start_server(handle, "0.0.0.0", port, backlog=1024)
    print(f"slowlink on :{port}, +{delay * 1000:.0f} ms", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.1, help="seconds added to each byte sent")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.delay))


if __name__ == "__main__":
    main()
