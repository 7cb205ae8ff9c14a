"""SQS through the aws CLI against the real server: the one given by $AWS_CLI, Debian's
awscli 2.9 (query protocol) or the image's awscli 1.45 via `python3 -m awscli` (JSON 1.0).
The CLI checks MD5OfMessageBody / MD5OfMessageAttributes itself, so a send or receive whose
digests are wrong fails the command.
"""
import json
import os
import shlex
import subprocess
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SERVER = None
AWS = shlex.split(os.environ.get("AWS_CLI", "/usr/bin/aws"))


def setUpModule():
    global SERVER
    SERVER = harness.Server().start()


def tearDownModule():
    SERVER.cleanup()


def aws(*args, check=True):
    """Runs `aws sqs ARGS --output json`; the parsed output ({} when empty)."""
    cmd = AWS + ["--endpoint-url", SERVER.endpoint, "--region", harness.REGION, "--output", "json",
                 "sqs"] + list(args)
    res = subprocess.run(cmd, env=SERVER.client_env(), capture_output=True, text=True, timeout=120)
    if not check:
        return res
    if res.returncode != 0:
        raise AssertionError(f"{cmd} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return json.loads(res.stdout) if res.stdout.strip() else {}


class SqsCliTest(unittest.TestCase):
    def setUp(self):
        self.name = "cli-" + uuid.uuid4().hex[:10]

    def create(self, name, *extra):
        return aws("create-queue", "--queue-name", name, *extra)["QueueUrl"]

    def attributes(self, url, *names):
        names = names or ("All",)
        return aws("get-queue-attributes", "--queue-url", url, "--attribute-names", *names)["Attributes"]

    def test_queue_lifecycle_attributes_and_tags(self):
        url = self.create(self.name, "--attributes", "VisibilityTimeout=45,DelaySeconds=1",
                          "--tags", "team=imaging")
        self.assertEqual(url, f"{SERVER.endpoint}/000000000000/{self.name}")
        # Creating it again with the same attributes is the same queue.
        self.assertEqual(self.create(self.name, "--attributes", "VisibilityTimeout=45,DelaySeconds=1"), url)
        self.assertEqual(aws("get-queue-url", "--queue-name", self.name)["QueueUrl"], url)
        self.assertIn(url, aws("list-queues", "--queue-name-prefix", self.name)["QueueUrls"])
        a = self.attributes(url)
        self.assertEqual((a["VisibilityTimeout"], a["DelaySeconds"]), ("45", "1"))
        self.assertEqual(a["QueueArn"], f"arn:aws:sqs:us-east-1:000000000000:{self.name}")
        aws("set-queue-attributes", "--queue-url", url, "--attributes", "MessageRetentionPeriod=3600")
        self.assertEqual(self.attributes(url, "MessageRetentionPeriod"), {"MessageRetentionPeriod": "3600"})
        aws("tag-queue", "--queue-url", url, "--tags", "stage=test")
        self.assertEqual(aws("list-queue-tags", "--queue-url", url)["Tags"],
                         {"team": "imaging", "stage": "test"})
        aws("untag-queue", "--queue-url", url, "--tag-keys", "team")
        self.assertEqual(aws("list-queue-tags", "--queue-url", url)["Tags"], {"stage": "test"})
        aws("delete-queue", "--queue-url", url)
        gone = aws("get-queue-url", "--queue-name", self.name, check=False)
        self.assertNotEqual(gone.returncode, 0)
        self.assertRegex(gone.stderr, "NonExistentQueue|QueueDoesNotExist")

    def test_send_receive_change_visibility_delete(self):
        url = self.create(self.name)
        sent = aws("send-message", "--queue-url", url, "--message-body", "héllo ☃",
                   "--message-attributes", json.dumps({
                       "kind": {"DataType": "String", "StringValue": "photo"},
                       "size": {"DataType": "Number", "StringValue": "1024"},
                       "blob": {"DataType": "Binary", "BinaryValue": "AAEC"}}))
        self.assertIn("MD5OfMessageAttributes", sent)
        batch = aws("send-message-batch", "--queue-url", url, "--entries", json.dumps(
            [{"Id": f"e{i}", "MessageBody": f"m{i}"} for i in range(5)]))
        self.assertEqual(sorted(e["Id"] for e in batch["Successful"]), [f"e{i}" for i in range(5)])
        self.assertEqual(batch.get("Failed", []), [])
        got = []
        while len(got) < 6:
            r = aws("receive-message", "--queue-url", url, "--max-number-of-messages", "10",
                    "--wait-time-seconds", "1", "--attribute-names", "All",
                    "--message-attribute-names", "All", "--visibility-timeout", "60")
            self.assertIn("Messages", r, f"only {len(got)} of 6 received")
            got += r["Messages"]
        bodies = {m["Body"]: m for m in got}
        self.assertEqual(set(bodies), {"héllo ☃"} | {f"m{i}" for i in range(5)})
        first = bodies["héllo ☃"]
        self.assertEqual(first["MessageId"], sent["MessageId"])
        self.assertEqual(first["MessageAttributes"]["kind"]["StringValue"], "photo")
        self.assertEqual(first["Attributes"]["ApproximateReceiveCount"], "1")
        self.assertEqual(self.counts(url), ("0", "6"))
        # Visibility 0: back at once, received again with a new handle.
        aws("change-message-visibility", "--queue-url", url, "--receipt-handle",
            first["ReceiptHandle"], "--visibility-timeout", "0")
        again = aws("receive-message", "--queue-url", url, "--wait-time-seconds", "1",
                    "--attribute-names", "All")["Messages"]
        self.assertEqual([m["MessageId"] for m in again], [sent["MessageId"]])
        self.assertEqual(again[0]["Attributes"]["ApproximateReceiveCount"], "2")
        aws("delete-message", "--queue-url", url, "--receipt-handle", again[0]["ReceiptHandle"])
        deleted = aws("delete-message-batch", "--queue-url", url, "--entries", json.dumps(
            [{"Id": str(i), "ReceiptHandle": bodies[f"m{i}"]["ReceiptHandle"]} for i in range(5)]))
        self.assertEqual(len(deleted["Successful"]), 5)
        self.assertEqual(self.counts(url), ("0", "0"))

    def counts(self, url):
        a = self.attributes(url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
        return a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]

    def queue_with_dead_letters(self):
        """(queue url, DLQ url, DLQ ARN): a message goes to the DLQ on its second receive."""
        dlq = self.create(self.name + "-dlq")
        dlq_arn = self.attributes(dlq, "QueueArn")["QueueArn"]
        url = self.create(self.name, "--attributes", json.dumps({
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})}))
        return url, dlq, dlq_arn

    def test_dead_letter_queue_and_purge(self):
        url, dlq, _ = self.queue_with_dead_letters()
        self.assertEqual(aws("list-dead-letter-source-queues", "--queue-url", dlq)["queueUrls"], [url])
        aws("send-message", "--queue-url", url, "--message-body", "poison")
        first = aws("receive-message", "--queue-url", url, "--wait-time-seconds", "1")
        self.assertEqual([m["Body"] for m in first["Messages"]], ["poison"])
        # The receive that would exceed maxReceiveCount moves it instead.
        self.assertNotIn("Messages", aws("receive-message", "--queue-url", url))
        dead = aws("receive-message", "--queue-url", dlq, "--wait-time-seconds", "1")
        self.assertEqual([m["Body"] for m in dead["Messages"]], ["poison"])
        aws("purge-queue", "--queue-url", dlq)
        self.assertEqual(self.attributes(dlq, "ApproximateNumberOfMessages"),
                         {"ApproximateNumberOfMessages": "0"})

    def test_message_move_task_redrives_the_dead_letters(self):
        url, _, dlq_arn = self.queue_with_dead_letters()
        aws("send-message", "--queue-url", url, "--message-body", "back")
        aws("receive-message", "--queue-url", url, "--wait-time-seconds", "1")
        self.assertNotIn("Messages", aws("receive-message", "--queue-url", url))  # dead-lettered
        # Without a destination each message goes back to the queue it came from.
        started = aws("start-message-move-task", "--source-arn", dlq_arn, check=False)
        if "Invalid choice" in started.stderr:
            self.skipTest("this aws CLI predates StartMessageMoveTask (June 2023)")
        self.assertEqual(started.returncode, 0, started.stderr)
        self.assertIn("TaskHandle", json.loads(started.stdout))
        harness.wait_until(
            lambda: aws("list-message-move-tasks", "--source-arn", dlq_arn)["Results"][0]["Status"]
            == "COMPLETED", what="the move task to complete")
        moved = aws("receive-message", "--queue-url", url, "--wait-time-seconds", "1")
        self.assertEqual([m["Body"] for m in moved["Messages"]], ["back"])

    def test_errors_are_the_protocols_codes(self):
        url = self.create(self.name)
        cases = [
            (["send-message", "--queue-url", url, "--message-body", "bad \u0001 char"],
             "InvalidMessageContents"),
            (["send-message-batch", "--queue-url", url, "--entries",
              json.dumps([{"Id": str(i), "MessageBody": "m"} for i in range(11)])],
             "TooManyEntriesInBatchRequest"),
            (["send-message-batch", "--queue-url", url, "--entries",
              json.dumps([{"Id": "x", "MessageBody": "m"}, {"Id": "x", "MessageBody": "n"}])],
             "BatchEntryIdsNotDistinct"),
            (["change-message-visibility", "--queue-url", url, "--receipt-handle", "not-a-handle",
              "--visibility-timeout", "10"], "ReceiptHandleIsInvalid"),
            (["set-queue-attributes", "--queue-url", url, "--attributes", "VisibilityTimeout=43201"],
             "InvalidAttributeValue"),
            (["create-queue", "--queue-name", "bad name!"], "InvalidParameterValue"),
        ]
        for args, code in cases:
            with self.subTest(code=code):
                res = aws(*args, check=False)
                self.assertNotEqual(res.returncode, 0, res.stdout)
                self.assertIn(code, res.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
