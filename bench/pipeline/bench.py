"""Pipeline benchmark: a burst of N uploads to `imgbatch up`, side by side in
one run with its peers on the same files and cores:

  auto   the default pool (min 0, max = cores, target tracking), scaling itself
  fixed  a fixed pool at max workers (min = max = cores)
  seed   the seed's own worker logic (Python + Pillow + boto3, seed_worker.py),
         one process per core, consuming the same queue of the same server
  raw    `imgbatch process` on the same files (no S3, no queue): the ceiling

For each pipeline run: drain time (first upload started -> last output
written), images/s, upload-to-output latency p50/p99 (PUT acknowledged ->
both outputs written, from the output bucket's own event times: a notification
on `output` into a `bench-done` queue), and the workers over time (from
/-/api/status). Then, on the idle auto pool, one image at a time: its
upload-to-output latency against the image's own processing time (the same
file through `imgbatch process --threads 1`, per image). Ratios at the end.

Usage: python3 bench/pipeline/bench.py [--imgbatch BIN] [--images N] ...
(Debian's python3-boto3 + python3-pil; see bench/pipeline/run.sh)."""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
ACCESS_KEY = "AKIAIMGBATCHBENCH001"
SECRET_KEY = "imgbatch/bench/secret/0123456789abcdef0123"
REGION = "us-east-1"
OUTPUTS = ("resized", "thumbs")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(p * (len(v) - 1))))]


def iso_ms(text):
    """An S3 event's eventTime ("2026-11-28T04:00:00.123Z") in epoch seconds."""
    from datetime import datetime, timezone
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


