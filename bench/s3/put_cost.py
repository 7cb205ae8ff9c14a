#!/usr/bin/env python3
"""Server CPU per MiB of large PutObjects, two or more imgbatch builds side by side (not CI).

Each build in turn serves a fresh data directory; one boto3 client PUTs COUNT objects of MIB
MiB each, sending no checksum (request_checksum_calculation=when_required, unsigned payload:
what s3cmd, presigned PUTs and older SDKs send), so the server computes MD5 for the ETag and
the default CRC64NVME. The server's CPU (utime+stime from /proc) is divided by the MiB sent.
Builds alternate ROUNDS times; prints each run, then per build the median and its ratio to
the first build's.

usage: bench/s3/put_cost.py BIN [BIN ...] [--rounds 6] [--mib 32] [--count 12]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request

import boto3
import botocore.config

KEY_ID = 'AKIABENCHMARK0000001'
SECRET = 'bench-secret-key-000000000000000000000000'


def server_cpu_seconds(pid):
    fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def one_run(binary, body, count):
    work = tempfile.mkdtemp(prefix='imgbatch-put-cost.')
    port = 20000 + int.from_bytes(os.urandom(2), 'big') % 10000
    env = dict(os.environ, IMGBATCH_ACCESS_KEY_ID=KEY_ID, IMGBATCH_SECRET_ACCESS_KEY=SECRET)
    server = subprocess.Popen([binary, 'up', '--data-dir', work + '/data', '--listen',
                               f'127.0.0.1:{port}', '--max-workers', '0', '--log-level', 'warn'],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f'http://127.0.0.1:{port}'
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint + '/-/ready')
                break
            except OSError:
                time.sleep(0.1)
        s3 = boto3.client('s3', endpoint_url=endpoint, region_name='us-east-1',
                          aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                          config=botocore.config.Config(
                              request_checksum_calculation='when_required',
                              s3={'payload_signing_enabled': False}))
        s3.create_bucket(Bucket='bench')
        s3.put_object(Bucket='bench', Key='warm-up', Body=body)
        cpu_before, start = server_cpu_seconds(server.pid), time.monotonic()
        for i in range(count):
            s3.put_object(Bucket='bench', Key=f'object-{i}', Body=body)
        cpu = server_cpu_seconds(server.pid) - cpu_before
        mib = count * len(body) / (1 << 20)
        return 1e3 * cpu / mib, mib / (time.monotonic() - start)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('binaries', nargs='+')
    parser.add_argument('--rounds', type=int, default=6)
    parser.add_argument('--mib', type=int, default=32)
    parser.add_argument('--count', type=int, default=12)
    args = parser.parse_args()
    body = os.urandom(args.mib << 20)
    results = {b: [] for b in args.binaries}
    for round_ in range(args.rounds):
        for binary in args.binaries:
            ms_per_mib, mib_per_s = one_run(binary, body, args.count)
            results[binary].append(ms_per_mib)
            print(f'round {round_ + 1} {binary}: server {ms_per_mib:.2f} ms CPU per MiB, '
                  f'{mib_per_s:.0f} MiB/s', flush=True)
    first = statistics.median(results[args.binaries[0]])
    for binary, values in results.items():
        median = statistics.median(values)
        print(f'{binary}: median {median:.2f} ms CPU per MiB ({median / first:.2f}x the first)')


if __name__ == '__main__':
    main()
