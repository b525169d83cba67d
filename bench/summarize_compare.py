#!/usr/bin/env python3
"""Turns bench/compare.sh's JSON lines into the table of issue 6's targets."""
import json
import sys


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip().startswith("{")]
    by = {(r["system"], r["workload"]): r for r in rows}

    def seconds(system, workload):
        r = by.get((system, workload))
        return r["median_s"] if r else None

    def rate(system, workload):
        r = by.get((system, workload))
        if not r:
            return None
        return r.get("rate_per_s") or r.get("rate_per_s_median")

    def fmt_rate(x):
        if x is None:
            return "-"
        if x >= 1e9:
            return "%.3g G/s" % (x / 1e9)
        return "%.3g M/s" % (x / 1e6) if x >= 1e5 else "%.3g k/s" % (x / 1e3)

    def fmt_s(x):
        return "-" if x is None else ("%.3g ms" % (x * 1e3) if x < 1 else "%.3g s" % x)

    # Dask (bench/compare.sh --with-dask) gets a column when it ran; the targets are set
    # against Pool and the limits only.
    with_dask = any(system == "dask" for system, _ in by)
    print("| workload | gpool | Pool |%s limit | target | measured | met |" %
          (" Dask |" if with_dask else ""))
    print("|---|---|---|%s---|---|---|---|" % ("---|" if with_dask else ""))

    def row(name, gpool, pool, dask, limit, target, measured, met):
        verdict = "-" if met is None else ("yes" if met else "no")
        peers = "%s | %s" % (pool, dask) if with_dask else pool
        print("| %s | %s | %s | %s | %s | %s | %s |" % (name, gpool, peers, limit, target, measured,
                                                      verdict))

    g, p = seconds("gpool", "w1_cold"), seconds("pool", "w1_cold")
    ratio = g / p if g and p else None
    row("W1 cold (whole process)", fmt_s(g), fmt_s(p), fmt_s(seconds("dask", "w1_cold")), "-",
        "gpool/Pool <= 1.0",
        "-" if ratio is None else "%.2f" % ratio, None if ratio is None else ratio <= 1.0)

    g, p = seconds("gpool", "w1"), seconds("pool", "w1")
    ratio = g / p if g and p else None
    row("W1 warm (map+sum)", fmt_s(g), fmt_s(p), fmt_s(seconds("dask", "w1")), "-",
        "gpool/Pool <= 0.5",
        "-" if ratio is None else "%.2f" % ratio, None if ratio is None else ratio <= 0.5)

    g = rate("gpool", "w2")
    p = max(filter(None, [rate("pool", "w2"), rate("pool", "w2_array100k")]), default=None)
    lim = rate("limit", "grpc_stream_fixed64")
    met = None if g is None or lim is None else g >= 150e6 and g >= lim / 3
    row("W2 values streamed to the caller", fmt_rate(g), fmt_rate(p),
        fmt_rate(rate("dask", "w2_array100k")), fmt_rate(lim),
        ">= 150 M/s and >= limit/3", fmt_rate(g), met)

    g, p = rate("gpool", "w3"), rate("pool", "w3")
    row("W3 one-element chunks", fmt_rate(g), fmt_rate(p), fmt_rate(rate("dask", "w3")), "-",
        ">= 100 k chunks/s", fmt_rate(g),
        None if g is None else g >= 100e3)

    g, p = rate("gpool", "w4"), rate("pool", "w4")
    lim = rate("limit", "sum_simd_2t")
    ratio = g / lim if g and lim else None
    row("W4 reduce-only sum of squares", fmt_rate(g), fmt_rate(p), fmt_rate(rate("dask", "w4")),
        fmt_rate(lim),
        ">= 50% of the vectorised loop", "-" if ratio is None else "%.0f%%" % (ratio * 100),
        None if ratio is None else ratio >= 0.5)

    # Issue 19's typed workloads (bench/typed.sh): strings to the caller, and an exact double sum.
    g, p = rate("gpool", "w5_upper"), rate("pool", "w5_upper")
    ratio = g / p if g and p else None
    row("W5 strings through upper to the caller", fmt_rate(g), fmt_rate(p), "-",
        fmt_rate(rate("grpc_stream", "w5_upper")), "gpool/Pool >= 10",
        "-" if ratio is None else "%.1fx" % ratio, None if ratio is None else ratio >= 10)
    g = rate("gpool_lib", "w5_upper")
    ratio = g / p if g and p else None
    row("W5 the same through the library (Client::MapStream)", fmt_rate(g), fmt_rate(p), "-",
        fmt_rate(rate("grpc_stream", "w5_upper")), "gpool/Pool >= 10",
        "-" if ratio is None else "%.1fx" % ratio, None if ratio is None else ratio >= 10)

    g, lim = rate("gpool", "w6_sqrt_sum"), rate("loop", "w6_sqrt_sum")
    ratio = g / lim if g and lim else None
    row("W6 exact sqrt sum (reduce-only)", fmt_rate(g), "-", "-", fmt_rate(lim),
        ">= 50% of the vectorised loop", "-" if ratio is None else "%.0f%%" % (ratio * 100),
        None if ratio is None else ratio >= 0.5)

    # Issue 18: the cost of mutual TLS, measured in the same run on a second cluster.
    if any(system == "gpool_tls" for system, _ in by):
        print()
        print("| TLS cost | plain text | mutual TLS | TLS/plain | goal | met |")
        print("|---|---|---|---|---|---|")
        for name, workload in (("W2 (values through shared memory)", "w2"),
                               ("W2 over gRPC (--shared_values=false)", "w2_grpc"),
                               ("W3 one-element chunks", "w3")):
            plain, tls = rate("gpool", workload), rate("gpool_tls", workload)
            ratio = tls / plain if plain and tls else None
            print("| %s | %s | %s | %s | >= 0.8 | %s |" % (
                name, fmt_rate(plain), fmt_rate(tls), "-" if ratio is None else "%.2f" % ratio,
                "-" if ratio is None else ("yes" if ratio >= 0.8 else "no")))


if __name__ == "__main__":
    main(sys.argv[1])
