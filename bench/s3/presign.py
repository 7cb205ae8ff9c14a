"""Writes presigned URL paths (path + query, one per line) for the S3 benchmark.

usage: presign.py ENDPOINT BUCKET METHOD PREFIX COUNT OUT
"""
import sys

import boto3
from botocore.config import Config

endpoint, bucket, method, prefix, count, out = sys.argv[1:7]
import os
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                  aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                  config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
op = {"GET": "get_object", "PUT": "put_object"}[method]
with open(out, "w") as f:
    for i in range(int(count)):
        url = s3.generate_presigned_url(op, Params={"Bucket": bucket, "Key": f"{prefix}{i}"},
                                        ExpiresIn=3600)
        f.write(url[len(endpoint):] + "\n")
