"""S3 bucket notifications to SQS through boto3 against the real server:
Put/GetBucketNotificationConfiguration, the s3:TestEvent, and the event
records object writes produce (Put, Copy, CompleteMultipartUpload)."""
import json
import os
import sys
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

SERVER = None


def setUpModule():
    global SERVER
    SERVER = harness.Server(extra_args=["--max-workers", "0"]).start()


def tearDownModule():
    SERVER.cleanup()


class NotificationsTest(unittest.TestCase):
    def setUp(self):
        self.s3 = SERVER.boto3_client("s3")
        self.sqs = SERVER.boto3_client("sqs")
        suffix = uuid.uuid4().hex[:10]
        self.bucket = "notif-" + suffix
        self.s3.create_bucket(Bucket=self.bucket)
        self.url = self.sqs.create_queue(QueueName="events-" + suffix)["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def configure(self, prefix="incoming/"):
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={"QueueConfigurations": [{
                "Id": "incoming",
                "QueueArn": self.arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
            }]})

    def drain(self):
        """Every message in the queue now (deleted as received)."""
        bodies = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not got:
                return bodies
            for m in got:
                bodies.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])

    def records(self):
        """The Records[0] of each message now in the queue."""
        return [body["Records"][0] for body in self.drain()]

    def test_configuration_round_trip_and_one_test_event(self):
        self.assertNotIn("QueueConfigurations",
                         self.s3.get_bucket_notification_configuration(Bucket=self.bucket))
        self.configure()
        got = self.s3.get_bucket_notification_configuration(Bucket=self.bucket)
        self.assertEqual(got["QueueConfigurations"], [{
            "Id": "incoming", "QueueArn": self.arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "incoming/"}]}}}])
        bodies = self.drain()
        self.assertEqual(len(bodies), 1, bodies)
        self.assertEqual(bodies[0]["Event"], "s3:TestEvent")
        self.assertEqual(bodies[0]["Bucket"], self.bucket)

    def test_put_copy_and_multipart_records(self):
        self.configure()
        self.drain()  # the test event
        put = self.s3.put_object(Bucket=self.bucket, Key="incoming/a b.txt", Body=b"hello")
        [record] = self.records()
        self.assertEqual(record["eventName"], "ObjectCreated:Put")
        self.assertEqual(record["eventSource"], "aws:s3")
        self.assertEqual(record["s3"]["bucket"]["name"], self.bucket)
        obj = record["s3"]["object"]
        self.assertEqual(obj["key"], "incoming/a+b.txt")
        self.assertEqual(obj["size"], 5)
        self.assertIsInstance(obj["size"], int)
        self.assertEqual(obj["eTag"], put["ETag"].strip('"'))

        self.s3.copy_object(Bucket=self.bucket, Key="incoming/copy.txt",
                            CopySource={"Bucket": self.bucket, "Key": "incoming/a b.txt"})
        [record] = self.records()
        self.assertEqual(record["eventName"], "ObjectCreated:Copy")
        self.assertEqual(record["s3"]["object"]["key"], "incoming/copy.txt")

        upload = self.s3.create_multipart_upload(Bucket=self.bucket, Key="incoming/mp.bin")
        part = self.s3.upload_part(Bucket=self.bucket, Key="incoming/mp.bin", PartNumber=1,
                                   UploadId=upload["UploadId"], Body=b"x" * 1000)
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key="incoming/mp.bin", UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        [record] = self.records()
        self.assertEqual(record["eventName"], "ObjectCreated:CompleteMultipartUpload")
        self.assertTrue(record["s3"]["object"]["eTag"].endswith("-1"), record)
        self.assertNotIn('"', record["s3"]["object"]["eTag"])

    def test_tagging_events_go_to_tagging_subscribers(self):
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={"QueueConfigurations": [{
                "Id": "tags", "QueueArn": self.arn, "Events": ["s3:ObjectTagging:*"]}]})
        self.drain()  # the test event
        put = self.s3.put_object(Bucket=self.bucket, Key="photo.jpg", Body=b"x")
        self.assertEqual(self.records(), [])  # not subscribed to ObjectCreated
        self.s3.put_object_tagging(Bucket=self.bucket, Key="photo.jpg",
                                   Tagging={"TagSet": [{"Key": "stage", "Value": "done"}]})
        self.s3.delete_object_tagging(Bucket=self.bucket, Key="photo.jpg")
        records = self.records()
        self.assertEqual([r["eventName"] for r in records],
                         ["ObjectTagging:Put", "ObjectTagging:Delete"])
        self.assertEqual(records[0]["s3"]["object"]["key"], "photo.jpg")
        self.assertEqual(records[0]["s3"]["object"]["eTag"], put["ETag"].strip('"'))
        got = self.s3.get_bucket_notification_configuration(Bucket=self.bucket)
        self.assertEqual(got["QueueConfigurations"][0]["Events"], ["s3:ObjectTagging:*"])

    def test_filtered_keys_send_nothing(self):
        self.configure()
        self.drain()
        self.s3.put_object(Bucket=self.bucket, Key="elsewhere/a.txt", Body=b"x")
        self.assertEqual(self.records(), [])

    def test_sequencers_increase_for_one_key(self):
        self.configure()
        self.drain()
        self.s3.put_object(Bucket=self.bucket, Key="incoming/same", Body=b"1")
        self.s3.put_object(Bucket=self.bucket, Key="incoming/same", Body=b"2")
        records = self.records()
        self.assertEqual(len(records), 2, records)
        first, second = (r["s3"]["object"]["sequencer"] for r in records)
        # Fixed-width hex: string order is numeric order.
        self.assertEqual(len(first), len(second))
        self.assertLess(first, second)

    def test_overlapping_configurations_are_refused(self):
        rule = {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}}
        with self.assertRaises(ClientError) as caught:
            self.s3.put_bucket_notification_configuration(
                Bucket=self.bucket,
                NotificationConfiguration={"QueueConfigurations": [
                    {"Id": "a", "QueueArn": self.arn, "Events": ["s3:ObjectCreated:*"],
                     "Filter": rule},
                    {"Id": "b", "QueueArn": self.arn, "Events": ["s3:ObjectCreated:Put"],
                     "Filter": rule}]})
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidArgument")
        self.assertIn("ambiguously defined", caught.exception.response["Error"]["Message"])
        self.assertEqual(self.drain(), [])

    def test_unknown_queue_is_refused(self):
        with self.assertRaises(ClientError) as caught:
            self.s3.put_bucket_notification_configuration(
                Bucket=self.bucket,
                NotificationConfiguration={"QueueConfigurations": [{
                    "QueueArn": self.arn + "-missing", "Events": ["s3:ObjectCreated:*"]}]})
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidArgument")

    def test_an_upload_succeeds_after_its_queue_is_deleted(self):
        # As on AWS: the object is stored and its event dropped; a deleted
        # destination must not make the bucket unwritable.
        self.configure()
        self.sqs.delete_queue(QueueUrl=self.url)
        self.s3.put_object(Bucket=self.bucket, Key="incoming/after.jpg", Body=b"bytes")
        got = self.s3.get_object(Bucket=self.bucket, Key="incoming/after.jpg")
        self.assertEqual(got["Body"].read(), b"bytes")
        with urllib.request.urlopen(SERVER.endpoint + "/-/metrics") as r:
            metrics = r.read().decode()
        self.assertIn('imgbatch_notification_events_dropped_total{destination="%s"} 1' % self.arn,
                      metrics)

    def test_fifo_queue_is_no_destination(self):
        # As on AWS: an event has no MessageGroupId to be sent to a FIFO queue with.
        url = self.sqs.create_queue(QueueName="events-" + uuid.uuid4().hex[:10] + ".fifo",
                                    Attributes={"FifoQueue": "true"})["QueueUrl"]
        arn = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        with self.assertRaises(ClientError) as caught:
            self.s3.put_bucket_notification_configuration(
                Bucket=self.bucket,
                NotificationConfiguration={"QueueConfigurations": [{
                    "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidArgument")


if __name__ == "__main__":
    unittest.main()
