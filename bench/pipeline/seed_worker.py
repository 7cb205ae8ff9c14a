"""The seed's worker logic (its Docker task), for the pipeline benchmark: long
poll the queue for one message, parse the S3 event, download each object to
a temporary file, make resized/ (1024x768, q100) and thumbs/ (192x192, q75)
with Pillow as the seed does (bench/imaging/pillow_seed.py), upload both,
delete the message. One message at a time, one process per core.

Runs on Debian's python3-pil and python3-boto3. Environment: AWS_* keys,
ENDPOINT, QUEUE_URL, OUTPUT_BUCKET. Stops on SIGTERM after the current message.
"""
import json
import os
import signal
import sys
import tempfile
import urllib.parse

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "imaging"))
import pillow_seed  # noqa: E402  (the seed's image job)

stopping = False


def stop(*_):
    global stopping
    stopping = True


def main():
    signal.signal(signal.SIGTERM, stop)
    endpoint = os.environ["ENDPOINT"]
    queue_url = os.environ["QUEUE_URL"]
    output_bucket = os.environ["OUTPUT_BUCKET"]
    cfg = Config(s3={"addressing_style": "path"})
    s3 = boto3.client("s3", endpoint_url=endpoint, config=cfg)
    sqs = boto3.client("sqs", endpoint_url=endpoint, config=cfg)
    work = tempfile.mkdtemp(prefix="seed-worker-")
    for sub in ("resized", "thumbs"):
        os.makedirs(os.path.join(work, "out", sub), exist_ok=True)
    while not stopping:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1,
                                    WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            body = json.loads(message["Body"])
            for record in body.get("Records", []):
                bucket = record["s3"]["bucket"]["name"]
                key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
                name = os.path.basename(key)
                local = os.path.join(work, name)
                s3.download_file(bucket, key, local)
                pillow_seed.job(local, os.path.join(work, "out"))
                for sub in ("resized", "thumbs"):
                    s3.upload_file(os.path.join(work, "out", sub, name), output_bucket,
                                   f"{sub}/{key}")
                os.remove(local)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


if __name__ == "__main__":
    main()
