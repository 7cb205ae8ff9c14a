"""`imgbatch worker` against moto: an S3 + SQS server we did not write.

moto's own bucket notification puts the S3 events on its queue; our worker
binary sits in between, exactly as on AWS. Credentials come from an ECS-style
container credentials endpoint on 127.0.0.1 (AWS_CONTAINER_CREDENTIALS_FULL_URI)
that hands out short-lived keys, so the refresh path runs too. Nothing goes to
169.254.x.x: IMDS is disabled.

Needs the machine image's Python 3.11 (boto3 + moto); run with unittest.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from fake_aws import CredentialsEndpoint
from harness import binary, free_port, wait_until

REGION = "us-east-1"
CORPUS = os.path.join(os.environ.get("IMGBATCH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                      "..", "shared", "corpus")


class WorkerAgainstMoto(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            import boto3  # noqa: F401
            import moto  # noqa: F401
        except ImportError as error:
            raise unittest.SkipTest(f"boto3/moto missing: {error}")
        cls.port = free_port()
        cls.endpoint = f"http://127.0.0.1:{cls.port}"
        cls.moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(cls.port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(cls._moto_up, timeout=60, what="moto server")

    @classmethod
    def tearDownClass(cls):
        cls.moto.kill()
        cls.moto.wait()

    @classmethod
    def _moto_up(cls):
        try:
            urllib.request.urlopen(cls.endpoint + "/moto-api/", timeout=1)
            return True
        except Exception:
            return False

    def setUp(self):
        import boto3
        urllib.request.urlopen(urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST"))
        kw = dict(endpoint_url=self.endpoint, region_name=REGION,
                  aws_access_key_id="admin", aws_secret_access_key="admin")
        self.s3 = boto3.client("s3", **kw)
        self.sqs = boto3.client("sqs", **kw)
        self.s3.create_bucket(Bucket="seed-input")
        self.s3.create_bucket(Bucket="seed-output")
        self.dlq = self.sqs.create_queue(QueueName="seed-dlq")["QueueUrl"]
        dlq_arn = self._attr(self.dlq, "QueueArn")
        self.queue = self.sqs.create_queue(QueueName="seed-queue", Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        })["QueueUrl"]
        self.s3.put_bucket_notification_configuration(Bucket="seed-input", NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": self._attr(self.queue, "QueueArn"),
                                     "Events": ["s3:ObjectCreated:*"],
                                     "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}}}]})
        self.tmp = tempfile.mkdtemp(prefix="imgbatch-worker-it-")
        self.health = os.path.join(self.tmp, "health")
        self.creds = CredentialsEndpoint(
            "Bearer it-token", lambda n: (f"ASIAWORKER{n:06d}", "worker-secret"))
        self.worker = None
        self.log = None

    def tearDown(self):
        if self.worker and self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait()
        if self.log:
            self.log.close()
        self.creds.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _attr(self, url, name):
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name]

    def _depth(self, url):
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def _start_worker(self):
        # The seed task definition's variables; credentials only from the
        # container endpoint (no AWS_ACCESS_KEY_ID in the environment).
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "SQSBatchQueue": "seed-queue",
            "s3InputBucket": "seed-input",
            "s3OutputBucket": "seed-output",
            "AWSRegion": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.creds.url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer it-token",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.tmp, "none"),
            "AWS_CONFIG_FILE": os.path.join(self.tmp, "none"),
        })
        self.log_path = os.path.join(self.tmp, "worker.log")
        self.log = open(self.log_path, "wb")
        self.worker = subprocess.Popen([binary(), "worker", "--health-file", self.health, "--concurrency", "2"],
                                       stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def _read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def _outputs(self):
        return {o["Key"] for o in self.s3.list_objects_v2(Bucket="seed-output").get("Contents", [])}

    def test_flow_poison_health_and_sigterm(self):
        if not os.path.isdir(CORPUS):
            self.skipTest(f"corpus not found at {CORPUS}")
        images = sorted(f for f in os.listdir(CORPUS) if f.endswith(".jpg"))[:3]
        self.assertTrue(images)
        keys = [f"photos/{name.replace('_', ' ')}" for name in images]  # spaces: '+' in events
        for name, key in zip(images, keys):
            self.s3.upload_file(os.path.join(CORPUS, name), "seed-input", key)
        self.s3.put_object(Bucket="seed-input", Key="poison.jpg", Body=b"definitely not a jpeg")
        self._start_worker()

        want = {f"resized/{k}" for k in keys} | {f"thumbs/{k}" for k in keys}
        wait_until(lambda: want <= self._outputs() and self._depth(self.dlq) == 1 and self._depth(self.queue) == 0,
                   timeout=120, what=f"outputs and DLQ; worker log:\n{self._read_log()}")

        for key in keys:
            head = self.s3.head_object(Bucket="seed-output", Key=f"resized/{key}")
            self.assertEqual(head["ContentType"], "image/jpeg")
            source = self.s3.head_object(Bucket="seed-input", Key=key)
            self.assertEqual(head["Metadata"]["source-etag"], source["ETag"].strip('"'))
            body = self.s3.get_object(Bucket="seed-output", Key=f"thumbs/{key}")["Body"].read()
            self.assertEqual(body[:2], b"\xff\xd8")

        dead = self.sqs.receive_message(QueueUrl=self.dlq, MessageAttributeNames=["All"])["Messages"]
        attributes = {k: v["StringValue"] for k, v in dead[0]["MessageAttributes"].items()}
        self.assertEqual(attributes["ErrorCode"], "NotAnImage")
        self.assertEqual(attributes["SourceKey"], "poison.jpg")
        self.assertEqual(attributes["SourceQueueArn"], self._attr(self.queue, "QueueArn"))
        self.assertTrue(attributes["ErrorMessage"])

        # Credentials came from the endpoint, with the token, and were refreshed.
        self.assertEqual(self.creds.bad_tokens, 0)
        self.assertGreater(self.creds.requests, 1)
        log = self._read_log()
        self.assertIn("credentials from container", log)
        self.assertIn("outcome=processed", log)

        check = subprocess.run([binary(), "worker", "--check-health", "--health-file", self.health])
        self.assertEqual(check.returncode, 0)
        old = time.time() - 600
        os.utime(self.health, (old, old))
        check = subprocess.run([binary(), "worker", "--check-health", "--health-file", self.health],
                               capture_output=True)
        self.assertEqual(check.returncode, 3)

        # SIGTERM during an idle long poll: clean, prompt exit 0.
        self.worker.send_signal(signal.SIGTERM)
        self.assertEqual(self.worker.wait(timeout=30), 0)

    def test_redelivered_message_with_current_outputs_is_not_reprocessed(self):
        if not os.path.isdir(CORPUS):
            self.skipTest(f"corpus not found at {CORPUS}")
        name = sorted(f for f in os.listdir(CORPUS) if f.endswith(".jpg"))[0]
        self.s3.upload_file(os.path.join(CORPUS, name), "seed-input", "again.jpg")
        self._start_worker()
        wait_until(lambda: {"resized/again.jpg", "thumbs/again.jpg"} <= self._outputs() and self._depth(self.queue) == 0,
                   timeout=120, what="first processing")
        # Replay the same event (as a redelivery would).
        etag = self.s3.head_object(Bucket="seed-input", Key="again.jpg")["ETag"].strip('"')
        event = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": "seed-input"},
                                     "object": {"key": "again.jpg", "eTag": etag, "size": 1}}}]}
        self.sqs.send_message(QueueUrl=self.queue, MessageBody=json.dumps(event))
        wait_until(lambda: "outcome=already-done" in self._read_log() and self._depth(self.queue) == 0,
                   timeout=60, what="already-done skip")
        self.worker.send_signal(signal.SIGTERM)
        self.assertEqual(self.worker.wait(timeout=30), 0)


if __name__ == "__main__":
    unittest.main()
