#!/bin/sh
# One-shot MinIO setup for docker-compose.yml (run by the `minio-init` service with the
# minio/mc image): the bucket, and an app user whose policy only reaches that bucket, so
# the platform never holds the MinIO root credentials. Safe to run again.
set -eu

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$S3_BUCKET"

cat > /tmp/upscaler-policy.json <<POLICY
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
      "Resource": ["arn:aws:s3:::$S3_BUCKET"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
      "Resource": ["arn:aws:s3:::$S3_BUCKET/*"]
    }
  ]
}
POLICY
mc admin policy create local upscaler-app /tmp/upscaler-policy.json
mc admin user add local "$S3_ACCESS_KEY" "$S3_SECRET_KEY"
# Attaching a policy that is already attached is an error in mc; that is fine on a rerun.
mc admin policy attach local upscaler-app --user "$S3_ACCESS_KEY" 2>/dev/null || true
mc admin user info local "$S3_ACCESS_KEY" | grep -q upscaler-app
echo "bucket $S3_BUCKET and user $S3_ACCESS_KEY ready"
