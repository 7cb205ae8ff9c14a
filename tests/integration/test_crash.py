"""Crash test: concurrent PUTs, `kill -9` right after acknowledgements,
restart on the same data directory; every acknowledged object must be there
and intact, and start-up must leave no orphan blob files behind."""
import hashlib
import os
import sys
import threading
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

THREADS = 16
TARGET_ACKS = 300


def blob_files(data_dir):
    root = os.path.join(data_dir, "blobs")
    found = []
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) == "tmp":
            continue
        found += [os.path.join(dirpath, f) for f in files]
    return found


class CrashTest(unittest.TestCase):
    def test_kill9_loses_no_acknowledged_put(self):
        server = harness.Server().start()
        s3 = server.boto3_client("s3", config_args={"retries": {"max_attempts": 1}})
        bucket = "crash-" + uuid.uuid4().hex[:10]
        s3.create_bucket(Bucket=bucket)
        acked = {}
        lock = threading.Lock()
        stop = threading.Event()

        def writer(n):
            client = server.boto3_client("s3", config_args={"retries": {"max_attempts": 1}})
            i = 0
            while not stop.is_set():
                # Half inline-sized, half blob-sized objects.
                body = os.urandom(1000 if i % 2 else 100_000)
                key = f"w{n}/{i}"
                try:
                    client.put_object(Bucket=bucket, Key=key, Body=body)
                except Exception:  # the server died mid-request: not acknowledged
                    return
                with lock:
                    acked[key] = hashlib.md5(body).hexdigest()
                    if len(acked) >= TARGET_ACKS:
                        stop.set()
                i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        harness.wait_until(lambda: stop.is_set() or not any(t.is_alive() for t in threads),
                           timeout=120, what="acknowledged puts")
        server.kill9()  # while the writers still have requests in flight
        for t in threads:
            t.join()
        with lock:
            snapshot = dict(acked)
        self.assertGreaterEqual(len(snapshot), TARGET_ACKS)

        again = server.restarted()
        try:
            s3 = again.boto3_client("s3")
            for key, md5 in snapshot.items():
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                self.assertEqual(hashlib.md5(body).hexdigest(), md5, key)
            present = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                present += page.get("Contents", [])
            blob_sized = [o for o in present if o["Size"] > 64 * 1024]
            self.assertEqual(len(blob_files(again.data_dir)), len(blob_sized),
                             "orphan or missing blob files after restart")
        finally:
            again.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
