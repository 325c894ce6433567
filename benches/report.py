"""Writes a report benchmark's input: report.py DIR DECISIONS OUTCOMES.

DIR/decisions/decisions-N.jsonl (as `serve --decisions` rotates them, ~64 MiB each) and
DIR/outcomes/outcomes.jsonl: one app, a control-vs-message split over 4 products × 4
locales, customers seen up to three times, and outcomes for some of them. Deterministic.
"""
import os
import sys

out, n_decisions, n_outcomes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(f"{out}/decisions", exist_ok=True)
os.makedirs(f"{out}/outcomes", exist_ok=True)
products = ["p.monthly", "p.yearly", "p.family", "p.student"]
locales = ["en-US", "de-DE", "fr-FR", "ja"]
customers = n_decisions // 3
per_file = 300_000
base = 1_790_000_000_000
for f in range(0, n_decisions, per_file):
    with open(f"{out}/decisions/decisions-{f // per_file:05d}.jsonl", "w") as w:
        lines = []
        for i in range(f, min(f + per_file, n_decisions)):
            c = (i * 2654435761) % customers
            rule = c % 2
            answer = "control" if rule == 0 else "message"
            msg = '' if rule == 0 else ',"message":"0b7a1d2c-3e4f-5a6b-8c9d-0e1f2a3b4c5d"'
            lines.append(
                f'{{"t":{base + i * 10},"app":"com.bench.app","environment":"production",'
                f'"product":"{products[c % 4]}","locale":"{locales[(c // 4) % 4]}","rule":{rule},"split":0,'
                f'"answer":"{answer}"{msg},"customer":"{c:032x}"}}\n'
            )
        w.write("".join(lines))
events = ["autoRenewOff", "offerRedeemed", "planChanged", "renewed", "expired"]
with open(f"{out}/outcomes/outcomes.jsonl", "w") as w:
    lines = []
    for i in range(n_outcomes):
        c = (i * 40503) % customers
        lines.append(
            f'{{"t":{base + i * 97},"app":"com.bench.app","environment":"production",'
            f'"customer":"{c:032x}","event":"{events[i % 5]}","product":"p.monthly",'
            f'"notification":"{i:08x}-0000-4000-8000-000000000000"}}\n'
        )
    w.write("".join(lines))
