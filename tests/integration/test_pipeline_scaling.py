"""Scaling test: with short periods (a test imgbatch.toml), a burst of uploads
makes the worker pool grow to its maximum and shrink back to its minimum (0)
once the queue has drained, and no busy worker is taken away: every image is
processed exactly once (none failed, none redone after a redelivery), every
worker stopped after finishing its images, none was replaced. All of it is
observed through `imgbatch status --json` samples and the output bucket; no
timing thresholds, only deadlines."""
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import pipeline_support as ps  # noqa: E402

MAX_WORKERS = 3
IMAGES = 96


class ScalingTest(unittest.TestCase):
    def setUp(self):
        self.server = harness.Server()
        config = ps.write_config(self.server.data_dir, visibility_timeout=60,
                                 max_workers=MAX_WORKERS, target_backlog_per_worker=1,
                                 scale_in_cooldown=2)
        self.server.extra_args += ["--config", config]
        self.server.start()
        self.s3 = self.server.boto3_client("s3")
        self.samples = []

    def tearDown(self):
        self.server.cleanup()

    def sample(self):
        s = ps.status(self.server)
        self.samples.append(s)
        return s

    def explain(self):
        """What the samples saw, for a failure message."""
        lines = [f"{s['workers']['desired']}/{s['workers']['running']} "
                 f"busy={s['workers']['busy']} processed={s['images']['processed']}"
                 for s in self.samples[-40:]]
        return "\n".join(lines) + "\n--- server log ---\n" + self.server.read_log()

    def worker_environments(self):
        """{pid: (comm, environment)} of the server's worker processes now."""
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                # (A child between fork and exec is still the server: skip it.)
                if ppid != self.server.proc.pid or argv[1:2] != [b"worker"]:
                    continue
                with open(f"/proc/{entry}/comm") as f:
                    comm = f.read().strip()
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = dict(v.decode().partition("=")[::2] for v in f.read().split(b"\0") if v)
                found[int(entry)] = (comm, env)
            except (OSError, IndexError, ValueError):
                pass  # exited meanwhile
        return found

    def test_burst_grows_pool_to_max_and_back_to_zero(self):
        # Idle first: min is 0. (A fresh server's notifications send an
        # s3:TestEvent, which one worker consumes before the pool empties.)
        def idle_at_zero():
            s = self.sample()
            w, q = s["workers"], ps.queue_status(s, "batch-queue")
            return (w["desired"], w["running"], w["stopping"], q["visible"], q["in_flight"]) == (
                0, 0, 0, 0, 0)
        harness.wait_until(idle_at_zero, timeout=60, interval=0.3, what="an idle pool at 0")
        self.samples.clear()

        sources = ps.generated_jpegs(8)
        bodies = {f"burst/{i:03d}.jpg": sources[i % len(sources)] for i in range(IMAGES)}
        uploaded = {}
        uploader = threading.Thread(target=lambda: uploaded.update(
            ps.upload_all(self.server, bodies)))
        uploader.start()
        # Sample while the burst is uploaded and drained.
        workers = {}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            s = self.sample()
            workers.update(self.worker_environments())
            if not uploader.is_alive() and s["images"]["processed"] >= IMAGES:
                break
            time.sleep(0.2)
        uploader.join()
        self.assertEqual(len(uploaded), IMAGES, "every upload acknowledged")
        self.assertEqual(self.samples[-1]["images"]["processed"], IMAGES, self.explain())

        # Workers start with huge pages already on (GLIBC_TUNABLES from `up`:
        # TunablesWithHugePages then has nothing to add, so none re-executes
        # itself), on glibc malloc (the server's jemalloc preload is not
        # inherited), named imgbatch, and with no AWS_* variable beyond their
        # own key.
        self.assertTrue(workers, "saw the worker processes")
        for pid, (comm, env) in workers.items():
            self.assertIn("glibc.malloc.hugetlb=1", env.get("GLIBC_TUNABLES", ""), (pid, env))
            self.assertNotIn("LD_PRELOAD", env, pid)
            self.assertEqual(comm, "imgbatch", pid)
            self.assertEqual(sorted(k for k in env if k.startswith("AWS_")), [
                "AWS_ACCESS_KEY_ID", "AWS_CONFIG_FILE", "AWS_EC2_METADATA_DISABLED",
                "AWS_REGION", "AWS_SECRET_ACCESS_KEY", "AWS_SHARED_CREDENTIALS_FILE"], pid)

        # The pool reached its maximum while the backlog lasted.
        peak = max(s["workers"]["running"] for s in self.samples)
        self.assertEqual(peak, MAX_WORKERS, self.explain())
        for s in self.samples:
            w = s["workers"]
            self.assertLessEqual(w["running"], MAX_WORKERS)
            self.assertLessEqual(w["busy"], w["running"])

        # ... and shrinks back to zero once drained.
        def back_to_zero():
            s = self.sample()
            w = s["workers"]
            return s if w["desired"] == 0 and w["running"] == 0 and w["stopping"] == 0 else None
        final = harness.wait_until(back_to_zero, timeout=60, interval=0.3,
                                   what="the pool back at 0 workers")
        decisions = final["scaling"]
        self.assertTrue(any(d["to"] == MAX_WORKERS and d["to"] > d["from"] for d in decisions),
                        decisions)
        self.assertEqual(decisions[-1]["to"], 0, decisions)
        self.assertTrue(all(d["reason"] for d in decisions), "every decision says why")

        # No busy worker was taken away: each one that was stopped had finished its
        # images, none died and was replaced, nothing was redone or failed.
        w = final["workers"]
        self.assertEqual(w["restarts"], 0, self.explain())
        self.assertEqual(w["interrupted"], 0, self.explain())
        self.assertGreaterEqual(w["stopped"], MAX_WORKERS)
        table = subprocess.run([harness.binary(), "status", "--endpoint", self.server.endpoint,
                                "--data-dir", self.server.data_dir],
                               capture_output=True, text=True, timeout=30)
        self.assertIn("0 stopped with images in flight", table.stdout)
        images = final["images"]
        self.assertEqual(images["processed"], IMAGES)
        self.assertEqual(images["failed"], 0)
        self.assertEqual(images["skipped"], 0, "a redelivered message redid finished work")
        for name in ("batch-queue", "batch-dlq"):
            q = ps.queue_status(final, name)
            self.assertEqual((q["visible"], q["in_flight"], q["delayed"]), (0, 0, 0), name)
        self.assertEqual(ps.missing_outputs(self.s3, list(bodies)), [])
        for key, etag in uploaded.items():
            for prefix in ps.OUTPUT_PREFIXES:
                head = self.s3.head_object(Bucket="output", Key=f"{prefix}/{key}")
                self.assertEqual(head["Metadata"]["source-etag"], etag, key)


if __name__ == "__main__":
    unittest.main(verbosity=2)