class Server:
    """One `imgbatch up` with a fresh data directory."""

    def __init__(self, binary, config_text=None, extra=()):
        self.dir = tempfile.mkdtemp(prefix="imgbatch-bench-")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        cmd = [binary, "up", "--data-dir", self.dir, "--listen", f"127.0.0.1:{self.port}"] + list(
            extra)
        if config_text:
            path = os.path.join(self.dir, "imgbatch.toml")
            with open(path, "w") as f:
                f.write(config_text)
            cmd += ["--config", path]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(IMGBATCH_ACCESS_KEY_ID=ACCESS_KEY, IMGBATCH_SECRET_ACCESS_KEY=SECRET_KEY)
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.endpoint + "/-/ready", timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"imgbatch up exited: see {self.dir}/server.log")
                time.sleep(0.05)
        with open(os.path.join(self.dir, "dashboard-token")) as f:
            self.token = f.read().strip()

    def client(self, service):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            config=Config(s3={"addressing_style": "path"},
                                          retries={"max_attempts": 3},
                                          max_pool_connections=32))

    def status(self):
        req = urllib.request.Request(self.endpoint + "/-/api/status",
                                     headers={"Authorization": "Bearer " + self.token})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if not os.environ.get("KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


class OutputWatcher:
    """Collects the output bucket's ObjectCreated events (from the bench-done
    queue): key -> {output prefix: event time}."""

    def __init__(self, server):
        self.sqs = server.client("sqs")
        self.url = self.sqs.create_queue(QueueName="bench-done")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        server.client("s3").put_bucket_notification_configuration(
            Bucket="output", NotificationConfiguration={"QueueConfigurations": [
                {"Id": "bench-done", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        self.done = {}
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            r = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                         WaitTimeSeconds=1)
            msgs = r.get("Messages", [])
            for m in msgs:
                for rec in json.loads(m["Body"]).get("Records", []):
                    key = urllib.parse.unquote_plus(rec["s3"]["object"]["key"])
                    prefix, _, source = key.partition("/")
                    with self.lock:
                        self.done.setdefault(source, {})[prefix] = iso_ms(rec["eventTime"])
            if msgs:
                self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(msgs)])

    def finished(self, key):
        with self.lock:
            d = self.done.get(key, {})
            return max(d.values()) if all(p in d for p in OUTPUTS) else None

    def wait_all(self, keys, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.finished(k) for k in keys):
                return True
            time.sleep(0.01)
        return False

    def stop(self):
        self.stopping = True
        self.thread.join()


class WorkerSampler:
    """(seconds since start, desired, running, busy) every 0.25 s."""

    def __init__(self, server, t0):
        self.server, self.t0, self.samples, self.stopping = server, t0, [], False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                w = self.server.status().get("workers", {})
                self.samples.append((time.time() - self.t0, w.get("desired", 0),
                                     w.get("running", 0), w.get("busy", 0)))
            except OSError:
                pass
            time.sleep(0.25)

    def stop(self):
        self.stopping = True
        self.thread.join()

    def timeline(self):
        """Changes only: 't=1.2s 3 running (2 busy)'."""
        out, last = [], None
        for t, _desired, running, busy in self.samples:
            if (running, busy) != last:
                out.append(f"{t:.1f}s:{running}({busy})")
                last = (running, busy)
        return " ".join(out)


def upload_burst(server, items, threads):
    """PUTs every (key, path) concurrently; returns (start time, {key: ack time})."""
    local = threading.local()
    acks = {}
    # boto3 creates clients unsafely from several threads at once: make them here.
    spare = [server.client("s3") for _ in range(threads)]
    lock = threading.Lock()

    def init():
        with lock:
            local.s3 = spare.pop()

    def put(item):
        key, path = item
        with open(path, "rb") as f:
            local.s3.put_object(Bucket="input", Key=key, Body=f.read())
        acks[key] = time.time()

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(threads, initializer=init) as pool:
        list(pool.map(put, items))
    return t0, acks


def run_pipeline(name, args, items, config=None, extra=(), seed_workers=0):
    server = Server(args.imgbatch, config, extra)
    seeds = []
    try:
        watcher = OutputWatcher(server)
        if seed_workers:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                       AWS_DEFAULT_REGION=REGION, ENDPOINT=server.endpoint,
                       QUEUE_URL=f"{server.endpoint}/000000000000/batch-queue",
                       OUTPUT_BUCKET="output")
            seeds = [subprocess.Popen([args.python, os.path.join(HERE, "seed_worker.py")],
                                      env=env) for _ in range(seed_workers)]
        t_start = time.time()
        sampler = WorkerSampler(server, t_start)
        t0, acks = upload_burst(server, items, args.upload_threads)
        if not watcher.wait_all([k for k, _ in items], args.timeout):
            missing = [k for k, _ in items if not watcher.finished(k)]
            raise SystemExit(f"{name}: {len(missing)} images without outputs after "
                             f"{args.timeout}s (log: {server.dir}/server.log, KEEP=1 keeps it)")
        ends = {k: watcher.finished(k) for k, _ in items}
        drain = max(ends.values()) - t0
        latencies = [1000 * (ends[k] - acks[k]) for k, _ in items]
        result = {"name": name, "images": len(items), "drain_s": drain,
                  "rate": len(items) / drain, "p50_ms": percentile(latencies, 0.5),
                  "p99_ms": percentile(latencies, 0.99), "upload_s": max(acks.values()) - t0}
        if name == "auto" and args.idle_probes:
            result["idle"] = idle_probe(server, watcher, args)
        sampler.stop()
        result["workers"] = sampler.timeline()
        result["peak_workers"] = max((s[2] for s in sampler.samples), default=0)
        watcher.stop()
        return result
    finally:
        for p in seeds:
            p.send_signal(signal.SIGTERM)
        for p in seeds:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        server.stop()


def idle_probe(server, watcher, args):
    """One image at a time on the idle pool (a warm, idle worker): upload-to-
    output latency against that image's own processing time."""
    def idle():
        s = server.status()
        q = next(q for q in s["queues"] if q["name"] == "batch-queue")
        w = s["workers"]
        return q["visible"] + q["in_flight"] == 0 and w["running"] >= 1 and w["busy"] == 0
    deadline = time.monotonic() + 60
    while not idle() and time.monotonic() < deadline:
        time.sleep(0.1)
    s3 = server.client("s3")
    with open(args.probe, "rb") as f:
        body = f.read()
    latencies = []
    for i in range(args.idle_probes):
        time.sleep(0.3)  # let the worker go back to its long poll
        key = f"probe/{i}.jpg"
        s3.put_object(Bucket="input", Key=key, Body=body)
        acked = time.time()
        if not watcher.wait_all([key], 60):
            raise SystemExit(f"probe {key} never finished")
        latencies.append(1000 * (watcher.finished(key) - acked))
    # The worker logs each image's job time (image_ms) beside its own
    # upload-to-output time: the overhead is measured per image, so machine
    # load slows both sides alike.
    time.sleep(0.5)
    with open(os.path.join(server.dir, "server.log"), errors="replace") as f:
        log = f.read()
    image_ms, worker_e2e = [], []
    for i in range(args.idle_probes):
        m = re.search(r"key=probe(?:/|%2F)" + str(i) + r"\.jpg .*outcome=processed image_ms=(\d+) "
                      r"upload_to_output_ms=(-?\d+)", log)
        if m:
            image_ms.append(int(m.group(1)))
            worker_e2e.append(int(m.group(2)))
    overhead = [e - j for e, j in zip(latencies, image_ms)] if len(image_ms) == len(
        latencies) else []
    return {"p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99),
            "all_ms": latencies, "image_ms_p50": percentile(image_ms, 0.5),
            "worker_e2e_p50": percentile(worker_e2e, 0.5),
            "overhead_p50": percentile(overhead, 0.5)}


def run_cold(args):
    """Scale from zero: a pool at 0 workers (scale-in cooldown 1 s), one
    image; upload-to-output includes starting the worker process."""
    config = POOL.format(min=0, max=args.workers) + "\n[scaling]\nscale_in_cooldown = 1\n"
    server = Server(args.imgbatch, config)
    try:
        watcher = OutputWatcher(server)
        s3 = server.client("s3")
        with open(args.probe, "rb") as f:
            body = f.read()
        latencies = []
        for i in range(args.cold_probes):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                s = server.status()
                q = next(q for q in s["queues"] if q["name"] == "batch-queue")
                if s["workers"]["running"] + s["workers"]["stopping"] == 0 and \
                        q["visible"] + q["in_flight"] == 0:
                    break
                time.sleep(0.1)
            key = f"cold/{i}.jpg"
            s3.put_object(Bucket="input", Key=key, Body=body)
            acked = time.time()
            if not watcher.wait_all([key], 60):
                raise SystemExit(f"cold probe {key} never finished")
            latencies.append(1000 * (watcher.finished(key) - acked))
        watcher.stop()
        return {"p50_ms": percentile(latencies, 0.5), "all_ms": latencies}
    finally:
        server.stop()


def probe_processing_ms(args):
    """The probe image's own processing time: `imgbatch process --threads 1` on
    K copies, per image (start-up amortised over the copies)."""
    k = 20
    tmp = tempfile.mkdtemp(prefix="imgbatch-probe-")
    try:
        for i in range(k):
            os.symlink(args.probe, os.path.join(tmp, f"{i}.jpg"))
        one = [args.imgbatch, "process", os.path.join(tmp, "0.jpg"), "--out",
               os.path.join(tmp, "o1"), "--threads", "1", "--progress", "none"]
        t = time.time()
        subprocess.run(one, check=True, capture_output=True)
        startup_and_one = time.time() - t
        allk = [args.imgbatch, "process", tmp, "--out", os.path.join(tmp, "ok"), "--threads",
                "1", "--progress", "none"]
        t = time.time()
        subprocess.run(allk, check=True, capture_output=True)
        all_time = time.time() - t
        return 1000 * (all_time - startup_and_one) / (k - 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_raw(args, items):
    tmp = tempfile.mkdtemp(prefix="imgbatch-raw-")
    try:
        src = os.path.join(tmp, "in")
        os.makedirs(src)
        for key, path in items:
            os.symlink(path, os.path.join(src, key.replace("/", "_")))
        t = time.time()
        subprocess.run([args.imgbatch, "process", src, "--out", os.path.join(tmp, "out"),
                        "--progress", "none"], check=True, capture_output=True)
        elapsed = time.time() - t
        return {"name": "raw", "images": len(items), "drain_s": elapsed,
                "rate": len(items) / elapsed}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Only [workers] differs from the seed's defaults.
POOL = """
[workers]
min = {min}
max = {max}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--imgbatch", default=os.path.join(ROOT, "build", "release", "src", "cli",
                                                       "imgbatch"))
    ap.add_argument("--corpus", default=os.path.normpath(os.path.join(ROOT, "..", "shared",
                                                                      "corpus")))
    ap.add_argument("--images", type=int, default=0, help="burst size (default: the corpus)")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                    help="max workers / seed processes (default: cores)")
    ap.add_argument("--upload-threads", type=int, default=8)
    ap.add_argument("--idle-probes", type=int, default=15)
    ap.add_argument("--probe", help="the idle probe's image (default: a mid-size corpus photo)")
    ap.add_argument("--cold-probes", type=int, default=5,
                    help="single uploads into a pool at zero workers (0: skip)")
    ap.add_argument("--raw-probe", action="store_true",
                    help="also time the probe file through imgbatch process")
    ap.add_argument("--python", default="/usr/bin/python3", help="for the seed worker")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--runs", default="raw,auto,fixed,seed")
    args = ap.parse_args()

    files = sorted(os.path.join(args.corpus, n) for n in os.listdir(args.corpus)
                   if n.lower().endswith((".jpg", ".jpeg")))
    n = args.images or len(files)
    items = [(f"burst/{i:04d}-{os.path.basename(files[i % len(files)])}",
              files[i % len(files)]) for i in range(n)]
    if not args.probe:
        by_size = sorted(files, key=os.path.getsize)
        args.probe = by_size[len(by_size) // 2]

    print(f"pipeline bench: {n} images from {args.corpus}, {args.workers} workers max, "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()}", flush=True)
    results = {}
    for run in args.runs.split(","):
        if run == "raw":
            results[run] = run_raw(args, items)
        elif run == "auto":
            results[run] = run_pipeline(run, args, items,
                                        config=POOL.format(min=0, max=args.workers))
        elif run == "fixed":
            results[run] = run_pipeline(run, args, items,
                                        config=POOL.format(min=args.workers, max=args.workers))
        elif run == "seed":
            results[run] = run_pipeline(run, args, items, extra=["--max-workers", "0"],
                                        seed_workers=args.workers)
        r = results[run]
        line = f"{run:6s} {r['images']} images in {r['drain_s']:.2f} s = {r['rate']:.2f} img/s"
        if "p50_ms" in r:
            line += (f"; upload-to-output p50 {r['p50_ms']:.0f} ms p99 {r['p99_ms']:.0f} ms; "
                     f"uploads took {r['upload_s']:.2f} s; workers {r['workers']}")
        print(line, flush=True)

    if "auto" in results and "idle" in results["auto"]:
        idle = results["auto"]["idle"]
        print(f"idle   one image at a time ({os.path.basename(args.probe)}, {args.idle_probes}x): "
              f"upload-to-output p50 {idle['p50_ms']:.0f} ms p99 {idle['p99_ms']:.0f} ms "
              f"(worker's own view p50 {idle['worker_e2e_p50']:.0f} ms); the image job p50 "
              f"{idle['image_ms_p50']:.0f} ms; upload-to-output minus the job, per image, p50 "
              f"{idle['overhead_p50']:+.0f} ms (target <= 25 ms)")
        print("       each: " + " ".join(f"{x:.0f}" for x in idle["all_ms"]))
        if args.raw_probe:
            print(f"       the same file through `imgbatch process --threads 1`: "
                  f"{probe_processing_ms(args):.0f} ms per image")
    if args.cold_probes and "auto" in args.runs.split(","):
        cold = run_cold(args)
        print(f"cold   one image into a pool at 0 workers, {args.cold_probes}x: upload-to-output "
              f"p50 {cold['p50_ms']:.0f} ms (each: "
              + " ".join(f"{x:.0f}" for x in cold["all_ms"]) + ")")
    ratios = []
    for a, b, target in (("auto", "raw", 0.9), ("fixed", "raw", 0.9), ("auto", "seed", 2.5),
                         ("fixed", "seed", 2.5), ("auto", "fixed", None)):
        if a in results and b in results:
            x = results[a]["rate"] / results[b]["rate"]
            ratios.append(f"{a}/{b} {x:.2f}x" + (f" (target >= {target}x)" if target else ""))
    if ratios:
        print("ratios: " + "; ".join(ratios))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
