"""SQS through boto3 against the real server, both wire protocols: the image's
boto3 1.43 speaks AWS JSON 1.0, Debian's boto3 1.26 the query protocol (XML).
ctest runs this file with both interpreters."""
import hashlib
import json
import os
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

import glob  # noqa: E402

import boto3  # noqa: E402
import botocore  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

SERVER = None


def setUpModule():
    global SERVER
    SERVER = harness.Server(extra_args=["--max-workers", "0"]).start()


def tearDownModule():
    SERVER.cleanup()


def code(exc):
    return exc.response["Error"]["Code"]


class SqsBoto3Test(unittest.TestCase):
    def setUp(self):
        self.sqs = SERVER.boto3_client("sqs")
        self.name = "it-" + uuid.uuid4().hex[:10]
        self.url = self.sqs.create_queue(QueueName=self.name)["QueueUrl"]

    def test_url_and_arn_shapes(self):
        self.assertEqual(self.url, f"{SERVER.endpoint}/000000000000/{self.name}")
        self.assertEqual(self.sqs.get_queue_url(QueueName=self.name)["QueueUrl"], self.url)
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.url,
                                              AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["QueueArn"], f"arn:aws:sqs:us-east-1:000000000000:{self.name}")
        self.assertEqual(attrs["VisibilityTimeout"], "30")
        self.assertIn(self.url, self.sqs.list_queues(QueueNamePrefix=self.name)["QueueUrls"])

    def test_server_runs_on_jemalloc_when_the_machine_has_it(self):
        # `up` re-executes itself with jemalloc preloaded (server/allocator.h);
        # under the same pid and name, so the server's maps show the library.
        if not glob.glob("/usr/lib/*/libjemalloc.so.2"):
            self.skipTest("libjemalloc2 is not installed: the server runs on glibc malloc")
        pid = SERVER.proc.pid
        with open(f"/proc/{pid}/maps") as maps:
            self.assertIn("libjemalloc.so.2", maps.read())
        with open(f"/proc/{pid}/comm") as comm:
            self.assertEqual(comm.read().strip(), "imgbatch")

    def test_send_receive_delete_with_attributes_and_md5(self):
        body = "hello \u00e9\u4e16"
        sent = self.sqs.send_message(QueueUrl=self.url, MessageBody=body, MessageAttributes={
            "color": {"DataType": "String", "StringValue": "red"},
            "n": {"DataType": "Number", "StringValue": "42"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
        # botocore verifies both MD5s itself and raises if they are wrong.
        self.assertEqual(sent["MD5OfMessageBody"], hashlib.md5(body.encode()).hexdigest())
        got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"],
                                       AttributeNames=["All"], WaitTimeSeconds=1)
        msgs = got["Messages"]
        self.assertEqual(len(msgs), 1)
        m = msgs[0]
        self.assertEqual(m["Body"], body)
        self.assertEqual(m["MessageAttributes"]["color"]["StringValue"], "red")
        self.assertEqual(m["MessageAttributes"]["blob"]["BinaryValue"], b"\x00\x01")
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "1")
        self.assertIn("SentTimestamp", m["Attributes"])
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        again = self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=0)
        self.assertEqual(again.get("Messages", []), [])

    def test_number_attributes_are_sqs_decimals(self):
        # Developer Guide: up to 38 digits of precision, 10^-128 to 10^+126.
        for good in ["-1.5e3", ".5", "12345678901234567890123456789012345678", "1e126"]:
            self.sqs.send_message(QueueUrl=self.url, MessageBody="n", MessageAttributes={
                "n": {"DataType": "Number", "StringValue": good}})
        for bad in ["NaN", "Infinity", "0x10", " 1", "1e127",
                    "123456789012345678901234567890123456789"]:
            with self.assertRaises(ClientError, msg=bad) as ctx:
                self.sqs.send_message(QueueUrl=self.url, MessageBody="n", MessageAttributes={
                    "n": {"DataType": "Number", "StringValue": bad}})
            self.assertEqual(code(ctx.exception), "InvalidParameterValue")

    def signed_json(self, target, service="sqs", body=b"{}"):
        """A JSON 1.0 request signed by hand for `service`'s credential scope."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        import urllib.request
        request = AWSRequest(method="POST", url=SERVER.endpoint + "/", data=body, headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target})
        SigV4Auth(Credentials(harness.ACCESS_KEY, harness.SECRET_KEY), service,
                  harness.REGION).add_auth(request)
        prepared = request.prepare()
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    prepared.url, data=prepared.body, headers=dict(prepared.headers),
                    method="POST"), timeout=30) as reply:
                return reply.status, dict(reply.headers), reply.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def test_a_request_signed_for_another_service_or_naming_another_target(self):
        status, _, _ = self.signed_json("AmazonSQS.ListQueues", "sqs")
        self.assertEqual(status, 200)
        # Signed for S3: no SQS request, as on AWS (the scope names the service).
        status, headers, body = self.signed_json("AmazonSQS.ListQueues", "s3")
        self.assertEqual(status, 400, body)
        self.assertIn("IncompleteSignature", headers.get("x-amzn-query-error", ""), body)
        # Signed for SQS with a target SQS does not have: SQS's InvalidAction, in JSON.
        status, headers, body = self.signed_json("Bogus.ListQueues", "sqs")
        self.assertEqual(status, 400, body)
        self.assertTrue(json.loads(body)["__type"].endswith("InvalidAction"), body)

    def test_json_members_of_the_wrong_type_are_serialization_exceptions(self):
        # AWS's deserializer refuses a value of the wrong JSON type before the
        # operation runs (an SDK never sends one; hand-written JSON may).
        def call(action, **params):
            status, _, body = self.signed_json("AmazonSQS." + action,
                                               body=json.dumps(params).encode())
            return status, json.loads(body)

        cases = [
            ("SendMessage", {"MessageBody": 123}, "NUMBER_VALUE can not be converted to a String"),
            ("SendMessage", {"MessageBody": "x", "DelaySeconds": "0"},
             "STRING_VALUE can not be converted to an Integer"),
            ("ReceiveMessage", {"MaxNumberOfMessages": True},
             "TRUE_VALUE can not be converted to an Integer"),
            ("SendMessage", {"MessageBody": ["x"]}, "Start of list found where not expected"),
            ("SendMessage", {"MessageBody": "x", "MessageAttributes": {
                "n": {"DataType": "Number", "StringValue": 5}}},
             "NUMBER_VALUE can not be converted to a String"),
            ("SendMessageBatch", {"Entries": [{"Id": "a", "MessageBody": {}}]},
             "Start of structure or map found where not expected."),
            ("SetQueueAttributes", {"Attributes": {"DelaySeconds": 5}},
             "NUMBER_VALUE can not be converted to a String"),
        ]
        for action, params, message in cases:
            status, body = call(action, QueueUrl=self.url, **params)
            self.assertEqual(status, 400, (action, params, body))
            self.assertEqual(body["__type"], "com.amazon.coral.service#SerializationException")
            self.assertEqual(body["message"], message, (action, params))
        # Nothing was sent or changed; null members are absent ones.
        status, body = call("ReceiveMessage", QueueUrl=self.url, MaxNumberOfMessages=None,
                            WaitTimeSeconds=0)
        self.assertEqual((status, body.get("Messages", [])), (200, []), body)
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["DelaySeconds"])
        self.assertEqual(attrs["Attributes"]["DelaySeconds"], "0")

    def test_xray_trace_header_becomes_the_aws_trace_header(self):
        # AWS keeps a SendMessage's X-Amzn-Trace-Id header as the message's
        # AWSTraceHeader (recorded against AWS); X-Ray SDKs add the header.
        trace = "Root=1-3152b799-8954dae64eda91bc9a23a7e8;Parent=7fa8c0f79203be72;Sampled=1"

        def add_header(request, **_):
            request.headers["X-Amzn-Trace-Id"] = trace

        self.sqs.meta.events.register("before-send.sqs.SendMessage", add_header)
        try:
            sent = self.sqs.send_message(QueueUrl=self.url, MessageBody="traced")
        finally:
            self.sqs.meta.events.unregister("before-send.sqs.SendMessage", add_header)
        self.assertNotIn("MD5OfMessageSystemAttributes", sent)  # the sender set none
        m = self.sqs.receive_message(QueueUrl=self.url, AttributeNames=["AWSTraceHeader"],
                                     WaitTimeSeconds=1)["Messages"][0]
        self.assertEqual(m["Attributes"]["AWSTraceHeader"], trace)

    def test_visibility_timeout_and_change(self):
        self.sqs.send_message(QueueUrl=self.url, MessageBody="v")
        m = self.sqs.receive_message(QueueUrl=self.url, VisibilityTimeout=30)["Messages"][0]
        self.assertEqual(self.sqs.receive_message(QueueUrl=self.url).get("Messages", []), [])
        self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"],
                                           VisibilityTimeout=0)
        m2 = self.sqs.receive_message(QueueUrl=self.url, AttributeNames=["All"])["Messages"][0]
        self.assertEqual(m2["Attributes"]["ApproximateReceiveCount"], "2")
        self.assertNotEqual(m2["ReceiptHandle"], m["ReceiptHandle"])

    def test_long_poll_returns_as_soon_as_a_message_arrives(self):
        result = {}

        def poll():
            t0 = time.monotonic()
            r = self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=20)
            result["messages"] = r.get("Messages", [])
            result["elapsed"] = time.monotonic() - t0

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.3)
        sender = SERVER.boto3_client("sqs")
        sender.send_message(QueueUrl=self.url, MessageBody="wake up")
        t.join(30)
        self.assertEqual([m["Body"] for m in result["messages"]], ["wake up"])
        self.assertLess(result["elapsed"], 15)  # not the full 20 s wait

    def test_batches_report_per_entry(self):
        res = self.sqs.send_message_batch(QueueUrl=self.url, Entries=[
            {"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2"},
            {"Id": "c", "MessageBody": "3", "DelaySeconds": 901}])
        self.assertEqual(sorted(s["Id"] for s in res["Successful"]), ["a", "b"])
        self.assertEqual([f["Id"] for f in res["Failed"]], ["c"])
        with self.assertRaises(ClientError) as cm:
            self.sqs.send_message_batch(QueueUrl=self.url, Entries=[
                {"Id": "x", "MessageBody": "1"}, {"Id": "x", "MessageBody": "2"}])
        self.assertIn("BatchEntryIdsNotDistinct", code(cm.exception))
        with self.assertRaises(ClientError) as cm:
            self.sqs.send_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "MessageBody": "m"} for i in range(11)])
        self.assertIn("TooManyEntriesInBatchRequest", code(cm.exception))
        msgs = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)["Messages"]
        dels = self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
        self.assertEqual(len(dels["Successful"]), len(msgs))

    def test_redrive_to_dead_letter_queue_and_move_back(self):
        dlq = self.sqs.create_queue(QueueName=self.name + "-dlq")["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.sqs.set_queue_attributes(QueueUrl=self.url, Attributes={
            "RedrivePolicy": '{"deadLetterTargetArn":"%s","maxReceiveCount":"2"}' % dlq_arn})
        self.sqs.send_message(QueueUrl=self.url, MessageBody="poison")
        for _ in range(2):
            m = self.sqs.receive_message(QueueUrl=self.url)["Messages"][0]
            self.sqs.change_message_visibility(QueueUrl=self.url,
                                               ReceiptHandle=m["ReceiptHandle"],
                                               VisibilityTimeout=0)
        self.assertEqual(self.sqs.receive_message(QueueUrl=self.url).get("Messages", []), [])
        dead = self.sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0)["Messages"]
        self.assertEqual([m["Body"] for m in dead], ["poison"])
        self.assertEqual(self.sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"],
                         [self.url])
        if hasattr(self.sqs, "start_message_move_task"):
            self.sqs.start_message_move_task(SourceArn=dlq_arn)
            harness.wait_until(lambda: self.sqs.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"]["ApproximateNumberOfMessages"] == "1", timeout=20,
                what="message moved back")

    def test_errors(self):
        with self.assertRaises(ClientError) as cm:
            self.sqs.get_queue_url(QueueName="no-such-queue-" + uuid.uuid4().hex[:6])
        self.assertIn(code(cm.exception),
                      ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"))
        with self.assertRaises(ClientError) as cm:
            self.sqs.send_message(QueueUrl=self.url, MessageBody="x" * (1024 * 1024 + 1))
        self.assertEqual(code(cm.exception), "InvalidParameterValue")
        with self.assertRaises(ClientError) as cm:
            self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle="garbage",
                                               VisibilityTimeout=10)
        with self.assertRaises(ClientError) as cm:
            self.sqs.create_queue(QueueName=self.name, Attributes={"VisibilityTimeout": "99"})
        self.assertIn("QueueAlreadyExists", code(cm.exception))
        bad = SERVER.boto3_client("sqs", secret_key="wrong-secret-" + "x" * 20)
        with self.assertRaises(ClientError) as cm:
            bad.list_queues()
        self.assertIn(code(cm.exception), ("SignatureDoesNotMatch", "InvalidClientTokenId"))

    def test_purge_and_delete_queue(self):
        self.sqs.send_message(QueueUrl=self.url, MessageBody="p")
        self.sqs.purge_queue(QueueUrl=self.url)
        self.assertEqual(self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
            ["ApproximateNumberOfMessages"], "0")
        self.sqs.delete_queue(QueueUrl=self.url)
        with self.assertRaises(ClientError):
            self.sqs.get_queue_url(QueueName=self.name)


def started_with_limits(limits):
    """A server of its own, without workers, whose config's [limits] table
    has `limits` (TOML lines)."""
    server = harness.Server()
    config = os.path.join(server.data_dir, "limits.toml")
    with open(config, "w") as f:
        f.write("[limits]\n" + limits)
    server.extra_args += ["--config", config, "--max-workers", "0"]
    server.start()
    return server


class InFlightQuotaTest(unittest.TestCase):
    """AWS's in-flight quotas (120,000 standard, 20,000 FIFO), lowered in the
    config so that a test reaches them: a short poll gets OverLimit (HTTP 403,
    over both protocols), a long poll waits and answers empty, a delete makes
    room, a FIFO queue answers empty without an error."""

    @classmethod
    def setUpClass(cls):
        cls.server = started_with_limits(
            "max_messages_in_flight = 3\nmax_messages_in_flight_fifo = 2\n")
        cls.sqs = cls.server.boto3_client("sqs")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_short_poll_over_limit_long_poll_empty_delete_makes_room(self):
        url = self.sqs.create_queue(QueueName="quota-" + uuid.uuid4().hex[:8])["QueueUrl"]
        for i in range(5):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual(len(got), 3)
        with self.assertRaises(ClientError) as cm:
            self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        self.assertEqual(code(cm.exception), "OverLimit")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        started = time.monotonic()
        empty = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        self.assertEqual(empty.get("Messages", []), [])
        self.assertGreaterEqual(time.monotonic() - started, 0.9, "the long poll waited")
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
        again = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual(len(again), 1)

    def test_fifo_queue_at_its_quota_answers_empty(self):
        url = self.sqs.create_queue(QueueName=f"quota-{uuid.uuid4().hex[:8]}.fifo",
                                    Attributes={"FifoQueue": "true"})["QueueUrl"]
        for i in range(4):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId=f"g{i}",
                                  MessageDeduplicationId=f"d{i}")
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual(len(got), 2)
        self.assertEqual(self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
                         .get("Messages", []), [])


class FifoThroughputQuotaTest(unittest.TestCase):
    """AWS's FIFO throughput quota (300 calls per second per API method, a
    batch being one call), lowered in the config: calls over it get
    RequestThrottled (HTTP 403, over both protocols) and queue nothing;
    standard queues have no such quota. The client makes one attempt per
    call: botocore retries RequestThrottled by itself."""

    @classmethod
    def setUpClass(cls):
        cls.server = started_with_limits("fifo_calls_per_second = 2\n")
        cls.sqs = cls.server.boto3_client("sqs", config_args={"retries": {"total_max_attempts": 1}})

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def send_until_throttled(self, url, **fifo):
        """Sends up to 20 messages back to back; returns (acknowledged, the
        first RequestThrottled error or None)."""
        acknowledged = 0
        for i in range(20):
            try:
                self.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", **fifo)
            except ClientError as e:
                self.assertEqual(code(e), "RequestThrottled", e.response)
                return acknowledged, e
            acknowledged += 1
        return acknowledged, None

    def visible(self, url):
        return int(self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            ["Attributes"]["ApproximateNumberOfMessages"])

    def test_fifo_calls_over_the_quota_are_throttled_and_queue_nothing(self):
        url = self.sqs.create_queue(QueueName=f"rate-{uuid.uuid4().hex[:8]}.fifo", Attributes={
            "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
        acknowledged, throttled = self.send_until_throttled(url, MessageGroupId="g")
        self.assertIsNotNone(throttled, "20 sends back to back at a quota of 2 per second")
        self.assertEqual(throttled.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        self.assertIn("Request is throttled", throttled.response["Error"]["Message"])
        self.assertEqual(self.visible(url), acknowledged)
        # A batch of ten is one call, once the quota has refilled.
        time.sleep(1.1)
        reply = self.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"b{i}", "MessageGroupId": "g"} for i in range(10)])
        self.assertEqual(len(reply["Successful"]), 10)
        self.assertEqual(self.visible(url), acknowledged + 10)

    def test_standard_queues_have_no_call_quota(self):
        url = self.sqs.create_queue(QueueName="rate-" + uuid.uuid4().hex[:8])["QueueUrl"]
        acknowledged, throttled = self.send_until_throttled(url)
        self.assertIsNone(throttled)
        self.assertEqual(acknowledged, 20)


if __name__ == "__main__":
    print("boto3", boto3.__version__, "botocore", botocore.__version__)
    unittest.main(verbosity=2)
