#!/bin/sh
# incron-step.sh: the incron peer's "workflow" (BENCHMARKS.md, benchmark 7).
#   incron-step.sh INCOMING_DIR NAME DONE_DIR LOG
# Runs the step (/bin/true), moves the trigger file to DONE_DIR and appends NAME to LOG
# (one line per invocation, so duplicates and losses can be counted).
/bin/true || exit 1
mv "$1/$2" "$3/$2" || exit 1
echo "$2" >> "$4"
