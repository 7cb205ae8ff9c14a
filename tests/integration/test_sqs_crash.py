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


def kill9_once_stopped(server, threads, stop, what):
    """Starts the client threads, kills the server with SIGKILL as soon as `stop` is set
    (right after the acknowledgement that set it), then waits for the threads."""
    for t in threads:
        t.start()
    harness.wait_until(lambda: stop.is_set() or not any(t.is_alive() for t in threads),
                       timeout=120, what=what)
    server.kill9()
    for t in threads:
        t.join()


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

        kill9_once_stopped(server, [threading.Thread(target=sender, args=(n,)) for n in range(16)],
                           stop, "acknowledged sends")
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

    def test_kill9_keeps_acknowledged_receives(self):
        """A receive is acknowledged once committed, before its sync (docs/design/queue.md,
        "Durability, per operation"): after kill -9 every acknowledged receive still holds,
        its messages hidden, its handle the latest, its receive count counted."""
        server = harness.Server(extra_args=["--max-workers", "0"]).start()
        sqs = server.boto3_client("sqs")
        name = "crash-recv-" + uuid.uuid4().hex[:8]
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        for start in range(0, 800, 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": f"m-{start + i}"} for i in range(10)])
        received = {}  # MessageId -> (receipt handle, ApproximateReceiveCount)
        lock = threading.Lock()
        stop = threading.Event()

        def receiver():
            client = server.boto3_client("sqs", config_args={"retries": {"max_attempts": 1}})
            while not stop.is_set():
                try:
                    msgs = client.receive_message(
                        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300,
                        AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
                except Exception:
                    return
                with lock:
                    for m in msgs:
                        received[m["MessageId"]] = (
                            m["ReceiptHandle"], int(m["Attributes"]["ApproximateReceiveCount"]))
                    if len(received) >= 300:
                        stop.set()

        def sender(n):  # sends share the receives' commits
            client = server.boto3_client("sqs", config_args={"retries": {"max_attempts": 1}})
            i = 0
            while not stop.is_set():
                try:
                    client.send_message(QueueUrl=url, MessageBody=f"late-{n}-{i}")
                except Exception:
                    return
                i += 1

        kill9_once_stopped(server, [threading.Thread(target=receiver) for _ in range(12)] +
                           [threading.Thread(target=sender, args=(n,)) for n in range(4)],
                           stop, "acknowledged receives")
        self.assertGreaterEqual(len(received), 300)
        again = server.restarted()
        try:
            sqs = again.boto3_client("sqs")
            # Hidden still: whatever is visible now was never acknowledged as received.
            while True:
                msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=300).get("Messages", [])
                if not msgs:
                    break
                back = {m["MessageId"] for m in msgs} & received.keys()
                self.assertEqual(back, set(), "acknowledged receives undone by kill -9")
            # Each handle is still its message's latest: it makes the message visible ...
            items = list(received.items())
            for start in range(0, len(items), 10):
                reply = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, (_, (handle, _count)) in enumerate(items[start:start + 10])])
                self.assertEqual(reply.get("Failed", []), [])
            # ... and its next receive counts one more than the acknowledged one.
            counts = {}
            while len(counts) < len(received):
                msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=300, WaitTimeSeconds=1,
                                           AttributeNames=["ApproximateReceiveCount"]
                                           ).get("Messages", [])
                if not msgs:
                    break
                for m in msgs:
                    if m["MessageId"] in received:
                        counts[m["MessageId"]] = int(m["Attributes"]["ApproximateReceiveCount"])
            self.assertEqual(counts, {mid: count + 1 for mid, (_, count) in received.items()})
        finally:
            again.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
