"""Crash test: send N messages concurrently, `kill -9` the server right after
acknowledgements, restart: every acknowledged message is received (by
MessageId) and none that was deleted before the crash comes back."""
import os
import sys
import threading
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class SqsCrashTest(unittest.TestCase):
    def test_kill9_keeps_acknowledged_sends_and_deletes(self):
        server = harness.Server(extra_args=["--max-workers", "0"]).start()
        sqs = server.boto3_client("sqs")
        name = "crash-" + uuid.uuid4().hex[:8]
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        # Some messages are sent and deleted before the crash: they must not return.
        deleted_ids = set()
        for i in range(20):
            sqs.send_message(QueueUrl=url, MessageBody=f"del-{i}")
        while len(deleted_ids) < 20:
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                deleted_ids.add(m["MessageId"])
        acked = set()
        lock = threading.Lock()
        stop = threading.Event()

        def sender(n):
            client = server.boto3_client("sqs", config_args={"retries": {"max_attempts": 1}})
            i = 0
            while not stop.is_set():
                try:
                    r = client.send_message(QueueUrl=url, MessageBody=f"{n}-{i}")
                except Exception:
                    return
                with lock:
                    acked.add(r["MessageId"])
                    if len(acked) >= 500:
                        stop.set()
                i += 1

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        harness.wait_until(lambda: stop.is_set() or not any(t.is_alive() for t in threads),
                           timeout=120, what="acknowledged sends")
        server.kill9()
        for t in threads:
            t.join()
        again = server.restarted()
        try:
            sqs = again.boto3_client("sqs")
            received = set()
            while True:
                msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", [])
                if not msgs:
                    break
                for m in msgs:
                    received.add(m["MessageId"])
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(msgs)])
            self.assertEqual(acked - received, set(), "acknowledged messages lost")
            self.assertEqual(received & deleted_ids, set(), "deleted messages came back")
        finally:
            again.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
