#!/usr/bin/env bash
# The README quick start three times: quiet, beside two busy loops, beside a process multiplying matrices on both cores.
cd "$(dirname "$0")/.." && . .venv/bin/activate
OUT=${OUT:-bench-data/quickstart}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
run() {
  name=$1
  rm -rf $OUT/$name; mkdir -p $OUT/$name
  echo "== $name: load before $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -f "%e s" advisor recommend --catalog offline --policy default --dataset data/rt-reviews-plots --model all-MiniLM-L6-v2 --model wordllama-l2-supercat-256 --model tokenlearn-static-64 --out $OUT/$name/report --store $OUT/$name/results.sqlite > $OUT/$name/out.txt 2> $OUT/$name/err.txt
  tail -1 $OUT/$name/err.txt
  echo "   load after $(cut -d' ' -f1-3 /proc/loadavg)"
  advisor runs show --store $OUT/$name/results.sqlite | grep -A5 "cost cells"
  head -c 600 $OUT/$name/report/report.md | sed -n 3p
}
run quiet
python -c "
import time
end=time.time()+400
while time.time()<end: pass" & B1=$!
python -c "
import time
end=time.time()+400
while time.time()<end: pass" & B2=$!
sleep 3
run busyloops
kill $B1 $B2; wait $B1 $B2 2>/dev/null
python -c "
import torch, time
torch.set_num_threads(2)
a=torch.randn(2048,2048); b=torch.randn(2048,2048)
end=time.time()+400
while time.time()<end: a@b" & M=$!
sleep 3
run matmul
kill $M; wait $M 2>/dev/null
echo done
