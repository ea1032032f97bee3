"""Notes that cite the book: values and figures of the executed chapters, cited from Markdown.

A note (any Markdown page of the site; the reader's own live in docs/notes/) writes

    BatchNorm got val {{ value mlp/batchnorm.val }}          a number this build computed
    {{ figure 02_init/the-hockey-stick }}                      a chapter's figure, from this build

and the build replaces each reference by the value, formatted as the chapter chose, or by
the figure's PNG. What can be cited comes from the executed notebooks (the cache), so
citing never executes a chapter:

- every training run of the results page (report.record_run), under its lecture key where
  it has one (`mlp/batchnorm`), else `<chapter>/<slug of the experiment>`, with the fields
  `.train`, `.val` (4 decimals, as on the results page), `.steps`, and `.lecture_train`,
  `.lecture_val` where the lecture reports them;
- every value a chapter publishes with report.publish(name, value, fmt), under `name`;
- every figure (plots.show), as `<chapter>/<slug of its title>`; any prefix of that slug
  ending at a word names the figure too when it names only one figure of the chapter, so
  `02_init/the-hockey-stick` survives a title whose tail carries a step count.

References inside code (fenced blocks, inline code spans) are left alone, so a note can show
the syntax, or Jinja and Makefile code, verbatim. A reference to nothing gives one line
naming the note, the line and the nearest existing names (difflib).

Backlinks: the notes (pages under notes/) that link to a chapter page or cite one of its
values or figures, with the sections they point to, for the end of each chapter page.

No MkDocs import here: docs/hooks/book.py is the glue, and the tests import this module.
"""
from __future__ import annotations

import base64
import difflib
import html
import posixpath
import re
from dataclasses import dataclass, field

from makemore_lib import report   # not plots: the build never imports matplotlib

CITATION = re.compile(r"\{\{\s*(value|figure)\b\s*([^{}]*?)\s*\}\}")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
FIGURES_DIR = "assets/figures"
NOTES_DIR = "notes/"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ---------------------------------------------------------------- what a build can cite

@dataclass(frozen=True)
class Value:
    name: str
    text: str                   # as the note shows it: formatted by the chapter's choice
    chapter: str                # the chapter's stem, e.g. 02_init
    section: str | None         # the heading above the cell that recorded it


@dataclass(frozen=True)
class Figure:
    chapter: str
    name: str                   # slug of the title, unique in the chapter
    title: str
    png: bytes
    section: str | None
    frames: tuple[bytes, ...] = ()   # an explorable figure's frames (plots.show_explorable); png is one of them
    initial: int = 0                 # the frame that is `png`, shown first

    @property
    def key(self) -> str:
        return f"{self.chapter}/{self.name}"

    @property
    def uri(self) -> str:
        """Where the build puts the PNG in the site."""
        return f"{FIGURES_DIR}/{self.chapter}/{self.name}.png"

    def frame_uri(self, k: int) -> str:
        """Where the build puts frame `k` of an explorable figure: the figure's own PNG for the first shown."""
        return self.uri if k == self.initial else f"{FIGURES_DIR}/{self.chapter}/{self.name}/{k}.png"


@dataclass
class Citable:
    values: dict[str, Value] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)     # by Figure.key
    problems: list[str] = field(default_factory=list)            # duplicate names, one line each


def _outputs(nb):
    """(section, output) for every output of a notebook (an nbformat node or its JSON dict)."""
    section = None
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            for line in source.splitlines():
                m = HEADING.match(line)
                if m and len(m.group(1)) >= 2:   # the H1 is the chapter's title, not a section
                    section = m.group(2)
        for out in cell.get("outputs", []):
            yield section, out


def _run_values(chapter: str, run: dict, section: str | None) -> list[Value]:
    base = run.get("key") or f"{chapter}/{slug(run['experiment'])}"
    fields = {"steps": f"{run['steps']:,}", "train": f"{run['train']:.4f}", "val": f"{run['val']:.4f}"}
    for name in ("lecture_train", "lecture_val"):
        if run.get(name) is not None:
            fields[name] = str(run[name])   # the lecture's own precision, as on the results page
    return [Value(f"{base}.{k}", text, chapter, section) for k, text in fields.items()]


