"""The operator commands against the real server: `imgbatch dlq list|redrive|
delete` after a worker dead-letters a corrupt image, `imgbatch keys
create|list|revoke` with the created key used (and refused) by boto3 across a
restart, `imgbatch reprocess` enqueuing events for existing objects, and the
one-line errors when the server is down or the token is wrong."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402


def imgbatch(server, *args, env=None, check=True, data_dir=None):
    full_env = server.client_env()
    full_env.update(env or {})
    run = subprocess.run([harness.binary(), *args, "--data-dir", data_dir or server.data_dir],
                         capture_output=True, text=True, env=full_env, timeout=120)
    if check and run.returncode != 0:
        raise AssertionError(f"imgbatch {' '.join(args)} exited {run.returncode}:\n"
                             f"{run.stdout}\n{run.stderr}")
    return run


class DeadLetterCommandsTest(unittest.TestCase):
    """One worker, so a corrupt .jpg really goes through the pipeline."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(extra_args=["--max-workers", "1"]).start()
        cls.s3 = cls.server.boto3_client("s3")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def dead_letters(self):
        listed = json.loads(imgbatch(self.server, "dlq", "list", "--json").stdout)
        self.assertEqual(listed["queue"], "batch-dlq")
        self.assertGreaterEqual(listed["total"], len(listed["messages"]))
        return listed["messages"]

    def wait_for_dead_letter(self, key, not_id=None):
        def found():
            return [m for m in self.dead_letters()
                    if m["attributes"].get("SourceKey") == key and m["message_id"] != not_id]
        return harness.wait_until(found, timeout=120, interval=0.3,
                                  what=f"{key} in batch-dlq")[0]

    def test_list_redrive_and_delete_a_poisoned_image(self):
        self.s3.put_object(Bucket="input", Key="poison/bad one.jpg",
                           Body=b"\xff\xd8\xff\xe0" + b"\x00garbage" * 500)
        dead = self.wait_for_dead_letter("poison/bad one.jpg")
        self.assertTrue(dead["attributes"]["ErrorCode"])
        self.assertTrue(dead["attributes"]["ErrorMessage"])
        self.assertTrue(dead["attributes"]["SourceQueueArn"].endswith(":batch-queue"))
        self.assertIn("Records", json.loads(dead["body"]))
        # Peeking does not receive: listed again, same id, still unreceived.
        again = [m for m in self.dead_letters() if m["message_id"] == dead["message_id"]]
        self.assertEqual(again[0]["receive_count"], dead["receive_count"])

        table = imgbatch(self.server, "dlq", "list").stdout
        self.assertIn(dead["message_id"], table)
        self.assertIn("poison/bad one.jpg", table)
        self.assertIn(dead["attributes"]["ErrorCode"], table)

        # Redrive sends it back to batch-queue; the worker fails it again and
        # dead-letters it anew (a new message for the same key).
        moved = imgbatch(self.server, "dlq", "redrive").stdout
        self.assertIn("moved 1 message from batch-dlq to batch-queue", moved)
        second = self.wait_for_dead_letter("poison/bad one.jpg", not_id=dead["message_id"])
        self.assertNotIn(dead["message_id"], [m["message_id"] for m in self.dead_letters()])

        deleted = imgbatch(self.server, "dlq", "delete", second["message_id"])
        self.assertIn("deleted", deleted.stdout)
        self.assertEqual(self.dead_letters(), [])
        missing = imgbatch(self.server, "dlq", "delete", second["message_id"], check=False)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("MessageNotFound", missing.stderr)

    def test_wrong_token_and_unknown_queue_are_clear_errors(self):
        wrong = imgbatch(self.server, "dlq", "list", env={"IMGBATCH_API_TOKEN": "wrong"},
                         check=False)
        self.assertEqual(wrong.returncode, 2)
        self.assertIn("refused the API token", wrong.stderr)
        self.assertEqual(len(wrong.stderr.strip().splitlines()), 1)
        unknown = imgbatch(self.server, "dlq", "list", "--queue", "nope", check=False)
        self.assertEqual(unknown.returncode, 1)
        self.assertIn("QueueDoesNotExist", unknown.stderr)
        # An endpoint with a path reaches the S3 API: its XML error becomes one line.
        pathed = imgbatch(self.server, "status", env={"IMGBATCH_ENDPOINT":
                                                      self.server.endpoint + "/x"}, check=False)
        self.assertEqual(pathed.returncode, 1)
        self.assertEqual(len(pathed.stderr.strip().splitlines()), 1, pathed.stderr)
        self.assertIn("without a path", pathed.stderr)


    def test_root_key_signs_when_there_is_no_token(self):
        elsewhere = {"data_dir": os.path.join(self.server.data_dir, "not-the-data-dir")}
        root = {"IMGBATCH_ACCESS_KEY_ID": harness.ACCESS_KEY,
                "IMGBATCH_SECRET_ACCESS_KEY": harness.SECRET_KEY}
        status = json.loads(imgbatch(self.server, "status", "--json", env=root,
                                     **elsewhere).stdout)
        self.assertIn("batch-dlq", [q["name"] for q in status["queues"]])
        # The status request's own connection is open; the workers' long polls
        # (if any are parked right now) are counted.
        self.assertGreaterEqual(status["connections"]["open"], 1)
        self.assertIsInstance(status["connections"]["receives_waiting"], int)
        wrong = dict(root, IMGBATCH_SECRET_ACCESS_KEY="not-the-secret")
        refused = imgbatch(self.server, "dlq", "list", env=wrong, check=False, **elsewhere)
        self.assertEqual(refused.returncode, 2)
        self.assertIn("refused the root key", refused.stderr)
        nothing = imgbatch(self.server, "dlq", "list", check=False, **elsewhere)
        self.assertEqual(nothing.returncode, 2)
        self.assertIn("no credentials", nothing.stderr)


