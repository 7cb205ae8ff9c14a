"""Records requests exactly as botocore signs them, for auth_test.

Run with each Python that has botocore (the vectors are named by its version):
    python3 src/auth/testdata/record_botocore.py src/auth/testdata/sdk
Nothing is sent: a before-send hook captures the prepared request and answers
with a canned response. File format (one request per file):
    method \\n path \\n query \\n "name: value" lines \\n empty line \\n body
"""
import io
import os
import sys
from urllib.parse import urlsplit

import boto3
import botocore
from botocore.awsrequest import AWSResponse

KEY_ID = "AKIAIMGBATCHSDKTEST1"
SECRET = "sdk/test+secret0123456789abcdefghijklmn"
ENDPOINT = "http://127.0.0.1:4566"


class _Raw(io.BytesIO):
    def stream(self, **_):
        yield self.getvalue()


def main(out_dir):
    tag = "botocore-" + botocore.__version__.split(".")[1]
    captured = {}

    def capture(request, **_):
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        captured["request"] = (request.method, request.url, dict(request.headers.items()),
                               body or b"")
        return AWSResponse(request.url, 500, {}, _Raw(b"<Error><Code>Stop</Code></Error>"))

    def client(service, signature_version=None, endpoint=ENDPOINT, addressing="path"):
        c = boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                         aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                         config=botocore.config.Config(retries={"max_attempts": 1},
                                                       signature_version=signature_version,
                                                       s3={"addressing_style": addressing}))
        c.meta.events.register("before-send", capture)
        return c

    def record(name, call):
        captured.clear()
        try:
            call()
        except Exception:
            pass
        if "request" not in captured:
            print("no request for", name, file=sys.stderr)
            return
        method, url, headers, body = captured["request"]
        parts = urlsplit(url)
        if not any(k.lower() == "host" for k in headers):
            headers["Host"] = parts.netloc  # what http.client will send
        lines = [method, parts.path, parts.query]
        for k, v in headers.items():
            if isinstance(v, bytes):
                v = v.decode()
            lines.append(f"{k}: {v}")
        data = ("\n".join(lines) + "\n\n").encode() + body
        with open(os.path.join(out_dir, f"{tag}_{name}.req"), "wb") as f:
            f.write(data)

    s3 = client("s3")
    sqs = client("sqs")
    key = "photos/a b+c/\u00e9t\u00e9 (1)~!.jpg"
    record("s3_put_object", lambda: s3.put_object(
        Bucket="input", Key=key, Body=b"hello world", ContentType="image/jpeg",
        Metadata={"origin": "camera 1"}))
    record("s3_put_object_crc32", lambda: s3.put_object(
        Bucket="input", Key="k.jpg", Body=b"x" * 1000, ChecksumAlgorithm="CRC32"))
    record("s3_put_object_stream", lambda: s3.put_object(
        Bucket="input", Key="stream.bin", Body=io.BytesIO(b"y" * 70000)))
    record("s3_get_range", lambda: s3.get_object(Bucket="input", Key=key, Range="bytes=0-9"))
    record("s3_list_v2", lambda: s3.list_objects_v2(
        Bucket="input", Prefix="a b+c/=&?", Delimiter="/", MaxKeys=5))
    record("s3_delete_objects", lambda: s3.delete_objects(
        Bucket="input", Delete={"Objects": [{"Key": "a"}, {"Key": "b c"}]}))
    record("s3_create_multipart", lambda: s3.create_multipart_upload(Bucket="input", Key=key))
    record("sqs_send_message", lambda: sqs.send_message(
        QueueUrl=ENDPOINT + "/000000000000/jobs", MessageBody="hello {\"json\": true} & more",
        MessageAttributes={"a": {"DataType": "String", "StringValue": "b"}}))
    record("sqs_receive_message", lambda: sqs.receive_message(
        QueueUrl=ENDPOINT + "/000000000000/jobs", MaxNumberOfMessages=10, WaitTimeSeconds=20))

    # SigV2 ("s3"): what s3cmd with signature_v2 and old setups send.
    s3v2 = client("s3", "s3")
    record("s3v2_put_object", lambda: s3v2.put_object(
        Bucket="input", Key=key, Body=b"hello world", ContentType="image/jpeg",
        Metadata={"origin": "camera 1"}))
    if int(botocore.__version__.split(".")[1]) >= 30:
        # botocore 1.29 signs "/input?uploads?uploads" here (its own bug: AWS
        # rejects it too), so only newer versions give a valid vector.
        record("s3v2_list_uploads", lambda: s3v2.list_multipart_uploads(Bucket="input"))

    # Virtual-host style (<bucket>.localhost), SigV2 signs the bucket in its resource.
    s3v2_vhost = client("s3", "s3", "http://localhost:4566", "virtual")
    record("s3v2vhost_get_object", lambda: s3v2_vhost.get_object(Bucket="input", Key=key))
    if int(botocore.__version__.split(".")[1]) >= 30:  # same 1.29 bug as above
        record("s3v2vhost_list_uploads",
               lambda: s3v2_vhost.list_multipart_uploads(Bucket="input"))
    record("s3vhost_get_object", lambda: client("s3", None, "http://localhost:4566", "virtual")
           .get_object(Bucket="input", Key=key))

    def presign(name, c, params):
        url = c.generate_presigned_url("get_object", Params=params, ExpiresIn=3600)
        parts = urlsplit(url)
        with open(os.path.join(out_dir, f"{tag}_{name}.req"), "wb") as f:
            f.write(f"GET\n{parts.path}\n{parts.query}\nHost: {parts.netloc}\n\n".encode())

    # The default for us-east-1 presigned URLs is SigV2 (so is `aws s3 presign`).
    presign("s3_presigned_get", s3, {"Bucket": "input", "Key": key})
    presign("s3_presigned_get_override", s3, {"Bucket": "input", "Key": key,
                                              "ResponseContentType": "text/plain; a=b"})
    presign("s3v4_presigned_get", client("s3", "s3v4"), {"Bucket": "input", "Key": key})


if __name__ == "__main__":
    main(sys.argv[1])
