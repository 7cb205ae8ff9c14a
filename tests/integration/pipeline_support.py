"""Helpers shared by the pipeline tests (scaling, crash): a test imgbatch.toml,
generated JPEGs, concurrent uploads, the output listing and `imgbatch status
--json` samples. Runs under Debian's Python (python3-pil, python3-boto3)."""
import concurrent.futures
import io
import json
import os
import subprocess
import threading

import harness

from PIL import Image, ImageDraw

CORPUS = os.environ.get("IMGBATCH_CORPUS") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "corpus"))

OUTPUT_PREFIXES = ("resized", "thumbs")


def write_config(data_dir, *, visibility_timeout, max_workers, stop_timeout=10,
                 target_backlog_per_worker=5, scale_in_cooldown=60):
    """A test imgbatch.toml: the seed's resources with short periods."""
    path = os.path.join(data_dir, "imgbatch.toml")
    with open(path, "w") as f:
        f.write(f"""
[[queues]]
name = "batch-queue"
visibility_timeout = {visibility_timeout}
dead_letter_queue = "batch-dlq"
max_receive_count = 5

[[queues]]
name = "batch-dlq"

[workers]
min = 0
max = {max_workers}
concurrency = 1
stop_timeout = {stop_timeout}

[scaling]
policy = "target-tracking"
target_backlog_per_worker = {target_backlog_per_worker}
scale_out_cooldown = 0
scale_in_cooldown = {scale_in_cooldown}
""")
    return path


def generated_jpegs(count, size=(1600, 1200)):
    """`count` distinct JPEGs (noise under shapes: not trivially compressible)."""
    images = []
    for i in range(count):
        noise = Image.effect_noise(size, 40 + 10 * i).convert("RGB")
        draw = ImageDraw.Draw(noise)
        for j in range(8):
            x, y = (97 * (i + 1) * (j + 3)) % size[0], (61 * (i + 2) * (j + 1)) % size[1]
            draw.ellipse([x, y, x + size[0] // 4, y + size[1] // 5],
                         fill=((50 * j) % 256, (80 * i) % 256, 200))
        buf = io.BytesIO()
        noise.save(buf, "JPEG", quality=85)
        images.append(buf.getvalue())
    return images


def corpus_jpegs(limit):
    """Up to `limit` corpus photos (bytes), smallest first; [] without a corpus."""
    if not os.path.isdir(CORPUS):
        return []
    names = [n for n in os.listdir(CORPUS) if n.lower().endswith(".jpg")]
    names.sort(key=lambda n: os.path.getsize(os.path.join(CORPUS, n)))
    out = []
    for n in names[:limit]:
        with open(os.path.join(CORPUS, n), "rb") as f:
            out.append(f.read())
    return out


def upload_all(server, bodies_by_key, threads=8, stop=None):
    """PUTs every key concurrently; returns {key: etag} of the acknowledged ones.
    A PUT that fails (the server died) is simply not acknowledged; once `stop`
    (a threading.Event) is set the rest are not even tried, so a test that
    kills the server does not wait out a connection attempt per key."""
    acked = {}
    local = threading.local()
    # boto3 creates clients unsafely from several threads at once: make them here.
    clients = [server.boto3_client("s3", config_args={"retries": {"max_attempts": 1}})
               for _ in range(threads)]
    spare = list(clients)
    lock = threading.Lock()

    def init():
        with lock:
            local.s3 = spare.pop()

    def put(item):
        key, body = item
        if stop is not None and stop.is_set():
            return
        try:
            etag = local.s3.put_object(Bucket="input", Key=key, Body=body)["ETag"]
        except Exception:  # noqa: BLE001 — not acknowledged
            return
        acked[key] = etag.strip('"')

    with concurrent.futures.ThreadPoolExecutor(threads, initializer=init) as pool:
        list(pool.map(put, bodies_by_key.items()))
    for client in clients:
        client.close()
    return acked


def output_keys(s3):
    """Every key in the output bucket."""
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="output"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def missing_outputs(s3, keys):
    present = set(output_keys(s3))
    return [f"{p}/{k}" for k in keys for p in OUTPUT_PREFIXES if f"{p}/{k}" not in present]


def status(server):
    """One `imgbatch status --json` sample (the operator's view)."""
    res = subprocess.run([harness.binary(), "status", "--json", "--endpoint", server.endpoint,
                          "--data-dir", server.data_dir],
                         capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise AssertionError(f"imgbatch status failed: {res.stderr}")
    return json.loads(res.stdout)


def queue_status(sample, name):
    for q in sample["queues"]:
        if q["name"] == name:
            return q
    raise AssertionError(f"queue {name} not in status: {sample['queues']}")
