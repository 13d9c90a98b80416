"""A server's memory as the benchmark's Python clients read it (idle.py, idle_h2.py)."""


def memory_kib(pids, field, source="status"):
    """`field` (such as VmRSS, VmHWM, or Pss with source smaps_rollup) summed over `pids`, in
    KiB: the sums count a page that processes share once per process, PSS splits it. A process
    gone meanwhile counts nothing (h2o starts a helper for OCSP stapling that ends soon)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/{source}") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total
