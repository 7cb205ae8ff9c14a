#!/bin/sh
# Records `aws s3 presign` URLs of both CLI generations for auth_test (awscli 1
# presigns with SigV2 for us-east-1, awscli 2 with SigV4). Nothing is sent.
#   sh src/auth/testdata/record_cli.sh src/auth/testdata/sdk
set -eu
out=$1
export AWS_ACCESS_KEY_ID=AKIAIMGBATCHSDKTEST1
export AWS_SECRET_ACCESS_KEY='sdk/test+secret0123456789abcdefghijklmn'
export AWS_DEFAULT_REGION=us-east-1
record() {  # name aws-binary
  url=$("$2" s3 presign "s3://input/photos/a b+c/x (1).jpg" --endpoint-url http://127.0.0.1:4566)
  rest=${url#http://127.0.0.1:4566}
  printf 'GET\n%s\n%s\nHost: 127.0.0.1:4566\n\n' "${rest%%\?*}" "${rest#*\?}" > "$out/$1_s3_presign.req"
}
record awscli-1 "$(command -v aws)"
record awscli-2 /usr/bin/aws
