"""Chaos test for the store and its event notifications: PUTs, overwrites,
multipart uploads, copies and deletes while the server is `kill -9`ed at
random moments, then every key, the listing and the event queue are checked
against what the clients were told.

Each writer thread owns its keys, so a key's operations happen one after
another. A key's possible states start as {absent}; an acknowledged operation
makes them {its result}; one that got no reply (the server died under it) adds
its result to them, since it may or may not have happened. At the end:

- each key's object (or its absence) is one of its possible states, and its
  body is the bytes of that write (the ETag of a single PUT is their MD5);
- ListObjectsV2 lists exactly the keys that exist;
- every acknowledged write has its ObjectCreated event in the queue (the
  object and its event commit in one transaction), and every event names a
  write that was tried on its key (no event for an object never written);
- the server never dies by itself;
- after the last (clean) stop, the blob files on disk are exactly those the
  database refers to, with none left in blobs/tmp: what a kill left half done
  was cleaned up by the next start, and nothing referenced was removed.

CHAOS_KILLS (default 4) and CHAOS_SEED as in test_sqs_chaos.py.
"""
import collections
import hashlib
import json
import os
import random
import shutil
import sqlite3
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos_support  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

WRITERS = 3
KEYS_PER_WRITER = 8
PART = 5 * 1024 * 1024  # S3's smallest part but the last
ABSENT = None


class KeyState:
    def __init__(self):
        self.possible = {ABSENT}  # ETags (or ABSENT) the key may hold now
        self.tried = set()  # every ETag a write to this key was meant to make
        self.acked = set()  # ETags of acknowledged writes (each must have its event)


class S3Chaos:
    def __init__(self, test, server, seed):
        self.test, self.server = test, server
        self.random = random.Random(seed)
        self.clients = chaos_support.ClientThreads()
        self.stop = self.clients.stop
        self.lock = threading.Lock()
        self.keys = collections.defaultdict(KeyState)
        self.body_md5 = {}  # ETag -> MD5 of the whole body that write stored
        self.errors = collections.Counter()
        self.events = []  # (key, eTag) of every ObjectCreated record received
        suffix = uuid.uuid4().hex[:8]
        self.bucket = "chaos-" + suffix
        s3, sqs = server.boto3_client("s3"), server.boto3_client("sqs")
        s3.create_bucket(Bucket=self.bucket)
        self.queue = sqs.create_queue(QueueName="chaos-events-" + suffix, Attributes={
            "VisibilityTimeout": "2"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])
        s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": [{
                "QueueArn": arn["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}]})

    def client(self, service):
        # 20 s: a multipart part is 5 MiB.
        return chaos_support.one_attempt_client(self.server, service, read_timeout=20)

    # --- writers -------------------------------------------------------------

    def writer(self, s3, n):
        rnd = random.Random(self.random.random())
        own = [f"w{n}/k{j}" for j in range(KEYS_PER_WRITER)]
        i = 0
        while not self.stop.is_set():
            key, roll = rnd.choice(own), rnd.random()
            if roll < 0.6:
                # ~10 B to ~130 KB: the store keeps up to 64 KiB inline in
                # SQLite and the rest in blob files, so puts make both, and a
                # short run does not rest its blob files on a multipart.
                body = f"{key}#{i} ".encode() * rnd.randint(1, 12000)
                self.write(key, hashlib.md5(body).hexdigest(), hashlib.md5(body).hexdigest(),
                           lambda: s3.put_object(Bucket=self.bucket, Key=key, Body=body)["ETag"])
            elif roll < 0.65:
                self.multipart(s3, key, f"{key}#{i}".encode())
            elif roll < 0.8:
                self.copy(s3, key, rnd.choice(own))
            else:
                self.delete(s3, key)
            i += 1

    def write(self, key, etag, md5, call):
        """Runs a write meant to leave `etag` (content MD5 `md5`) on key."""
        state = self.keys[key]
        with self.lock:
            state.tried.add(etag)
            self.body_md5[etag] = md5
        try:
            got = call().strip('"')
        except Exception as e:
            chaos_support.raise_unless_cut(e)  # no write here meets a client error
            with self.lock:
                self.errors["write"] += 1
                state.possible.add(etag)
            time.sleep(0.05)
            return
        self.test.assertEqual(got, etag, f"ETag of a write to {key}")
        with self.lock:
            state.possible = {etag}
            state.acked.add(etag)

    def multipart(self, s3, key, tag):
        parts = [tag * (PART // len(tag) + 1), tag * 100]
        parts[0] = parts[0][:PART]
        digests = [hashlib.md5(p).digest() for p in parts]
        etag = hashlib.md5(b"".join(digests)).hexdigest() + f"-{len(parts)}"
        md5 = hashlib.md5(b"".join(parts)).hexdigest()

        def upload():
            upload_id = s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
            done = []
            for number, body in enumerate(parts, 1):
                r = s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                   PartNumber=number, Body=body)
                done.append({"PartNumber": number, "ETag": r["ETag"]})
            return s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                MultipartUpload={"Parts": done})["ETag"]
        self.write(key, etag, md5, upload)

    def copy(self, s3, key, source):
        with self.lock:
            sources = set(self.keys[source].possible)
        if len(sources) != 1 or ABSENT in sources or source == key:
            return  # copy only from a key whose content is known for sure
        source_etag = sources.pop()
        md5 = self.body_md5[source_etag]
        self.write(key, md5, md5, lambda: s3.copy_object(
            Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": source}
        )["CopyObjectResult"]["ETag"])

    def delete(self, s3, key):
        state = self.keys[key]
        try:
            s3.delete_object(Bucket=self.bucket, Key=key)
        except Exception as e:
            chaos_support.raise_unless_cut(e)
            with self.lock:
                self.errors["delete"] += 1
                state.possible.add(ABSENT)
            time.sleep(0.05)
            return
        with self.lock:
            state.possible = {ABSENT}

    # --- events --------------------------------------------------------------

    def event_consumer(self, sqs):
        while not self.stop.is_set():
            self.receive_events(sqs, wait=1)

    def receive_events(self, sqs, wait):
        try:
            got = sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10,
                                      WaitTimeSeconds=wait).get("Messages", [])
        except Exception as e:
            chaos_support.raise_unless_cut(e)
            self.errors["receive"] += 1
            time.sleep(0.05)
            return None
        for m in got:
            for record in json.loads(m["Body"]).get("Records", []):
                obj = record["s3"]["object"]
                with self.lock:
                    self.events.append((obj["key"], obj["eTag"]))
        if not got:
            return 0
        try:
            reply = sqs.delete_message_batch(QueueUrl=self.queue, Entries=[
                {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]} for j, m in enumerate(got)])
        except Exception as e:
            chaos_support.raise_unless_cut(e)
            self.errors["delete event"] += 1
            return len(got)
        self.test.assertEqual(reply.get("Failed", []), [])
        return len(got)

    # --- the run ---------------------------------------------------------------

    def run(self, kills):
        # boto3 makes clients unsafely from several threads at once: here, in one.
        for n in range(WRITERS):
            self.clients.add(self.writer, self.client("s3"), n)
        self.clients.add(self.event_consumer, self.client("sqs"))
        chaos_support.run_killing(self.test, self, kills, self.random, self.clients)
        self.drain_events()

    def drain_events(self):
        """Until the queue is empty, in-flight events of the last crash included."""
        sqs = self.server.boto3_client("sqs")
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.receive_events(sqs, wait=0):
                continue
            attrs = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=names)
            if not any(int(v) for v in attrs["Attributes"].values()):
                return
            time.sleep(0.2)
        self.test.fail("the event queue did not drain within 60 s")


