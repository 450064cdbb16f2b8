"""Benchmarks of the queues under a LINE burst (`make bench ONLY=queues`). Needs PostgreSQL and Redis.

    BENCH line_event_reply_p99 <s> s                 LINE events at 100/s open loop for 60 s: from the
                                                     event's scheduled send to the answer arriving at
                                                     the LINE emulator (reply, or push once the token
                                                     expired), p99 (target ≤ 2)
    BENCH notice_latency_p99_under_line_burst <s> s  受付 notices while that burst runs: a paid request
                                                     per second, from the capture at the gateway to the
                                                     LINE push arriving at the emulator, p99 (target ≤ 5)

Runs in a process of its own on the production shape (bench/_stack.py: a scratch PostgreSQL database
on 127.0.0.1:5432, Redis on 127.0.0.1:6379 with django-tasks-rq, gunicorn with 2 workers,
`manage.py workers` with the documented counts — BENCH_LINE_WORKERS overrides the line count — and
the scheduler); skipped, saying so, when PostgreSQL or Redis does not answer. The requests are
drafted and signed before the clock starts, so the driver only captures and notifies during the run.
An answer still missing `DRAIN` seconds after the burst counts with its wait until then (so the p99
is then a lower bound, and the output says how many were missing).
"""

import math
import os
import subprocess
import sys
import time

from madoguchi.bench import _stack

LINE_RATE, SECONDS, PAY_RATE = 100.0, 60.0, 1.0
DRAIN = float(os.environ.get("BENCH_QUEUES_DRAIN_SECONDS", "120"))


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[max(math.ceil(len(values) * 0.99) - 1, 0)] if values else float("nan")


def main() -> int:
    from concurrent.futures import ThreadPoolExecutor

    from madoguchi.bench.soak import Load, open_loop, settle

    counts = _stack.default_worker_counts()
    counts["line"] = line_workers = int(os.environ.get("BENCH_LINE_WORKERS", counts["line"]))
    with _stack.Stack("queues", worker_counts=counts) as stack:
        load = Load(stack)
        load.prepare()
        payments = int(SECONDS * PAY_RATE)
        with ThreadPoolExecutor(max_workers=4) as pool:
            prepared = [p for p in pool.map(lambda n: load.awaiting_payment(n, line_share=1), range(payments + 2))
                        if p is not None]
        # Warm-up: every gunicorn thread, worker and emulator path once, then settle.
        open_loop(load, 5, {"line": 10.0})
        load.capture(prepared.pop())
        settle(load, 60)
        load.line.clear()
        load.paid.clear()
        with stack.recorder.lock:
            stack.recorder.deliveries.clear()
        print(f"queues: {SECONDS:.0f} s of LINE events at {LINE_RATE:g}/s and {PAY_RATE:g} payment/s on "
              f"PostgreSQL + Redis, line workers {line_workers}; load average {os.getloadavg()[0]:.1f}", flush=True)

        streams = iter(prepared)
        load.pay_next = lambda n, scheduled: load.capture(next(streams))
        started = time.monotonic()
        _run(load, SECONDS)
        print(f"queues: load sent in {time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.1f}",
              flush=True)
        waited, left = settle(load, DRAIN)
        end = time.monotonic()
        print(f"queues: settled after {waited:.0f} s" + (f" (still open: {'; '.join(left)})" if left else ""),
              flush=True)

        with stack.recorder.lock:
            deliveries = [d for d in stack.recorder.deliveries if d.status == 200]
        first_reply = {}
        for d in deliveries:
            key = d.token if d.kind == "reply" else d.to
            first_reply.setdefault((d.kind, key), d.at)
        line_latency, missing = [], 0
        for sent in load.line:
            at = min(first_reply.get(("reply", sent.token), math.inf), first_reply.get(("push", sent.user), math.inf))
            if at == math.inf:
                missing += 1
                at = end
            line_latency.append(at - sent.scheduled)
        notice_latency, notices_missing = [], 0
        for paid in load.paid:
            at = first_reply.get(("push", paid.line_user), math.inf)
            if at == math.inf:
                notices_missing += 1
                at = end
            notice_latency.append(at - paid.scheduled)
        pushed = sum(1 for d in deliveries if d.kind == "push") - len(load.paid) + notices_missing
        median = sorted(line_latency)[len(line_latency) // 2] if line_latency else float("nan")
        print(f"queues: {len(load.line)} LINE events, {missing} unanswered after the drain, {max(pushed, 0)} answered "
              f"by push (token expired), median {median:.1f} s; {len(load.paid)} notices, {notices_missing} not "
              "arrived", flush=True)
        statuses = ", ".join(f"{s}:{c}={n}" for (s, c), n in sorted(load.statuses.items()))
        print(f"queues: answers {statuses}", flush=True)
    print(f"BENCH line_event_reply_p99 {_p99(line_latency):.1f} s", flush=True)
    print(f"BENCH notice_latency_p99_under_line_burst {_p99(notice_latency):.1f} s", flush=True)
    return 0


def _run(load, seconds: float) -> None:
    """The LINE stream and the payments stream at their fixed rates (open loop)."""
    from concurrent.futures import ThreadPoolExecutor

    plan = sorted([(n / LINE_RATE, "line", n) for n in range(int(seconds * LINE_RATE))]
                  + [(n / PAY_RATE, "pay", n) for n in range(int(seconds * PAY_RATE))])
    start = time.monotonic() + 0.5
    with ThreadPoolExecutor(max_workers=96) as pool:
        for offset, name, n in plan:
            delay = start + offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(load.line_event if name == "line" else load.pay_next, n, start + offset)


def run(report) -> None:
    reason = _stack.unavailable()
    if reason:
        print(f"queues: skipped, these benchmarks need PostgreSQL and Redis on 127.0.0.1: {reason}", flush=True)
        return
    subprocess.run([sys.executable, "-m", "madoguchi.bench.queues"], check=False)


if __name__ == "__main__":
    sys.exit(main())
