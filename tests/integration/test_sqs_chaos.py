"""Chaos test: SQS traffic of every kind while the server is `kill -9`ed over and
over, then a drain, then the history the clients saw is checked against what
SQS promises. Where test_sqs_crash.py kills once after sends, this kills in the
middle of sends, batch sends, receives, deletes, batch deletes, visibility
changes, dead-letter moves and FIFO deduplication, at random moments.

Each client records every call with the time it was made and the time its
reply came back. A call that got no reply (the server died under it) has an
unknown outcome and promises nothing; a call that got one is acknowledged, and
the checks hold the server to it:

- nothing vanishes: every message a client saw last without deleting it is
  seen again (the drain at the end sees and deletes everything left);
- nothing returns: a message whose delete was acknowledged, with the receipt
  handle of a receive still inside its visibility timeout, is never seen again;
- every acknowledged send is seen, with its body, under the MessageId it was
  acknowledged with;
- receives are durable: a message is not given again before the visibility
  timeout of an acknowledged receive has passed, and ApproximateReceiveCount
  grows with every receive that came after another one had replied (a receive
  count lost in a crash would repeat a number);
- receipt handles outlive a crash: a delete the kill cut is tried again with
  the same handles once the server is back, and a client error the server
  chooses to answer (ReceiptHandleIsInvalid, a failed batch entry) fails the
  test instead of counting as a cut call;
- redrive: a source queue never gives a message more often than maxReceiveCount
  and a message that reached the dead-letter queue never comes back to it;
- FIFO: a group's messages are seen in send order, and a send retried with the
  same deduplication id after the crash that ate its reply is not delivered twice.

CHAOS_KILLS (default 4) sets how many times the server is killed and
CHAOS_SEED the random seed (printed, to replay a failure's timing choices).
"""
import collections
import os
import random
import shutil
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos_support  # noqa: E402

VISIBILITY = 3  # seconds, every receive's VisibilityTimeout
MAX_RECEIVES = 3  # the source queue's maxReceiveCount
MARGIN = 0.25  # seconds of slack for the server's millisecond clock
# What ChangeMessageVisibility answers for a handle that is no longer the
# latest, or a message no longer in flight (the JSON protocol's SDKs show the
# query protocol's code, AWS.SimpleQueueService.*, from x-amzn-query-error).
STALE_HANDLE_CODES = ("InvalidParameterValue", "MessageNotInflight",
                      "AWS.SimpleQueueService.MessageNotInflight")
FIFO_GROUPS = 3
DELETE_ATTEMPTS = 5  # a cut delete is tried again, 0.25 s apart, while the server restarts


class Observation:
    """One message as one acknowledged ReceiveMessage returned it."""

    def __init__(self, queue, start, end, message):
        self.queue, self.start, self.end = queue, start, end
        self.id = message["MessageId"]
        self.body = message["Body"]
        self.handle = message["ReceiptHandle"]
        self.count = int(message["Attributes"]["ApproximateReceiveCount"])
        self.deleted_at = None  # reply time of an acknowledged delete of this handle
        self.delete_tried = False  # a delete of this handle was sent, replied or not
        self.visibility_changed = False  # ChangeMessageVisibility tried on this handle