class S3ChaosTest(unittest.TestCase):
    def test_kill9_at_random_moments_keeps_objects_and_events(self):
        kills, seed = chaos_support.kills_and_seed()
        server = chaos_support.start_server()
        data_dir = server.data_dir
        chaos = S3Chaos(self, server, seed)
        try:
            chaos.run(kills)
            self.assertEqual(chaos.clients.failures, [])
            self.check_objects(chaos, chaos.server.boto3_client("s3"))
            self.assertEqual(chaos.server.stop(), 0, "exit code of the last server's SIGTERM stop")
            self.check_blob_files(data_dir)
        finally:
            chaos.server.cleanup()
            shutil.rmtree(data_dir, ignore_errors=True)
        print(f"{sum(len(s.acked) for s in chaos.keys.values())} acknowledged writes, "
              f"{len(chaos.events)} event records, failed calls {dict(chaos.errors)}",
              file=sys.stderr)
        self.assertGreater(sum(chaos.errors.values()), 0, "no call was cut by a kill")
        self.check_events(chaos)

    def check_objects(self, chaos, s3):
        existing = set()
        for key, state in sorted(chaos.keys.items()):
            try:
                obj = s3.get_object(Bucket=chaos.bucket, Key=key)
            except ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "NoSuchKey", key)
                self.assertIn(ABSENT, state.possible, f"{key} is gone")
                continue
            existing.add(key)
            etag = obj["ETag"].strip('"')
            self.assertIn(etag, state.possible, f"{key} holds a write it should not")
            self.assertEqual(hashlib.md5(obj["Body"].read()).hexdigest(), chaos.body_md5[etag],
                             f"{key}: body of {etag}")
        listed = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=chaos.bucket):
            listed.update(o["Key"] for o in page.get("Contents", []))
        self.assertEqual(listed, existing, "ListObjectsV2 against GET")

    def check_blob_files(self, data_dir):
        db = sqlite3.connect(f"file:{os.path.join(data_dir, 'imgbatch.db')}?mode=ro", uri=True)
        try:
            referenced = {row[0] for row in db.execute(
                "SELECT blob_id FROM objects WHERE blob_id IS NOT NULL "
                "UNION SELECT blob_id FROM parts")}
        finally:
            db.close()
        blobs = os.path.join(data_dir, "blobs")
        on_disk = set()
        for fan in os.listdir(blobs):
            if fan != "tmp":
                on_disk.update(os.listdir(os.path.join(blobs, fan)))
        self.assertEqual(os.listdir(os.path.join(blobs, "tmp")), [], "blobs/tmp after a stop")
        self.assertEqual(on_disk - referenced, set(), "blob files nothing refers to")
        self.assertEqual(referenced - on_disk, set(), "referenced blobs missing")
        self.assertGreater(len(referenced), 0, "the run stored blobs")

    def check_events(self, chaos):
        events = collections.defaultdict(set)
        for key, etag in chaos.events:
            events[key].add(etag)
        for key, etags in events.items():
            tried = chaos.keys[key].tried if key in chaos.keys else set()
            self.assertTrue(etags <= tried, f"{key}: events for writes never tried: "
                            f"{etags - tried}")
        for key, state in chaos.keys.items():
            missing = state.acked - events[key]
            self.assertEqual(missing, set(), f"{key}: acknowledged writes without an event")


if __name__ == "__main__":
    unittest.main(verbosity=2)
