#!/usr/bin/env python3
"""Writes docs/ostree-flags.md: every flag of every `ostree` verb in 2022.7 (Debian 12) and 2026.4 (Debian forky,
through scripts/forky-peers.sh), and whether `ostree-sharp` has it. A flag ostree-sharp does not list is refused by
its parser with "Unrecognized command or argument", never accepted and ignored.

    scripts/flag-table.py [--ours BIN] [--forky BIN] [--output docs/ostree-flags.md]
"""
import argparse
import re
import subprocess

parser = argparse.ArgumentParser()
parser.add_argument("--ours", default="artifacts/bin/ostree-sharp")
parser.add_argument("--forky", default="/var/tmp/forky-peers/bin/ostree-forky")
parser.add_argument("--output", default="docs/ostree-flags.md")
args = parser.parse_args()

GLOBAL = {"--help", "--verbose", "--version", "--repo"}


def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return p.stdout + p.stderr


def glib_help(tool, verb):
    """Flags and sub-verbs from GLib's --help text."""
    text = run(tool + verb + ["--help"])
    flags, subs, section = set(), [], None
    for line in text.splitlines():
        if line.endswith("Commands:"):
            section = "commands"
            continue
        if line.endswith("Options:"):
            section = "options"
            continue
        if not line.strip():
            section = None if section == "commands" else section
            continue
        if section == "commands":
            m = re.match(r"^\s+([a-z0-9-]+)\s", line + " ")
            if m:
                subs.append(m.group(1))
        elif section == "options":
            for f in re.findall(r"(--[a-z0-9-]+)", line.split("  ")[1] if line.startswith("  ") and len(line.split("  ")) > 1 else line)[:1]:
                flags.add(f)
    return flags - GLOBAL - ({"--sysroot"} if verb[:1] == ["admin"] else set()), subs


def ours_help(verb):
    text = run([args.ours] + verb + ["--help"])
    flags, section = set(), None
    for line in text.splitlines():
        if line.strip().endswith("Options:"):
            section = "options"
            continue
        if not line.startswith(" "):
            section = None
            continue
        if section == "options":
            m = re.findall(r"(--[a-z0-9-]+)", line.strip().split("  ")[0])
            flags.update(m)
    # The verb exists when its own usage line is printed (an unknown one gets the parent's usage and an error).
    exists = re.search(r"^\s+ostree-sharp " + re.escape(" ".join(verb)) + r"(\s|$)", text, re.M) is not None
    return flags - GLOBAL - ({"--sysroot"} if verb[:1] == ["admin"] else set()), exists


def verbs(tool):
    _, top = glib_help(tool, [])
    out = []
    for v in top:
        _, subs = glib_help(tool, [v])
        out.append([v])
        out.extend([v, s] for s in subs)
    return out


old, new = ["ostree"], [args.forky]
table = {}
for name, tool in (("2022.7", old), ("2026.4", new)):
    for v in verbs(tool):
        flags, _ = glib_help(tool, v)
        table.setdefault(tuple(v), {}).setdefault(name, flags)

lines = ["# ostree's flags and ostree-sharp", "",
         "Made by `scripts/flag-table.py` from `ostree VERB --help` of libostree 2022.7 (Debian 12) and 2026.4",
         "(Debian forky) and `ostree-sharp VERB --help`. **yes**: ostree-sharp has the flag; **refused**: its parser",
         "rejects it with \"Unrecognized command or argument\" (nothing is accepted and ignored). Global flags",
         "(`--repo`, `--verbose`, `--version`, `--help`, and `--sysroot` of the admin verbs) are left out.", ""]
totals = [0, 0]
for v in sorted(table):
    ours, exists = ours_help(list(v))
    per = table[v]
    all_flags = sorted(set().union(*per.values()))
    lines.append(f"## ostree {' '.join(v)}" + ("" if exists else " (verb missing in ostree-sharp)"))
    lines.append("")
    if not all_flags:
        lines.append("No flags of its own.")
        lines.append("")
        continue
    lines.append("| flag | 2022.7 | 2026.4 | ostree-sharp |")
    lines.append("|---|---|---|---|")
    for f in all_flags:
        has = exists and f in ours
        totals[0 if has else 1] += 1
        lines.append(f"| `{f}` | {'yes' if f in per.get('2022.7', set()) else ''} | {'yes' if f in per.get('2026.4', set()) else ''} | {'**yes**' if has else 'refused'} |")
    lines.append("")
lines.insert(7, f"In all: {totals[0]} flags implemented, {totals[1]} refused.")
lines.insert(8, "")
with open(args.output, "w") as fh:
    fh.write("\n".join(lines) + "\n")
print(f"{args.output}: {totals[0]} flags implemented, {totals[1]} refused")
