"""S3 through command-line clients against the real server: the aws CLI (the
one given by $AWS_CLI: Debian's awscli 2.9 or the image's awscli 1.45 via
`python3 -m awscli`), s3cmd and rclone. Content is compared byte for byte.
"""
import filecmp
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
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


def run(cmd, check=True, **kwargs):
    res = subprocess.run(cmd, env=SERVER.client_env(), capture_output=True, text=True,
                         timeout=300, **kwargs)
    if check and res.returncode != 0:
        raise AssertionError(f"{cmd} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def aws(*args, check=True):
    return run(AWS + ["--endpoint-url", SERVER.endpoint, "--region", harness.REGION] +
               list(args), check=check)


class AwsCliTest(unittest.TestCase):
    def setUp(self):
        self.bucket = "cli-" + uuid.uuid4().hex[:12]
        self.tmp = tempfile.mkdtemp(prefix="imgbatch-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        aws("s3", "mb", f"s3://{self.bucket}")

    def make_tree(self):
        src = os.path.join(self.tmp, "src")
        os.makedirs(os.path.join(src, "sub dir"))
        with open(os.path.join(src, "small.txt"), "wb") as f:
            f.write(b"small file\n")
        with open(os.path.join(src, "sub dir", "medium.bin"), "wb") as f:
            f.write(os.urandom(300_000))
        with open(os.path.join(src, "large.bin"), "wb") as f:
            f.write(os.urandom(20 * 1024 * 1024 + 7))  # above the CLI's 8 MiB multipart threshold
        # Files older than their upload, as files to sync are: LastModified has whole seconds
        # (as on AWS), so a file written and uploaded within one second would look newer than
        # its copy, and `aws s3 sync` would upload it again.
        past = time.time() - 10
        for root, _, files in os.walk(src):
            for name in files:
                os.utime(os.path.join(root, name), (past, past))
        return src

    def test_cp_sync_ls_rm(self):
        src = self.make_tree()
        aws("s3", "cp", "--recursive", src, f"s3://{self.bucket}/tree/")
        listing = aws("s3", "ls", "--recursive", f"s3://{self.bucket}/").stdout
        for name in ("tree/small.txt", "tree/sub dir/medium.bin", "tree/large.bin"):
            self.assertIn(name, listing)
        back = os.path.join(self.tmp, "back")
        aws("s3", "sync", f"s3://{self.bucket}/tree/", back)
        cmp = filecmp.dircmp(src, back)
        self.assertEqual(cmp.diff_files + cmp.left_only + cmp.right_only, [])
        for name in ("large.bin", "small.txt", os.path.join("sub dir", "medium.bin")):
            self.assertTrue(filecmp.cmp(os.path.join(src, name), os.path.join(back, name),
                                        shallow=False), name)
        # A second sync uploads nothing new.
        again = aws("s3", "sync", src, f"s3://{self.bucket}/tree/").stdout
        self.assertNotIn("upload:", again)
        # Listing and HEAD agree on times to the second: with --exact-timestamps a synced
        # copy is not downloaded again.
        aws("s3", "sync", "--exact-timestamps", f"s3://{self.bucket}/tree/", back)
        again = aws("s3", "sync", "--exact-timestamps", f"s3://{self.bucket}/tree/", back).stdout
        self.assertNotIn("download:", again)
        aws("s3", "rm", "--recursive", f"s3://{self.bucket}/tree/")
        self.assertEqual(aws("s3", "ls", "--recursive", f"s3://{self.bucket}/",
                             check=False).stdout.strip(), "")

    def test_presign(self):
        path = os.path.join(self.tmp, "p.txt")
        with open(path, "wb") as f:
            f.write(b"presign me")
        aws("s3", "cp", path, f"s3://{self.bucket}/p.txt")
        url = aws("s3", "presign", f"s3://{self.bucket}/p.txt", "--expires-in", "60").stdout.strip()
        with urllib.request.urlopen(url) as r:
            self.assertEqual(r.read(), b"presign me")

    def test_s3api_multipart(self):
        uid = aws("s3api", "create-multipart-upload", "--bucket", self.bucket, "--key", "mp",
                  "--query", "UploadId", "--output", "text").stdout.strip()
        part = os.path.join(self.tmp, "part1")
        with open(part, "wb") as f:
            f.write(b"p" * (5 * 1024 * 1024))
        etag1 = aws("s3api", "upload-part", "--bucket", self.bucket, "--key", "mp",
                    "--part-number", "1", "--upload-id", uid, "--body", part,
                    "--query", "ETag", "--output", "text").stdout.strip()
        part2 = os.path.join(self.tmp, "part2")
        with open(part2, "wb") as f:
            f.write(b"end")
        etag2 = aws("s3api", "upload-part", "--bucket", self.bucket, "--key", "mp",
                    "--part-number", "2", "--upload-id", uid, "--body", part2,
                    "--query", "ETag", "--output", "text").stdout.strip()
        parts = ('{"Parts":[{"PartNumber":1,"ETag":%s},{"PartNumber":2,"ETag":%s}]}'
                 % (etag1 if etag1.startswith('"') else '"%s"' % etag1,
                    etag2 if etag2.startswith('"') else '"%s"' % etag2))
        aws("s3api", "complete-multipart-upload", "--bucket", self.bucket, "--key", "mp",
            "--upload-id", uid, "--multipart-upload", parts)
        size = aws("s3api", "head-object", "--bucket", self.bucket, "--key", "mp",
                   "--query", "ContentLength", "--output", "text").stdout.strip()
        self.assertEqual(int(size), 5 * 1024 * 1024 + 3)

    def test_error_exit_codes(self):
        res = aws("s3api", "head-object", "--bucket", self.bucket, "--key", "missing",
                  check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("404", res.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
