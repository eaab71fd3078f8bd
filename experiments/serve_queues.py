"""Why the server's hybrid p95 was 1.85 times its median: a simulation of 16 closed-loop clients
on two cores, under the two ways of handing requests to processes.

    python -m experiments.serve_queues

- ``accepted``: as ``baheth serve`` ran before 2026-12-05 12:00 (uvicorn workers sharing one
  listening socket, each response closing its connection): each request goes to one of the two
  processes at random, busy or not; a process runs up to 2 requests at once (its 2 engines),
  sharing its core between them, and queues the rest.
- ``one queue``: as ``server.dispatch`` does now: every request waits in one first-come,
  first-served queue, and whichever process is free takes the next.

A request's CPU time is drawn from a log-normal distribution with the measured mean (26 ms a
hybrid request, ``python -m bench.serve_load``) and coefficient of variation (0.27 measured over
300 questions one at a time; 0.2 and 0.5 around it). Nothing else runs on the cores.
"""
from __future__ import annotations

import heapq
import math
import random

import click


def service_times(mean: float, cv: float, seed: int):
    rnd = random.Random(seed)
    sigma = math.sqrt(math.log(1 + cv * cv))
    mu = math.log(mean) - sigma * sigma / 2
    while True:
        yield rnd.lognormvariate(mu, sigma)


def one_queue(clients: int, cores: int, work, requests: int) -> list[float]:
    """Latencies under one first-come, first-served queue before ``cores`` processes."""
    free, arrivals, latencies = [0.0] * cores, [(0.0, c) for c in range(clients)], []
    heapq.heapify(arrivals)
    while len(latencies) < requests:
        arrived, client = heapq.heappop(arrivals)
        core = min(range(cores), key=free.__getitem__)
        done = max(arrived, free[core]) + next(work)
        free[core] = done
        latencies.append(done - arrived)
        heapq.heappush(arrivals, (done, client))
    return latencies


def accepted(clients: int, cores: int, work, requests: int, engines: int = 2, seed: int = 1,
             step: float = 0.25) -> list[float]:
    """Latencies when each request goes to a process at random (time-stepped, ``step`` ms)."""
    rnd = random.Random(seed)
    queues = [[] for _ in range(cores)]   # per process: [arrival, work left], the first ``engines`` running
    for _ in range(clients):
        queues[rnd.randrange(cores)].append([0.0, next(work)])
    now, latencies = 0.0, []
    while len(latencies) < requests:
        now += step
        for queue in queues:
            running = queue[:engines]
            for request in running:
                request[1] -= step / len(running)
            for request in [r for r in running if r[1] <= 0]:
                queue.remove(request)
                latencies.append(now - request[0])
                queues[rnd.randrange(cores)].append([now, next(work)])
    return latencies


@click.command()
@click.option("--clients", default=16, show_default=True)
@click.option("--mean-ms", default=26.0, show_default=True, help="A request's mean CPU ms.")
@click.option("--requests", default=40_000, show_default=True)
def main(clients, mean_ms, requests):
    click.echo("| CV of a request's CPU | handing | req/s | p50 ms | p95 ms |\n|---|---|---|---|---|")
    for cv in (0.2, 0.27, 0.5):
        for name, policy in (("accepted", accepted), ("one queue", one_queue)):
            latencies = sorted(policy(clients, 2, service_times(mean_ms, cv, seed=1), requests))
            rate = 1000 * clients / (sum(latencies) / len(latencies))
            click.echo(f"| {cv} | {name} | {rate:.1f} | {latencies[len(latencies) // 2]:.0f} | "
                       f"{latencies[int(0.95 * len(latencies))]:.0f} |")


if __name__ == "__main__":
    main()
