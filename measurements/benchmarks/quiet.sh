#!/bin/bash
# Quiet-machine measurements for the closing note (run when no helper is busy).
FB=${FB:-forgebench}
mkdir -p scratch/lead7 && cd scratch/lead7
uptime > quiet.log
for m in procedural diffusion; do
  $FB bench generate --seconds 10 --motion $m -o gen_$m.json 2>&1 | grep -v "W0000\|XNN\|absl" >> quiet.log
done
uptime >> quiet.log
$FB bench corpus --clips 40 --sizes 256 512 --json corpus.json 2>&1 | grep -v "W0000\|XNN\|absl\|nanny" >> quiet.log
uptime >> quiet.log