class KeysAndReprocessTest(unittest.TestCase):
    """No workers: events stay in the queue for the test to read."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(extra_args=["--max-workers", "0"]).start()
        cls.s3 = cls.server.boto3_client("s3")
        cls.sqs = cls.server.boto3_client("sqs")
        cls.queue_url = cls.sqs.get_queue_url(QueueName="batch-queue")["QueueUrl"]

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def drain(self):
        bodies = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not got:
                return bodies
            for m in got:
                bodies.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def test_keys_create_use_restart_revoke(self):
        self.s3.put_object(Bucket="input", Key="shared/readme.txt", Body=b"hello")
        created = json.loads(imgbatch(
            self.server, "keys", "create", "reader", "--json",
            "--allow", "s3:GetObject=arn:aws:s3:::input/shared/*",
            "--allow", "sqs:GetQueueUrl=arn:aws:sqs:us-east-1:000000000000:batch-queue").stdout)
        key_id, secret = created["access_key_id"], created["secret_access_key"]
        self.assertTrue(key_id.startswith("AKIA"))
        s3 = self.server.boto3_client("s3", access_key=key_id, secret_key=secret)
        sqs = self.server.boto3_client("sqs", access_key=key_id, secret_key=secret)
        self.assertEqual(s3.get_object(Bucket="input", Key="shared/readme.txt")["Body"].read(),
                         b"hello")
        sqs.get_queue_url(QueueName="batch-queue")
        with self.assertRaises(ClientError) as denied:
            s3.put_object(Bucket="input", Key="shared/new.txt", Body=b"x")
        self.assertEqual(denied.exception.response["Error"]["Code"], "AccessDenied")

        listed = json.loads(imgbatch(self.server, "keys", "list", "--json").stdout)["keys"]
        sources = {k["access_key_id"]: k["source"] for k in listed}
        self.assertEqual(sources[key_id], "runtime")
        self.assertEqual(sources[harness.ACCESS_KEY], "root")
        self.assertIn("worker", sources.values())
        self.assertNotIn("secret_access_key", json.dumps(listed))
        self.assertIn("reader", imgbatch(self.server, "keys", "list").stdout)

        # Kept across a restart of the server.
        self.server.stop()
        self.server.start()
        self.assertEqual(s3.get_object(Bucket="input", Key="shared/readme.txt")["Body"].read(),
                         b"hello")

        refused = imgbatch(self.server, "keys", "revoke", harness.ACCESS_KEY, check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("KeyNotRevocable", refused.stderr)
        self.assertIn(f"revoked {key_id}", imgbatch(self.server, "keys", "revoke", key_id).stdout)
        for call in (lambda: s3.get_object(Bucket="input", Key="shared/readme.txt"),
                     lambda: sqs.get_queue_url(QueueName="batch-queue")):
            with self.assertRaises(ClientError) as gone:
                call()
            self.assertEqual(gone.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
            self.assertIn(gone.exception.response["Error"]["Code"],
                          ("InvalidAccessKeyId", "InvalidClientTokenId"))

    def test_reprocess_enqueues_put_events_for_existing_objects(self):
        for key in ("redo/a b.jpg", "redo/notes.txt", "elsewhere/c.jpg"):
            self.s3.put_object(Bucket="input", Key=key, Body=b"bytes")
        self.drain()  # the uploads' own events
        run = imgbatch(self.server, "reprocess", "s3://input/redo/")
        self.assertIn("2 objects, 1 event messages sent", run.stdout)
        records = [b["Records"][0] for b in self.drain()]
        self.assertEqual(len(records), 1, records)
        self.assertEqual(records[0]["eventName"], "ObjectCreated:Put")
        self.assertEqual(records[0]["s3"]["bucket"]["name"], "input")
        self.assertEqual(records[0]["s3"]["object"]["key"], "redo/a+b.jpg")
        missing = imgbatch(self.server, "reprocess", "s3://no-such-bucket/", check=False)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("NoSuchBucket", missing.stderr)


class ServerDownTest(unittest.TestCase):
    def test_one_line_error_and_exit_1(self):
        server = harness.Server()  # never started: nothing listens on its port
        os.makedirs(server.data_dir, exist_ok=True)
        with open(os.path.join(server.data_dir, "dashboard-token"), "w") as f:
            f.write("t" * 48 + "\n")
        for args in (("status",), ("dlq", "list"), ("keys", "list")):
            run = imgbatch(server, *args, check=False)
            self.assertEqual(run.returncode, 1, args)
            self.assertIn("cannot reach the server", run.stderr)
            self.assertEqual(len(run.stderr.strip().splitlines()), 1, run.stderr)
        server.cleanup()


class UsageErrorTest(unittest.TestCase):
    """Bad arguments: one line naming the command, exit code 64 (EX_USAGE)."""

    def run_cli(self, *args):
        return subprocess.run([harness.binary(), *args], capture_output=True, text=True,
                              timeout=60)

    def test_bad_arguments_are_one_line_and_exit_64(self):
        for args, says in ((("bogus",), "unknown command 'bogus'"),
                           (("dlq", "list", "--max", "abc"), "imgbatch dlq list: --max"),
                           (("dlq",), "imgbatch dlq: A subcommand is required"),
                           (("status", "--nope"), "imgbatch status:")):
            run = self.run_cli(*args)
            self.assertEqual(run.returncode, 64, (args, run.stderr))
            self.assertIn(says, run.stderr)
            self.assertEqual(len(run.stderr.strip().splitlines()), 1, run.stderr)

    def test_help_and_version_still_exit_0(self):
        for args in (("--help",), ("dlq", "--help"), ("--version",)):
            run = self.run_cli(*args)
            self.assertEqual(run.returncode, 0, (args, run.stderr))
            self.assertTrue(run.stdout.strip(), args)


if __name__ == "__main__":
    unittest.main()
