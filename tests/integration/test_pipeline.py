"""End to end, as the seed describes it: `imgbatch up` with no configuration in
an empty directory; upload the corpus with `aws s3 cp --recursive`; every
image gets resized/ and thumbs/ outputs of the right size and orientation; a
corrupt .jpg ends in batch-dlq with a reason; /-/metrics shows the counts."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import pipeline_support  # noqa: E402

from PIL import Image  # noqa: E402  (Debian's python3-pil; ctest runs this with /usr/bin/python3)

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.environ.get("IMGBATCH_CORPUS") or os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "shared", "corpus"))


def fit(w, h, box_w, box_h):
    scale = min(box_w / w, box_h / h, 1.0)
    return max(1, round(w * scale)), max(1, round(h * scale))


def oriented_size(path):
    with Image.open(path) as im:
        w, h = im.size
        orientation = im.getexif().get(0x0112, 1)
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


class PipelineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(CORPUS):
            message = f"corpus not found at {CORPUS} (set IMGBATCH_CORPUS)"
            if os.environ.get("CI") == "true":
                raise AssertionError(message)  # CI has shared/ beside the clone: never skip there
            raise unittest.SkipTest(message)
        cls.server = harness.Server().start()
        cls.s3 = cls.server.boto3_client("s3")
        cls.sqs = cls.server.boto3_client("sqs")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def aws(self, *args):
        aws = ["/usr/bin/aws"] if os.path.exists("/usr/bin/aws") else [sys.executable, "-m", "awscli"]
        cmd = aws + ["--endpoint-url", self.server.endpoint] + list(args)
        res = subprocess.run(cmd, env=self.server.client_env(), capture_output=True, text=True,
                             timeout=600)
        self.assertEqual(res.returncode, 0, res.stderr)
        return res.stdout

    def output_keys(self):
        return set(pipeline_support.output_keys(self.s3))

    def test_corpus_end_to_end(self):
        names = sorted(n for n in os.listdir(CORPUS) if n.lower().endswith(".jpg"))
        self.assertGreater(len(names), 0)
        staging = tempfile.mkdtemp(prefix="imgbatch-corpus-")
        try:
            for n in names:
                os.symlink(os.path.join(CORPUS, n), os.path.join(staging, n))
            # A corrupt image: JPEG magic, then garbage.
            with open(os.path.join(staging, "corrupt.jpg"), "wb") as f:
                f.write(b"\xff\xd8\xff\xe0" + os.urandom(5000))
            self.aws("s3", "cp", "--recursive", "--quiet", staging, "s3://input/photos/")
        finally:
            shutil.rmtree(staging)

        wanted = {f"{p}/photos/{n}" for n in names for p in ("resized", "thumbs")}
        harness.wait_until(lambda: wanted <= self.output_keys(), timeout=600, interval=0.5,
                           what=f"{len(wanted)} outputs")
        tmp = tempfile.mkdtemp(prefix="imgbatch-out-")
        try:
            for n in names:
                src_w, src_h = oriented_size(os.path.join(CORPUS, n))
                for prefix, box in (("resized", (1024, 768)), ("thumbs", (192, 192))):
                    local = os.path.join(tmp, prefix + "-" + n)
                    self.s3.download_file("output", f"{prefix}/photos/{n}", local)
                    with Image.open(local) as im:
                        ew, eh = fit(src_w, src_h, *box)
                        self.assertLessEqual(abs(im.size[0] - ew), 1, f"{prefix}/{n} {im.size}")
                        self.assertLessEqual(abs(im.size[1] - eh), 1, f"{prefix}/{n} {im.size}")
                        self.assertEqual(im.format, "JPEG")
                        self.assertNotIn(0x0112, im.getexif(), "orientation tag stripped")
                    head = self.s3.head_object(Bucket="output", Key=f"{prefix}/photos/{n}")
                    self.assertEqual(head["ContentType"], "image/jpeg")
                    self.assertIn("source-etag", head["Metadata"])
        finally:
            shutil.rmtree(tmp)

        dlq = self.sqs.get_queue_url(QueueName="batch-dlq")["QueueUrl"]

        def dead_letter():
            r = self.sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"],
                                         VisibilityTimeout=0, WaitTimeSeconds=1)
            return r.get("Messages", [])
        msgs = harness.wait_until(dead_letter, timeout=120, what="the corrupt image in batch-dlq")
        attrs = msgs[0]["MessageAttributes"]
        self.assertIn("photos/corrupt.jpg", attrs["SourceKey"]["StringValue"])
        self.assertTrue(attrs["ErrorCode"]["StringValue"])
        self.assertTrue(attrs["ErrorMessage"]["StringValue"])
        self.assertNotIn("resized/photos/corrupt.jpg", self.output_keys())

        def metrics():
            with urllib.request.urlopen(self.server.endpoint + "/-/metrics") as r:
                text = r.read().decode()
            return text if "imgbatch_images_processed_total %d" % len(names) in text else None
        text = harness.wait_until(metrics, timeout=30, what="processed count in /-/metrics")
        self.assertIn('imgbatch_queue_messages_visible{queue="batch-queue"}', text)

        # The operator view: `imgbatch status --json` finds the token in --data-dir.
        res = subprocess.run([harness.binary(), "status", "--json", "--endpoint",
                              self.server.endpoint, "--data-dir", self.server.data_dir],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        status = json.loads(res.stdout)
        self.assertEqual(status["images"]["processed"], len(names))
        self.assertEqual(status["images"]["failed"], 1)  # corrupt.jpg
        self.assertGreaterEqual(status["workers"]["restarts"], 0)
        self.assertEqual([q["name"] for q in status["queues"]], ["batch-queue", "batch-dlq"])
        table = subprocess.run([harness.binary(), "status", "--endpoint", self.server.endpoint,
                                "--data-dir", self.server.data_dir],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("batch-queue", table.stdout)
        denied = subprocess.run([harness.binary(), "status", "--endpoint", self.server.endpoint,
                                 "--data-dir", "/nonexistent"],
                                capture_output=True, text=True, timeout=30)
        self.assertNotEqual(denied.returncode, 0)



class BrowserUploadTest(unittest.TestCase):
    """The web page's way in: a form the application's server signed
    (generate_presigned_post) sends a photo straight to the input bucket, and
    the pipeline processes it like any upload (S3's ObjectCreated:Post event,
    which the default ObjectCreated:* subscription covers)."""

    def setUp(self):
        self.server = harness.Server().start()
        self.s3 = self.server.boto3_client("s3")

    def tearDown(self):
        self.server.cleanup()

    def test_a_photo_posted_from_a_browser_form_is_processed(self):
        import io
        import urllib3
        buf = io.BytesIO()
        Image.new("RGB", (2048, 1024), (200, 40, 90)).save(buf, "JPEG")
        post = self.s3.generate_presigned_post(
            "input", "web/${filename}", Fields={"Content-Type": "image/jpeg"},
            Conditions=[{"Content-Type": "image/jpeg"}, ["content-length-range", 1, 10 << 20]],
            ExpiresIn=300)
        fields = dict(post["fields"], file=("holiday.jpg", buf.getvalue(), "image/jpeg"))
        with urllib3.PoolManager() as http:
            r = http.request("POST", post["url"], fields=fields)
        self.assertEqual(r.status, 204, r.data)

        want = {"resized/web/holiday.jpg", "thumbs/web/holiday.jpg"}
        harness.wait_until(lambda: want <= set(pipeline_support.output_keys(self.s3)),
                           timeout=120, interval=0.3,
                           what="both outputs of the posted photo")
        body = self.s3.get_object(Bucket="output", Key="resized/web/holiday.jpg")["Body"].read()
        with Image.open(io.BytesIO(body)) as im:
            self.assertEqual(im.size, (1024, 512))


class RemovalTest(unittest.TestCase):
    """A deleted input's outputs are deleted when the notification sends
    s3:ObjectRemoved:* to the workers' queue: the worker's key may then delete
    in the output bucket, and without that grant the event goes to the DLQ as
    AccessDenied at once instead of being retried."""

    def start(self, events):
        self.dir = tempfile.mkdtemp(prefix="imgbatch-removal-")
        config = os.path.join(self.dir, "imgbatch.toml")
        with open(config, "w") as f:
            f.write('[[notifications]]\nid = "images"\nbucket = "input"\n'
                    'queue = "batch-queue"\nsuffix = ".jpg"\nevents = %s\n'
                    % json.dumps(events))
        self.server = harness.Server(extra_args=["--config", config]).start()
        self.s3 = self.server.boto3_client("s3")
        self.sqs = self.server.boto3_client("sqs")

    def tearDown(self):
        self.server.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def outputs(self):
        return set(pipeline_support.output_keys(self.s3))

    def upload_and_wait(self, key):
        self.s3.put_object(Bucket="input", Key=key, Body=pipeline_support.generated_jpegs(1)[0])
        want = {"resized/" + key, "thumbs/" + key}
        harness.wait_until(lambda: want <= self.outputs(), timeout=120, interval=0.3,
                           what="both outputs of " + key)
        return want

    def test_deleting_an_input_deletes_its_outputs(self):
        self.start(["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
        made = self.upload_and_wait("gone/photo.jpg")
        kept = self.upload_and_wait("kept/photo.jpg")
        self.s3.delete_object(Bucket="input", Key="gone/photo.jpg")
        harness.wait_until(lambda: not (made & self.outputs()), timeout=120, interval=0.3,
                           what="the deleted input's outputs to go")
        self.assertLessEqual(kept, self.outputs())

    def test_a_removal_the_worker_may_not_act_on_is_dead_lettered_as_denied(self):
        self.start(["s3:ObjectCreated:*"])
        made = self.upload_and_wait("photo.jpg")
        # Subscribed later through the S3 API: the workers' key, made from the
        # configuration at start, has no s3:DeleteObject on the output bucket.
        config = self.s3.get_bucket_notification_configuration(Bucket="input")
        config.pop("ResponseMetadata")
        config["QueueConfigurations"][0]["Events"].append("s3:ObjectRemoved:*")
        self.s3.put_bucket_notification_configuration(Bucket="input",
                                                      NotificationConfiguration=config)
        self.s3.delete_object(Bucket="input", Key="photo.jpg")
        dlq = self.sqs.get_queue_url(QueueName="batch-dlq")["QueueUrl"]

        def dead_lettered():
            got = self.sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"],
                                           WaitTimeSeconds=1).get("Messages", [])
            return got[0] if got else None
        message = harness.wait_until(dead_lettered, timeout=60, what="the removal in the DLQ")
        attributes = message["MessageAttributes"]
        self.assertEqual(attributes["ErrorCode"]["StringValue"], "AccessDenied")
        self.assertEqual(attributes["SourceKey"]["StringValue"], "photo.jpg")
        self.assertEqual(json.loads(message["Body"])["Records"][0]["eventName"],
                         "ObjectRemoved:Delete")
        self.assertLessEqual(made, self.outputs())


class TlsTest(unittest.TestCase):
    """`up --tls-cert` with a self-signed certificate for a name that is not
    127.0.0.1: the workers trust that certificate, connect by its name, and
    process images over HTTPS."""

    def test_workers_process_images_over_tls(self):
        tmp = tempfile.mkdtemp(prefix="imgbatch-tls-")
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                        "/CN=imgbatch.test", "-addext", "subjectAltName=DNS:imgbatch.test",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        server = harness.Server(tls=(cert, key)).start()
        try:
            s3 = server.boto3_client("s3")
            s3.put_object(Bucket="input", Key="secure/photo.jpg",
                          Body=pipeline_support.generated_jpegs(1)[0])
            harness.wait_until(
                lambda: not pipeline_support.missing_outputs(s3, ["secure/photo.jpg"]),
                timeout=120, interval=0.3, what="both outputs over TLS")
            self.assertNotIn("SSL", server.read_log())
        finally:
            server.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)


class JsonLogTest(unittest.TestCase):
    """--log-format json: libvips' own warnings (a truncated PNG makes some)
    are log records like every other, not raw "VIPS-WARNING" lines."""

    def test_libvips_warnings_are_json_records(self):
        import io
        server = harness.Server(extra_args=["--log-format", "json"]).start()
        try:
            buf = io.BytesIO()
            Image.new("RGB", (800, 600), (10, 200, 30)).save(buf, "PNG")
            png = buf.getvalue()
            server.boto3_client("s3").put_object(Bucket="input", Key="cut.png",
                                                 Body=png[:len(png) * 6 // 10])
            sqs = server.boto3_client("sqs")
            dlq = sqs.get_queue_url(QueueName="batch-dlq")["QueueUrl"]
            harness.wait_until(
                lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"),
                timeout=120, what="the truncated PNG in the DLQ")
            records = []
            for line in server.read_log().splitlines():
                self.assertNotIn("VIPS-WARNING", line)
                if line.startswith("{"):
                    records.append(json.loads(line))
            self.assertTrue([r for r in records if r["msg"].startswith("VIPS: ")], records[-5:])
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
