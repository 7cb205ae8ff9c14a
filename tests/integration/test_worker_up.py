"""`imgbatch worker` processes against a running `imgbatch up` (its own worker
pool off, --max-workers 0), so the tests control the worker processes:

- a slow image with a short visibility timeout is processed exactly once
  (heartbeats keep it, and the one waiting its turn, invisible to a second
  worker);
- SIGTERM during a batch exits 0 within the stop timeout and loses nothing
  (unstarted messages released, the in-flight image finished);
- `kill -9` of the server mid-batch and a restart on the same data directory
  and port is survived: every image ends with both outputs;
- credentials served by an ECS-style endpoint on 127.0.0.1
  (AWS_CONTAINER_CREDENTIALS_FULL_URI) are picked up and refreshed;
- EKS IRSA variables (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN) go through a
  fake STS on 127.0.0.1 (AWS_ENDPOINT_URL_STS).

Slow images come from the worker's test-only knob
IMGBATCH_TEST_ONLY_IMAGE_DELAY_MS (a sleep inside each image job). Runs on
Debian's Python (python3-boto3, python3-pil).
"""
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import pipeline_support  # noqa: E402
from fake_aws import CredentialsEndpoint, FakeSts  # noqa: E402

from PIL import Image  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402


def jpeg(seed, size=(320, 240)):
    buf = io.BytesIO()
    Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, 120)).save(buf, "JPEG")
    return buf.getvalue()