def collect(chapters: list[tuple[str, object]]) -> Citable:
    """Everything citable in the executed notebooks, given as (chapter stem, notebook) in book order."""
    found = Citable()
    for chapter, nb in chapters:
        seen_names: dict[str, int] = {}
        for section, out in _outputs(nb):
            data = out.get("data", {})
            new = []
            if report.RUN_MIME in data:
                new = _run_values(chapter, data[report.RUN_MIME], section)
            elif report.VALUE_MIME in data:
                rec = data[report.VALUE_MIME]
                new = [Value(rec["name"], rec["text"], chapter, section)]
            for value in new:
                if value.name in found.values:
                    other = found.values[value.name].chapter
                    found.problems.append(f"chapters/{chapter}.py records the value {value.name!r} that "
                                          f"chapters/{other}.py records already; give one of them another name")
                else:
                    found.values[value.name] = value
            name = figure_name(out, seen_names)
            if name:
                png = data["image/png"]
                png = "".join(png) if isinstance(png, list) else png
                explorable = data.get(report.EXPLORABLE_MIME, {})
                fig = Figure(chapter, name, out["metadata"][report.FIGURE_META].get("title", name),
                             base64.b64decode(png), section,
                             tuple(base64.b64decode(f) for f in explorable.get("frames", ())),
                             explorable.get("initial", 0))
                found.figures[fig.key] = fig
    return found


def figure_name(out, seen: dict[str, int]) -> str | None:
    """The name a chapter's figure output is cited by, counted in `seen` (the outputs of the
    chapter so far): its title's slug, with -2, -3 for later figures of one title; None for an
    output that is no figure."""
    meta = out.get("metadata", {}).get(report.FIGURE_META)
    if not meta or "image/png" not in out.get("data", {}):
        return None
    name = meta.get("name") or "figure"
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name}-{seen[name]}"


# ---------------------------------------------------------------- citations in a note

@dataclass(frozen=True)
class Citation:
    kind: str        # "value" or "figure"
    name: str
    line: int        # 1-based, in the text given
    start: int       # the reference's span in that line
    end: int


def _mask_code_spans(line: str) -> str:
    return CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


CONTAINER = re.compile(r"^(\s*)(?:[-*+]|\d+[.)]|!!!|\?\?\?\+?)(\s+)")   # a list item, an admonition, a details block


def code_lines(text: str) -> set[int]:
    """1-based numbers of the lines of a Markdown text that are code: inside a fenced block (its
    fences included) or an indented one (4 spaces deeper than the list item or admonition it
    belongs to, after a blank line; the body of an admonition is not code)."""
    found, fence, containers, prev_blank, prev_code = set(), None, [0], True, False
    for number, line in enumerate(text.splitlines(), start=1):
        m = FENCE.match(line)
        if fence is not None:
            found.add(number)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)):].strip():
                fence = None
            continue
        if m:
            fence = m.group(1)
            found.add(number)
            prev_blank, prev_code = False, False
            continue
        if not line.strip():
            prev_blank = True
            continue
        indent = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
        while len(containers) > 1 and indent < containers[-1] and not prev_code:
            containers.pop()
        is_code = indent >= containers[-1] + 4 and (prev_blank or prev_code)
        if is_code:
            found.add(number)
        else:
            opener = CONTAINER.match(line.expandtabs(4))
            if opener and opener.group(0).strip() in ("!!!", "???", "???+"):
                containers.append(len(opener.group(1)) + 4)
            elif opener:
                containers.append(len(opener.group(0)))
            elif indent < containers[-1]:
                containers[:] = [0]
        prev_blank, prev_code = False, is_code
    return found


def citations(text: str) -> tuple[list[Citation], list[tuple[int, str]]]:
    """Every {{ value ... }} / {{ figure ... }} of a Markdown text outside code (fenced or indented
    blocks, code spans), and every `{{` there that starts no citation: (line, the text that does
    not parse), such as a missing brace, a misspelt or capitalised kind, or a citation nested in another."""
    found, malformed, code = [], [], code_lines(text)
    for number, line in enumerate(text.splitlines(), start=1):
        if number in code:
            continue
        masked = _mask_code_spans(line)
        for c in CITATION.finditer(masked):
            found.append(Citation(c.group(1), c.group(2), number, c.start(), c.end()))
        rest = CITATION.sub(lambda c: " " * len(c.group(0)), masked)
        if "{{" in rest:
            start = rest.index("{{")
            end = rest.find("}}", start)
            malformed.append((number, line[start:end + 2 if end >= 0 else len(line)].strip()))
    return found, malformed


