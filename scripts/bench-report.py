#!/usr/bin/python3
"""Report of a benchmark run (scripts/bench.sh).

    scripts/bench-report.py RESULTS OUT

RESULTS is the run's results directory (the guests' share): CONFIG/
WORKLOAD.json (fio JSON, one job per repeat), CONFIG/WORKLOAD.status,
CONFIG/setup.txt, extra/*.txt (KEY VALUE lines), profile/*.txt,
failures.txt, meta.env, and scale/ (the same layout: the scaling run's
configurations, guest.txt with its CPU count). OUT gets:

    results.json   every figure: per configuration and workload the
                   repeats' IOPS, bandwidth, p50/p99/p99.9 completion
                   latency, their medians, ratios; the extra measurements;
                   "scale": the scaling run's figures and factors
    results.md     tables: ratios against dm-linear and the matching peer,
                   absolute figures, CPU scaling, memory, resync, replay,
                   profile
    iops.png       IOPS per configuration, one panel per workload
    p99.png        p99 completion latency per configuration
    profile/       the perf reports, trimmed

Ratios are medians of the repeats, taken within the one run; absolute
figures under QEMU TCG mean little. Never fails on a figure.
"""
import json
import os
import re
import shutil
import statistics
import sys

CONFIG_ORDER = ["raw", "linear", "mirror", "drbd-c", "drbd-a", "repl-sync", "repl-sync-ram", "repl-sync-net",
                "repl-sync-net-ram",
                "repl-async1", "repl-async2", "repl-async4", "repl-async-net", "repl-fallbehind"]
LABELS = {
    "raw": "RAM disk (brd)",
    "linear": "dm-linear",
    "mirror": "dm-mirror, 2 legs, core log",
    "drbd-c": "DRBD protocol C (net)",
    "drbd-a": "DRBD protocol A (net)",
    "repl-sync": "replicator sync, 1 slink (RAM)",
    "repl-sync-ram": "replicator sync ram, 1 slink (RAM)",
    "repl-sync-net": "replicator sync, 1 slink (NBD)",
    "repl-sync-net-ram": "replicator sync ram, 1 slink (NBD)",
    "repl-async1": "replicator async, 1 slink (RAM)",
    "repl-async2": "replicator async, 2 slinks (RAM)",
    "repl-async4": "replicator async, 4 slinks (RAM)",
    "repl-async-net": "replicator async, 1 slink (NBD)",
    "repl-fallbehind": "replicator async, ios 8 limit reached (RAM)",
}
# The in-kernel or DRBD configuration each replicator configuration is
# compared with: same synchrony, same place of the remote copy.
PEERS = {
    "repl-sync": "mirror",
    "repl-sync-ram": "mirror",
    "repl-sync-net": "drbd-c",
    "repl-async-net": "drbd-a",
}
WORKLOAD_ORDER = ["randwrite-qd1", "randwrite-qd32", "randwrite-qd32-4j", "randrw70-qd32", "seqwrite-1m-qd8"]
WORKLOAD_LABELS = {
    "randwrite-qd1": "4k randwrite QD1",
    "randwrite-qd32": "4k randwrite QD32",
    "randwrite-qd32-4j": "4k randwrite QD32 x4 jobs",
    "randrw70-qd32": "4k randrw 70/30 QD32",
    "seqwrite-1m-qd8": "1M seqwrite QD8",
}
PCTS = {"p50": "50.000000", "p99": "99.000000", "p99.9": "99.900000"}