class History:
    """What the clients sent and saw, shared by all threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = {}  # body -> MessageId of the acknowledged send
        self.tried = set()  # every body a send carried
        self.observations = []
        self.errors = collections.Counter()

    def add_sent(self, body, message_id):
        with self.lock:
            self.sent[body] = message_id

    def add_observations(self, observations):
        with self.lock:
            self.observations.extend(observations)

    def note_error(self, what, error, allowed=()):
        """A call that raised: counted if a kill explains it, raised (failing
        the test) if the server answered with an error a correct run does not
        meet (see chaos_support.raise_unless_cut)."""
        chaos_support.raise_unless_cut(error, allowed)
        with self.lock:
            self.errors[what] += 1


class Chaos:
    def __init__(self, test, server, seed):
        self.test = test
        self.server = server
        self.random = random.Random(seed)
        self.history = History()
        self.clients = chaos_support.ClientThreads()
        self.stop = self.clients.stop
        suffix = uuid.uuid4().hex[:8]
        admin = server.boto3_client("sqs")
        self.dlq = admin.create_queue(QueueName="chaos-dlq-" + suffix)["QueueUrl"]
        dlq_arn = admin.get_queue_attributes(
            QueueUrl=self.dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.source = admin.create_queue(QueueName="chaos-" + suffix, Attributes={
            "RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{MAX_RECEIVES}"}}'
        })["QueueUrl"]
        self.fifo = admin.create_queue(QueueName=f"chaos-{suffix}.fifo", Attributes={
            "FifoQueue": "true"})["QueueUrl"]

    def client(self):
        return chaos_support.one_attempt_client(self.server, "sqs", read_timeout=10)

    # --- clients -----------------------------------------------------------

    def standard_sender(self, sqs, n):
        i = 0
        while not self.stop.is_set():
            kind = "poison" if i % 17 == 0 else "requeue" if i % 7 == 0 else "plain"
            if i % 3 == 0:
                self.send_batch(sqs, self.source, [f"{kind}-{n}-{i}-{j}" for j in range(5)])
            else:
                self.send_one(sqs, self.source, f"{kind}-{n}-{i}")
            i += 1

    def send_one(self, sqs, url, body, **kwargs):
        with self.history.lock:
            self.history.tried.add(body)
        try:
            reply = sqs.send_message(QueueUrl=url, MessageBody=body, **kwargs)
        except Exception as e:
            self.history.note_error("send", e)
            time.sleep(0.05)
            return False
        self.history.add_sent(body, reply["MessageId"])
        return True

    def send_batch(self, sqs, url, bodies, **fifo):
        """SendMessageBatch of bodies; fifo=True gives each entry the group and
        its body as deduplication id. True once every entry is acknowledged."""
        with self.history.lock:
            self.history.tried.update(bodies)
        entries = [{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies)]
        if fifo:
            for e in entries:
                e.update(MessageGroupId=fifo["group"], MessageDeduplicationId=e["MessageBody"])
        try:
            reply = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        except Exception as e:
            self.history.note_error("send batch", e)
            time.sleep(0.05)
            return False
        self.test.assertEqual(reply.get("Failed", []), [])
        for entry in reply["Successful"]:
            self.history.add_sent(bodies[int(entry["Id"])], entry["MessageId"])
        return True

    def fifo_sender(self, sqs, group):
        """Sends its group's messages in order, one by one or three in a batch; a
        send whose reply was lost is sent again, with the same deduplication ids,
        until acknowledged."""
        k = 0
        while not self.stop.is_set():
            if k % 4 == 1:
                bodies = [f"fifo-{group}-{k + j}" for j in range(3)]
                if self.send_batch(sqs, self.fifo, bodies, group=f"g{group}"):
                    k += 3
                continue
            body = f"fifo-{group}-{k}"
            if self.send_one(sqs, self.fifo, body, MessageGroupId=f"g{group}",
                             MessageDeduplicationId=body):
                k += 1

    def consumer(self, sqs, url, batch_delete, give_back=True):
        while not self.stop.is_set():
            observations = self.receive(sqs, url, wait=1)
            keep = []
            for o in observations:
                kind = o.body.split("-", 1)[0]
                if give_back and (kind == "poison" or (kind == "requeue" and o.count == 1)):
                    self.give_back(sqs, url, o)  # received again soon, towards the DLQ
                else:
                    keep.append(o)
            self.delete(sqs, url, keep, batch_delete)

    def receive(self, sqs, url, wait):
        start = time.monotonic()
        try:
            reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                        VisibilityTimeout=VISIBILITY, WaitTimeSeconds=wait,
                                        AttributeNames=["All"])
        except Exception as e:
            self.history.note_error("receive", e)
            time.sleep(0.05)
            return []
        end = time.monotonic()
        observations = [Observation(url, start, end, m) for m in reply.get("Messages", [])]
        self.history.add_observations(observations)
        return observations

    def give_back(self, sqs, url, o):
        o.visibility_changed = True
        try:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=o.handle,
                                          VisibilityTimeout=0)
        except Exception as e:
            # A receive after a restart may have made the handle stale, or the
            # visibility may have run out meanwhile: both are AWS's answers.
            self.history.note_error("change visibility", e, allowed=STALE_HANDLE_CODES)

    def delete(self, sqs, url, observations, batch):
        """Deletes what was received, one by one or in a batch. A delete the
        kill cut is tried again once the server is back, with the same
        handles, as a consumer's SDK would: a handle given before a restart
        must still act (or, gone stale meanwhile, succeed and delete nothing)."""
        if not observations:
            return
        for o in observations:
            o.delete_tried = True
        pending = list(observations)
        for attempt in range(DELETE_ATTEMPTS):
            if attempt > 0:
                time.sleep(0.25)
            pending = self.delete_once(sqs, url, pending, batch)
            if not pending or self.stop.is_set():
                return

    def delete_once(self, sqs, url, observations, batch):
        """One try; returns the observations whose delete it did not finish."""
        if not batch:
            for i, o in enumerate(observations):
                try:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=o.handle)
                except Exception as e:
                    self.history.note_error("delete", e)
                    return observations[i:]
                o.deleted_at = time.monotonic()
            return []
        try:
            reply = sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(j), "ReceiptHandle": o.handle} for j, o in enumerate(observations)])
        except Exception as e:
            self.history.note_error("delete", e)
            return observations
        # A failed entry (ReceiptHandleIsInvalid for a handle the server
        # gave) fails the test: it is an answer, not a cut call.
        self.test.assertEqual(reply.get("Failed", []), [])
        done = time.monotonic()
        for entry in reply["Successful"]:
            observations[int(entry["Id"])].deleted_at = done
        return []

    # --- the run -----------------------------------------------------------

    def run(self, kills):
        # boto3 makes clients unsafely from several threads at once: here, in one.
        c = self.clients
        for n in range(2):
            c.add(self.standard_sender, self.client(), n)
        for g in range(FIFO_GROUPS):
            c.add(self.fifo_sender, self.client(), g)
        for n in range(2):
            c.add(self.consumer, self.client(), self.source, n == 0)
        c.add(self.consumer, self.client(), self.dlq, False, False)
        c.add(self.consumer, self.client(), self.fifo, True)
        chaos_support.run_killing(self.test, self, kills, self.random, c)
        self.drain()

    def drain(self):
        """Receives and deletes until all three queues are empty, in-flight
        messages of the last crash included (they come back after VISIBILITY)."""
        sqs = self.server.boto3_client("sqs")
        quiet_since = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            got = 0
            for url in (self.source, self.dlq, self.fifo):
                observations = self.receive(sqs, url, wait=0)
                self.delete(sqs, url, observations, batch=True)
                self.test.assertTrue(all(o.deleted_at for o in observations), "drain delete")
                got += len(observations)
            if got == 0 and self.all_empty(sqs):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 1.0:
                    return
            else:
                quiet_since = None
                if got == 0:
                    time.sleep(0.2)
        self.test.fail("the queues did not drain within 120 s")

    def all_empty(self, sqs):
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        for url in (self.source, self.dlq, self.fifo):
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            if any(int(attrs[n]) for n in names):
                return False
        return True


class SqsChaosTest(unittest.TestCase):
    def test_kill9_at_random_moments_breaks_no_promise(self):
        kills, seed = chaos_support.kills_and_seed()
        server = chaos_support.start_server()
        data_dir = server.data_dir  # outlives the first process, which owns it
        chaos = Chaos(self, server, seed)
        try:
            chaos.run(kills)
            self.assertEqual(chaos.server.stop(), 0, "exit code of the last server's SIGTERM stop")
        finally:
            chaos.server.cleanup()  # the last process, whichever run() reached
            shutil.rmtree(data_dir, ignore_errors=True)
        self.assertEqual(chaos.clients.failures, [])
        h = chaos.history
        by_id = collections.defaultdict(list)
        for o in sorted(h.observations, key=lambda o: o.start):
            by_id[o.id].append(o)
        print(f"sent {len(h.sent)} acknowledged of {len(h.tried)}, "
              f"{len(h.observations)} receipts of {len(by_id)} messages, "
              f"failed calls {dict(h.errors)}", file=sys.stderr)
        self.assertGreater(sum(h.errors.values()), 0, "no call was cut by a kill")
        self.check_sends(h, by_id)
        for message_id, seen in by_id.items():
            self.check_message(chaos, message_id, seen)
        self.check_fifo_order(chaos, h)

    def check_sends(self, h, by_id):
        bodies_of = {mid: {o.body for o in seen} for mid, seen in by_id.items()}
        for body, message_id in h.sent.items():
            self.assertTrue(message_id in by_id, f"acknowledged send {body} ({message_id}) lost")
            self.assertEqual(bodies_of[message_id], {body}, f"{message_id} body")
        for message_id, bodies in bodies_of.items():
            self.assertTrue(bodies <= h.tried, f"{message_id} has a body nobody sent: {bodies}")
        ids_per_body = collections.defaultdict(set)
        for message_id, bodies in bodies_of.items():
            for body in bodies:
                ids_per_body[body].add(message_id)
        for body, ids in ids_per_body.items():
            # Standard sends are made once per body; FIFO retries are deduplicated.
            self.assertEqual(len(ids), 1, f"{body} delivered as several messages {ids}")

    def check_message(self, chaos, message_id, seen):
        last = max(seen, key=lambda o: o.end)
        self.assertTrue(last.delete_tried,
                        f"{message_id} ({last.body}) vanished: last seen without a delete")
        for a in seen:
            if a.queue == chaos.source:
                self.assertLessEqual(a.count, MAX_RECEIVES, f"{a.body} not dead-lettered")
            for b in seen:
                if b.start <= a.end:
                    continue  # b did not start after a's reply: no order between them
                self.assertGreater(b.count, a.count,
                                   f"{a.body}: receive count {a.count} then {b.count}")
                if a.queue == chaos.dlq:
                    self.assertEqual(b.queue, chaos.dlq, f"{a.body} left the dead-letter queue")
                if a.deleted_at and a.deleted_at - a.start < VISIBILITY - MARGIN:
                    self.assertLess(b.start, a.deleted_at,
                                    f"{a.body} came back after its delete was acknowledged")
                if not a.visibility_changed:
                    self.assertGreaterEqual(
                        b.end, a.start + VISIBILITY - MARGIN,
                        f"{a.body} given again {b.end - a.start:.2f}s after a receive "
                        f"with a {VISIBILITY}s visibility timeout")

    def check_fifo_order(self, chaos, h):
        seen_upto = collections.defaultdict(lambda: -1)  # group -> highest k with 0..k seen
        seen = collections.defaultdict(set)
        fifo = [o for o in h.observations if o.queue == chaos.fifo]
        for o in fifo:  # in the order the receives were recorded, each reply in its order
            _, group, k = o.body.split("-")
            group, k = int(group), int(k)
            self.assertLessEqual(k, seen_upto[group] + 1,
                                 f"group {group}: {o.body} before fifo-{group}-{seen_upto[group] + 1}")
            seen[group].add(k)
            while seen_upto[group] + 1 in seen[group]:
                seen_upto[group] += 1
        sent = collections.Counter(b.split("-")[1] for b in h.sent if b.startswith("fifo-"))
        self.assertTrue(all(sent[str(g)] > 0 for g in range(FIFO_GROUPS)), f"FIFO sends {sent}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
