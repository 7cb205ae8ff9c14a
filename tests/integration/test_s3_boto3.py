"""S3 through boto3 against the real server.

Run by ctest twice: with the machine image's Python 3.11 (boto3 1.43: default
CRC32 checksums, aws-chunked trailers) and Debian's /usr/bin/python3 (boto3
1.26: older signing paths).
"""
import base64
import datetime
import hashlib
import io
import os
import re
import sys
import tempfile
import unittest
import urllib.error
import urllib.request
import uuid
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

import boto3  # noqa: E402
import urllib3  # noqa: E402
import botocore  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

SERVER = None
CONFIG_DIR = None


def setUpModule():
    global SERVER, CONFIG_DIR
    # The seed's defaults, with lifecycle passes every second instead of hourly
    # so that an expiry shows within the test.
    CONFIG_DIR = tempfile.TemporaryDirectory(prefix="imgbatch-s3-boto3-")
    config = os.path.join(CONFIG_DIR.name, "imgbatch.toml")
    with open(config, "w") as f:
        f.write("[lifecycle]\ninterval_seconds = 1\n")
    SERVER = harness.Server(extra_args=("--config", config)).start()


def tearDownModule():
    SERVER.cleanup()
    CONFIG_DIR.cleanup()


def error_code(exc):
    return exc.response["Error"]["Code"]


