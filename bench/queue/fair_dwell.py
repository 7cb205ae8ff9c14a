#!/usr/bin/env python3
"""Fair queues: how long quiet tenants' messages wait behind a noisy tenant's backlog.

Not part of CI. For each server binary given (the first is the one measured, the others
its peers, e.g. a build from before fair queues), in the same run: starts `imgbatch up` on a
fresh data directory, fills a standard queue with a noisy tenant's backlog (MessageGroupId
"noisy"), then for --seconds keeps the noisy tenant sending faster than the consumers
process while two quiet tenants send a message every 100 ms each, and consumer threads
receive (10 at a time), "process" each message for --work-ms and delete it. Prints each
tenant class's dwell time (send to receive, from SentTimestamp) and the quiet tenants'
p50/p99 ratio against the first binary.

    python3 bench/queue/fair_dwell.py --bin build/release/src/cli/imgbatch --bin /tmp/old/imgbatch
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

import boto3
from botocore.config import Config

KEY, SECRET = "AKIAFAIRDWELL0000001", "fair-dwell-secret-key-00000000000000000000"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, work):
    port = free_port()
    env = dict(os.environ, IMGBATCH_ACCESS_KEY_ID=KEY, IMGBATCH_SECRET_ACCESS_KEY=SECRET)
    log = open(os.path.join(work, "server.log"), "w")
    proc = subprocess.Popen([binary, "up", "--data-dir", os.path.join(work, "data"), "--listen",
                             f"127.0.0.1:{port}", "--max-workers", "0", "--log-level", "warn"],
                            env=env, stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(endpoint + "/-/ready", timeout=1)
            return proc, endpoint
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{binary} did not start; see {work}/server.log")


def client(endpoint, threads):
    return boto3.session.Session().client(
        "sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=KEY,
        aws_secret_access_key=SECRET, config=Config(max_pool_connections=threads + 4))


def send_batches(sqs, url, group, first, count):
    for i in range(first, first + count, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(j), "MessageBody": f"{group}-{i + j}", "MessageGroupId": group}
            for j in range(min(10, first + count - i))])


def run(binary, args):
    work = tempfile.mkdtemp(prefix="imgbatch-fair-")
    proc, endpoint = start(binary, work)
    try:
        sqs = client(endpoint, args.consumers + 3)
        url = sqs.create_queue(QueueName="fair-dwell")["QueueUrl"]
        send_batches(sqs, url, "noisy", 0, args.backlog)
        stop = threading.Event()
        dwell = {"noisy": [], "quiet": []}
        lock = threading.Lock()

        def noisy_producer():
            n = args.backlog
            while not stop.is_set():
                send_batches(sqs, url, "noisy", n, 10)
                n += 10
                time.sleep(10 / args.noisy_rate)

        def quiet_producer(group):
            n = 0
            while not stop.is_set():
                sqs.send_message(QueueUrl=url, MessageBody=f"{group}-{n}", MessageGroupId=group)
                n += 1
                time.sleep(0.1)

        def consumer():
            while not stop.is_set():
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                          VisibilityTimeout=60,
                                          AttributeNames=["SentTimestamp"]).get("Messages", [])
                now = time.time() * 1000
                with lock:
                    for m in got:
                        kind = "quiet" if m["Body"].startswith("quiet") else "noisy"
                        dwell[kind].append(now - int(m["Attributes"]["SentTimestamp"]))
                for m in got:
                    time.sleep(args.work_ms / 1000)
                if got:
                    sqs.delete_message_batch(QueueUrl=url, Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(got)])

        threads = [threading.Thread(target=noisy_producer)]
        threads += [threading.Thread(target=quiet_producer, args=(f"quiet-{i}",)) for i in (1, 2)]
        threads += [threading.Thread(target=consumer) for _ in range(args.consumers)]
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        stop.set()
        for t in threads:
            t.join()
        return dwell
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def quantiles(values):
    if len(values) < 2:
        return float("nan"), float("nan")
    q = statistics.quantiles(values, n=100)
    return q[49], q[98]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", action="append", required=True, help="imgbatch binary (repeat)")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--backlog", type=int, default=2000)
    p.add_argument("--noisy-rate", type=float, default=500, help="noisy sends per second")
    p.add_argument("--consumers", type=int, default=4)
    p.add_argument("--work-ms", type=float, default=10, help="processing time per message")
    args = p.parse_args()
    print(f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}; backlog {args.backlog} noisy messages, noisy sends "
          f"{args.noisy_rate:.0f}/s, 2 quiet tenants at 10/s each, {args.consumers} consumers x "
          f"10 messages x {args.work_ms:.0f} ms, {args.seconds:.0f} s")
    first = None
    for binary in args.bin:
        dwell = run(binary, args)
        q50, q99 = quantiles(dwell["quiet"])
        n50, n99 = quantiles(dwell["noisy"])
        print(f"{binary}: quiet tenants' dwell p50/p99 {q50:.0f}/{q99:.0f} ms "
              f"({len(dwell['quiet'])} received); noisy tenant's {n50:.0f}/{n99:.0f} ms "
              f"({len(dwell['noisy'])} received)")
        if first is None:
            first = (q50, q99)
        else:
            print(f"  quiet p50 / p99 against {args.bin[0]}: {q50 / first[0]:.1f}x / "
                  f"{q99 / first[1]:.1f}x")


if __name__ == "__main__":
    main()
