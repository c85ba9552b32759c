#!/usr/bin/env python3
"""Writes a help2man include file whose [COMMANDS] section holds the --help of every
subcommand (and their subcommands) of a CLI11 program, so the man page lists what the
program itself prints and never drifts from it.

Usage: cli11_commands.py PROGRAM NAME OUT.h2m
  PROGRAM  the built binary; NAME  the name the page shows (cardvault)
"""
import re
import subprocess
import sys

MAX_DEPTH = 3
COLUMN = 30  # CLI11's default width of the name column
SECTIONS = ("Options:", "Subcommands:", "Positionals:")


def roff(text):
    """Escapes plain text for roff."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    return "\\&" + text if text[:1] in (".", "'") else text


def run_help(program, words):
    out = subprocess.run([program, *words, "--help"], capture_output=True, text=True,
                         timeout=30, check=True)
    return out.stdout


def parse(help_text):
    """Splits CLI11 --help into the description, the usage, the sections' entries and the
    footer lines."""
    lines = help_text.splitlines()
    description, usage, sections, footer = [], "", [], []
    i = 0
    while i < len(lines) and not lines[i].startswith("Usage:"):
        description.append(lines[i])
        i += 1
    if i < len(lines):
        usage = lines[i][len("Usage:"):].strip()
        i += 1
    current = None
    for line in lines[i:]:
        if line in SECTIONS:
            current = (line[:-1], [])
            sections.append(current)
        elif not line.strip():
            current = None
        elif current is not None:
            if line.startswith("  ") and not line.startswith("   "):
                current[1].append(split_entry(line))
            elif current[1]:
                current[1][-1][1] = (current[1][-1][1] + " " + line.strip()).strip()
        else:
            footer.append(line)
    return description, usage, sections, footer


def split_entry(line):
    """An entry line: the name column (CLI11 pads it to COLUMN characters), then the text,
    which starts on the next line when the name is longer."""
    if len(line) > COLUMN and line[COLUMN - 1] == " " and line[COLUMN] != " ":
        return [line[:COLUMN].strip(), line[COLUMN:].strip()]
    parts = re.split(r"\s{2,}", line.strip(), maxsplit=1)
    return [parts[0], parts[1] if len(parts) > 1 else ""]


def render(name, words, help_text, out):
    description, usage, sections, footer = parse(help_text)
    full = " ".join([name, *words])
    usage = re.sub(r"^\S+", name, usage)
    out.append(f'.SS "{roff(full)}"')
    out.append(roff(" ".join(line.strip() for line in description)))
    out.append(".br")
    out.append(f"\\fBUsage:\\fR {roff(usage)}")
    subs = []
    for title, entries in sections:
        entries = [e for e in entries if e[0] != "-h,--help"]
        if not entries:
            continue
        out.append(".PP")
        out.append(f"\\fI{title}:\\fR")
        for spec, text in entries:
            out.append(".TP")
            out.append(f"\\fB{roff(spec)}\\fR")
            out.append(roff(text))
            if title == "Subcommands":
                subs.append(spec)
    footer = [line for line in footer if not line.startswith("Run '")]
    if any(line.strip() for line in footer):
        out.append(".PP")
        out.append(".nf")
        out.extend(roff(line) for line in footer)
        out.append(".fi")
    return subs


def walk(program, name, words, out):
    """Renders each command under `words` (not `words` itself at the top: help2man does it)."""
    help_text = run_help(program, words)
    if words:
        subs = render(name, words, help_text, out)
    else:
        subs = [spec for title, entries in parse(help_text)[2] if title == "Subcommands"
                for spec, _ in entries]
    if len(words) < MAX_DEPTH:
        for sub in subs:
            walk(program, name, [*words, sub], out)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    program, name, path = sys.argv[1:]
    out = ["[COMMANDS]", f"Each command's own \\fB\\-\\-help\\fR, as \\fB{roff(name)}\\fR prints it."]
    walk(program, name, [], out)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