def read_kv(path):
    """KEY VALUE lines (first word, rest of the line)."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                k, _, v = line.partition(" ")
                out[k] = v.strip()
    except OSError:
        pass
    return out


def num(v, default=None):
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def load_fio(path):
    """Per repeat: IOPS, bandwidth and completion latency percentiles."""
    with open(path) as f:
        text = f.read()
    # fio may print notes before the JSON.
    text = text[text.index("{"):]
    data = json.loads(text)
    reps = []
    for job in data.get("jobs", []):
        rep = {"job": job.get("jobname"), "errors": job.get("error", 0)}
        total_iops = 0.0
        total_bw = 0.0
        for d in ("read", "write"):
            s = job.get(d, {})
            iops = s.get("iops", 0.0) or 0.0
            bw = (s.get("bw_bytes") or s.get("bw", 0) * 1024) or 0
            if s.get("total_ios", 0) == 0 and iops == 0:
                continue
            total_iops += iops
            total_bw += bw
            pct = s.get("clat_ns", {}).get("percentile", {})
            rep[d] = {"iops": iops, "bw_bytes": bw, "clat_mean_us": s.get("clat_ns", {}).get("mean", 0) / 1000.0}
            for k, key in PCTS.items():
                rep[d][k + "_us"] = pct.get(key, 0) / 1000.0 if key in pct else None
        rep["iops"] = total_iops
        rep["bw_bytes"] = total_bw
        reps.append(rep)
    return reps


def summarise(reps):
    s = {"repeats": len(reps)}
    s["iops"] = med([r["iops"] for r in reps])
    s["bw_bytes"] = med([r["bw_bytes"] for r in reps])
    iops = [r["iops"] for r in reps]
    if len(iops) > 1 and s["iops"]:
        s["iops_spread"] = (max(iops) - min(iops)) / s["iops"]
    for d in ("write", "read"):
        ds = [r[d] for r in reps if d in r]
        if not ds:
            continue
        s[d] = {"iops": med([x["iops"] for x in ds])}
        for k in list(PCTS) + ["clat_mean"]:
            s[d][k + "_us"] = med([x.get(k + "_us") for x in ds])
    # The headline latency: writes (what replication changes).
    main = s.get("write") or s.get("read") or {}
    for k in PCTS:
        s[k + "_us"] = main.get(k + "_us")
    return s


def parse_repl_status(text):
    """Log counters of the replicator line of a dmsetup status dump."""
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"repl: \d+ \d+ replicator (.*)", line)
        if not m:
            continue
        t = m.group(1).split()
        try:
            n = int(t[2])
            i = 3 + 2 * n
            nargs = int(t[i])
            if nargs >= 8:
                entries, flushes = int(t[i + 5]), int(t[i + 6])
                return {"entries": entries, "flushes": flushes,
                        "checkpoints": int(t[i + 7]), "full_waits": int(t[i + 8]),
                        "entries_per_flush": entries / flushes if flushes else None}
        except (IndexError, ValueError):
            return None
    return None


def load_status(path):
    out = {}
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return out
    log = parse_repl_status(text)
    if log:
        out["log"] = log
    for line in text.splitlines():
        for k in ("fallbehind_enforced", "gave_up", "settle"):
            if line.startswith(k + " "):
                v = line[len(k) + 1:].strip()
                out[k] = int(v) if v.isdigit() else v
    return out


def memory_figures(kv):
    def d(a, b, k):
        x, y = num(kv.get(f"{a}.{k}")), num(kv.get(f"{b}.{k}"))
        return None if x is None or y is None else x - y
    if not kv:
        return None
    keys = ["slab_active_bytes", "Slab", "SUnreclaim", "VmallocUsed", "MemFree"]
    m = {"raw": kv}
    m["replicator_fixed"] = {k: d("replicator", "base", k) for k in keys}
    m["per_gib_device"] = {k: (lambda v: None if v is None else v / 15.0)(d("dev16g", "dev1g", k)) for k in keys}
    m["first_gib_device"] = {k: d("dev1g", "replicator", k) for k in keys}
    ent = num(kv.get("outstanding_entries"))
    m["outstanding_entries"] = ent
    m["per_outstanding_entry"] = {k: (None if not ent or d("outstanding", "idle", k) is None
                                      else d("outstanding", "idle", k) / ent) for k in keys}
    m["after_drain"] = {k: d("drained", "idle", k) for k in keys}
    m["region_sectors"] = num(kv.get("region_sectors"))
    return m


def fmt(v, digits=2, unit=""):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}{unit}"
    if abs(v) >= 100:
        return f"{v:.0f}{unit}"
    return f"{v:.{digits}f}{unit}"


def fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}"


def fmt_bytes(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1 << 20:
        return f"{v / (1 << 20):.1f} MiB"
    if a >= 1 << 10:
        return f"{v / 1024:.1f} KiB"
    return f"{v:.0f} B"


def trim_profile(src, dst, lines=60):
    """The perf report without its comment header, first LINES lines."""
    try:
        with open(src) as f:
            body = [l for l in f if not l.startswith("#") and l.strip()]
    except OSError:
        return None
    with open(dst, "w") as f:
        f.writelines(body[:lines])
    return body


def top_symbols(body, n=15):
    """(percent, dso, symbol) of a '--sort dso,sym' flat report."""
    out = []
    for l in body or []:
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*\S)", l)
        if m:
            out.append((float(m.group(1)), m.group(2), m.group(3)))
        if len(out) >= n:
            break
    return out


def plots(res, configs, workloads, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench-report: no matplotlib (scripts/deps.sh bench): no plots", file=sys.stderr)
        return []
    made = []
    for key, fname, title, xlabel in (
            ("iops", "iops.png", "IOPS (median of repeats; higher is better)", "IOPS"),
            ("p99_us", "p99.png", "p99 write completion latency (lower is better)", "µs")):
        fig, axes = plt.subplots(1, len(workloads), figsize=(3.3 * len(workloads), 0.38 * len(configs) + 1.8),
                                 sharey=True, squeeze=False)
        for ax, w in zip(axes[0], workloads):
            vals = [(res[c]["workloads"].get(w) or {}).get(key) for c in configs]
            ys = range(len(configs))
            colors = ["#888888" if c in ("raw", "linear") else "#4c72b0" if c.startswith("repl") else "#dd8452"
                      for c in configs]
            ax.barh(list(ys), [v or 0 for v in vals], color=colors)
            lin = (res.get("linear", {}).get("workloads", {}).get(w) or {}).get(key)
            for y, v in zip(ys, vals):
                if v is None:
                    ax.text(0, y, " n/a", va="center", fontsize=7)
                elif lin:
                    ax.text(v, y, f" {v / lin:.2f}x", va="center", fontsize=7)
            ax.set_title(WORKLOAD_LABELS.get(w, w), fontsize=9)
            ax.set_xlabel(xlabel, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.margins(x=0.25)
            ax.invert_yaxis()
        axes[0][0].set_yticks(range(len(configs)))
        axes[0][0].set_yticklabels([LABELS.get(c, c) for c in configs])
        fig.suptitle(title + "; labels: ratio to dm-linear", fontsize=10)
        fig.tight_layout()
        fig.savefig(os.path.join(out, fname), dpi=110)
        plt.close(fig)
        made.append(fname)
    return made


def read_lines(path):
    """The non-empty lines of a file, stripped ([] if unreadable)."""
    try:
        with open(path) as f:
            return [l.strip() for l in f if l.strip()]
    except OSError:
        return []


def load_configs(src, failures):
    """The configurations of a results directory: (configs, res, workloads),
    res[CONFIG] with its label, setup lines and per workload the summary
    of its repeats. Unreadable fio output is added to failures."""
    present = [d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d))
               and d not in ("extra", "profile", "scale") and not d.startswith(("profile-", "resync-", "memory"))]
    configs = [c for c in CONFIG_ORDER if c in present] + sorted(c for c in present if c not in CONFIG_ORDER)
    res = {}
    seen_w = set()
    for c in configs:
        d = os.path.join(src, c)
        entry = {"label": LABELS.get(c, c), "setup": [], "workloads": {}}
        try:
            with open(os.path.join(d, "setup.txt")) as f:
                entry["setup"] = [l.rstrip("\n") for l in f if l.strip()]
        except OSError:
            pass
        for fn in sorted(os.listdir(d)):
            if not fn.endswith(".json"):
                continue
            w = fn[:-5]
            try:
                reps = load_fio(os.path.join(d, fn))
            except (ValueError, OSError) as e:
                failures.append(f"{c} {w}: unreadable fio output ({e})")
                continue
            if not reps:
                continue
            s = summarise(reps)
            s["runs"] = reps
            s["status"] = load_status(os.path.join(d, w + ".status"))
            entry["workloads"][w] = s
            seen_w.add(w)
        res[c] = entry
    workloads = [w for w in WORKLOAD_ORDER if w in seen_w] + sorted(w for w in seen_w if w not in WORKLOAD_ORDER)
    return configs, res, workloads


def guest_cpus(text):
    """The CPU count of a guest.txt line ("N CPU, ...")."""
    m = re.match(r"\s*(\d+) CPU", text or "")
    return int(m.group(1)) if m else None


def scaling(src, meta, res, failures):
    """The scaling run (SRC/scale/, fewer CPUs) against the main run: per
    configuration and workload both IOPS medians, the factor main/scale
    and that factor over dm-linear's. None without a scaling run."""
    sdir = os.path.join(src, "scale")
    if not os.path.isdir(sdir):
        return None
    sfail = read_lines(os.path.join(sdir, "failures.txt"))
    configs, sres, workloads = load_configs(sdir, sfail)
    guest = " ".join(read_lines(os.path.join(sdir, "guest.txt"))) or None
    cpus = guest_cpus(guest) or num(meta.get("scale_smp"))
    main_cpus = guest_cpus(meta.get("guest")) or num(meta.get("guest_smp"))
    failures.extend(f"scale ({fmt(cpus, 0)} CPU): {x}" for x in sfail)
    # What was asked for (meta.env) first: a configuration or workload
    # that left no results still gets its row.
    configs = list(dict.fromkeys(meta.get("scale_configs", "").split() + configs))
    workloads = list(dict.fromkeys(meta.get("scale_workloads", "").split() + workloads))

    def iops(r, c, w):
        return ((r.get(c) or {}).get("workloads", {}).get(w) or {}).get("iops")
    rows = {}
    for c in configs:
        for w in workloads:
            few, many = iops(sres, c, w), iops(res, c, w)
            factor = ratio(many, few)
            lin = ratio(iops(res, "linear", w), iops(sres, "linear", w))
            rows.setdefault(c, {})[w] = {"iops_scale": few, "iops_main": many, "factor": factor,
                                         "factor_vs_linear": ratio(factor, lin)}
    return {"cpus": cpus, "main_cpus": main_cpus, "guest": guest, "workloads": workloads,
            "scaling": rows, "configurations": sres}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    meta = read_kv_env(os.path.join(src, "meta.env"))
    failures = read_lines(os.path.join(src, "failures.txt"))
    configs, res, workloads = load_configs(src, failures)

    # Ratios.
    for c in configs:
        for w, s in res[c]["workloads"].items():
            lin = res.get("linear", {}).get("workloads", {}).get(w)
            s["vs_linear"] = {"iops": ratio(s["iops"], lin and lin["iops"]),
                              "p99": ratio(s.get("p99_us"), lin and lin.get("p99_us"))}
            p = PEERS.get(c)
            ps = res.get(p, {}).get("workloads", {}).get(w) if p else None
            if p:
                s["vs_peer"] = {"peer": p, "iops": ratio(s["iops"], ps and ps["iops"]),
                                "p99": ratio(s.get("p99_us"), ps and ps.get("p99_us"))}

    extra_dir = os.path.join(src, "extra")
    extra = {}
    mem = memory_figures(read_kv(os.path.join(extra_dir, "memory.txt")))
    if mem:
        extra["memory"] = mem
    resync = {}
    for name in ("local", "net", "drbd"):
        kv = read_kv(os.path.join(extra_dir, f"resync-{name}.txt"))
        if not kv:
            continue
        b, t = num(kv.get("bytes")), num(kv.get("secs"))
        resync[name] = {"raw": kv, "bytes": b, "secs": t,
                        "mib_per_s": (b / t / (1 << 20)) if b and t else None,
                        "settled": kv.get("settle", "").startswith("ok")}
    if resync:
        extra["resync"] = resync
    replay = {}
    for fn in sorted(os.listdir(extra_dir)) if os.path.isdir(extra_dir) else []:
        m = re.match(r"replay-(.+)\.txt$", fn)
        if not m:
            continue
        kv = read_kv(os.path.join(extra_dir, fn))
        used = num(kv.get("ring_used_sectors"))
        rs, os_ = num(kv.get("replay_secs")), num(kv.get("open_secs"))
        gib = used * 512 / (1 << 30) if used else None
        replay[m.group(1)] = {"raw": kv, "log_gib": gib, "entries": num(kv.get("entries")),
                              "open_secs": os_, "replay_secs": rs,
                              "open_secs_per_gib": os_ / gib if gib and os_ is not None else None,
                              "replay_secs_per_gib": rs / gib if gib and rs is not None else None,
                              "total_secs_per_gib": (rs + os_) / gib if gib and rs is not None and os_ is not None else None}
    if replay:
        extra["replay"] = replay

    prof = {}
    pdir = os.path.join(src, "profile")
    shutil.rmtree(os.path.join(out, "profile"), ignore_errors=True)
    if os.path.isdir(pdir):
        os.makedirs(os.path.join(out, "profile"), exist_ok=True)
        for fn in sorted(os.listdir(pdir)):
            if fn.endswith(".txt"):
                body = trim_profile(os.path.join(pdir, fn), os.path.join(out, "profile", fn),
                                    lines=400 if "callers" in fn else 80)
                if fn.endswith("-flat.txt"):
                    prof[fn[:-9]] = top_symbols(body, 25)
            elif fn.endswith(".json"):
                try:
                    reps = load_fio(os.path.join(pdir, fn))
                    prof.setdefault("_fio", {})[fn[:-5]] = summarise(reps) if reps else None
                except (ValueError, OSError):
                    pass
    if prof:
        extra["profile"] = prof

    scale = scaling(src, meta, res, failures)
    doc = {"meta": meta, "failures": failures, "peers": PEERS, "workloads": workloads,
           "configurations": res, "extra": extra}
    if scale:
        doc["scale"] = scale
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    pngs = plots(res, configs, workloads, out) if configs and workloads else []
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown(doc, configs, workloads, pngs))
    print(f"bench-report: {len(configs)} configurations, {len(workloads)} workloads -> {out}")


