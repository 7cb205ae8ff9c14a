"""What the chaos tests (test_sqs_chaos.py, test_s3_chaos.py) share: client
threads whose failures fail the test, which errors a kill explains, and the
loop that kills the server at random moments and starts it again on the same
data directory and port."""
import os
import random
import sys
import threading
import time

import harness
from botocore.exceptions import ClientError


def kills_and_seed():
    """CHAOS_KILLS (default 4) and CHAOS_SEED (random unless given), printed
    so that a failing run's timing can be replayed."""
    kills = int(os.environ.get("CHAOS_KILLS", "4"))
    seed = int(os.environ.get("CHAOS_SEED", str(random.randrange(1 << 30))))
    print(f"\nCHAOS_KILLS={kills} CHAOS_SEED={seed}", file=sys.stderr)
    return kills, seed


def start_server(data_dir=None, port=None):
    """`imgbatch up` without image workers: a new data directory, or again on
    the one a killed server left (and its port)."""
    return harness.Server(data_dir=data_dir, port=port,
                          extra_args=["--max-workers", "0"]).start()


class ClientThreads:
    """Threads that run until `stop` is set; what one raises (an assertion on
    a reply) is kept in `failures` and stops them all."""

    def __init__(self):
        self.stop = threading.Event()
        self.failures = []
        self.threads = []

    def add(self, target, *args):
        def run():
            try:
                target(*args)
            except BaseException as e:  # noqa: BLE001 — reported as a test failure
                self.failures.append(f"{target.__name__}{args[1:]}: {e!r}")
                self.stop.set()
        self.threads.append(threading.Thread(target=run))


def raise_unless_cut(error, allowed=()):
    """For a call that raised: returns if the kill explains it (no reply, a
    broken connection, a 5xx while the server starts), or if it is a client
    error the call may meet in a correct run (`allowed` codes, e.g. a
    visibility change on a handle a crash made stale); raises it otherwise,
    since an answer the server chose to give (ReceiptHandleIsInvalid for a
    handle it gave, say) is a bug even if every promise holds.
    RequestThrottled (a FIFO queue's calls per second, as SQS's quota) may
    meet any call of a correct run, and the call did nothing."""
    if not isinstance(error, ClientError):
        return
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    code = error.response.get("Error", {}).get("Code", "")
    if status < 500 and code not in allowed and code != "RequestThrottled":
        raise error


def one_attempt_client(server, service, read_timeout):
    """A boto3 client that makes one attempt per call: a retry inside botocore
    would hide which call the server acknowledged (its `max_attempts` counts
    retries, hence `total_max_attempts`)."""
    return server.boto3_client(service, config_args={
        "retries": {"total_max_attempts": 1}, "connect_timeout": 2,
        "read_timeout": read_timeout})


def assert_alive(test, server):
    """The server must die only when killed: exiting by itself under this
    traffic is a bug even if every promise held."""
    code = server.proc.poll()
    test.assertIsNone(code, f"the server exited by itself ({code}):\n" + server.read_log())


def run_killing(test, owner, kills, rnd, clients):
    """Starts `clients`, kills `owner.server` with SIGKILL `kills` times, 0.3-2 s
    apart (`rnd` chooses), each time starting it again (owner.server is then
    the new process, also when this raises), and stops the clients."""
    for t in clients.threads:
        t.start()
    try:
        for _ in range(kills):
            time.sleep(rnd.uniform(0.3, 2.0))
            assert_alive(test, owner.server)
            owner.server.kill9()
            owner.server = start_server(owner.server.data_dir, owner.server.port)
        time.sleep(rnd.uniform(0.3, 2.0))
        assert_alive(test, owner.server)
    finally:
        clients.stop.set()
        for t in clients.threads:
            t.join()
