"""How the server answers other clients while its image workers are busy.

`imgbatch up` runs the image workers on the same cores as the server that answers
every S3 and SQS request. This uploads a burst of images (enough to keep the
autoscaled workers on every core for a while) and, while the pipeline drains,
probes the server every 20 ms the way another client of it would: an S3 PUT of a
1 KiB object to a bucket of its own, then an SQS SendMessage to a queue of its
own. It reports the probes' latency while the workers were busy, and the drain
time (first upload started -> last output written), for each server given,
alternating them ROUNDS times so that each sees the same minutes of the host.

The probe is a process of its own (apart from the upload threads' GIL) at nice
-10 when it may (root), so that its own scheduling is not what changes between
the servers compared: a client on another machine would not share the workers'
cores.

Usage: /usr/bin/python3 bench/pipeline/responsiveness.py --bin PATH[,ENV=VALUE...] --bin ...
         [--images N] [--rounds N]
  e.g. --bin build/release/src/cli/imgbatch --bin /tmp/imgbatch-other
"""
import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the pipeline benchmark's server, watcher and upload helpers)


def corpus_items(count):
    corpus = os.path.join(bench.ROOT, "..", "shared", "corpus")
    files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus)
                   if f.lower().endswith((".jpg", ".jpeg", ".png", ".webp")))
    return [(f"r{i:04d}-{os.path.basename(files[i % len(files)])}", files[i % len(files)])
            for i in range(count)]


def probe_loop(server, stop, out):
    """PUT then SendMessage every 20 ms until `stop` is set; sends the list of
    (start time, PUT ms, send ms) to `out`. Runs in a process of its own (its
    own GIL, apart from the upload threads) at nice -10 when it may."""
    try:
        os.nice(-10)
    except PermissionError:
        pass
    s3, sqs = server.client("s3"), server.client("sqs")
    s3.create_bucket(Bucket="probe")
    url = sqs.create_queue(QueueName="probe")["QueueUrl"]
    body, samples, n = b"p" * 1024, [], 0
    while not stop.is_set():
        t0 = time.monotonic()
        s3.put_object(Bucket="probe", Key=f"k{n % 100}", Body=body)
        t1 = time.monotonic()
        sqs.send_message(QueueUrl=url, MessageBody=f"probe {n}")
        t2 = time.monotonic()
        samples.append((time.time(), 1000 * (t1 - t0), 1000 * (t2 - t1)))
        n += 1
        time.sleep(max(0.0, 0.02 - (time.monotonic() - t0)))
    out.send(samples)


class Prober:
    def __init__(self, server):
        ctx = multiprocessing.get_context("fork")
        self.stop_event = ctx.Event()
        self.receiver, sender = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=probe_loop, args=(server, self.stop_event, sender))
        self.process.start()

    def stop(self):
        self.stop_event.set()
        samples = self.receiver.recv()
        self.process.join()
        return samples


def one_run(binary, env, items, upload_threads):
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        server = bench.Server(binary)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        watcher = bench.OutputWatcher(server)
        prober = Prober(server)
        time.sleep(1)  # the idle server's probes
        t0, _acks = bench.upload_burst(server, items, upload_threads)
        if not watcher.wait_all([k for k, _ in items], 600):
            raise SystemExit(f"{binary}: outputs missing after 600 s ({server.dir})")
        t_end = max(watcher.finished(k) for k, _ in items)
        samples = prober.stop()
        watcher.stop()
        busy = [s for s in samples if t0 <= s[0] <= t_end]
        idle = [s for s in samples if s[0] < t0]
        return {"drain_s": t_end - t0, "busy": busy, "idle": idle}
    finally:
        server.stop()


def summary(samples):
    put = [s[1] for s in samples]
    send = [s[2] for s in samples]
    q = bench.percentile
    return (f"PUT p50/p99/max {q(put, .5):6.1f}/{q(put, .99):6.1f}/{max(put):6.1f} ms, "
            f"SendMessage {q(send, .5):6.1f}/{q(send, .99):6.1f}/{max(send):6.1f} ms "
            f"({len(samples)} probes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", action="append", required=True,
                    help="server binary, optionally followed by ,VAR=value,... for its env")
    ap.add_argument("--images", type=int, default=240)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--upload-threads", type=int, default=8)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("# not root: the probe runs at the default priority", file=sys.stderr)
    sides = []
    for spec in args.bin:
        path, *assignments = spec.split(",")
        sides.append((spec, path, dict(a.split("=", 1) for a in assignments)))
    items = corpus_items(args.images)
    print(f"# {time.strftime('%H:%M:%S')} {os.cpu_count()} cores, {len(items)} images per run,"
          f" load {os.getloadavg()[0]:.2f}")
    results = {spec: [] for spec, _, _ in sides}
    for r in range(args.rounds):
        for spec, path, env in sides:
            res = one_run(path, env, items, args.upload_threads)
            results[spec].append(res)
            print(f"{time.strftime('%H:%M:%S')} round {r} {spec}: drain {res['drain_s']:.1f} s;"
                  f" busy: {summary(res['busy'])}", flush=True)
    for spec, _, _ in sides:
        runs = results[spec]
        busy = [s for run in runs for s in run["busy"]]
        idle = [s for run in runs for s in run["idle"]]
        print(f"{spec}\n  drain median {statistics.median(r['drain_s'] for r in runs):.1f} s\n"
              f"  idle: {summary(idle)}\n  busy: {summary(busy)}")


if __name__ == "__main__":
    main()
