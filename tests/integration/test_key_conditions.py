"""Key policies with IAM Condition blocks, through boto3 against the real
server: keys declared in the configuration whose statements apply only where
their conditions hold (s3:prefix, s3:ExistingObjectTag/<key>, the
s3:RequestObjectTag keys of a PutObjectTagging body, aws:SourceIp, aws:CurrentTime), for S3 and for SQS (the query protocol with Debian's
boto3 1.26, JSON with the image's 1.43)."""
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

SERVER = None
DECLARED = None

KEYS = {
    # May list only under home/alice/, and read only objects tagged public=yes.
    "alice": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::input",
         "Condition": {"StringLike": {"s3:prefix": "home/alice/*"}}},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::input/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/public": "yes"}}},
    ],
    # May tag objects only stage=done, and nothing else (the tags are in the
    # PutObjectTagging body; policy variables with a literal "*" in a key).
    "tagger": [
        {"Effect": "Allow", "Action": "s3:PutObjectTagging", "Resource": "arn:aws:s3:::input/*",
         "Condition": {"StringEquals": {"s3:RequestObjectTag/stage": "done"},
                       "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["stage"]}}},
        {"Effect": "Allow", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::input/${aws:username}/star${*}/*"},
    ],
    # Everything, but only from 10.0.0.0/8: never from this test's 127.0.0.1.
    "elsewhere": [
        {"Effect": "Allow", "Action": ["s3:*", "sqs:*"], "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
    ],
    # Everything from loopback, until a date long past: an expired key.
    "expired": [
        {"Effect": "Allow", "Action": ["s3:*", "sqs:*"], "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"},
                       "DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}},
    ],
    # SQS from loopback; no deleting queues without TLS.
    "queues": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}},
        {"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ],
}


def setUpModule():
    global SERVER, DECLARED
    DECLARED = harness.DeclaredKeys(KEYS, "COND")
    SERVER = harness.Server(
        extra_args=["--config", DECLARED.config, "--max-workers", "0"]).start()


def tearDownModule():
    SERVER.cleanup()
    DECLARED.cleanup()


def client(service, name):
    return SERVER.boto3_client(service, access_key=DECLARED.key_id(name),
                                 secret_key=DECLARED.secret(name))


def error_code(exc):
    return exc.response["Error"]["Code"]


class KeyConditionsTest(unittest.TestCase):
    def test_s3_prefix_and_existing_object_tag(self):
        root = SERVER.boto3_client("s3")
        root.put_object(Bucket="input", Key="home/alice/public.jpg", Body=b"p",
                        Tagging="public=yes")
        root.put_object(Bucket="input", Key="home/alice/private.jpg", Body=b"q")
        alice = client("s3", "alice")
        listed = alice.list_objects_v2(Bucket="input", Prefix="home/alice/")
        self.assertEqual([o["Key"] for o in listed["Contents"]],
                         ["home/alice/private.jpg", "home/alice/public.jpg"])
        for prefix in ("home/bob/", ""):
            with self.assertRaises(ClientError) as cm:
                alice.list_objects_v2(Bucket="input", Prefix=prefix)
            self.assertEqual(error_code(cm.exception), "AccessDenied")
        self.assertEqual(
            alice.get_object(Bucket="input", Key="home/alice/public.jpg")["Body"].read(), b"p")
        with self.assertRaises(ClientError) as cm:
            alice.get_object(Bucket="input", Key="home/alice/private.jpg")
        self.assertEqual(error_code(cm.exception), "AccessDenied")
        # The tag changes, and so does the answer.
        root.put_object_tagging(Bucket="input", Key="home/alice/private.jpg",
                                Tagging={"TagSet": [{"Key": "public", "Value": "yes"}]})
        self.assertEqual(
            alice.get_object(Bucket="input", Key="home/alice/private.jpg")["Body"].read(), b"q")

    def test_tags_in_a_put_object_tagging_body_and_literal_wildcards(self):
        root = SERVER.boto3_client("s3")
        root.put_object(Bucket="input", Key="tag-me.jpg", Body=b"t")
        tagger = client("s3", "tagger")
        tagger.put_object_tagging(Bucket="input", Key="tag-me.jpg",
                                  Tagging={"TagSet": [{"Key": "stage", "Value": "done"}]})
        self.assertEqual(root.get_object_tagging(Bucket="input", Key="tag-me.jpg")["TagSet"],
                         [{"Key": "stage", "Value": "done"}])
        for tags in ([{"Key": "stage", "Value": "raw"}],
                     [{"Key": "stage", "Value": "done"}, {"Key": "owner", "Value": "x"}]):
            with self.assertRaises(ClientError) as cm:
                tagger.put_object_tagging(Bucket="input", Key="tag-me.jpg",
                                          Tagging={"TagSet": tags})
            self.assertEqual(error_code(cm.exception), "AccessDenied", tags)
        tagger.put_object(Bucket="input", Key="tagger/star*/a.jpg", Body=b"s")
        with self.assertRaises(ClientError) as cm:
            tagger.put_object(Bucket="input", Key="tagger/stars/a.jpg", Body=b"s")
        self.assertEqual(error_code(cm.exception), "AccessDenied")

    def test_source_ip_and_current_time(self):
        for name in ("elsewhere", "expired"):
            with self.assertRaises(ClientError) as cm:
                client("s3", name).list_buckets()
            self.assertEqual(error_code(cm.exception), "AccessDenied", name)
            with self.assertRaises(ClientError) as cm:
                client("sqs", name).list_queues()
            self.assertIn(error_code(cm.exception), ("AccessDenied", "AccessDeniedException"), name)

    def test_sqs_allow_and_deny_by_condition(self):
        sqs = client("sqs", "queues")
        url = sqs.create_queue(QueueName="cond-" + uuid.uuid4().hex[:8])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        self.assertEqual(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"], "hello")
        with self.assertRaises(ClientError) as cm:
            sqs.delete_queue(QueueUrl=url)  # plain HTTP: the Deny's condition holds
        self.assertIn(error_code(cm.exception), ("AccessDenied", "AccessDeniedException"))
        SERVER.boto3_client("sqs").delete_queue(QueueUrl=url)


if __name__ == "__main__":
    unittest.main(verbosity=2)