class WorkerAgainstUp(unittest.TestCase):
    def setUp(self):
        self.server = harness.Server(extra_args=["--max-workers", "0"]).start()
        self.s3 = self.server.boto3_client("s3")
        self.sqs = self.server.boto3_client("sqs")
        self.queue = self.sqs.get_queue_url(QueueName="batch-queue")["QueueUrl"]
        self.dlq = self.sqs.get_queue_url(QueueName="batch-dlq")["QueueUrl"]
        self.tmp = tempfile.mkdtemp(prefix="imgbatch-worker-up-")
        self.workers = []

    def tearDown(self):
        for proc, log in self.workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
        self.server.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- helpers -----------------------------------------------------------

    def worker_key(self):
        with open(os.path.join(self.server.data_dir, "worker-key.json")) as f:
            return json.load(f)

    def start_worker(self, name, args=(), env=None, static_key=True):
        """One `imgbatch worker` with the server's least-privilege worker key."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        full_env.update({
            "AWS_ENDPOINT_URL": self.server.endpoint,
            "AWS_REGION": harness.REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        })
        if static_key:
            key = self.worker_key()
            full_env["AWS_ACCESS_KEY_ID"] = key["access_key_id"]
            full_env["AWS_SECRET_ACCESS_KEY"] = key["secret_access_key"]
        full_env.update(env or {})
        log_path = os.path.join(self.tmp, name + ".log")
        log = open(log_path, "wb")
        cmd = [harness.binary(), "worker", "--queue", "batch-queue", "--input-bucket", "input",
               "--output-bucket", "output"] + list(args)
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env)
        self.workers.append((proc, log))
        proc.log_path = log_path
        return proc

    @staticmethod
    def read_log(proc):
        with open(proc.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def upload(self, keys):
        for i, key in enumerate(keys):
            self.s3.put_object(Bucket="input", Key=key, Body=jpeg(i), ContentType="image/jpeg")

    def outputs(self):
        return set(pipeline_support.output_keys(self.s3))

    def depth(self, url):
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + \
            int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def wait_all_done(self, keys, logs, timeout=90):
        want = {f"{p}/{k}" for k in keys for p in ("resized", "thumbs")}
        harness.wait_until(
            lambda: want <= self.outputs() and self.depth(self.queue) == 0,
            timeout=timeout, interval=0.2,
            what="every output and an empty queue; logs:\n" + "\n".join(
                self.read_log(p)[-3000:] for p in logs))

    @staticmethod
    def processed(log):
        return re.findall(r"key=(\S+) .*outcome=processed", log)

    # --- tests -------------------------------------------------------------

    def test_an_output_bucket_only_the_workers_may_write(self):
        # A bucket policy on top of the keys' own: nobody but the worker key's user writes
        # or deletes outputs, the root key included; the pipeline runs as before.
        worker_arn = f"arn:aws:iam::{harness.ACCOUNT_ID}:user/worker"
        self.s3.put_bucket_policy(Bucket="output", Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "Principal": "*",
                "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "arn:aws:s3:::output/*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": worker_arn}}}]}))
        worker = self.start_worker("guarded")
        keys = [f"guarded/{i}.jpg" for i in range(3)]
        self.upload(keys)
        self.wait_all_done(keys, [worker])
        for call, kwargs in ((self.s3.put_object, {"Key": "resized/forged.jpg", "Body": b"x"}),
                             (self.s3.delete_object, {"Key": "thumbs/guarded/0.jpg"})):
            with self.assertRaises(ClientError) as caught:
                call(Bucket="output", **kwargs)
            self.assertEqual(caught.exception.response["Error"]["Code"], "AccessDenied")
        self.s3.delete_bucket_policy(Bucket="output")

    def test_slow_images_with_short_visibility_are_processed_exactly_once(self):
        # 4 s visibility, 6 s per image: without heartbeats every message
        # would reappear for the other worker before it is done (and the one
        # waiting its turn behind a slow image even sooner).
        self.sqs.set_queue_attributes(QueueUrl=self.queue, Attributes={"VisibilityTimeout": "4"})
        slow = {"IMGBATCH_TEST_ONLY_IMAGE_DELAY_MS": "6000"}
        a = self.start_worker("a", ["--concurrency", "1"], slow)
        b = self.start_worker("b", ["--concurrency", "1"], slow)
        keys = [f"slow/{i}.jpg" for i in range(3)]
        self.upload(keys)
        self.wait_all_done(keys, [a, b])
        logs = self.read_log(a) + self.read_log(b)
        self.assertEqual(sorted(self.processed(logs)), sorted(keys), logs[-4000:])
        self.assertNotIn("outcome=already-done", logs)
        self.assertEqual(self.depth(self.dlq), 0)
        for proc in (a, b):
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=30), 0)

    def test_sigterm_mid_batch_exits_zero_in_time_and_loses_nothing(self):
        stop_timeout = 10
        first = self.start_worker("first", ["--concurrency", "1", "--stop-timeout",
                                            str(stop_timeout)],
                                  {"IMGBATCH_TEST_ONLY_IMAGE_DELAY_MS": "1500"})
        keys = [f"term/{i}.jpg" for i in range(6)]
        self.upload(keys)
        harness.wait_until(lambda: self.processed(self.read_log(first)), timeout=60,
                           what="the first image; log:\n" + self.read_log(first))
        first.send_signal(signal.SIGTERM)
        # The deadline is the contract (stop timeout, under ECS's 30 s), not a
        # performance figure: the in-flight image takes 1.5 s.
        self.assertEqual(first.wait(timeout=stop_timeout + 5), 0, self.read_log(first))
        log = self.read_log(first)
        self.assertIn("worker stopping", log)
        done_by_first = self.processed(log)
        self.assertLess(len(done_by_first), len(keys), "SIGTERM came after the batch")

        # Released messages are visible again at once (the queue's visibility
        # is 120 s, so a lost release would time this out).
        second = self.start_worker("second", ["--concurrency", "2"])
        self.wait_all_done(keys, [first, second], timeout=60)
        self.assertEqual(self.depth(self.dlq), 0)
        self.assertEqual(sorted(set(done_by_first + self.processed(self.read_log(second)))),
                         sorted(keys))
        second.send_signal(signal.SIGTERM)
        self.assertEqual(second.wait(timeout=30), 0)

    def test_server_kill9_and_restart_mid_batch_is_survived(self):
        # Short visibility so messages caught mid-flight by the crash come
        # back quickly; heartbeats keep the healthy ones.
        self.sqs.set_queue_attributes(QueueUrl=self.queue, Attributes={"VisibilityTimeout": "3"})
        worker = self.start_worker("w", ["--concurrency", "2", "--max-backoff", "2"],
                                   {"IMGBATCH_TEST_ONLY_IMAGE_DELAY_MS": "300"})
        keys = [f"crash/{i}.jpg" for i in range(10)]
        self.upload(keys)
        harness.wait_until(lambda: self.processed(self.read_log(worker)), timeout=60,
                           what="a first image; log:\n" + self.read_log(worker))
        self.server.kill9()
        self.server = self.server.restarted(port=self.server.port)
        self.s3 = self.server.boto3_client("s3")
        self.sqs = self.server.boto3_client("sqs")
        self.wait_all_done(keys, [worker], timeout=120)
        self.assertIsNone(worker.poll(), "the worker must ride out the restart")
        self.assertEqual(self.depth(self.dlq), 0)
        for key in keys:
            head = self.s3.head_object(Bucket="output", Key=f"resized/{key}")
            source = self.s3.head_object(Bucket="input", Key=key)
            self.assertEqual(head["Metadata"]["source-etag"], source["ETag"].strip('"'))
        worker.send_signal(signal.SIGTERM)
        self.assertEqual(worker.wait(timeout=30), 0)

    def test_container_credentials_are_picked_up_and_refreshed(self):
        key = self.worker_key()
        endpoint = CredentialsEndpoint(
            "Bearer up-token", lambda n: (key["access_key_id"], key["secret_access_key"]))
        try:
            worker = self.start_worker("creds", ["--concurrency", "1"], {
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer up-token",
            }, static_key=False)
            keys = ["creds/a.jpg", "creds/b.jpg"]
            self.upload(keys)
            self.wait_all_done(keys, [worker])
            log = self.read_log(worker)
            self.assertIn("credentials from container", log)
            self.assertEqual(endpoint.bad_tokens, 0)
            # Expiring within the refresh margin: fetched again after the first.
            self.assertGreater(endpoint.requests, 1)
            worker.send_signal(signal.SIGTERM)
            self.assertEqual(worker.wait(timeout=30), 0)
        finally:
            endpoint.close()


    def test_web_identity_credentials_through_sts(self):
        # EKS IRSA's variables; STS is a fake on 127.0.0.1 (AWS_ENDPOINT_URL_STS).
        key = self.worker_key()
        sts = FakeSts(key["access_key_id"], key["secret_access_key"])
        token_file = os.path.join(self.tmp, "token")
        with open(token_file, "w") as f:
            f.write("eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.sig\n")
        try:
            worker = self.start_worker("irsa", ["--concurrency", "1"], {
                "AWS_WEB_IDENTITY_TOKEN_FILE": token_file,
                "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/imgbatch-worker",
                "AWS_ROLE_SESSION_NAME": "it-pod",
                "AWS_ENDPOINT_URL_STS": sts.url,
            }, static_key=False)
            keys = ["irsa/a.jpg"]
            self.upload(keys)
            self.wait_all_done(keys, [worker])
            self.assertIn("credentials from web-identity", self.read_log(worker))
            self.assertTrue(sts.calls)
            call = sts.calls[0]
            self.assertEqual(call["Action"], "AssumeRoleWithWebIdentity")
            self.assertEqual(call["RoleArn"], "arn:aws:iam::123456789012:role/imgbatch-worker")
            self.assertEqual(call["RoleSessionName"], "it-pod")
            self.assertEqual(call["WebIdentityToken"],
                             "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.sig")
            worker.send_signal(signal.SIGTERM)
            self.assertEqual(worker.wait(timeout=30), 0)
        finally:
            sts.close()

if __name__ == "__main__":
    unittest.main(verbosity=2)
