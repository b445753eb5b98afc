"""huey_tasks.py: the Huey peer (BENCHMARKS.md, benchmark 7).

SqliteHuey at $HUEY_BENCH_DB; one task per trigger file: run /bin/true, move the file
from incoming/ to done/, append its name to the log (one line per execution, so
duplicates and losses can be counted). The consumer runs 2 worker threads:
    huey_consumer huey_tasks.huey -w 2 -k thread
"""

import os
import subprocess

from huey import SqliteHuey

huey = SqliteHuey(filename=os.environ["HUEY_BENCH_DB"], results=False)
ROOT = os.environ["HUEY_BENCH_ROOT"]


@huey.task()
def run_step(name):
    subprocess.run(["/bin/true"], check=True)
    os.rename(os.path.join(ROOT, "incoming", name), os.path.join(ROOT, "done", name))
    with open(os.path.join(ROOT, "log"), "a") as log:
        log.write(name + "\n")
