#!/bin/bash
# Real full disk: build the tiny spec on a 1.5 MB tmpfs, then grow it and resume.
set -u
FB=${FB:-forgebench}
M=/tmp/fb_full
umount $M 2>/dev/null; mkdir -p $M
mount -t tmpfs -o size=${1:-1500k} tmpfs $M
$FB corpus build tiny -o $M/run; echo "exit=$?"
echo "--- after full disk:"; df -k $M | tail -1
find $M/run -name '*.partial*' | wc -l | xargs echo "partial files:"
ls $M/run; find $M/run -name '*.mp4' | wc -l | xargs echo "mp4 files:"
mount -o remount,size=50m $M
$FB corpus build tiny -o $M/run; echo "exit=$?"
find $M/run -name '*.partial*' | wc -l | xargs echo "partial files:"
rm -rf /tmp/fb_ref; $FB corpus build tiny -o /tmp/fb_ref >/dev/null 2>&1
cmp $M/run/manifest.parquet /tmp/fb_ref/manifest.parquet && echo "manifest identical to an uninterrupted build"
(cd $M/run && find clips -name '*.mp4' -exec sha256sum {} + | sort) > /tmp/a.txt
(cd /tmp/fb_ref && find clips -name '*.mp4' -exec sha256sum {} + | sort) > /tmp/b.txt
cmp /tmp/a.txt /tmp/b.txt && echo "clips identical ($(wc -l < /tmp/a.txt))"
umount $M