def _nearest(name: str, names) -> str:
    names = sorted(names)
    if not names:
        return "this build has none"
    return "nearest: " + ", ".join(difflib.get_close_matches(name, names, n=3, cutoff=0.0))


def find_value(citable: Citable, name: str) -> Value | str:
    """The value cited as `name`, or a message saying why there is none."""
    if not name:
        return "a value citation needs a name, as in {{ value mlp/batchnorm.val }}"
    if name in citable.values:
        return citable.values[name]
    return f"no value named {name!r} ({_nearest(name, citable.values)})"


def find_figure(citable: Citable, name: str) -> Figure | str:
    """The figure cited as `name` (CHAPTER/NAME, NAME its slug or a unique prefix), or why there is none."""
    if not name:
        return "a figure citation needs a chapter and a name, as in {{ figure 02_init/the-hockey-stick }}"
    if name in citable.figures:
        return citable.figures[name]
    starting = [key for key in citable.figures if key.startswith(name + "-")]
    if len(starting) == 1:
        return citable.figures[starting[0]]
    if starting:
        return f"the figure name {name!r} is ambiguous: it begins {', '.join(sorted(starting))}"
    return f"no figure named {name!r} ({_nearest(name, citable.figures)})"


def resolve(citable: Citable, citation: Citation) -> Value | Figure | str:
    return (find_value if citation.kind == "value" else find_figure)(citable, citation.name)


def render(text: str, citable: Citable, where: str, figure_src, line_offset: int = 0) -> tuple[str, list[str]]:
    """`text` with every citation replaced, and one message per citation that names nothing.

    `where` names the note in messages (e.g. docs/notes/x.md); `figure_src(figure)` is the
    image's address as the note's Markdown should write it; `line_offset` is added to line
    numbers (lines of front matter the text no longer has). A failed citation is replaced by
    its message in <mark>, so a preview shows it in place."""
    by_line: dict[int, list[Citation]] = {}
    found, malformed = citations(text)
    for c in found:
        by_line.setdefault(c.line, []).append(c)
    errors = [(number, -1, f"{where}, line {number + line_offset}: {piece!r} is not a citation; write "
                           f"{{{{ value NAME }}}} or {{{{ figure CHAPTER/NAME }}}}, in lower case")
              for number, piece in malformed]
    if not by_line:
        return text, [message for *_, message in sorted(errors)]
    lines = text.splitlines(keepends=True)
    for number, cites in by_line.items():
        line = lines[number - 1]
        for c in reversed(cites):   # right to left: earlier spans stay valid
            found = resolve(citable, c)
            if isinstance(found, Value):
                new = html.escape(found.text, quote=False)   # a value may hold text from the word list
            elif isinstance(found, Figure):
                new = f"![{found.title}]({figure_src(found)})"
            else:
                message = f"{where}, line {number + line_offset}: {found}"
                errors.append((number, c.start, message))
                new = f'<mark class="makemore-missing">{html.escape(message)}</mark>'
            line = line[:c.start] + new + line[c.end:]
        lines[number - 1] = line
    return "".join(lines), [message for *_, message in sorted(errors)]


def citable_table(citable: Citable) -> str:
    """Markdown: every name a note can cite in this build, with its current value."""
    if not citable.values and not citable.figures:
        return "*No chapter recorded a value or a figure in this build.*"
    rows = ["| value | in this build | chapter |", "|---|--:|---|"]
    rows += [f"| `{v.name}` | {v.text} | {v.chapter} |" for v in citable.values.values()]
    figs = ["| figure | title |", "|---|---|"]
    figs += [f"| `{f.key}` | {html.escape(f.title).replace('|', '&#124;')} |" for f in citable.figures.values()]
    return "\n".join(rows) + "\n\n" + "\n".join(figs)


