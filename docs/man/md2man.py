#!/usr/bin/env python3
"""Writes a man page from a Markdown page of docs/ (the subset those pages use: headings,
paragraphs, lists, tables, `code`, [links](x)), so the page and the doc never drift.

Usage: md2man.py DOC.md INCLUDE.h2m OUT.N
  INCLUDE.h2m: the page's [NAME] and other sections (help2man's include format); its
  [NAME] line is "name \\- summary"; the section number is OUT's extension.
"""
import os
import re
import sys


def roff_text(text):
    text = text.replace("\\|", "|").replace("\\", "\\e").replace("-", "\\-")
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    return "\\&" + text if text[:1] in (".", "'") else text


def read_include(path):
    sections, current = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines():
            m = re.fullmatch(r"\[(.+)\]", line)
            if m:
                current = m.group(1)
                sections[current] = []
            elif current is not None:
                sections[current].append(line)
    return sections


def table_rows(lines):
    rows = [[c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]] for line in lines]
    return rows[0], [r for r in rows[2:]]


def convert(markdown):
    out, para, table = [], [], []
    lines = markdown.splitlines()

    def flush():
        if para:
            out.append(roff_text(" ".join(para)))
            para.clear()
        if table:
            header, rows = table_rows(table)
            for row in rows:
                out.append(".TP")
                out.append(roff_text(row[0]))
                middle = [f"{h}: {v}" for h, v in zip(header[1:-1], row[1:-1])]
                if middle:
                    out.append(roff_text("; ".join(middle)))
                    out.append(".br")
                out.append(roff_text(row[-1]))
            table.clear()

    for line in lines[1:] if lines and lines[0].startswith("# ") else lines:
        heading = re.match(r"(#{2,3}) (.*)", line)
        item = re.match(r"\s*(\d+\.|-) (.*)", line)
        if heading:
            flush()
            macro = ".SH" if len(heading.group(1)) == 2 else ".SS"
            title = heading.group(2).upper() if macro == ".SH" else heading.group(2)
            out.append(f'{macro} "{roff_text(title)}"')
        elif line.startswith("|"):
            if para:
                flush()
            table.append(line)
        elif item:
            flush()
            tag = item.group(1) if item.group(1) != "-" else "\\(bu"
            out.append(f".IP {tag} 4")
            para.append(item.group(2).strip())
        elif not line.strip():
            flush()
            out.append(".PP")
        else:
            if table:
                flush()
            para.append(line.strip())
    flush()
    # No empty paragraphs: drop a .PP that another macro follows.
    cleaned = []
    for i, line in enumerate(out):
        nxt = out[i + 1] if i + 1 < len(out) else ".SH"
        if line == ".PP" and (nxt.startswith(".") or (cleaned and cleaned[-1].startswith(".SH"))):
            continue
        cleaned.append(line)
    return cleaned


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    doc, include, out_path = sys.argv[1:]
    sections = read_include(include)
    name_line = " ".join(sections.pop("NAME")).strip()
    name = name_line.split()[0]
    number = os.path.splitext(out_path)[1][1:]
    with open(doc, encoding="utf-8") as f:
        body = convert(f.read())
    page = [f'.TH {name.upper()} "{number}" "" "cardvault" "File Formats"',
            ".SH NAME", name_line, ".SH DESCRIPTION", *body]
    for title, text in sections.items():
        page.append(f'.SH "{title}"')
        page.extend(text)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(page) + "\n")


if __name__ == "__main__":
    main()