def read_kv_env(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k, sep, v = line.rstrip("\n").partition("=")
                if sep:
                    out[k] = v
    except OSError:
        pass
    return out


def markdown(doc, configs, workloads, pngs):
    meta, res, extra = doc["meta"], doc["configurations"], doc["extra"]
    L = []
    quick = meta.get("quick") == "1"
    L.append("# dm-replicator benchmark results" + (" (QUICK run)" if quick else ""))
    L.append("")
    L.append(f"Run {meta.get('date', '?')}: guest kernel {meta.get('kernel', '?')} (release), "
             f"guests {meta.get('guest', '?')} (CPUs, memory), QEMU {meta.get('accel', 'tcg').upper()} "
             f"({meta.get('qemu', '?')}), host {meta.get('host_cores', '?')} cores "
             f"({meta.get('host_cpu', '?')}), {meta.get('host_os', '?')}; {meta.get('fio', 'fio')}, "
             f"libaio, direct I/O, {meta.get('repeats', '?')} x {meta.get('runtime', '?')} s per workload "
             f"after {meta.get('ramp', '?')} s ramp; 16 MiB of each device. Host load before/after: "
             f"{meta.get('host_load_before', '?')} / {meta.get('host_load_after', '?')}, "
             f"other QEMUs at the start: {meta.get('other_qemus_before', '?')}; run took {meta.get('run_secs', '?')} s. "
             f"Guest clock: TSC at {meta.get('tsc_khz', '?')} kHz (the host's), guest seconds per host second "
             f"over the fio part: {meta.get('guest_clock_rate', '?')}.")
    L.append("")
    L.append("Absolute figures under TCG mean little; ratios within this run do. "
             "Medians of the repeats. `-`: not measured (see failures).")
    L.append("")
    if doc["failures"]:
        L.append("Not measured / failures:")
        L.append("")
        for x in doc["failures"]:
            L.append(f"- {x}")
        L.append("")

    def table(title, key, what):
        L.append(f"## {title}")
        L.append("")
        L.append("| configuration | " + " | ".join(WORKLOAD_LABELS.get(w, w) for w in workloads) + " |")
        L.append("| --- |" + " ---: |" * len(workloads))
        for c in configs:
            cells = []
            for w in workloads:
                s = res[c]["workloads"].get(w)
                cells.append(fmt_ratio(s and s.get(what, {}).get(key)))
            L.append(f"| {LABELS.get(c, c)} | " + " | ".join(cells) + " |")
        L.append("")

    table("IOPS relative to dm-linear (higher is better)", "iops", "vs_linear")
    table("p99 write completion latency relative to dm-linear (lower is better)", "p99", "vs_linear")

    L.append("## Against the matching peer")
    L.append("")
    L.append("IOPS ratio / p99 latency ratio of the replicator configuration to its peer: synchronous to a "
             "local RAM disk against dm-mirror, synchronous over the network against DRBD protocol C, "
             "asynchronous over the network against DRBD protocol A (both peers' remote is the DR guest's "
             "RAM disk: NBD for the replicator, DRBD's own protocol for DRBD).")
    L.append("")
    L.append("| replicator | peer | " + " | ".join(WORKLOAD_LABELS.get(w, w) for w in workloads) + " |")
    L.append("| --- | --- |" + " ---: |" * len(workloads))
    for c, p in PEERS.items():
        if c not in res:
            continue
        cells = []
        for w in workloads:
            s = res[c]["workloads"].get(w) or {}
            v = s.get("vs_peer") or {}
            cells.append(f"{fmt_ratio(v.get('iops'))} / {fmt_ratio(v.get('p99'))}")
        L.append(f"| {LABELS.get(c, c)} | {LABELS.get(p, p)} | " + " | ".join(cells) + " |")
    L.append("")

    L.append("## Absolute figures")
    L.append("")
    L.append("IOPS (read+write), MiB/s, write completion latency p50 / p99 / p99.9 in µs "
             "(randrw: writes; reads in results.json), spread = (max-min)/median of the repeats' IOPS.")
    L.append("")
    L.append("| configuration | workload | IOPS | MiB/s | p50 | p99 | p99.9 | spread | log entries/flush |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c in configs:
        for w in workloads:
            s = res[c]["workloads"].get(w)
            if not s:
                L.append(f"| {LABELS.get(c, c)} | {WORKLOAD_LABELS.get(w, w)} | - | - | - | - | - | - | - |")
                continue
            lg = (s.get("status") or {}).get("log") or {}
            epf = lg.get("entries_per_flush")
            L.append(f"| {LABELS.get(c, c)} | {WORKLOAD_LABELS.get(w, w)} | {fmt(s['iops'], 0)} | "
                     f"{fmt(s['bw_bytes'] / (1 << 20) if s['bw_bytes'] else None, 1)} | {fmt(s.get('p50_us'), 0)} | "
                     f"{fmt(s.get('p99_us'), 0)} | {fmt(s.get('p99.9_us'), 0)} | "
                     f"{'-' if s.get('iops_spread') is None else '%.0f%%' % (100 * s['iops_spread'])} | "
                     f"{'-' if epf is None else f'{epf:.1f}'} |")
    L.append("")
    fb = res.get("repl-fallbehind", {}).get("workloads", {})
    if fb:
        L.append("Fall-behind limit (`ios 8`) enforced per workload (kernel log `enforcing fallbehind`): " +
                 ", ".join(f"{WORKLOAD_LABELS.get(w, w)} {fb[w].get('status', {}).get('fallbehind_enforced', '?')}"
                           for w in workloads if w in fb) + ".")
        L.append("")
    net = [(c, w, s["status"].get("settle")) for c in configs for w, s in res[c]["workloads"].items()
           if isinstance(s.get("status", {}).get("settle"), str) and s["status"]["settle"].startswith("timeout")]
    if net:
        L.append("Remote copies still behind when the next workload started (settle timeout): " +
                 ", ".join(f"{c} after {w}" for c, w, _ in net) + ".")
        L.append("")

    sc = doc.get("scale")
    if sc:
        def cpus(n):
            return "? CPUs" if n is None else f"{n:.0f} CPU" + ("" if n == 1 else "s")
        one, many = cpus(sc["cpus"]), cpus(sc["main_cpus"])
        L.append("## CPU scaling")
        L.append("")
        L.append(f"The same configurations and workloads in a boot of the primary alone with {one} "
                 f"(no DR guest; guest {sc.get('guest') or '?'}) and in the run above with {many}: "
                 f"IOPS (medians of the repeats), factor = IOPS with {many} / IOPS with {one}, and that "
                 "factor divided by dm-linear's (1.00 or more: scales at least as well as dm-linear).")
        L.append("")
        L.append(f"| configuration | workload | IOPS, {one} | IOPS, {many} | factor | factor / dm-linear's |")
        L.append("| --- | --- | ---: | ---: | ---: | ---: |")
        for c, ws in sc["scaling"].items():
            for w in sc["workloads"]:
                v = ws.get(w) or {}
                L.append(f"| {LABELS.get(c, c)} | {WORKLOAD_LABELS.get(w, w)} | {fmt(v.get('iops_scale'), 0)} | "
                         f"{fmt(v.get('iops_main'), 0)} | {fmt_ratio(v.get('factor'))} | "
                         f"{fmt_ratio(v.get('factor_vs_linear'))} |")
        L.append("")

    mem = extra.get("memory")
    if mem:
        L.append("## Module memory")
        L.append("")
        L.append("From `/proc/slabinfo` (active objects x object size, all caches) and `/proc/meminfo`, "
                 "page cache dropped before each reading, median of three. A replicator with a 32 MiB log on dm-zero; replicated "
                 "devices of 1 and 16 GiB on dm-zero (local and remote, core dirty log of "
                 f"{fmt_bytes((mem.get('region_sectors') or 0) * 512)} regions); outstanding entries: "
                 "4 KiB writes while the remote is suspended.")
        L.append("")
        L.append("| what | slab (slabinfo) | Slab | SUnreclaim | VmallocUsed | MemFree drop |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        for k, label in (("replicator_fixed", "one replicator (log open, 2 slinks)"),
                         ("first_gib_device", "first replicator-dev (1 GiB)"),
                         ("per_gib_device", "per further GiB of replicated device"),
                         ("per_outstanding_entry", f"per outstanding entry ({fmt(mem.get('outstanding_entries'), 0)} entries)"),
                         ("after_drain", "left after the entries drained")):
            v = mem.get(k) or {}
            mf = v.get("MemFree")
            L.append(f"| {label} | {fmt_bytes(v.get('slab_active_bytes'))} | {fmt_bytes(v.get('Slab'))} | "
                     f"{fmt_bytes(v.get('SUnreclaim'))} | {fmt_bytes(v.get('VmallocUsed'))} | "
                     f"{fmt_bytes(-mf if mf is not None else None)} |")
        L.append("")

    rs = extra.get("resync")
    if rs:
        L.append("## Resynchronisation after a cut")
        L.append("")
        L.append("The link cut (remote under an error table; DRBD disconnected), the whole 16 MiB device "
                 "written, the link restored: time until every region is in sync and the link holds "
                 "every entry.")
        L.append("")
        L.append("| what | out of sync | seconds | MiB/s | notes |")
        L.append("| --- | ---: | ---: | ---: | --- |")
        names = {"local": "replicator, remote RAM disk", "net": "replicator, remote over NBD",
                 "drbd": "DRBD protocol C"}
        for k, v in rs.items():
            notes = []
            raw = v["raw"]
            if "connect_secs" in raw:
                notes.append(f"connected after {raw['connect_secs']} s")
            if "throttle" in raw:
                notes.append(f"resync_throttle {raw['throttle']}")
            if "equal" in raw:
                notes.append("copies equal" if raw["equal"] == "1" else "copies DIFFER")
            if not v["settled"]:
                notes.append(f"not settled: {raw.get('settle', '?')}")
            L.append(f"| {names.get(k, k)} | {fmt_bytes(v['bytes'])} | {fmt(v['secs'], 1)} | "
                     f"{fmt(v['mib_per_s'], 2)} | {', '.join(notes)} |")
        L.append("")

    rp = extra.get("replay")
    if rp:
        L.append("## Replay of a full log after a crash")
        L.append("")
        L.append("A log filled (site link `stall`, remote suspended) on a file-backed virtio disk, QEMU "
                 "killed, the guest booted again: `open` is the replicator's table load (recovery "
                 "scan), `replay` the replicator-dev's (every live entry copied onto the local device).")
        L.append("")
        L.append("| write size | log data | entries | open s | replay s | s per GiB (open + replay) |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        for k, v in rp.items():
            L.append(f"| {k} | {fmt_bytes(v['log_gib'] * (1 << 30) if v['log_gib'] else None)} | "
                     f"{fmt(v['entries'], 0)} | {fmt(v['open_secs'])} | {fmt(v['replay_secs'])} | "
                     f"{fmt(v['total_secs_per_gib'], 1)} |")
        L.append("")

    pr = extra.get("profile")
    if pr:
        L.append("## Profile")
        L.append("")
        for k, syms in pr.items():
            if k.startswith("_"):
                continue
            L.append(f"`perf record -a -g -e cpu-clock` over {k} (top symbols, self time; "
                     f"full reports in `profile/`):")
            L.append("")
            L.append("| % | object | symbol |")
            L.append("| ---: | --- | --- |")
            for pct, dso, sym in syms[:15]:
                L.append(f"| {pct:.1f} | {dso} | `{sym}` |")
            L.append("")
    for p in pngs:
        L.append(f"![{p}]({p})")
        L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    main()
