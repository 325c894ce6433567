"""Writes generated manifests: generate.py NAME DIR APPS MESSAGES LOCALES."""
import os
import sys

LOCALES = ["en-US", "de-DE", "fr-FR", "es-ES", "it", "ja", "ko", "pt-BR", "nl-NL", "sv"]
name, out, apps, messages, locales = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
os.makedirs(out, exist_ok=True)
for a in range(apps):
    locs = LOCALES[:locales]
    lines = ["apiVersion: retainctl/v1", "app:", f"  bundleId: com.bench.{name}{a}", f"  locales: [{', '.join(locs)}]",
             "  products: [p.monthly]", "messages:"]
    for m in range(messages):
        lines.append(f"  m{m}:")
        lines.append("    localizations:")
        for l in locs:
            lines.append(f'      {l}: {{ header: "Stay {m} {l}", body: "Keep your plan number {m} of app {a}." }}')
    lines.append("defaults:")
    lines.append("  p.monthly: m0")
    with open(os.path.join(out, f"app{a}.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
