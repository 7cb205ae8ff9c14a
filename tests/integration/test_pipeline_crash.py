"""Pipeline crash test: a few hundred images (generated JPEGs plus corpus
photos) are uploaded, `imgbatch up` is killed with SIGKILL while its workers
process them, and restarted on the same data directory. Every acknowledged
upload ends with both outputs, made from that upload (source-etag), and no
message is left behind or dead-lettered. The restarted server is killed
again once its workers are under way (PIPELINE_KILLS kills in all, default
3). A short visibility timeout in the test config brings back the messages
the killed workers held."""
import io
import os
import sys
import shutil
import threading
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import pipeline_support as ps  # noqa: E402

from PIL import Image  # noqa: E402

GENERATED = 300
CORPUS_PHOTOS = 12
VISIBILITY_TIMEOUT = 3


def processed_count(server):
    """imgbatch_images_processed_total from /-/metrics; 0 when unreachable."""
    try:
        with urllib.request.urlopen(server.endpoint + "/-/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("imgbatch_images_processed_total "):
            return int(float(line.split()[1]))
    return 0


class PipelineCrashTest(unittest.TestCase):
    def test_kill9_while_processing_loses_no_image(self):
        server = harness.Server()
        config = ps.write_config(server.data_dir, visibility_timeout=VISIBILITY_TIMEOUT,
                                 max_workers=2, stop_timeout=5)
        server.extra_args += ["--config", config]
        server.start()

        sources = ps.generated_jpegs(6, size=(800, 600))
        bodies = {f"gen/{i:03d}.jpg": sources[i % len(sources)] for i in range(GENERATED)}
        photos = ps.corpus_jpegs(CORPUS_PHOTOS)
        for i, body in enumerate(photos):
            bodies[f"corpus/{i:02d}.jpg"] = body
        # Photos first: the big ones are the likeliest to be mid-flight at the kill.
        order = dict(sorted(bodies.items(), key=lambda kv: not kv[0].startswith("corpus/")))

        acked = {}
        stop_uploads = threading.Event()
        uploader = threading.Thread(
            target=lambda: acked.update(ps.upload_all(server, order, stop=stop_uploads)))
        uploader.start()
        harness.wait_until(lambda: processed_count(server) >= 20, timeout=60, interval=0.05,
                           what="the workers under way")
        at_kill = processed_count(server)
        stop_uploads.set()
        server.kill9()
        uploader.join()
        self.assertLess(at_kill, len(bodies), "the kill must land before the drain ends")
        self.assertGreater(len(acked), 0)
        # Worker processes die with the server (PR_SET_PDEATHSIG); they hold
        # messages until the visibility timeout.

        again = harness.Server(data_dir=server.data_dir, extra_args=["--config", config]).start()
        # N-1 more kills, each once the restarted workers have finished a few
        # images (or all of them).
        for _ in range(int(os.environ.get("PIPELINE_KILLS", "3")) - 1):
            def under_way_or_done():
                q = ps.queue_status(ps.status(again), "batch-queue")
                return processed_count(again) >= 5 or q["visible"] + q["in_flight"] == 0
            harness.wait_until(under_way_or_done, timeout=120, interval=0.05,
                               what="the restarted workers under way")
            self.assertIsNone(again.proc.poll(), "the server exited by itself")
            print(f"kill at {processed_count(again)} processed since the restart", file=sys.stderr)
            again.kill9()
            again = harness.Server(data_dir=server.data_dir,
                                   extra_args=["--config", config]).start()
        try:
            s3 = again.boto3_client("s3")
            keys = sorted(acked)

            def all_outputs():
                return not ps.missing_outputs(s3, keys)
            harness.wait_until(all_outputs, timeout=120, interval=0.5,
                               what=f"outputs for {len(keys)} acknowledged uploads")

            for key in keys:
                for prefix in ps.OUTPUT_PREFIXES:
                    obj = s3.get_object(Bucket="output", Key=f"{prefix}/{key}")
                    self.assertEqual(obj["Metadata"]["source-etag"], acked[key], key)
                    if key.startswith("corpus/") or key.endswith("0.jpg"):
                        with Image.open(io.BytesIO(obj["Body"].read())) as im:
                            im.load()  # a whole, decodable JPEG
                            self.assertEqual(im.format, "JPEG")

            # Nothing left behind: the queue drains, nothing was dead-lettered.
            def drained():
                s = ps.status(again)
                q = ps.queue_status(s, "batch-queue")
                return s if q["visible"] == 0 and q["in_flight"] == 0 else None
            final = harness.wait_until(drained, timeout=60, interval=0.5, what="an empty queue")
            dlq = ps.queue_status(final, "batch-dlq")
            self.assertEqual(dlq["visible"] + dlq["in_flight"], 0, "nothing dead-lettered")
            self.assertEqual(final["images"]["failed"], 0)
        except AssertionError:
            print(again.read_log(), file=sys.stderr)
            raise
        finally:
            again.cleanup()
            shutil.rmtree(server.data_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
