"""Resource policies through boto3 against the real server. Queue policies:
the Policy attribute (and AddPermission) decided with every SQS request.
Bucket policies: PutBucketPolicy, GetBucketPolicy, GetBucketPolicyStatus and
DeleteBucketPolicy, and the bucket's public access block; S3's checks of
a document (MalformedPolicy); and requests decided by the bucket's policy
together with the caller's key policy: a user granted by the bucket what its
key does not grant, a Deny that refuses even the root key, presigned URLs.
And policies and lifecycle rules declared in imgbatch.toml. Run with the image's boto3 1.43 and Debian's 1.26."""
import json
import os
import sys
import unittest
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

SERVER = None
DECLARED = None
ACCOUNT = "000000000000"

# Keys whose own policies grant no S3 object access: what they get, the
# bucket's policy gives them.
KEYS = {
    "reader": [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}],
    "writer": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}],
}


def setUpModule():
    global SERVER, DECLARED
    DECLARED = harness.DeclaredKeys(KEYS, "BPOL")
    SERVER = harness.Server(
        extra_args=["--config", DECLARED.config, "--max-workers", "0"]).start()


def tearDownModule():
    SERVER.cleanup()
    DECLARED.cleanup()


def client(name=None, service="s3"):
    if name is None:
        return SERVER.boto3_client(service)
    return SERVER.boto3_client(service, access_key=DECLARED.key_id(name),
                               secret_key=DECLARED.secret(name))


def error_code(exc):
    return exc.response["Error"]["Code"]


