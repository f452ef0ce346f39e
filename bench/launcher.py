"""Starts the az processes a benchmark times, from a process of its own that stays small.

Linux reports a child's peak RSS (``wait4``'s ``ru_maxrss``) as at least the resident size of the process it was
forked from at the time: a benchmark that holds a generated tenant of 10,000 clusters would see its own size in
every az it starts. The benchmark starts this launcher before it generates anything; the launcher reads one JSON
request per line (args, env, cwd, stdout and stderr files, timeout) and answers with the wall time, CPU time, peak
RSS and exit status of that az process.
"""
import json
import os
import subprocess
import sys
import threading
import time


def run(request):
    with open(request["stdout"], "wb") as out, open(request["stderr"], "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(request["args"], env=request["env"], cwd=request["cwd"], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)
        timer = threading.Timer(request["timeout"], proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
    return {"wall": time.perf_counter() - started, "cpu": usage.ru_utime + usage.ru_stime,
            "rssMb": usage.ru_maxrss / 1024.0, "status": os.waitstatus_to_exitcode(status)}


class Launcher:
    """The benchmark's side: one launcher process, one request at a time."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.launcher"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def run(self, args, env, cwd, stdout, stderr, timeout):
        self.proc.stdin.write(json.dumps({"args": args, "env": env, "cwd": cwd, "stdout": stdout, "stderr": stderr,
                                          "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def main():
    for line in sys.stdin:
        print(json.dumps(run(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
