#!/usr/bin/env python3
"""Writes scripts/gpu-check.sh's summary.md (to stdout) from what its steps have left in OUT_DIR
so far: steps.tsv, env.txt, parity.jsonl, bench.jsonl, torch.jsonl. Run after every step, so a
run killed at any point still returns a summary of what finished.

  python3 scripts/gpu_check_summary.py OUT_DIR DEVICE DEADLINE_S ELAPSED_S

The cell table has one row per planned burn cell (model, px, fine-tuning, batch, precision):
burn and PyTorch images/s, their ratio written 0.00x, peak memory of each (burn: the CubeCL
pool's reserved bytes; PyTorch: max_memory_reserved; CPU: peak RSS), burn's warm-up seconds and
mean loss, and parity's verdict for that model and precision. A cell that did not run says why
(skipped, timeout, failed, or the JSON's error).
"""

import csv
import json
import os
import re
import sys

CELL = re.compile(r"^burn (\S+) (\d+)px (\S+) b(\d+) (\S+)$")


def jsonl(out, name):
    rows = []
    path = os.path.join(out, name)
    if os.path.exists(path):
        with open(path, errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass
    return rows


def steps(out):
    path = os.path.join(out, "steps.tsv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def num(v, digits=1):
    return f"{v:.{digits}f}" if isinstance(v, (int, float)) and v == v else None


def gib(v):
    return f"{v / 2**30:.1f}" if isinstance(v, (int, float)) and v else "n/a"


def same_precision(rec, prec):
    """A record's precision label (`bf16`, `f32`, `f32(tf32)`) against a plan's (`bf16`, `f32`)."""
    return str(rec.get("precision", "")).split("(")[0] == prec


def parity_verdict(parity, parity_steps, model, prec):
    checks = [r for r in parity if r.get("model") == model
              and str(r.get("candidate", "")).split(" ")[-1] == prec]
    if not checks:
        statuses = {s["status"] for s in parity_steps if f" {model} " in f" {s['step']} "}
        return "not run" if not statuses else f"none ({'/'.join(sorted(statuses))})"
    bad = [r for r in checks if not r.get("pass")]
    worst = max(checks, key=lambda r: r.get("max_rel_err") or 0)
    if not bad:
        return f"ok ({len(checks)} checks, max {worst['max_rel_err']:.1e})"
    return "**FAIL** " + ", ".join(
        f"{r['quantity']} {r['max_rel_err']:.1e} > {r['tolerance']:.0e} ({r['candidate']})" for r in bad[:3])


def main():
    out, device, deadline, elapsed = sys.argv[1:5]
    st = steps(out)
    bench, torch, parity = jsonl(out, "bench.jsonl"), jsonl(out, "torch.jsonl"), jsonl(out, "parity.jsonl")
    env = open(os.path.join(out, "env.txt"), errors="replace").read().splitlines() \
        if os.path.exists(os.path.join(out, "env.txt")) else []
    gpu = next((l for l in env if l.count(",") >= 2 and "MiB" in l), None)
    version = next((l for l in env if l.startswith("cxr-train ")), "cxr-train ?")
    problems = next((l for l in env if l.startswith("problems:")), None)

    print(f"# cxr GPU check: {gpu or device}\n")
    print(f"- device `{device}`, {version}; {elapsed} s of the {deadline} s deadline, {len(st)} steps recorded")
    date = next((l for l in env if l.startswith("date:")), None)
    if date:
        print(f"- {date}")
    if problems:
        print(f"- environment {problems}")
    torch_step = next((s for s in st if s["kind"] == "torch"), None)

    print("\n## Training step (forward + backward + AdamW), images/s\n")
    print("| model | px | fine-tuning | batch | precision | burn img/s | PyTorch img/s | burn / PyTorch "
          "| burn peak GiB | PyTorch peak GiB | burn warm-up s | burn mean loss | parity |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    parity_steps = [s for s in st if s["kind"] == "parity"]
    for s in st:
        m = CELL.match(s["step"]) if s["kind"] == "burn" else None
        if not m:
            continue
        model, px, ft, batch, prec = m.group(1), int(m.group(2)), m.group(3), int(m.group(4)), m.group(5)
        b = next((r for r in bench if r.get("model") == model and r.get("image_size", 224) == px
                  and str(r.get("finetune", "full")).split(" ")[0] == ft and r.get("batch") == batch
                  and same_precision(r, prec)), {})
        t = next((r for r in torch if r.get("model") == model and r.get("batch") == batch
                  and r.get("image_size", 224) == px and same_precision(r, prec)), {}) if ft == "full" else {}
        b_ips = b.get("images_per_s") if not b.get("error") else None
        t_ips = t.get("images_per_s") if not t.get("error") else None
        if b_ips is not None:
            b_cell = num(b_ips)
        elif b.get("error"):
            b_cell = b["error"][:80]
        elif s["status"] == "skipped":
            b_cell = f"skipped ({s['note']})"
        elif s["status"] != "ok":
            b_cell = f"{s['status']} (exit {s['rc']})"
        else:
            b_cell = "no output"
        if t_ips:
            t_cell = num(t_ips)
        elif t.get("error"):
            t_cell = t["error"][:80]
        elif torch_step is None:
            t_cell = "not run yet"
        else:
            t_cell = f"n/a (torch step: {torch_step['status']})"
        ratio = f"{b_ips / t_ips:.2f}x" if b_ips and t_ips else "n/a"
        label = b.get("precision") or t.get("precision") or prec
        loss = num(b.get("loss_mean"), 4) or "n/a"
        if b and b.get("finite") is False:
            loss = f"**{b.get('loss_mean')}**"
        print(f"| {model} | {px} | {ft} | {batch} | {label} | {b_cell} | {t_cell} | {ratio} "
              f"| {gib(b.get('peak_memory_bytes'))} | {gib(t.get('peak_memory_bytes'))} "
              f"| {num(b.get('warmup_s')) or 'n/a'} | {loss} | {parity_verdict(parity, parity_steps, model, prec)} |")
    extra_torch = [r for r in torch if not any(
        CELL.match(s["step"]) and CELL.match(s["step"]).group(1) == r.get("model")
        and int(CELL.match(s["step"]).group(4)) == r.get("batch")
        and same_precision(r, CELL.match(s["step"]).group(5)) for s in st)]
    for r in extra_torch:
        print(f"| {r.get('model')} | {r.get('image_size', 224)} | full | {r.get('batch')} | {r.get('precision')} "
              f"| not planned yet | {num(r.get('images_per_s')) or r.get('error', 'n/a')[:80]} | n/a | n/a "
              f"| {gib(r.get('peak_memory_bytes'))} | n/a | n/a | n/a |")

    print("\n## Steps\n")
    print("| # | step | status | exit | seconds | note |\n|---|---|---|---|---|---|")
    for i, s in enumerate(st, 1):
        status = s["status"] if s["status"] == "ok" else f"**{s['status']}**"
        print(f"| {i} | {s['step']} | {status} | {s['rc']} | {s['seconds']} | {s['note']} |")

    print("\n## Parity (max |candidate - reference| / max |reference|)\n")
    print("| model | candidate | reference | quantity | max rel err | tolerance | ok |\n|---|---|---|---|---|---|---|")
    for r in parity:
        print(f"| {r.get('model')} | {r.get('candidate')} | {r.get('reference')} | {r.get('quantity')} "
              f"| {r.get('max_rel_err', float('nan')):.2e} | {r.get('tolerance', float('nan')):.0e} "
              f"| {'yes' if r.get('pass') else '**NO**'} |")
    if not parity:
        print("| (none yet) | | | | | | |")


if __name__ == "__main__":
    main()
