"""huey_produce.py: the Huey peer's producer: drops N trigger files and enqueues one
task per file. Prints the wall time (µs) of the first drop.
    HUEY_BENCH_DB=... HUEY_BENCH_ROOT=... python3 huey_produce.py N [PREFIX]
"""

import os
import sys
import time

from huey_tasks import ROOT, run_step

count = int(sys.argv[1])
prefix = sys.argv[2] if len(sys.argv) > 2 else "f"
incoming = os.path.join(ROOT, "incoming")
first = None
for index in range(count):
    name = f"{prefix}{index:05d}"
    temporary = os.path.join(incoming, "." + name)
    with open(temporary, "wb") as f:
        f.write(b"x\n")
    stamp = time.time_ns() // 1000
    os.rename(temporary, os.path.join(incoming, name))
    run_step(name)
    first = first or stamp
print(first)
