"""S3 through s3cmd and rclone (Debian's) against the real server; content
compared byte for byte."""
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SERVER = None


def setUpModule():
    global SERVER
    SERVER = harness.Server(extra_args=["--max-workers", "0"]).start()


def tearDownModule():
    SERVER.cleanup()


def run(cmd):
    res = subprocess.run(cmd, env=SERVER.client_env(), capture_output=True, text=True,
                         timeout=300)
    if res.returncode != 0:
        raise AssertionError(f"{cmd} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


class S3cmdRcloneTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="imgbatch-s3cmd-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        host = f"127.0.0.1:{SERVER.port}"
        self.s3cmd_cfg = os.path.join(self.tmp, "s3cfg")
        with open(self.s3cmd_cfg, "w") as f:
            f.write("[default]\n"
                    f"access_key = {harness.ACCESS_KEY}\nsecret_key = {harness.SECRET_KEY}\n"
                    f"host_base = {host}\nhost_bucket = {host}\nuse_https = False\n"
                    "signature_v2 = False\nbucket_location = us-east-1\n")
        self.rclone_cfg = os.path.join(self.tmp, "rclone.conf")
        with open(self.rclone_cfg, "w") as f:
            f.write("[imgbatch]\ntype = s3\nprovider = Other\n"
                    f"access_key_id = {harness.ACCESS_KEY}\n"
                    f"secret_access_key = {harness.SECRET_KEY}\n"
                    f"endpoint = {SERVER.endpoint}\nregion = us-east-1\n"
                    "force_path_style = true\n")

    def s3cmd(self, *args):
        return run(["s3cmd", "-c", self.s3cmd_cfg] + list(args))

    def rclone(self, *args):
        return run(["rclone", "--config", self.rclone_cfg] + list(args))

    def test_s3cmd(self):
        bucket = "s3cmd-" + uuid.uuid4().hex[:10]
        self.s3cmd("mb", f"s3://{bucket}")
        src = os.path.join(self.tmp, "f.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(70_000))
        self.s3cmd("put", src, f"s3://{bucket}/dir/f.bin")
        self.assertIn("dir/f.bin", self.s3cmd("ls", "-r", f"s3://{bucket}").stdout)
        dst = os.path.join(self.tmp, "g.bin")
        self.s3cmd("get", f"s3://{bucket}/dir/f.bin", dst)
        self.assertTrue(filecmp.cmp(src, dst, shallow=False))
        # info reads the ACL, policy and CORS settings: the owner's FULL_CONTROL
        # (ACLs disabled, as on a new S3 bucket), none for the others.
        info = self.s3cmd("info", f"s3://{bucket}/dir/f.bin").stdout
        self.assertRegex(info, r"ACL:\s+\S+: FULL_CONTROL")
        self.assertRegex(info, r"Policy:\s+none")
        # setacl reads the ACL and puts it back changed: ACLs are disabled, so
        # keeping the owner alone is accepted, opening it to the public is not.
        self.s3cmd("setacl", "--acl-private", f"s3://{bucket}/dir/f.bin")
        for args in (["setacl", "--acl-public", f"s3://{bucket}/dir/f.bin"],
                     ["put", "--acl-public", src, f"s3://{bucket}/public.bin"]):
            refused = subprocess.run(["s3cmd", "-c", self.s3cmd_cfg] + args,
                                     capture_output=True, text=True, timeout=60)
            self.assertNotEqual(refused.returncode, 0, args)
            self.assertIn("AccessControlListNotSupported", refused.stderr + refused.stdout, args)
        self.assertNotIn("public.bin", self.s3cmd("ls", "-r", f"s3://{bucket}").stdout)
        # expire sets a lifecycle rule, which info then reads back.
        self.s3cmd("expire", f"s3://{bucket}", "--expiry-days", "30", "--expiry-prefix", "logs/")
        self.assertRegex(self.s3cmd("info", f"s3://{bucket}").stdout,
                         r"Expiration Rule: objects with key prefix 'logs/' will expire in '30'")
        self.s3cmd("dellifecycle", f"s3://{bucket}")
        self.assertRegex(self.s3cmd("info", f"s3://{bucket}").stdout, r"Expiration Rule: none")
        # setpolicy puts a bucket policy, info shows it, and it acts: no
        # deletes under dir/ while it is there; delpolicy removes it.
        policy = os.path.join(self.tmp, "policy.json")
        with open(policy, "w") as f:
            json.dump({"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                 "Resource": f"arn:aws:s3:::{bucket}/dir/*"}]}, f)
        self.s3cmd("setpolicy", policy, f"s3://{bucket}")
        self.assertRegex(self.s3cmd("info", f"s3://{bucket}").stdout, r"Policy:\s+\{")
        refused = subprocess.run(["s3cmd", "-c", self.s3cmd_cfg, "del", f"s3://{bucket}/dir/f.bin"],
                                 capture_output=True, text=True, timeout=60)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("AccessDenied", refused.stderr + refused.stdout)
        self.s3cmd("delpolicy", f"s3://{bucket}")
        self.assertRegex(self.s3cmd("info", f"s3://{bucket}").stdout, r"Policy:\s+none")
        self.s3cmd("del", f"s3://{bucket}/dir/f.bin")
        self.s3cmd("rb", f"s3://{bucket}")

    def test_rclone(self):
        bucket = "rclone-" + uuid.uuid4().hex[:10]
        src = os.path.join(self.tmp, "tree")
        os.makedirs(os.path.join(src, "a"))
        for name, size in (("one", 10), ("a/two", 100_000), ("a/three", 6 * 1024 * 1024)):
            with open(os.path.join(src, name), "wb") as f:
                f.write(os.urandom(size))
        self.rclone("mkdir", f"imgbatch:{bucket}")
        self.rclone("copy", src, f"imgbatch:{bucket}/t")
        dst = os.path.join(self.tmp, "copy")
        self.rclone("copy", f"imgbatch:{bucket}/t", dst)
        cmp = filecmp.dircmp(src, dst)
        self.assertEqual(cmp.left_only + cmp.right_only + cmp.diff_files, [])
        self.rclone("check", src, f"imgbatch:{bucket}/t")
        self.rclone("purge", f"imgbatch:{bucket}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
