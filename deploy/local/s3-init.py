"""The test override's minio-init: the bucket on the local S3 server (moto), as
deploy/minio-init.sh makes it on MinIO. moto keeps no users, so there is no app user to
create; the app's keys are accepted as they are. Safe to run again."""

import os
import sys
import time

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError

endpoint = os.environ["S3_ENDPOINT_URL"]
bucket = os.environ["S3_BUCKET"]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=os.environ["S3_ACCESS_KEY"],
    aws_secret_access_key=os.environ["S3_SECRET_KEY"],
)
deadline = time.time() + 60
while True:
    try:
        s3.create_bucket(Bucket=bucket)
        break
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            break
        raise
    except EndpointConnectionError:
        if time.time() > deadline:
            sys.exit(f"no S3 server at {endpoint}")
        time.sleep(1)
print(f"bucket {bucket} ready at {endpoint}")
