#!/bin/bash
# forgebench run on a small tmpfs: stops with one line, resumes once the disk is grown.
FB=${FB:-forgebench}
M=/tmp/fb_full; umount $M 2>/dev/null; mkdir -p $M
mount -t tmpfs -o size=$1 tmpfs $M
$FB run tiny -o $M/run 2>&1 | tr '\r' '\n' | grep "error\|Traceback\|^[A-Za-z]*Error" ; echo "exit=${PIPESTATUS[0]}"
find $M/run -name '*.partial*' | wc -l | xargs echo "partial files:"
python3 -c "import json;d=json.load(open('$M/run/run.json'));print({k:v['status'][:60] for k,v in d['stages'].items()})" 2>&1 | tail -1
mount -o remount,size=50m $M
$FB run tiny -o $M/run > /dev/null 2>&1; echo "resume exit=$?"
python3 -c "import json;d=json.load(open('$M/run/run.json'));print({k:v['status'][:40] for k,v in d['stages'].items()})"
cmp $M/run/results.csv /tmp/fb_tinyrun/results.csv && echo "results.csv identical to an uninterrupted run"
umount $M