def user(name):
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def document(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class BucketPolicyTest(unittest.TestCase):
    def setUp(self):
        self.root = client()
        self.bucket = "pol-" + uuid.uuid4().hex[:10]
        self.root.create_bucket(Bucket=self.bucket)
        self.root.put_object(Bucket=self.bucket, Key="photo.jpg", Body=b"pixels")

    def tearDown(self):
        self.root.delete_bucket_policy(Bucket=self.bucket)
        for obj in self.root.list_objects_v2(Bucket=self.bucket).get("Contents", []):
            self.root.delete_object(Bucket=self.bucket, Key=obj["Key"])
        self.root.delete_bucket(Bucket=self.bucket)

    def assert_error(self, code, call, *args, **kwargs):
        with self.assertRaises(ClientError) as cm:
            call(*args, **kwargs)
        self.assertEqual(error_code(cm.exception), code)
        return cm.exception

    def test_put_get_status_and_delete(self):
        self.assert_error("NoSuchBucketPolicy", self.root.get_bucket_policy, Bucket=self.bucket)
        self.assert_error("NoSuchBucketPolicy", self.root.get_bucket_policy_status,
                          Bucket=self.bucket)
        private = document({"Effect": "Allow", "Principal": {"AWS": user("reader")},
                            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{self.bucket}/*"})
        self.root.put_bucket_policy(Bucket=self.bucket, Policy=private)
        self.assertEqual(json.loads(self.root.get_bucket_policy(Bucket=self.bucket)["Policy"]),
                         json.loads(private))
        status = self.root.get_bucket_policy_status(Bucket=self.bucket)["PolicyStatus"]
        self.assertFalse(status["IsPublic"])
        public = document({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::{self.bucket}/*"})
        self.root.put_bucket_policy(Bucket=self.bucket, Policy=public)
        status = self.root.get_bucket_policy_status(Bucket=self.bucket)["PolicyStatus"]
        self.assertTrue(status["IsPublic"])
        self.root.delete_bucket_policy(Bucket=self.bucket)
        self.assert_error("NoSuchBucketPolicy", self.root.get_bucket_policy, Bucket=self.bucket)
        self.assert_error("NoSuchBucket", self.root.get_bucket_policy, Bucket="no-such-" + self.bucket)

    def test_documents_are_checked(self):
        objects = f"arn:aws:s3:::{self.bucket}/*"
        for statement, message in [
            ({"Effect": "Allow", "Principal": {"AWS": user("ghost")}, "Action": "s3:GetObject",
              "Resource": objects}, "Invalid principal in policy"),
            ({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": "arn:aws:s3:::another-bucket/*"}, "Policy has invalid resource"),
            ({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": f"arn:aws:s3:::{self.bucket}"},
             "Action does not apply to any resource(s) in statement"),
            ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": objects},
             "Missing required field Principal"),
        ]:
            exc = self.assert_error("MalformedPolicy", self.root.put_bucket_policy,
                                    Bucket=self.bucket, Policy=document(statement))
            self.assertIn(message, exc.response["Error"]["Message"])
        self.assert_error("NoSuchBucketPolicy", self.root.get_bucket_policy, Bucket=self.bucket)

    def test_the_bucket_grants_what_a_key_does_not(self):
        reader = client("reader")
        self.assert_error("AccessDenied", reader.get_object, Bucket=self.bucket, Key="photo.jpg")
        self.root.put_bucket_policy(Bucket=self.bucket, Policy=document(
            {"Effect": "Allow", "Principal": {"AWS": [user("reader")]},
             "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::{self.bucket}", f"arn:aws:s3:::{self.bucket}/*"]}))
        self.assertEqual(reader.get_object(Bucket=self.bucket, Key="photo.jpg")["Body"].read(),
                         b"pixels")
        self.assertEqual([o["Key"] for o in reader.list_objects_v2(Bucket=self.bucket)["Contents"]],
                         ["photo.jpg"])
        self.assert_error("AccessDenied", reader.put_object, Bucket=self.bucket, Key="new.jpg",
                          Body=b"x")
        self.assert_error("AccessDenied", reader.get_bucket_policy, Bucket=self.bucket)
        # A presigned URL is the same caller: the same answer.
        url = reader.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": "photo.jpg"}, ExpiresIn=300)
        with urllib.request.urlopen(url) as response:
            self.assertEqual(response.read(), b"pixels")

    def test_a_home_folder_per_key_by_policy_variable(self):
        self.root.put_bucket_policy(Bucket=self.bucket, Policy=document(
            {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": f"arn:aws:s3:::{self.bucket}/home/${{aws:username}}/*"}))
        reader = client("reader")
        reader.put_object(Bucket=self.bucket, Key="home/reader/a.jpg", Body=b"mine")
        self.assertEqual(reader.get_object(Bucket=self.bucket, Key="home/reader/a.jpg")
                         ["Body"].read(), b"mine")
        self.assert_error("AccessDenied", reader.put_object, Bucket=self.bucket,
                          Key="home/writer/a.jpg", Body=b"not mine")
        self.assert_error("AccessDenied", client("writer").get_object, Bucket=self.bucket,
                          Key="home/reader/a.jpg")

    def test_a_deny_refuses_even_the_root_key(self):
        writer = client("writer")
        writer.put_object(Bucket=self.bucket, Key="raw/a.jpg", Body=b"a")
        self.root.put_bucket_policy(Bucket=self.bucket, Policy=document(
            {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{self.bucket}/*",
             "Condition": {"StringNotEquals": {"aws:PrincipalArn": user("writer")}}},
            {"Effect": "Deny", "Principal": {"AWS": ACCOUNT}, "Action": "s3:DeleteObject",
             "Resource": f"arn:aws:s3:::{self.bucket}/raw/*"}))
        writer.put_object(Bucket=self.bucket, Key="raw/b.jpg", Body=b"b")
        self.assert_error("AccessDenied", self.root.put_object, Bucket=self.bucket,
                          Key="raw/c.jpg", Body=b"c")
        self.assert_error("AccessDenied", self.root.delete_object, Bucket=self.bucket,
                          Key="raw/a.jpg")
        self.root.delete_object(Bucket=self.bucket, Key="photo.jpg")
        # Plain HTTP refused for everything, the policy's own operations
        # excepted for the root key: it can always undo a policy.
        self.root.put_bucket_policy(Bucket=self.bucket, Policy=document(
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [f"arn:aws:s3:::{self.bucket}", f"arn:aws:s3:::{self.bucket}/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
        self.assert_error("AccessDenied", self.root.list_objects_v2, Bucket=self.bucket)
        self.assertIn("SecureTransport", self.root.get_bucket_policy(Bucket=self.bucket)["Policy"])
        self.root.delete_bucket_policy(Bucket=self.bucket)
        self.assertEqual(len(self.root.list_objects_v2(Bucket=self.bucket)["Contents"]), 2)

    def test_public_access_block(self):
        self.assert_error("NoSuchPublicAccessBlockConfiguration",
                          self.root.get_public_access_block, Bucket=self.bucket)
        conf = {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
                "RestrictPublicBuckets": False}
        self.root.put_public_access_block(Bucket=self.bucket,
                                          PublicAccessBlockConfiguration=conf)
        self.assertEqual(self.root.get_public_access_block(Bucket=self.bucket)
                         ["PublicAccessBlockConfiguration"], conf)
        public = document({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::{self.bucket}/*"})
        self.assert_error("AccessDenied", self.root.put_bucket_policy, Bucket=self.bucket,
                          Policy=public)
        self.assert_error("AccessDenied", self.root.put_object, Bucket=self.bucket,
                          Key="open.jpg", Body=b"x", ACL="public-read")
        self.root.put_object(Bucket=self.bucket, Key="closed.jpg", Body=b"x", ACL="private")
        self.root.delete_public_access_block(Bucket=self.bucket)
        self.assert_error("NoSuchPublicAccessBlockConfiguration",
                          self.root.get_public_access_block, Bucket=self.bucket)
        self.root.put_bucket_policy(Bucket=self.bucket, Policy=public)

    def test_an_unsigned_request_is_still_refused(self):
        self.root.put_bucket_policy(Bucket=self.bucket, Policy=document(
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{self.bucket}/*"}))
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(f"{SERVER.endpoint}/{self.bucket}/photo.jpg")
        self.assertEqual(cm.exception.code, 403)


class QueuePolicyTest(unittest.TestCase):
    def setUp(self):
        self.root = client(service="sqs")
        self.url = self.root.create_queue(QueueName="pol-" + uuid.uuid4().hex[:10])["QueueUrl"]
        self.arn = self.root.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def tearDown(self):
        self.root.set_queue_attributes(QueueUrl=self.url, Attributes={"Policy": ""})
        self.root.delete_queue(QueueUrl=self.url)

    def set_policy(self, *statements):
        self.root.set_queue_attributes(QueueUrl=self.url,
                                       Attributes={"Policy": document(*statements)})

    def assert_denied(self, call, **kwargs):
        with self.assertRaises(ClientError) as cm:
            call(**kwargs)
        self.assertIn(error_code(cm.exception), ("AccessDenied", "AccessDeniedException"))

    def test_a_policy_that_is_no_iam_policy_is_refused(self):
        for bad in ('{"Statement": []}', "not json",
                    document({"Effect": "Allow", "Action": "sqs:*", "Resource": self.arn})):
            with self.assertRaises(ClientError) as cm:
                self.root.set_queue_attributes(QueueUrl=self.url, Attributes={"Policy": bad})
            self.assertIn(error_code(cm.exception),
                          ("InvalidAttributeValue", "InvalidParameterValue"), bad)

    def test_policies_over_the_sqs_quotas_are_over_limit(self):
        one = {"Effect": "Allow", "Principal": {"AWS": user("reader")},
               "Action": "sqs:SendMessage", "Resource": self.arn}
        self.set_policy(*[dict(one, Sid=f"s{i}") for i in range(20)])
        seven = dict(one, Action=["sqs:SendMessage"] * 7)
        self.set_policy(seven)
        for statements, message in (
                ([dict(one, Sid=f"s{i}") for i in range(21)],
                 "21 statements were found in the submitted policy, max allowed is 20"),
                ([dict(one, Action=["sqs:SendMessage"] * 8)],
                 "8 actions were found in a statement from the submitted policy, "
                 "max allowed is 7"),
                ([dict(one, Sid="x" * 8200)], "Submitted policy is over max allowed size.")):
            with self.assertRaises(ClientError) as cm:
                self.set_policy(*statements)
            self.assertEqual(error_code(cm.exception), "OverLimit")
            self.assertEqual(cm.exception.response["Error"]["Message"], message)
            self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        policy = self.root.get_queue_attributes(QueueUrl=self.url, AttributeNames=["Policy"])
        self.assertEqual(json.loads(policy["Attributes"]["Policy"])["Statement"], [seven])

    def test_the_queue_grants_what_a_key_does_not(self):
        reader = client("reader", "sqs")
        self.assert_denied(reader.send_message, QueueUrl=self.url, MessageBody="x")
        self.set_policy({"Effect": "Allow", "Principal": {"AWS": user("reader")},
                         "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
                         "Resource": self.arn})
        reader.send_message(QueueUrl=self.url, MessageBody="hello")
        got = reader.receive_message(QueueUrl=self.url, WaitTimeSeconds=1)["Messages"][0]
        self.assertEqual(got["Body"], "hello")
        reader.delete_message(QueueUrl=self.url, ReceiptHandle=got["ReceiptHandle"])
        self.assert_denied(reader.purge_queue, QueueUrl=self.url)
        self.assert_denied(client("writer", "sqs").send_message, QueueUrl=self.url,
                           MessageBody="x")
        # Another account's grant is kept, and matches none of our keys.
        self.root.add_permission(QueueUrl=self.url, Label="elsewhere",
                                 AWSAccountIds=["111122223333"], Actions=["ReceiveMessage"])
        self.assert_denied(client("writer", "sqs").receive_message, QueueUrl=self.url)

    def test_a_deny_refuses_the_root_key_but_not_over_the_policy(self):
        self.set_policy({"Effect": "Deny", "Principal": "*", "Action": "sqs:*",
                         "Resource": self.arn})
        self.assert_denied(self.root.send_message, QueueUrl=self.url, MessageBody="x")
        self.assert_denied(self.root.delete_queue, QueueUrl=self.url)
        self.assertIn("Deny", self.root.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["Policy"])["Attributes"]["Policy"])
        self.root.set_queue_attributes(QueueUrl=self.url, Attributes={"Policy": ""})
        self.root.send_message(QueueUrl=self.url, MessageBody="x")


class DeclaredInTheConfigurationTest(unittest.TestCase):
    """Bucket policies, queue policies and lifecycle rules written in
    imgbatch.toml: in force from the first request, read back by any client,
    put back at each start (what a client changed meanwhile is replaced), and
    a document S3 would refuse stops `up` with a one-line error."""

    BUCKET_POLICY = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user("reader")}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::input/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
         "Resource": "arn:aws:s3:::input/keep/*"}]}
    QUEUE_POLICY = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user("reader")}, "Action": "sqs:SendMessage",
         "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:batch-queue"}]}

    def config(self, bucket_policy):
        with open(DECLARED.config) as f:
            keys = f.read()
        path = os.path.join(DECLARED.dir.name, f"declared-{uuid.uuid4().hex[:8]}.toml")
        with open(path, "w") as f:
            f.write(keys + f"""
[[bucket_policies]]
bucket = "input"
policy = '{json.dumps(bucket_policy)}'

[[queues]]
name = "batch-queue"
dead_letter_queue = "batch-dlq"
policy = '{json.dumps(self.QUEUE_POLICY)}'

[[queues]]
name = "batch-dlq"

[[lifecycle.rules]]
bucket = "input"
id = "expire-scratch"
prefix = "scratch/"
expiration_days = 7

[[lifecycle.rules]]
bucket = "input"
abort_incomplete_multipart_upload_days = 2
""")
        return path

    def check_declared(self, server):
        root = server.boto3_client("s3")
        self.assertEqual(json.loads(root.get_bucket_policy(Bucket="input")["Policy"]),
                         self.BUCKET_POLICY)
        rules = root.get_bucket_lifecycle_configuration(Bucket="input")["Rules"]
        self.assertEqual([(r["ID"], r["Filter"].get("Prefix")) for r in rules],
                         [("expire-scratch", "scratch/"), ("imgbatch-2", "")])
        self.assertEqual(rules[0]["Expiration"], {"Days": 7})
        self.assertEqual(rules[1]["AbortIncompleteMultipartUpload"], {"DaysAfterInitiation": 2})
        sqs = server.boto3_client("sqs")
        url = sqs.get_queue_url(QueueName="batch-queue")["QueueUrl"]
        policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
        self.assertEqual(json.loads(policy["Attributes"]["Policy"]), self.QUEUE_POLICY)

    def test_in_force_read_back_and_restored_at_each_start(self):
        server = harness.Server(extra_args=["--config", self.config(self.BUCKET_POLICY),
                                            "--max-workers", "0"]).start()
        self.addCleanup(lambda: server.cleanup())
        self.check_declared(server)
        root = server.boto3_client("s3")
        root.put_object(Bucket="input", Key="keep/a.jpg", Body=b"k")
        reader = server.boto3_client("s3", access_key=DECLARED.key_id("reader"),
                                     secret_key=DECLARED.secret("reader"))
        self.assertEqual(reader.get_object(Bucket="input", Key="keep/a.jpg")["Body"].read(), b"k")
        with self.assertRaises(ClientError) as cm:
            root.delete_object(Bucket="input", Key="keep/a.jpg")  # the Deny binds the root key
        self.assertEqual(error_code(cm.exception), "AccessDenied")
        reader_sqs = server.boto3_client("sqs", access_key=DECLARED.key_id("reader"),
                                         secret_key=DECLARED.secret("reader"))
        url = server.boto3_client("sqs").get_queue_url(QueueName="batch-queue")["QueueUrl"]
        reader_sqs.send_message(QueueUrl=url, MessageBody="granted by the queue's policy")
        # A client changes them; the next start puts the declared ones back.
        root.delete_bucket_policy(Bucket="input")
        root.delete_bucket_lifecycle(Bucket="input")
        server.stop()
        again = server.restarted()
        self.addCleanup(lambda: again.cleanup())
        self.check_declared(again)

    def test_a_policy_s3_would_refuse_stops_up_with_one_line(self):
        nobody = json.loads(json.dumps(self.BUCKET_POLICY))
        nobody["Statement"][0]["Principal"] = {"AWS": user("nobody")}
        server = harness.Server(extra_args=["--config", self.config(nobody)])
        self.addCleanup(lambda: server.cleanup())
        with self.assertRaises(AssertionError) as cm:
            server.start()
        self.assertIn("bucket 'input' policy: Invalid principal in policy", str(cm.exception))
        self.assertEqual(server.proc.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