# ---------------------------------------------------------------- backlinks

@dataclass
class Backlink:
    note_uri: str                     # e.g. notes/hockey-stick.md
    note_title: str
    anchors: list[str] = field(default_factory=list)     # sections linked to, by anchor
    sections: list[str] = field(default_factory=list)    # sections holding what the note cites, by heading


def note_title(text: str, uri: str) -> str:
    """The note's first H1 outside code, else its file name."""
    fence = None
    for line in text.splitlines():
        if FENCE.match(line):
            fence = None if fence else line
            continue
        m = HEADING.match(line)
        if not fence and m and len(m.group(1)) == 1:
            return m.group(2)
    return posixpath.splitext(posixpath.basename(uri))[0]


def _without_code(text: str) -> str:
    code = code_lines(text)
    return "\n".join("" if n in code else _mask_code_spans(line) for n, line in enumerate(text.splitlines(), start=1))


def chapter_links(text: str, uri: str, chapter_uris: dict[str, str]) -> list[tuple[str, str | None]]:
    """(chapter stem, anchor or None) for every Markdown link of the page at `uri` into a chapter page."""
    found = []
    for m in LINK.finditer(_without_code(text)):
        target = m.group(1) or m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue   # another site, or this page
        path, _, anchor = target.partition("#")
        path = posixpath.normpath(posixpath.join(posixpath.dirname(uri), path))
        if path in chapter_uris:
            found.append((chapter_uris[path], anchor or None))
    return found


def backlinks(pages: dict[str, str], citable: Citable, chapter_uris: dict[str, str]) -> dict[str, list[Backlink]]:
    """Chapter stem -> the notes (pages under notes/, by uri and Markdown text) that link to or cite it."""
    out: dict[str, list[Backlink]] = {}
    for uri in sorted(pages):
        if not uri.startswith(NOTES_DIR):
            continue
        text, entries = pages[uri], {}

        def entry(chapter: str) -> Backlink:
            if chapter not in entries:
                entries[chapter] = Backlink(uri, note_title(text, uri))
            return entries[chapter]

        for chapter, anchor in chapter_links(text, uri, chapter_uris):
            link = entry(chapter)
            if anchor and anchor not in link.anchors:
                link.anchors.append(anchor)
        for c in citations(text)[0]:
            found = resolve(citable, c)
            if isinstance(found, (Value, Figure)):
                link = entry(found.chapter)
                if found.section and found.section not in link.sections:
                    link.sections.append(found.section)
        for chapter, link in entries.items():
            out.setdefault(chapter, []).append(link)
    return out


def _plain(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", re.sub(r"`", "", title.lower())).strip()


def backlinks_html(links: list[Backlink], note_url, toc: dict[str, str]) -> str:
    """The end of a chapter page: its notes, each with the sections it points to.

    `note_url(uri)` is a note's address from the chapter page; `toc` maps the chapter's
    anchors to their section titles."""
    if not links:
        return ""
    by_title = {_plain(title): anchor for anchor, title in toc.items()}
    items = []
    for link in links:
        targets = [(a, toc.get(a, a)) for a in link.anchors]
        for section in link.sections:
            anchor = by_title.get(_plain(section))
            if anchor is None:
                targets.append((None, section))
            elif anchor not in [a for a, _ in targets]:
                targets.append((anchor, toc[anchor]))
        where = ", ".join(f'<a href="#{html.escape(a)}">{html.escape(t)}</a>' if a else html.escape(t)
                          for a, t in targets)
        items.append(f'<li><a href="{html.escape(note_url(link.note_uri))}">{html.escape(link.note_title)}</a>'
                     + (f": {where}" if where else "") + "</li>")
    return ('<section class="makemore-backlinks"><h2 id="notes-on-this-chapter">Notes on this chapter</h2>'
            f'<ul>{"".join(items)}</ul></section>')


def relative_src(target_uri: str, page_uri: str) -> str:
    """`target_uri` as a Markdown link written in the page `page_uri` (both relative to docs/)."""
    return posixpath.relpath(target_uri, posixpath.dirname(page_uri) or ".")
