"""Starts the real `imgbatch up` binary for integration tests.

Every test talks to a real server process on 127.0.0.1 through real AWS
clients; nothing here is a mock. The binary comes from $IMGBATCH_BIN (set by
ctest), the data directory is a fresh temporary one unless given.
"""
import json
import os
import shutil
import signal
import ssl
import socket
import subprocess
import tempfile
import time
import urllib.request

ACCESS_KEY = "AKIAIMGBATCHTEST0001"
SECRET_KEY = "imgbatch/test/secret/key/0123456789abcdef"
REGION = "us-east-1"
ACCOUNT_ID = "000000000000"  # imgbatch up's default account


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary():
    path = os.environ.get("IMGBATCH_BIN")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "build", "release", "src", "cli", "imgbatch")
    if not os.path.exists(path):
        raise RuntimeError(f"imgbatch binary not found at {path}; set IMGBATCH_BIN")
    return path


def wait_until(predicate, timeout=30.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class DeclaredKeys:
    """Access keys declared in an imgbatch.toml ([[keys]]) of a temporary directory:
    keys maps a name to its policy's statements; ids and secrets are made from the
    name and tag (distinct per test module). Pass ["--config", keys.config] to Server."""

    def __init__(self, keys, tag):
        self.tag = tag
        self.dir = tempfile.TemporaryDirectory(prefix=f"imgbatch-{tag.lower()}-")
        self.config = os.path.join(self.dir.name, "imgbatch.toml")
        with open(self.config, "w") as f:
            for name, statements in keys.items():
                policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
                f.write(f'[[keys]]\nname = "{name}"\naccess_key_id = "{self.key_id(name)}"\n'
                        f'secret_access_key = "{self.secret(name)}"\npolicy = \'{policy}\'\n\n')

    def key_id(self, name):
        return ("AKIA" + self.tag.upper())[:8] + name.upper().ljust(12, "0")[:12]

    def secret(self, name):
        return f"{self.tag}-secret-{name}".ljust(40, "0")

    def cleanup(self):
        self.dir.cleanup()


class Server:
    """One `imgbatch up` process with its own data directory and port."""

    def __init__(self, data_dir=None, extra_args=(), env=None, port=None, tls=None):
        """tls: (cert file, key file) to serve HTTPS with; the test's own clients
        then skip verification (the workers verify)."""
        self.tls = tls
        self.owns_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="imgbatch-it-")
        self.port = port or free_port()  # a restart passes the old port
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")

    @property
    def endpoint(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "IMGBATCH_ACCESS_KEY_ID": ACCESS_KEY,
            "IMGBATCH_SECRET_ACCESS_KEY": SECRET_KEY,
        })
        env.update(self.extra_env)
        cmd = [binary(), "up", "--data-dir", self.data_dir,
               "--listen", f"127.0.0.1:{self.port}"] + self.extra_args
        if self.tls:
            cmd += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_until(self._ready, timeout=30, what="server /-/ready")
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.read_log()}")
        try:
            context = ssl._create_unverified_context() if self.tls else None
            with urllib.request.urlopen(self.endpoint + "/-/ready", timeout=1,
                                        context=context) as r:
                return r.status == 200
        except OSError:
            return False

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not stop within %ss" % timeout)
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def restarted(self, extra_args=None, port=None):
        """A new, started server on this one's data directory (after kill9 or
        stop). It takes over the directory: its cleanup removes it."""
        again = Server(data_dir=self.data_dir, port=port,
                       extra_args=self.extra_args if extra_args is None else extra_args,
                       env=self.extra_env, tls=self.tls)
        again.owns_dir, self.owns_dir = self.owns_dir, False
        return again.start()

    def cleanup(self):
        self.stop()
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def client_env(self):
        """Environment for CLI clients (aws, s3cmd, rclone, node)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "IMGBATCH_ENDPOINT": self.endpoint,
        })
        return env

    def boto3_client(self, service, **kwargs):
        import boto3
        from botocore.config import Config
        config_args = {"retries": {"max_attempts": 2}}
        config_args.update(kwargs.pop("config_args", {}))
        cfg = Config(s3={"addressing_style": "path"}, **config_args)
        if self.tls:
            kwargs.setdefault("verify", False)
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=kwargs.pop("access_key", ACCESS_KEY),
                            aws_secret_access_key=kwargs.pop("secret_key", SECRET_KEY),
                            config=cfg, **kwargs)
