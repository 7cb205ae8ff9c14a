"""Writes the body of one browser-based POST upload (a SigV4 form from
generate_presigned_post, key post/${filename}, then SIZE bytes of file) and
prints its Content-Type. The same form can be sent again and again until it
expires: each send overwrites post/<filename>.

usage: post_form.py ENDPOINT BUCKET SIZE OUT
"""
import os
import sys

import boto3
from botocore.config import Config
import urllib3

endpoint, bucket, size, out = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                  aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                  config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
post = s3.generate_presigned_post(bucket, "post/${filename}", ExpiresIn=3600)
fields = dict(post["fields"], file=("photo.jpg", os.urandom(int(size)), "image/jpeg"))
body, content_type = urllib3.encode_multipart_formdata(fields)
with open(out, "wb") as f:
    f.write(body)
print(content_type)
