"""The default worker key has exactly DESIGN.md's policy: boto3, signed with
the key `imgbatch up` generated for its workers (<data-dir>/worker-key.json),
is allowed what the worker needs and denied -- AccessDenied in S3's XML and
SQS's own format -- everything else."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

SERVER = None
ROOT_S3 = ROOT_SQS = None
WORKER_S3 = WORKER_SQS = None
QUEUE_URL = DLQ_URL = None


def setUpModule():
    global SERVER, ROOT_S3, ROOT_SQS, WORKER_S3, WORKER_SQS, QUEUE_URL, DLQ_URL
    SERVER = harness.Server(extra_args=["--max-workers", "0"]).start()
    with open(os.path.join(SERVER.data_dir, "worker-key.json")) as f:
        key = json.load(f)
    ROOT_S3 = SERVER.boto3_client("s3")
    ROOT_SQS = SERVER.boto3_client("sqs")
    worker = {"access_key": key["access_key_id"], "secret_key": key["secret_access_key"]}
    WORKER_S3 = SERVER.boto3_client("s3", **worker)
    WORKER_SQS = SERVER.boto3_client("sqs", **worker)
    ROOT_S3.create_bucket(Bucket="elsewhere")
    ROOT_S3.put_object(Bucket="elsewhere", Key="secret.txt", Body=b"not for workers")
    # A .txt key: no notification fires, the queue stays empty for the test.
    ROOT_S3.put_object(Bucket="input", Key="photo.txt", Body=b"input bytes")
    ROOT_SQS.create_queue(QueueName="other-queue")
    QUEUE_URL = ROOT_SQS.get_queue_url(QueueName="batch-queue")["QueueUrl"]
    DLQ_URL = ROOT_SQS.get_queue_url(QueueName="batch-dlq")["QueueUrl"]


def tearDownModule():
    SERVER.cleanup()


class WorkerKeyTest(unittest.TestCase):
    def assertDenied(self, call, *args, **kwargs):
        with self.assertRaises(ClientError) as caught:
            call(*args, **kwargs)
        error = caught.exception.response["Error"]
        codes = ("AccessDenied", "AccessDeniedException")
        if call.__name__ == "head_object":  # no body: botocore reports the status as the code
            codes = ("403",)
        self.assertIn(error["Code"], codes, f"{call.__name__}: {error}")
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)

    # ---- allowed: exactly what the worker does --------------------------------

    def test_reads_the_input_bucket(self):
        got = WORKER_S3.get_object(Bucket="input", Key="photo.txt")
        self.assertEqual(got["Body"].read(), b"input bytes")
        WORKER_S3.head_object(Bucket="input", Key="photo.txt")
        keys = [o["Key"] for o in WORKER_S3.list_objects_v2(Bucket="input").get("Contents", [])]
        self.assertIn("photo.txt", keys)
        # s3:ListBucket on the input: a missing key is NoSuchKey, as on AWS.
        with self.assertRaises(ClientError) as missing:
            WORKER_S3.get_object(Bucket="input", Key="missing.jpg")
        self.assertEqual(missing.exception.response["Error"]["Code"], "NoSuchKey")

    def test_writes_and_reads_the_output_bucket(self):
        WORKER_S3.put_object(Bucket="output", Key="resized/photo.jpg", Body=b"out")
        self.assertEqual(
            WORKER_S3.get_object(Bucket="output", Key="resized/photo.jpg")["Body"].read(), b"out")
        WORKER_S3.head_object(Bucket="output", Key="resized/photo.jpg")

    def test_uses_the_batch_queue_and_sends_to_the_dlq(self):
        self.assertEqual(WORKER_SQS.get_queue_url(QueueName="batch-queue")["QueueUrl"], QUEUE_URL)
        WORKER_SQS.get_queue_attributes(QueueUrl=QUEUE_URL, AttributeNames=["All"])
        ROOT_SQS.send_message(QueueUrl=QUEUE_URL, MessageBody="job")
        got = WORKER_SQS.receive_message(QueueUrl=QUEUE_URL, WaitTimeSeconds=1)["Messages"]
        handle = got[0]["ReceiptHandle"]
        WORKER_SQS.change_message_visibility(QueueUrl=QUEUE_URL, ReceiptHandle=handle,
                                             VisibilityTimeout=30)
        WORKER_SQS.delete_message(QueueUrl=QUEUE_URL, ReceiptHandle=handle)
        self.assertEqual(WORKER_SQS.get_queue_url(QueueName="batch-dlq")["QueueUrl"], DLQ_URL)
        WORKER_SQS.send_message(QueueUrl=DLQ_URL, MessageBody="failed job",
                                MessageAttributes={"ErrorCode": {"DataType": "String",
                                                                 "StringValue": "Test"}})

    # ---- denied: everything else ----------------------------------------------

    def test_no_bucket_administration(self):
        self.assertDenied(WORKER_S3.list_buckets)
        self.assertDenied(WORKER_S3.create_bucket, Bucket="worker-made")
        self.assertDenied(WORKER_S3.delete_bucket, Bucket="elsewhere")
        self.assertDenied(WORKER_S3.get_bucket_notification_configuration, Bucket="input")
        self.assertDenied(WORKER_S3.put_bucket_notification_configuration, Bucket="input",
                          NotificationConfiguration={})

    def test_input_is_read_only(self):
        self.assertDenied(WORKER_S3.put_object, Bucket="input", Key="new.jpg", Body=b"x")
        self.assertDenied(WORKER_S3.delete_object, Bucket="input", Key="photo.txt")
        self.assertDenied(WORKER_S3.create_multipart_upload, Bucket="input", Key="big.jpg")
        self.assertDenied(WORKER_S3.copy_object, Bucket="input", Key="copy.txt",
                          CopySource={"Bucket": "input", "Key": "photo.txt"})
        # Still there, unchanged.
        self.assertEqual(ROOT_S3.get_object(Bucket="input", Key="photo.txt")["Body"].read(),
                         b"input bytes")

    def test_output_is_write_and_read_only(self):
        ROOT_S3.put_object(Bucket="output", Key="thumbs/keep.jpg", Body=b"keep")
        self.assertDenied(WORKER_S3.delete_object, Bucket="output", Key="thumbs/keep.jpg")
        self.assertDenied(WORKER_S3.list_objects_v2, Bucket="output")
        # Without s3:ListBucket a missing output key is AccessDenied, as on AWS.
        self.assertDenied(WORKER_S3.get_object, Bucket="output", Key="thumbs/missing.jpg")

    def test_other_buckets(self):
        self.assertDenied(WORKER_S3.get_object, Bucket="elsewhere", Key="secret.txt")
        self.assertDenied(WORKER_S3.head_object, Bucket="elsewhere", Key="secret.txt")
        self.assertDenied(WORKER_S3.put_object, Bucket="elsewhere", Key="x", Body=b"x")
        self.assertDenied(WORKER_S3.list_objects_v2, Bucket="elsewhere")
        # Copying a foreign object into the output needs s3:GetObject on it.
        self.assertDenied(WORKER_S3.copy_object, Bucket="output", Key="resized/stolen.txt",
                          CopySource={"Bucket": "elsewhere", "Key": "secret.txt"})

    def test_no_queue_administration(self):
        self.assertDenied(WORKER_SQS.create_queue, QueueName="worker-made")
        self.assertDenied(WORKER_SQS.delete_queue, QueueUrl=QUEUE_URL)
        self.assertDenied(WORKER_SQS.list_queues)
        self.assertDenied(WORKER_SQS.purge_queue, QueueUrl=QUEUE_URL)
        self.assertDenied(WORKER_SQS.set_queue_attributes, QueueUrl=QUEUE_URL,
                          Attributes={"VisibilityTimeout": "1"})
        self.assertDenied(WORKER_SQS.start_message_move_task,
                          SourceArn="arn:aws:sqs:us-east-1:000000000000:batch-dlq")
        self.assertEqual(ROOT_SQS.get_queue_attributes(
            QueueUrl=QUEUE_URL, AttributeNames=["VisibilityTimeout"])["Attributes"],
            {"VisibilityTimeout": "120"})

    def test_batch_queue_is_consume_only(self):
        self.assertDenied(WORKER_SQS.send_message, QueueUrl=QUEUE_URL, MessageBody="forged")

    def test_dlq_is_send_only(self):
        self.assertDenied(WORKER_SQS.receive_message, QueueUrl=DLQ_URL)
        self.assertDenied(WORKER_SQS.get_queue_attributes, QueueUrl=DLQ_URL,
                          AttributeNames=["All"])

    def test_other_queues(self):
        other = ROOT_SQS.get_queue_url(QueueName="other-queue")["QueueUrl"]
        self.assertDenied(WORKER_SQS.get_queue_url, QueueName="other-queue")
        self.assertDenied(WORKER_SQS.send_message, QueueUrl=other, MessageBody="x")
        self.assertDenied(WORKER_SQS.receive_message, QueueUrl=other)
        self.assertDenied(WORKER_SQS.get_queue_attributes, QueueUrl=other,
                          AttributeNames=["All"])


if __name__ == "__main__":
    unittest.main()
