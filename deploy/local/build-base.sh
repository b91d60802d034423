#!/bin/sh
# A local stand-in for python:3.11-slim when the registry is unreachable: Debian bookworm
# (Python 3.11) from the Debian package mirror, imported as an image, with a virtualenv at
# /opt/python first on PATH so that `python` and `pip` are what the Dockerfiles expect.
#
#   deploy/local/build-base.sh [IMAGE]        # default upscaler-python:3.11-bookworm
#
# Needs root, debootstrap and a Docker engine. Does nothing when the image exists.
set -eu
IMAGE=${1:-upscaler-python:3.11-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
RAW=upscaler-debian:bookworm

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  exit 0
fi
if ! docker image inspect "$RAW" >/dev/null 2>&1; then
  rootfs=$(mktemp -d /var/tmp/upscaler-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  trap 'rm -rf "$rootfs"; exit 1' INT TERM
  echo "debootstrap bookworm from $MIRROR"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$MIRROR" >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import - "$RAW" >/dev/null
fi
# The virtualenv and PATH on top, built on the host network (no Docker bridge).
docker build -q --network host -t "$IMAGE" - >/dev/null 2>&1 <<DOCKERFILE
FROM $RAW
RUN python3 -m venv /opt/python
ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
CMD ["python3"]
DOCKERFILE
echo "base image $IMAGE ready"