class S3Boto3Test(unittest.TestCase):
    def setUp(self):
        self.s3 = SERVER.boto3_client("s3")
        self.bucket = "it-" + uuid.uuid4().hex[:12]
        self.s3.create_bucket(Bucket=self.bucket)

    def test_put_get_head_delete_roundtrip(self):
        body = os.urandom(200_000)  # above the inline threshold: a blob file
        put = self.s3.put_object(Bucket=self.bucket, Key="dir/a b+c.bin", Body=body,
                                 ContentType="application/x-test", Metadata={"color": "red"})
        self.assertEqual(put["ETag"], '"%s"' % hashlib.md5(body).hexdigest())
        got = self.s3.get_object(Bucket=self.bucket, Key="dir/a b+c.bin")
        self.assertEqual(got["Body"].read(), body)
        self.assertEqual(got["ContentType"], "application/x-test")
        self.assertEqual(got["Metadata"], {"color": "red"})
        head = self.s3.head_object(Bucket=self.bucket, Key="dir/a b+c.bin")
        self.assertEqual(head["ContentLength"], len(body))
        self.s3.delete_object(Bucket=self.bucket, Key="dir/a b+c.bin")
        with self.assertRaises(ClientError) as cm:
            self.s3.get_object(Bucket=self.bucket, Key="dir/a b+c.bin")
        self.assertEqual(error_code(cm.exception), "NoSuchKey")

    def test_user_metadata_is_at_most_two_kilobytes(self):
        self.s3.put_object(Bucket=self.bucket, Key="ok", Body=b"x",
                           Metadata={"k": "v" * 2047})  # 2,048 bytes of key and value
        with self.assertRaises(ClientError) as cm:
            self.s3.put_object(Bucket=self.bucket, Key="big", Body=b"x",
                               Metadata={"a": "x" * 2100})
        self.assertEqual(cm.exception.response["Error"]["Code"], "MetadataTooLarge")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_small_object_inline_and_empty_object(self):
        self.s3.put_object(Bucket=self.bucket, Key="small", Body=b"hello")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="small")["Body"].read(),
                         b"hello")
        self.s3.put_object(Bucket=self.bucket, Key="empty", Body=b"")
        got = self.s3.get_object(Bucket=self.bucket, Key="empty")
        self.assertEqual(got["Body"].read(), b"")
        self.assertEqual(got["ETag"], '"d41d8cd98f00b204e9800998ecf8427e"')

    def test_range_and_conditional_get(self):
        body = bytes(range(256)) * 400
        etag = self.s3.put_object(Bucket=self.bucket, Key="r", Body=body)["ETag"]
        part = self.s3.get_object(Bucket=self.bucket, Key="r", Range="bytes=10-19")
        self.assertEqual(part["Body"].read(), body[10:20])
        self.assertEqual(part["ContentRange"], "bytes 10-19/%d" % len(body))
        tail = self.s3.get_object(Bucket=self.bucket, Key="r", Range="bytes=-5")
        self.assertEqual(tail["Body"].read(), body[-5:])
        with self.assertRaises(ClientError) as cm:
            self.s3.get_object(Bucket=self.bucket, Key="r", Range="bytes=999999-")
        self.assertEqual(error_code(cm.exception), "InvalidRange")
        with self.assertRaises(ClientError) as cm:
            self.s3.get_object(Bucket=self.bucket, Key="r", IfMatch='"0000"')
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 412)
        with self.assertRaises(ClientError) as cm:
            self.s3.get_object(Bucket=self.bucket, Key="r", IfNoneMatch=etag)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 304)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="r", IfMatch=etag)
                         ["Body"].read(), body)

    def test_conditional_put_if_none_match_and_if_match(self):
        # S3's conditional writes (2024), which the worker uses so an older
        # image version never overwrites a newer one's outputs.
        members = self.s3.meta.service_model.operation_model("PutObject").input_shape.members
        if "IfNoneMatch" not in members or "IfMatch" not in members:
            self.skipTest(f"boto3 {boto3.__version__} predates conditional PutObject")
        first = self.s3.put_object(Bucket=self.bucket, Key="cond", Body=b"one",
                                   IfNoneMatch="*")["ETag"]
        with self.assertRaises(ClientError) as cm:
            self.s3.put_object(Bucket=self.bucket, Key="cond", Body=b"two", IfNoneMatch="*")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 412)
        self.assertEqual(error_code(cm.exception), "PreconditionFailed")
        self.s3.put_object(Bucket=self.bucket, Key="cond", Body=b"two", IfMatch=first)
        with self.assertRaises(ClientError) as cm:
            self.s3.put_object(Bucket=self.bucket, Key="cond", Body=b"three", IfMatch=first)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 412)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="cond")["Body"].read(), b"two")

    def test_list_v2_prefix_delimiter_pagination(self):
        keys = ["a/1", "a/2", "a/b/3", "b/4", "c", "d"]
        for k in keys:
            self.s3.put_object(Bucket=self.bucket, Key=k, Body=k.encode())
        top = self.s3.list_objects_v2(Bucket=self.bucket, Delimiter="/")
        self.assertEqual([p["Prefix"] for p in top["CommonPrefixes"]], ["a/", "b/"])
        self.assertEqual([o["Key"] for o in top["Contents"]], ["c", "d"])
        a = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="a/", Delimiter="/")
        self.assertEqual([o["Key"] for o in a["Contents"]], ["a/1", "a/2"])
        self.assertEqual([p["Prefix"] for p in a["CommonPrefixes"]], ["a/b/"])
        seen = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, PaginationConfig={"PageSize": 2}):
            self.assertLessEqual(page["KeyCount"], 2)
            seen += [o["Key"] for o in page.get("Contents", [])]
        self.assertEqual(seen, sorted(keys))
        v1 = self.s3.list_objects(Bucket=self.bucket, MaxKeys=3)
        self.assertTrue(v1["IsTruncated"])
        self.assertEqual([o["Key"] for o in v1["Contents"]], ["a/1", "a/2", "a/b/3"])

    def test_multipart_upload_file_and_etag(self):
        from boto3.s3.transfer import TransferConfig
        data = os.urandom(12 * 1024 * 1024 + 12345)
        cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024,
                             multipart_chunksize=5 * 1024 * 1024)
        self.s3.upload_fileobj(io.BytesIO(data), self.bucket, "big.bin", Config=cfg)
        head = self.s3.head_object(Bucket=self.bucket, Key="big.bin")
        parts = [data[i:i + 5 * 1024 * 1024] for i in range(0, len(data), 5 * 1024 * 1024)]
        md5s = b"".join(hashlib.md5(p).digest() for p in parts)
        self.assertEqual(head["ETag"], '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), len(parts)))
        out = io.BytesIO()
        self.s3.download_fileobj(self.bucket, "big.bin", out)
        self.assertEqual(out.getvalue(), data)

    def test_multipart_low_level_and_abort(self):
        up = self.s3.create_multipart_upload(Bucket=self.bucket, Key="m")
        uid = up["UploadId"]
        p1 = self.s3.upload_part(Bucket=self.bucket, Key="m", UploadId=uid, PartNumber=1,
                                 Body=b"x" * (5 * 1024 * 1024))
        p2 = self.s3.upload_part(Bucket=self.bucket, Key="m", UploadId=uid, PartNumber=2,
                                 Body=b"tail")
        listed = self.s3.list_parts(Bucket=self.bucket, Key="m", UploadId=uid)
        self.assertEqual([p["PartNumber"] for p in listed["Parts"]], [1, 2])
        uploads = self.s3.list_multipart_uploads(Bucket=self.bucket)
        self.assertIn(uid, [u["UploadId"] for u in uploads.get("Uploads", [])])
        with self.assertRaises(ClientError) as cm:  # parts out of order
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key="m", UploadId=uid,
                MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": p2["ETag"]},
                                           {"PartNumber": 1, "ETag": p1["ETag"]}]})
        self.assertEqual(error_code(cm.exception), "InvalidPartOrder")
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key="m", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]},
                                       {"PartNumber": 2, "ETag": p2["ETag"]}]})
        self.assertEqual(self.s3.head_object(Bucket=self.bucket, Key="m")["ContentLength"],
                         5 * 1024 * 1024 + 4)
        up2 = self.s3.create_multipart_upload(Bucket=self.bucket, Key="gone")
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key="gone", UploadId=up2["UploadId"])
        with self.assertRaises(ClientError) as cm:
            self.s3.list_parts(Bucket=self.bucket, Key="gone", UploadId=up2["UploadId"])
        self.assertEqual(error_code(cm.exception), "NoSuchUpload")

    def test_list_multipart_uploads_rolls_up_common_prefixes(self):
        ids = [self.s3.create_multipart_upload(Bucket=self.bucket, Key=k)["UploadId"]
               for k in ("mp/a/1", "mp/a/2", "mp/b", "mp/c/x")]
        pages = self.s3.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix="mp/", Delimiter="/", PaginationConfig={"PageSize": 1})
        entries = []
        for page in pages:
            self.assertEqual(page["Delimiter"], "/")
            entries += [u["Key"] for u in page.get("Uploads", [])]
            entries += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        self.assertEqual(entries, ["mp/a/", "mp/b", "mp/c/"])
        for key, uid in zip(("mp/a/1", "mp/a/2", "mp/b", "mp/c/x"), ids):
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=uid)

    def test_listings_give_the_uploads_checksum_type(self):
        # ListParts and ListMultipartUploads repeat what CreateMultipartUpload
        # answered, so a resumed transfer knows how to finish the upload.
        if tuple(int(x) for x in botocore.__version__.split(".")[:2]) < (1, 36):
            self.skipTest("botocore %s predates ChecksumType" % botocore.__version__)
        up = self.s3.create_multipart_upload(Bucket=self.bucket, Key="typed",
                                             ChecksumAlgorithm="CRC32C",
                                             ChecksumType="FULL_OBJECT")
        self.assertEqual(up["ChecksumType"], "FULL_OBJECT")
        listed = self.s3.list_parts(Bucket=self.bucket, Key="typed", UploadId=up["UploadId"])
        self.assertEqual((listed["ChecksumAlgorithm"], listed["ChecksumType"]),
                         ("CRC32C", "FULL_OBJECT"))
        uploads = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix="typed")["Uploads"]
        self.assertEqual([(u["UploadId"], u["ChecksumAlgorithm"], u["ChecksumType"])
                          for u in uploads], [(up["UploadId"], "CRC32C", "FULL_OBJECT")])
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key="typed", UploadId=up["UploadId"])

    def test_object_tagging(self):
        self.s3.put_object(Bucket=self.bucket, Key="tagged", Body=b"x",
                           Tagging="stage=raw&note=two%20words")
        tags = self.s3.get_object_tagging(Bucket=self.bucket, Key="tagged")["TagSet"]
        self.assertEqual(tags, [{"Key": "stage", "Value": "raw"},
                                {"Key": "note", "Value": "two words"}])
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="tagged")["TagCount"], 2)
        self.s3.put_object_tagging(Bucket=self.bucket, Key="tagged",
                                   Tagging={"TagSet": [{"Key": "stage", "Value": "done"}]})
        self.s3.copy_object(Bucket=self.bucket, Key="copy", CopySource=f"{self.bucket}/tagged")
        self.assertEqual(self.s3.get_object_tagging(Bucket=self.bucket, Key="copy")["TagSet"],
                         [{"Key": "stage", "Value": "done"}])
        self.s3.copy_object(Bucket=self.bucket, Key="copy", CopySource=f"{self.bucket}/tagged",
                            TaggingDirective="REPLACE", Tagging="copied=yes")
        self.assertEqual(self.s3.get_object_tagging(Bucket=self.bucket, Key="copy")["TagSet"],
                         [{"Key": "copied", "Value": "yes"}])
        self.s3.delete_object_tagging(Bucket=self.bucket, Key="tagged")
        self.assertEqual(self.s3.get_object_tagging(Bucket=self.bucket, Key="tagged")["TagSet"], [])
        self.assertNotIn("TagCount", self.s3.head_object(Bucket=self.bucket, Key="tagged"))
        with self.assertRaises(ClientError) as cm:
            self.s3.put_object_tagging(Bucket=self.bucket, Key="tagged", Tagging={"TagSet": [
                {"Key": "aws:reserved", "Value": "1"}]})
        self.assertEqual(error_code(cm.exception), "InvalidTag")
        with self.assertRaises(ClientError) as cm:
            self.s3.get_object_tagging(Bucket=self.bucket, Key="absent")
        self.assertEqual(error_code(cm.exception), "NoSuchKey")

    def test_bucket_lifecycle(self):
        s3 = self.s3
        with self.assertRaises(ClientError) as cm:
            s3.get_bucket_lifecycle_configuration(Bucket=self.bucket)
        self.assertEqual(error_code(cm.exception), "NoSuchLifecycleConfiguration")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        s3.put_object(Bucket=self.bucket, Key="old/a.jpg", Body=b"a")
        s3.put_object(Bucket=self.bucket, Key="keep/a.jpg", Body=b"a")
        s3.put_object(Bucket=self.bucket, Key="tmp/a.jpg", Body=b"a", Tagging="stage=done")
        midnight_2020 = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
        rules = [
            {"ID": "past", "Filter": {"Prefix": "old/"}, "Status": "Enabled",
             "Expiration": {"Date": midnight_2020}},
            {"ID": "week", "Status": "Enabled", "Expiration": {"Days": 7},
             "Filter": {"And": {"Prefix": "tmp/",
                                "Tags": [{"Key": "stage", "Value": "done"}]}}},
            {"ID": "uploads", "Filter": {"Prefix": ""}, "Status": "Enabled",
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}},
        ]
        s3.put_bucket_lifecycle_configuration(Bucket=self.bucket,
                                              LifecycleConfiguration={"Rules": rules})
        got = s3.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        self.assertEqual([r["ID"] for r in got], ["past", "week", "uploads"])
        self.assertEqual(got[0]["Expiration"]["Date"], midnight_2020)
        self.assertEqual(got[1]["Filter"], rules[1]["Filter"])
        self.assertEqual(got[2]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"], 3)

        # The server's pass deletes what the past date expires, and only that.
        harness.wait_until(
            lambda: "Contents" not in s3.list_objects_v2(Bucket=self.bucket, Prefix="old/"),
            timeout=30, what="old/a.jpg expired")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=self.bucket)["Contents"]]
        self.assertEqual(keys, ["keep/a.jpg", "tmp/a.jpg"])
        head = s3.head_object(Bucket=self.bucket, Key="tmp/a.jpg")
        self.assertIn('rule-id="week"', head["Expiration"])
        self.assertNotIn("Expiration", s3.head_object(Bucket=self.bucket, Key="keep/a.jpg"))
        upload = s3.create_multipart_upload(Bucket=self.bucket, Key="big.bin")
        self.assertEqual(upload["AbortRuleId"], "uploads")
        self.assertEqual(upload["AbortDate"].hour, 0)  # a midnight UTC, three days on
        s3.abort_multipart_upload(Bucket=self.bucket, Key="big.bin", UploadId=upload["UploadId"])

        bad = [{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled",
                "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}]
        with self.assertRaises(ClientError) as cm:
            s3.put_bucket_lifecycle_configuration(Bucket=self.bucket,
                                                  LifecycleConfiguration={"Rules": bad})
        self.assertEqual(error_code(cm.exception), "NotImplemented")
        bad = [dict(rules[0], Expiration={"Days": 0})]
        with self.assertRaises(ClientError) as cm:
            s3.put_bucket_lifecycle_configuration(Bucket=self.bucket,
                                                  LifecycleConfiguration={"Rules": bad})
        self.assertEqual(error_code(cm.exception), "InvalidArgument")
        self.assertEqual(len(s3.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]),
                         3)  # unchanged
        self.assertEqual(s3.delete_bucket_lifecycle(Bucket=self.bucket)
                         ["ResponseMetadata"]["HTTPStatusCode"], 204)
        with self.assertRaises(ClientError) as cm:
            s3.get_bucket_lifecycle_configuration(Bucket=self.bucket)
        self.assertEqual(error_code(cm.exception), "NoSuchLifecycleConfiguration")

    def test_bucket_lifecycle_first_api(self):
        """PutBucketLifecycle, the deprecated first form: <Prefix> straight in the rule."""
        rules = [{"ID": "logs", "Prefix": "logs/", "Status": "Disabled",
                  "Expiration": {"Days": 30}}]
        self.s3.put_bucket_lifecycle(Bucket=self.bucket, LifecycleConfiguration={"Rules": rules})
        self.assertEqual(self.s3.get_bucket_lifecycle(Bucket=self.bucket)["Rules"], rules)
        bad = [dict(rules[0], Status="disabled")]
        with self.assertRaises(ClientError) as cm:
            self.s3.put_bucket_lifecycle(Bucket=self.bucket,
                                         LifecycleConfiguration={"Rules": bad})
        self.assertEqual(error_code(cm.exception), "MalformedXML")

    def test_bucket_tagging(self):
        with self.assertRaises(ClientError) as cm:
            self.s3.get_bucket_tagging(Bucket=self.bucket)
        self.assertEqual(error_code(cm.exception), "NoSuchTagSet")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        tag_set = [{"Key": "team", "Value": "imaging"}, {"Key": "cost-centre", "Value": ""}]
        self.s3.put_bucket_tagging(Bucket=self.bucket, Tagging={"TagSet": tag_set})
        self.assertEqual(self.s3.get_bucket_tagging(Bucket=self.bucket)["TagSet"], tag_set)
        with self.assertRaises(ClientError) as cm:
            self.s3.put_bucket_tagging(Bucket=self.bucket, Tagging={"TagSet": [
                {"Key": "k%d" % i, "Value": "v"} for i in range(51)]})
        self.assertEqual(error_code(cm.exception), "InvalidTag")
        self.assertEqual(self.s3.get_bucket_tagging(Bucket=self.bucket)["TagSet"], tag_set)
        self.s3.delete_bucket_tagging(Bucket=self.bucket)
        with self.assertRaises(ClientError) as cm:
            self.s3.get_bucket_tagging(Bucket=self.bucket)
        self.assertEqual(error_code(cm.exception), "NoSuchTagSet")

    def test_reading_settings_nothing_configured(self):
        """What S3 answers for a new bucket (ACLs disabled, nothing configured),
        as tools that read a bucket's settings expect."""
        self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"x")
        for acl in (self.s3.get_bucket_acl(Bucket=self.bucket),
                    self.s3.get_object_acl(Bucket=self.bucket, Key="k")):
            self.assertEqual(len(acl["Grants"]), 1)
            self.assertEqual(acl["Grants"][0]["Permission"], "FULL_CONTROL")
            self.assertEqual(acl["Grants"][0]["Grantee"]["Type"], "CanonicalUser")
            self.assertEqual(acl["Grants"][0]["Grantee"]["ID"], acl["Owner"]["ID"])
        rules = self.s3.get_bucket_ownership_controls(
            Bucket=self.bucket)["OwnershipControls"]["Rules"]
        self.assertEqual(rules, [{"ObjectOwnership": "BucketOwnerEnforced"}])
        self.assertNotIn("LoggingEnabled", self.s3.get_bucket_logging(Bucket=self.bucket))
        self.assertEqual(self.s3.get_bucket_request_payment(Bucket=self.bucket)["Payer"],
                         "BucketOwner")
        self.assertNotIn("Status",
                         self.s3.get_bucket_accelerate_configuration(Bucket=self.bucket))
        for call, code in (
                (self.s3.get_bucket_policy, "NoSuchBucketPolicy"),
                (self.s3.get_bucket_policy_status, "NoSuchBucketPolicy"),
                (self.s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration"),
                (self.s3.get_bucket_lifecycle_configuration, "NoSuchLifecycleConfiguration"),
                (self.s3.get_bucket_website, "NoSuchWebsiteConfiguration"),
                (self.s3.get_bucket_encryption,
                 "ServerSideEncryptionConfigurationNotFoundError"),
                (self.s3.get_bucket_replication, "ReplicationConfigurationNotFoundError"),
                (self.s3.get_object_lock_configuration, "ObjectLockConfigurationNotFoundError")):
            with self.assertRaises(ClientError) as cm:
                call(Bucket=self.bucket)
            self.assertEqual(error_code(cm.exception), code, call)
            self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)

    def test_acls_are_disabled_as_with_bucket_owner_enforced(self):
        """ACLs that grant only the owner are accepted and change nothing; any
        other is AccessControlListNotSupported, as on an S3 bucket with ACLs
        disabled (the default since April 2023)."""
        owner = self.s3.get_bucket_acl(Bucket=self.bucket)["Owner"]
        self.s3.put_object(Bucket=self.bucket, Key="acl/private.jpg", Body=b"x", ACL="private")
        self.s3.put_object(Bucket=self.bucket, Key="acl/owner.jpg", Body=b"x",
                           ACL="bucket-owner-full-control")
        self.s3.put_object_acl(Bucket=self.bucket, Key="acl/owner.jpg", ACL="private")
        self.s3.put_bucket_acl(Bucket=self.bucket, AccessControlPolicy={
            "Owner": owner, "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]},
                                        "Permission": "FULL_CONTROL"}]})
        self.s3.put_object_acl(Bucket=self.bucket, Key="acl/owner.jpg",
                               GrantFullControl='id="%s"' % owner["ID"])
        all_users = "http://acs.amazonaws.com/groups/global/AllUsers"
        for call in (
                lambda: self.s3.put_object(Bucket=self.bucket, Key="acl/public.jpg", Body=b"x",
                                           ACL="public-read"),
                lambda: self.s3.put_object(Bucket=self.bucket, Key="acl/granted.jpg", Body=b"x",
                                           GrantRead='uri="%s"' % all_users),
                lambda: self.s3.copy_object(Bucket=self.bucket, Key="acl/copy.jpg",
                                            CopySource={"Bucket": self.bucket,
                                                        "Key": "acl/owner.jpg"},
                                            ACL="authenticated-read"),
                lambda: self.s3.put_object_acl(Bucket=self.bucket, Key="acl/owner.jpg",
                                               ACL="public-read"),
                lambda: self.s3.put_bucket_acl(Bucket=self.bucket, AccessControlPolicy={
                    "Owner": owner, "Grants": [{"Grantee": {"Type": "Group", "URI": all_users},
                                                "Permission": "READ"}]})):
            with self.assertRaises(ClientError) as cm:
                call()
            self.assertEqual(error_code(cm.exception), "AccessControlListNotSupported")
            self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        keys = [o["Key"] for o in self.s3.list_objects_v2(
            Bucket=self.bucket, Prefix="acl/").get("Contents", [])]
        self.assertEqual(keys, ["acl/owner.jpg", "acl/private.jpg"])
        for acl in (self.s3.get_bucket_acl(Bucket=self.bucket),
                    self.s3.get_object_acl(Bucket=self.bucket, Key="acl/owner.jpg")):
            self.assertEqual([g["Grantee"]["ID"] for g in acl["Grants"]], [owner["ID"]])
        with self.assertRaises(ClientError) as cm:
            self.s3.put_object_acl(Bucket=self.bucket, Key="acl/absent.jpg", ACL="private")
        self.assertEqual(error_code(cm.exception), "NoSuchKey")
        with self.assertRaises(ClientError) as cm:
            self.s3.create_bucket(Bucket="acl-public-" + self.bucket[-8:], ACL="public-read")
        self.assertEqual(error_code(cm.exception), "InvalidBucketAclWithObjectOwnership")

    def post_form(self, post, filename, data):
        """POSTs a presigned form as a browser would (multipart/form-data, the
        file last), with urllib3, which boto3 itself uses."""
        fields = dict(post["fields"])
        fields["file"] = (filename, data, "image/jpeg")
        with urllib3.PoolManager() as http:
            return http.request("POST", post["url"], fields=fields, encode_multipart=True,
                                redirect=False)

    def test_browser_post_upload(self):
        """generate_presigned_post's form, signed with SigV2 (botocore's default
        for us-east-1) and SigV4, uploads its file; its policy bounds it."""
        v4 = SERVER.boto3_client("s3", config_args={"signature_version": "s3v4"})
        for client, name in ((self.s3, "v2"), (v4, "v4")):
            post = client.generate_presigned_post(
                self.bucket, "web/%s/${filename}" % name,
                Fields={"Content-Type": "image/jpeg", "success_action_status": "201"},
                Conditions=[{"Content-Type": "image/jpeg"}, {"success_action_status": "201"},
                            ["content-length-range", 1, 1000]],
                ExpiresIn=300)
            r = self.post_form(post, "cat.jpg", b"\xff\xd8 not really a jpeg")
            self.assertEqual(r.status, 201, r.data)
            self.assertIn(b"<Key>web/%s/cat.jpg</Key>" % name.encode(), r.data)
            got = self.s3.get_object(Bucket=self.bucket, Key="web/%s/cat.jpg" % name)
            self.assertEqual(got["Body"].read(), b"\xff\xd8 not really a jpeg")
            self.assertEqual(got["ContentType"], "image/jpeg")
            self.assertEqual(got["ETag"], r.headers["ETag"])
            too_big = self.post_form(post, "big.jpg", b"x" * 1001)
            self.assertEqual(too_big.status, 400)
            self.assertIn(b"<Code>EntityTooLarge</Code>", too_big.data)
        # A form whose policy was altered after signing is refused, and so is
        # one that sends a field its policy does not name.
        post = v4.generate_presigned_post(self.bucket, "web/x.jpg", ExpiresIn=300)
        forged = dict(post, fields=dict(post["fields"]))
        forged["fields"]["key"] = "web/other.jpg"
        r = self.post_form(forged, "x.jpg", b"data")
        self.assertEqual(r.status, 403)
        self.assertIn(b"Policy Condition failed", r.data)
        tampered = dict(post, fields=dict(post["fields"], policy=post["fields"]["policy"][:-4] + "AAA="))
        r = self.post_form(tampered, "x.jpg", b"data")
        self.assertEqual(r.status, 403)
        self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", r.data)
        extra = dict(post, fields=dict(post["fields"], **{"x-amz-meta-note": "hi"}))
        r = self.post_form(extra, "x.jpg", b"data")
        self.assertEqual(r.status, 403)
        self.assertIn(b"Extra input fields: x-amz-meta-note", r.data)
        keys = [o["Key"] for o in self.s3.list_objects_v2(
            Bucket=self.bucket, Prefix="web/").get("Contents", [])]
        self.assertEqual(keys, ["web/v2/cat.jpg", "web/v4/cat.jpg"])

    def test_get_object_attributes(self):
        body = b"attributes"
        put = self.s3.put_object(Bucket=self.bucket, Key="attrs", Body=body,
                                 ChecksumAlgorithm="SHA256")
        got = self.s3.get_object_attributes(
            Bucket=self.bucket, Key="attrs",
            ObjectAttributes=["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"])
        self.assertEqual(got["ETag"], hashlib.md5(body).hexdigest())
        self.assertEqual(got["Checksum"]["ChecksumSHA256"], put["ChecksumSHA256"])
        self.assertEqual(got["ObjectSize"], len(body))
        self.assertEqual(got["StorageClass"], "STANDARD")
        self.assertNotIn("ObjectParts", got)
        self.assertIn("LastModified", got)
        mib5 = 5 * 1024 * 1024
        up = self.s3.create_multipart_upload(Bucket=self.bucket, Key="attrs-mpu",
                                             ChecksumAlgorithm="SHA256")
        bodies = {1: b"a" * mib5, 3: b"b" * 3}  # part numbers may skip
        etags = {n: self.s3.upload_part(Bucket=self.bucket, Key="attrs-mpu",
                                        UploadId=up["UploadId"], PartNumber=n, Body=data,
                                        ChecksumAlgorithm="SHA256")["ETag"]
                 for n, data in bodies.items()}
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key="attrs-mpu", UploadId=up["UploadId"],
            MultipartUpload={"Parts": [
                {"PartNumber": n, "ETag": e,
                 "ChecksumSHA256": base64.b64encode(hashlib.sha256(bodies[n]).digest()).decode()}
                for n, e in etags.items()]})
        got = self.s3.get_object_attributes(Bucket=self.bucket, Key="attrs-mpu",
                                            ObjectAttributes=["ObjectParts", "ObjectSize"])
        self.assertEqual(got["ObjectParts"]["TotalPartsCount"], 2)
        self.assertEqual(got["ObjectSize"], mib5 + 3)
        self.assertFalse(got["ObjectParts"]["IsTruncated"])
        self.assertEqual(
            [(p["PartNumber"], p["Size"], p["ChecksumSHA256"]) for p in got["ObjectParts"]["Parts"]],
            [(n, len(data), base64.b64encode(hashlib.sha256(data).digest()).decode())
             for n, data in bodies.items()])
        page = self.s3.get_object_attributes(Bucket=self.bucket, Key="attrs-mpu", MaxParts=1,
                                             ObjectAttributes=["ObjectParts"])["ObjectParts"]
        self.assertTrue(page["IsTruncated"])
        self.assertEqual(page["NextPartNumberMarker"], 1)
        page = self.s3.get_object_attributes(Bucket=self.bucket, Key="attrs-mpu", MaxParts=1,
                                             PartNumberMarker=1,
                                             ObjectAttributes=["ObjectParts"])["ObjectParts"]
        self.assertEqual([p["PartNumber"] for p in page["Parts"]], [3])
        self.assertFalse(page["IsTruncated"])
        with self.assertRaises(ClientError) as cm:
            self.s3.get_object_attributes(Bucket=self.bucket, Key="absent", ObjectAttributes=["ETag"])
        self.assertEqual(error_code(cm.exception), "NoSuchKey")

    def test_get_and_head_by_part_number(self):
        mib5 = 5 * 1024 * 1024
        bodies = [b"a" * mib5, b"b" * mib5, b"tail"]
        up = self.s3.create_multipart_upload(Bucket=self.bucket, Key="parts")
        uid = up["UploadId"]
        parts = []
        for number, body in enumerate(bodies, start=1):
            etag = self.s3.upload_part(Bucket=self.bucket, Key="parts", UploadId=uid,
                                       PartNumber=number, Body=body)["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
        done = self.s3.complete_multipart_upload(Bucket=self.bucket, Key="parts", UploadId=uid,
                                                 MultipartUpload={"Parts": parts})
        total = sum(len(b) for b in bodies)
        got = self.s3.get_object(Bucket=self.bucket, Key="parts", PartNumber=2)
        self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 206)
        self.assertEqual(got["ContentRange"], "bytes %d-%d/%d" % (mib5, 2 * mib5 - 1, total))
        self.assertEqual(got["ContentLength"], mib5)
        self.assertEqual(got["PartsCount"], 3)
        self.assertEqual(got["ETag"], done["ETag"])
        self.assertEqual(got["Body"].read(), bodies[1])
        head = self.s3.head_object(Bucket=self.bucket, Key="parts", PartNumber=1)
        self.assertEqual(head["PartsCount"], 3)
        self.assertEqual(head["ContentLength"], mib5)
        with self.assertRaises(ClientError) as cm:
            self.s3.get_object(Bucket=self.bucket, Key="parts", PartNumber=4)
        self.assertEqual(error_code(cm.exception), "InvalidPartNumber")
        with self.assertRaises(ClientError) as cm:
            self.s3.get_object(Bucket=self.bucket, Key="parts", PartNumber=1, Range="bytes=0-1")
        self.assertEqual(error_code(cm.exception), "InvalidRequest")
        self.s3.put_object(Bucket=self.bucket, Key="single", Body=b"body")
        whole = self.s3.get_object(Bucket=self.bucket, Key="single", PartNumber=1)
        self.assertEqual(whole["Body"].read(), b"body")
        self.assertNotIn("PartsCount", whole)

    def test_copy_and_delete_objects(self):
        self.s3.put_object(Bucket=self.bucket, Key="src", Body=b"copy me",
                           Metadata={"k": "v"})
        self.s3.copy_object(Bucket=self.bucket, Key="dst",
                            CopySource={"Bucket": self.bucket, "Key": "src"})
        got = self.s3.get_object(Bucket=self.bucket, Key="dst")
        self.assertEqual(got["Body"].read(), b"copy me")
        self.assertEqual(got["Metadata"], {"k": "v"})
        res = self.s3.delete_objects(Bucket=self.bucket, Delete={
            "Objects": [{"Key": "src"}, {"Key": "dst"}, {"Key": "never-existed"}]})
        self.assertEqual(sorted(d["Key"] for d in res["Deleted"]),
                         ["dst", "never-existed", "src"])
        self.assertEqual(self.s3.list_objects_v2(Bucket=self.bucket)["KeyCount"], 0)

    def test_presigned_get_and_put(self):
        self.s3.put_object(Bucket=self.bucket, Key="p", Body=b"presigned body")
        url = self.s3.generate_presigned_url("get_object",
                                             Params={"Bucket": self.bucket, "Key": "p"},
                                             ExpiresIn=300)
        with urllib.request.urlopen(url) as r:
            self.assertEqual(r.read(), b"presigned body")
        # boto3 presigns with SigV2 (Signature=) or SigV4 (X-Amz-Signature=)
        # depending on version and region: flip the signature's first character.
        bad = re.sub(r"((?:X-Amz-)?Signature=)(.)",
                     lambda m: m.group(1) + ("A" if m.group(2) != "A" else "B"), url)
        self.assertNotEqual(bad, url)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(bad)
        self.assertEqual(cm.exception.code, 403)
        put_url = self.s3.generate_presigned_url("put_object",
                                                 Params={"Bucket": self.bucket, "Key": "pp"},
                                                 ExpiresIn=300)
        # urllib would add a form Content-Type, which a SigV2 presigned PUT signs
        # (empty here): send none, as a presigned-URL client must.
        req = urllib.request.Request(put_url, data=b"via presigned put", method="PUT",
                                     headers={"Content-Type": ""})
        with urllib.request.urlopen(req) as r:
            self.assertEqual(r.status, 200)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="pp")["Body"].read(),
                         b"via presigned put")

    def test_bucket_errors(self):
        with self.assertRaises(ClientError) as cm:
            self.s3.create_bucket(Bucket="Invalid_Name")
        self.assertEqual(error_code(cm.exception), "InvalidBucketName")
        with self.assertRaises(ClientError) as cm:
            self.s3.list_objects_v2(Bucket="no-such-bucket-" + uuid.uuid4().hex[:8])
        self.assertEqual(error_code(cm.exception), "NoSuchBucket")
        self.s3.put_object(Bucket=self.bucket, Key="x", Body=b"1")
        with self.assertRaises(ClientError) as cm:
            self.s3.delete_bucket(Bucket=self.bucket)
        self.assertEqual(error_code(cm.exception), "BucketNotEmpty")
        names = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        self.assertIn(self.bucket, names)
        self.assertEqual(self.s3.get_bucket_location(Bucket=self.bucket)
                         .get("LocationConstraint"), None)

    def test_expected_bucket_owner(self):
        self.s3.put_object(Bucket=self.bucket, Key="owned", Body=b"x",
                           ExpectedBucketOwner=harness.ACCOUNT_ID)
        with self.assertRaises(ClientError) as cm:
            self.s3.put_object(Bucket=self.bucket, Key="elsewhere", Body=b"x",
                               ExpectedBucketOwner="111122223333")
        self.assertEqual(error_code(cm.exception), "AccessDenied")
        with self.assertRaises(ClientError) as cm:
            self.s3.copy_object(Bucket=self.bucket, Key="copy",
                                CopySource={"Bucket": self.bucket, "Key": "owned"},
                                ExpectedSourceBucketOwner="111122223333")
        self.assertEqual(error_code(cm.exception), "AccessDenied")

    def test_list_buckets_pages(self):
        shape = self.s3.meta.service_model.operation_model("ListBuckets").input_shape
        if shape is None or "MaxBuckets" not in shape.members:
            self.skipTest("this botocore predates ListBuckets paging (2024)")
        prefix = "pg-" + uuid.uuid4().hex[:8] + "-"
        for n in range(3):
            self.s3.create_bucket(Bucket=f"{prefix}{n}")
        first = self.s3.list_buckets(MaxBuckets=2, Prefix=prefix)
        self.assertEqual([b["Name"] for b in first["Buckets"]], [prefix + "0", prefix + "1"])
        self.assertEqual(first["Prefix"], prefix)
        self.assertEqual(first["Buckets"][0]["BucketRegion"], harness.REGION)
        rest = self.s3.list_buckets(MaxBuckets=2, Prefix=prefix,
                                    ContinuationToken=first["ContinuationToken"])
        self.assertEqual([b["Name"] for b in rest["Buckets"]], [prefix + "2"])
        self.assertNotIn("ContinuationToken", rest)
        paged = [b["Name"] for p in self.s3.get_paginator("list_buckets").paginate(
            Prefix=prefix, PaginationConfig={"PageSize": 1}) for b in p["Buckets"]]
        self.assertEqual(paged, [prefix + str(n) for n in range(3)])
        for n in range(3):
            self.s3.delete_bucket(Bucket=f"{prefix}{n}")

    def test_key_too_long(self):
        with self.assertRaises(ClientError) as cm:
            self.s3.put_object(Bucket=self.bucket, Key="k" * 1025, Body=b"x")
        self.assertEqual(error_code(cm.exception), "KeyTooLongError")
        self.s3.put_object(Bucket=self.bucket, Key="k" * 1024, Body=b"x")
        self.s3.put_object(Bucket=self.bucket, Key="../../etc/passwd", Body=b"just a key")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="../../etc/passwd")
                         ["Body"].read(), b"just a key")

    def test_wrong_secret_and_unknown_key(self):
        bad = SERVER.boto3_client("s3", secret_key="wrong" * 8)
        with self.assertRaises(ClientError) as cm:
            bad.list_buckets()
        self.assertEqual(error_code(cm.exception), "SignatureDoesNotMatch")
        unknown = SERVER.boto3_client("s3", access_key="AKIANOSUCHKEY0000000")
        with self.assertRaises(ClientError) as cm:
            unknown.list_buckets()
        self.assertEqual(error_code(cm.exception), "InvalidAccessKeyId")

    def test_unsigned_request_refused(self):
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(f"{SERVER.endpoint}/{self.bucket}")
        self.assertEqual(cm.exception.code, 403)
        self.assertIn(b"AccessDenied", cm.exception.read())

    def test_unsigned_amz_header_refused(self):
        # An x-amz-* header added after signing is refused, as AWS does.
        client = SERVER.boto3_client("s3")

        def inject(request, **_):
            request.headers["x-amz-meta-injected"] = "after-signing"

        client.meta.events.register("before-send.s3.PutObject", inject)
        with self.assertRaises(ClientError) as cm:
            client.put_object(Bucket=self.bucket, Key="h", Body=b"x")
        self.assertEqual(error_code(cm.exception), "AccessDenied")
        self.assertIn("HeadersNotSigned: x-amz-meta-injected",
                      cm.exception.response["Error"]["Message"])
        self.s3.put_object(Bucket=self.bucket, Key="h", Body=b"x")
        url = self.s3.generate_presigned_url("get_object",
                                             Params={"Bucket": self.bucket, "Key": "h"},
                                             ExpiresIn=300)
        if "X-Amz-Signature=" in url:  # SigV4 presigned (SigV2 has no such rule)
            req = urllib.request.Request(url, headers={"x-amz-server-side-encryption": "AES256"})
            with self.assertRaises(urllib.error.HTTPError) as cm2:
                urllib.request.urlopen(req)
            self.assertEqual(cm2.exception.code, 403)

    def test_create_own_bucket_again_is_ok_in_us_east_1(self):
        # S3's us-east-1 legacy: 200, and the bucket keeps its objects.
        self.s3.put_object(Bucket=self.bucket, Key="kept", Body=b"1")
        self.s3.create_bucket(Bucket=self.bucket)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="kept")["Body"].read(), b"1")

    def test_anonymous_request_to_missing_bucket_is_no_such_bucket(self):
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(f"{SERVER.endpoint}/no-such-{uuid.uuid4().hex[:8]}/k")
        self.assertEqual(cm.exception.code, 404)
        self.assertIn(b"NoSuchBucket", cm.exception.read())

    def test_checksums_roundtrip(self):
        if tuple(int(x) for x in botocore.__version__.split(".")[:2]) < (1, 36):
            self.skipTest("botocore %s predates default CRC32 checksums" % botocore.__version__)
        body = b"checksummed " * 1000
        put = self.s3.put_object(Bucket=self.bucket, Key="c", Body=body,
                                 ChecksumAlgorithm="SHA256")
        self.assertEqual(put["ChecksumSHA256"],
                         __import__("base64").b64encode(hashlib.sha256(body).digest()).decode())
        got = self.s3.get_object(Bucket=self.bucket, Key="c", ChecksumMode="ENABLED")
        self.assertEqual(got["Body"].read(), body)
        self.assertEqual(got["ChecksumSHA256"], put["ChecksumSHA256"])


    def test_transfer_with_a_full_object_crc32(self):
        # A caller that knows its file's CRC32 hands it to s3transfer, which
        # creates the upload FULL_OBJECT and sends it with
        # CompleteMultipartUpload; S3 (since 2025) stores that whole-body CRC
        # and checks it. botocore then verifies the download against it.
        if tuple(int(x) for x in botocore.__version__.split(".")[:2]) < (1, 36):
            self.skipTest("botocore %s predates ChecksumType" % botocore.__version__)
        from boto3.s3.transfer import TransferConfig
        data = os.urandom(11 * 1024 * 1024 + 5)
        whole = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
        cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024,
                             multipart_chunksize=5 * 1024 * 1024)
        self.s3.upload_fileobj(io.BytesIO(data), self.bucket, "full.bin", Config=cfg,
                               ExtraArgs={"ChecksumAlgorithm": "CRC32",
                                          "ChecksumType": "FULL_OBJECT",
                                          "ChecksumCRC32": whole})
        head = self.s3.head_object(Bucket=self.bucket, Key="full.bin", ChecksumMode="ENABLED")
        self.assertEqual(head["ChecksumCRC32"], whole)
        self.assertEqual(head["ChecksumType"], "FULL_OBJECT")
        got = self.s3.get_object(Bucket=self.bucket, Key="full.bin", ChecksumMode="ENABLED")
        self.assertEqual(got["Body"].read(), data)
        wrong = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
        with self.assertRaises(ClientError) as caught:
            self.s3.upload_fileobj(io.BytesIO(data), self.bucket, "wrong.bin", Config=cfg,
                                   ExtraArgs={"ChecksumAlgorithm": "CRC32",
                                              "ChecksumType": "FULL_OBJECT",
                                              "ChecksumCRC32": wrong})
        self.assertEqual(caught.exception.response["Error"]["Code"], "BadDigest")

if __name__ == "__main__":
    print("boto3", boto3.__version__, "botocore", botocore.__version__)
    unittest.main(verbosity=2)
