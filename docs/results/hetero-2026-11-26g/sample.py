# Samples, every 20 ms, each gpups worker process in a gpups-*-worker* CPU group: per-thread run time
# (/proc/PID/task/TID/schedstat, ns) with thread names, and its group's cpu.stat. Writes JSON lines.
import os, sys, time, json, glob
out = open(sys.argv[1], "w")
CG = "/sys/fs/cgroup/cpu"
def groups():
    for g in glob.glob(CG + "/gpups-*-worker*") + glob.glob(CG + "/gpups-*-server*"):
        try:
            pids = [int(p) for p in open(g + "/cgroup.procs").read().split()]
        except OSError:
            continue
        yield os.path.basename(g), g, pids
end = time.time() + float(sys.argv[2])
while time.time() < end:
    t = time.time()
    for name, g, pids in groups():
        try:
            st = dict(l.split() for l in open(g + "/cpu.stat"))
        except OSError:
            continue
        th = {}
        for pid in pids:
            for task in glob.glob(f"/proc/{pid}/task/*"):
                try:
                    ns = int(open(task + "/schedstat").read().split()[0])
                    comm = open(task + "/comm").read().strip()
                except OSError:
                    continue
                th[os.path.basename(task)] = (comm, ns)
        out.write(json.dumps({"t": t, "g": name, "stat": st, "th": th}) + "\n")
    time.sleep(0.02)
