"""MkDocs hook that turns chapters/NN_slug.py into the book's pages.

What it does, in build order:
- on_config: reads the mode and data file exactly as the chapters will (settings.read, no torch), and
  points mkdocs-jupyter's HTML cache next to ours.
- on_files (before mkdocs-jupyter's): executes the chapters through makemore_lib.book.execute (cached),
  indexes what prose can cite (makemore_lib.book.notes: values and figures of the executed chapters),
  checks the chapters' claims (full mode: a sentence its numbers do not bear out stops the build),
  turns each executed notebook into a page notebook (makemore_lib.book.pages: citations filled,
  failed claims marked, markdown outputs rendered with the site's Markdown, explorable figures
  turned into sliders, solution cells folded, download links beside the stamp) that mkdocs-jupyter
  renders with execute: false (its remove_tag_config leaves out the check cells), and adds the
  downloads (.py, .ipynb, workbook) and the vendored MathJax to the site.
- on_nav (after on_files, before any page renders): adds the figures (and the frames of explorable
  figures) to the site, reads the notes for backlinks.
- on_page_markdown: fills the results page from the runs the chapters recorded; replaces the citations
  ({{ value NAME }}, {{ figure CHAPTER/NAME }}) of every Markdown page, one ERROR line per citation of nothing.
- on_page_content / on_post_page: drops nbconvert's CDN script tags, checks that every
  chapter page carries its stamp, and that no page loads anything from another host.
"""
from __future__ import annotations

import html
import json
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.utils import get_relative_url
from mkdocs_jupyter.plugin import NotebookFile

from makemore_lib.book import chapters, execute, notes, pages, workbook

log = logging.getLogger("mkdocs.hooks.makemore")

DOWNLOADS_TOKEN = pages.DOWNLOADS_TOKEN
MATHJAX_PARTS = ("tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y")


@dataclass
class Chapter:
    source: Path            # chapters/NN_slug.py
    executed: Path          # the cached executed notebook
    page_uri: str           # chapters/NN_slug.ipynb inside the site
    downloads: list[str] = field(default_factory=list)   # site URIs, .py before .ipynb
    runs: list[dict] = field(default_factory=list)        # report.record_run payloads

    @property
    def stem(self) -> str:
        return self.source.stem


class Book:
    """What this build knows: settings, paths, the chapters. Rebuilt on every on_config."""

    def __init__(self, config):
        from makemore_lib import report, settings

        self.root = Path(config.config_file_path).resolve().parent
        try:
            self.settings = settings.read([])
        except Exception as exc:  # a bad MAKEMORE_QUICK / MAKEMORE_DATA / ATEN_CPU_CAPABILITY value, a missing or unusable data file
            raise PluginError(str(exc)) from None
        self.run_mime = report.RUN_MIME
        self.lib_dir = Path(settings.__file__).resolve().parent
        try:
            self.cache = settings.cache_dir(self.root)
        except Exception as exc:  # an unwritable cache folder
            raise PluginError(str(exc)) from None
        self.chapters: list[Chapter] = []


BOOK: Book | None = None


# ---------------------------------------------------------------- config

def on_config(config):
    global BOOK
    BOOK = Book(config)
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is None:
        raise PluginError("mkdocs.yml must enable the mkdocs-jupyter plugin")
    jupyter.config["cache_dir"] = str(BOOK.cache / "pages")
    discard_damaged_pages(BOOK.cache / "pages")
    return config


def discard_damaged_pages(pages_dir: Path) -> None:
    """mkdocs-jupyter reads its page cache without a guard: one truncated entry would fail every
    build with a JSONDecodeError. An entry it could not use is removed (one line each), and the
    page is rendered again."""
    for entry in sorted(pages_dir.glob("*.json")):
        try:
            cached = json.loads(entry.read_text(encoding="utf-8"))
            usable = isinstance(cached, dict) and isinstance(cached.get("content"), str) \
                and isinstance(cached.get("toc_tokens"), list)
        except (OSError, ValueError):
            usable = False
        if not usable:
            entry.unlink(missing_ok=True)
            log.info("re-rendering: the page cache entry %s was unreadable", entry.name)


def on_serve(server, config, builder):
    """`mkdocs serve` rebuilds when a chapter or the library changes, not only docs/."""
    server.watch(str(BOOK.root / "chapters"))
    server.watch(str(BOOK.lib_dir))
    return server


# ---------------------------------------------------------------- files

@event_priority(50)  # before mkdocs-jupyter's on_files, which claims the .ipynb pages we add
def on_files(files, config):
    book = BOOK
    sources = chapters.chapter_sources(book.root / "chapters")
    try:
        executed = execute.execute_chapters(
            sources, root=book.root, cache_dir=book.cache / "chapters", lib_dir=book.lib_dir,
            data_path=book.settings.data_path, quick=book.settings.quick)
    except execute.ChapterError as exc:
        raise PluginError(str(exc)) from None
    except execute.BuildInterrupted as exc:  # one line, then out: no traceback, no chapter blamed
        print(f"makemore: build {exc}", file=sys.stderr)
        raise SystemExit(130) from None

    global CITED
    notebooks = {source: nbformat.read(executed[source], as_version=4) for source in sources}
    CITED = notes.collect([(source.stem, nb) for source, nb in notebooks.items()])
    for problem in CITED.problems:
        log.error(problem)
    book.chapters = []
    for source in sources:
        chapter = Chapter(source, executed[source], f"chapters/{source.stem}.ipynb")
        nb = notebooks[source]
        check_outputs(chapter, nb)
        chapter.runs = execute.records(nb, book.run_mime)
        book.chapters.append(chapter)
    check_claims(book.chapters, notebooks)
    for chapter in book.chapters:
        where = str(chapter.source.relative_to(book.root))
        # a real file under a source dir of its own: mkdocs-jupyter's wrapper needs src_dir
        pages_src = book.cache / "page-notebooks"
        page = File(chapter.page_uri, src_dir=str(pages_src), dest_dir=config.site_dir,
                    use_directory_urls=config.use_directory_urls)
        # the page's address once mkdocs-jupyter's on_files has wrapped it (chapters/<stem>/), not the .ipynb's
        url = NotebookFile(page, use_directory_urls=config.use_directory_urls, site_dir=config.site_dir).url
        page_nb, problems = pages.page_notebook(notebooks[chapter.source], CITED, where, book.settings.quick,
                                                lambda figure: get_relative_url(figure.uri, url),
                                                chapter.source.read_text(encoding="utf-8"))
        for problem in problems:
            log.error(problem)
        write_if_changed(pages_src / chapter.page_uri, nbformat.writes(page_nb))
        files.append(page)
        for uri, content in downloads(chapter.source):
            files.append(File.generated(config, uri, content=content))
            chapter.downloads.append(uri)

    for path, uri in mathjax_files():
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def check_claims(chapters_run: list[Chapter], notebooks: dict) -> None:
    """`chapters/02_init.py: 14 claims checked, 0 failed`, then each sentence its numbers did not
    bear out. In quick mode that is INFO (the page marks the sentence: a preview may miss a claim
    about the full training); in full mode every such sentence is an error, and the build stops
    before any page is rendered."""
    from makemore_lib import claims

    failed_in_full = 0
    for chapter in chapters_run:
        name = chapter.source.relative_to(BOOK.root)
        checked = execute.records(notebooks[chapter.source], claims.CLAIM_MIME)
        failed = [c for c in checked if not c.get("holds")]
        log.info("%s: %d claims checked, %d failed", name, len(checked), len(failed))
        for c in failed:
            numbers = c.get("numbers") or "no numbers given"
            if BOOK.settings.quick:
                kind = "this quick preview" if claims.preview_only(c) else "this build"
                log.info("%s: claim not borne out by %s: %r (%s)", name, kind, c["claim"], numbers)
            else:
                failed_in_full += 1
                log.error("%s: claim does not hold in full mode: %r (%s)", name, c["claim"], numbers)
    if failed_in_full:
        raise PluginError(f"{failed_in_full} sentence(s) not borne out by the full-mode run (listed above); "
                          f"no page was rendered: rephrase each sentence or correct its check")


def write_if_changed(path: Path, text: str) -> None:
    """Leave an unchanged file alone, so mkdocs-jupyter's cache (keyed on its bytes) stays warm."""
    if path.is_file() and path.read_bytes() == text.encode("utf-8"):
        return
    execute.write_atomic(path, text)


PLOT_CALL = re.compile(r"^[^#\n]*\bplots\.(?:plot_\w+|show|show_explorable)\(", re.M)


def check_outputs(chapter: Chapter, nb) -> None:
    """No traceback on a page, ever; every cell that draws a figure shows one; stray stderr
    (warnings) is worth a warning."""
    name = chapter.source.relative_to(BOOK.root)
    for i, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code" and PLOT_CALL.search(cell.source) and not any(
                "image/png" in out.get("data", {}) for out in cell.get("outputs", [])):
            raise PluginError(f"{name}: cell {i} draws a figure but its output has none; "
                              f"no page was rendered (the figure must reach the page as image/png)")
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            if out.get("output_type") == "error" or "Traceback (most recent call last)" in text:
                raise PluginError(f"{name}: cell {i} has a traceback in its output; no page was rendered.")
            if out.get("name") == "stderr" and text.strip():
                log.warning("%s: cell %d wrote to stderr: %s", name, i, text.strip().splitlines()[0])


# ---------------------------------------------------------------- downloads and MathJax

def downloads(source: Path) -> list[tuple[str, str]]:
    """The chapter as .py and as an un-executed .ipynb; its workbook too when it has solutions."""
    text = source.read_text(encoding="utf-8")
    out = [(f"downloads/{source.stem}.py", text),
           (f"downloads/{source.stem}.ipynb", _ipynb(text))]
    if workbook.has_solutions(text):
        blank = workbook.make_workbook(text)
        out += [(f"downloads/{source.stem}_workbook.py", blank),
                (f"downloads/{source.stem}_workbook.ipynb", _ipynb(blank))]
    return out


def _ipynb(py_text: str) -> str:
    return chapters.ipynb_text(py_text)


def mathjax_files() -> list[tuple[Path, str]]:
    """MathJax 3 (the django-static-mathjax wheel ships it, with no Django dependency) for the site."""
    try:
        import mathjax
    except ModuleNotFoundError:
        raise PluginError("MathJax is vendored from PyPI: pip install django-static-mathjax==3.2.2.1") from None
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    found = []
    for part in MATHJAX_PARTS:
        base = es5 / part
        for path in sorted([base] if base.is_file() else base.rglob("*")):
            if path.is_file():
                found.append((path, f"javascripts/mathjax/{path.relative_to(es5).as_posix()}"))
    return found


# ---------------------------------------------------------------- pages

def _chapter_of(page) -> Chapter | None:
    return next((c for c in BOOK.chapters if c.page_uri == page.file.src_uri), None)


def on_page_markdown(markdown_text, page, config, files):
    if _chapter_of(page) is None:   # a chapter page's "markdown" is its notebook's JSON
        markdown_text = cite(markdown_text, page)
    if page.file.src_uri == "results.md":
        if "<!-- results-table -->" not in markdown_text:
            log.warning("results.md lost its <!-- results-table --> marker; the table has nowhere to go")
        return markdown_text.replace("<!-- results-table -->", results_table())
    return markdown_text


def results_table() -> str:
    """Every run the chapters recorded in this build, beside the lecture's numbers."""
    fmt = lambda v: "—" if v is None else f"{v:.4f}"
    as_published = lambda v: "—" if v is None else str(v)  # the lecture's own precision (2.07, not 2.0700)
    rows = ["| Chapter | Experiment | Steps | Train loss | Val loss | Lecture train | Lecture val |",
            "|---|---|--:|--:|--:|--:|--:|"]
    for chapter in BOOK.chapters:
        for run in chapter.runs:
            rows.append(f"| [{chapter.stem}]({chapter.page_uri}) | {run['experiment']} | {run['steps']:,} "
                        f"| {fmt(run['train'])} | {fmt(run['val'])} "
                        f"| {as_published(run.get('lecture_train'))} | {as_published(run.get('lecture_val'))} |")
    if len(rows) == 2:
        return "*No chapter recorded a training run in this build.*"
    mode = BOOK.settings.mode
    return (f"Computed by this build in **{mode}** mode "
            f"({BOOK.settings.max_steps:,} steps per full training run).\n\n" + "\n".join(rows))


NBCONVERT_CDN = [
    re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S),
    re.compile(r'<script type="module">(?:(?!</script>).)*?mermaid(?:(?!</script>).)*</script>', re.S),
]


def on_page_content(content, page, config, files):
    chapter = _chapter_of(page)
    if chapter is None:
        return content
    for pattern in NBCONVERT_CDN:  # nbconvert's MathJax 2 and mermaid loaders point at a CDN
        content = pattern.sub("", content)
    if DOWNLOADS_TOKEN not in content:
        log.warning("%s has no stamp: its first cell must call report.show_stamp(S)",
                    chapter.source.relative_to(BOOK.root))
    links = " · ".join(
        f'<a href="{html.escape(get_relative_url(files.get_file_from_path(uri).url, page.url))}" download>'
        f'{uri.rsplit("/", 1)[1]}</a>' for uri in chapter.downloads)
    return content.replace(DOWNLOADS_TOKEN, f"Download: {links}", 1) + chapter_backlinks(chapter, page, files)


# a tag that makes the browser fetch from another host (a canonical/prev/next <link> fetches nothing;
# `mkdocs serve` points those at its own 127.0.0.1 address)
_HOST = r"(?:https?:)?//(?!127\.0\.0\.1[:/]|localhost[:/])"
EXTERNAL = re.compile(rf"<(?:script|img|iframe|source|video|audio)\b[^>]*\bsrc=[\"']?{_HOST}|"
                      rf"<link\b(?![^>]*\brel=[\"']?(?:canonical|alternate|prev|next)\b)[^>]*\bhref=[\"']?{_HOST}|"
                      rf"import\([\"']{_HOST}|url\([\"']?{_HOST}", re.I)


def on_post_page(output, page, config):
    match = EXTERNAL.search(output)
    if match:
        log.warning("%s loads something from another host (%s...): the book must work offline",
                    page.file.src_uri, match.group(0))
    return output


# ---------------------------------------------------------------- notes: citations and backlinks

CITED: notes.Citable = notes.Citable()              # rebuilt by on_files on every build
BACKLINKS: dict[str, list[notes.Backlink]] = {}     # chapter stem -> the notes on it
CITABLE_MARKER = "<!-- citable-names -->"           # notes/index.md lists every citable name there


def on_nav(nav, config, files):
    """Add every figure the chapters drew (indexed by on_files) to the site as
    assets/figures/<chapter>/<name>.png, the other frames of an explorable figure as
    assets/figures/<chapter>/<name>/<k>.png, and read the notes for backlinks, before the first page renders."""
    global BACKLINKS
    for figure in CITED.figures.values():
        files.append(File.generated(config, figure.uri, content=figure.png))
        for k, png in enumerate(figure.frames):
            if k != figure.initial:
                files.append(File.generated(config, figure.frame_uri(k), content=png))
    pages = {}
    for f in files.documentation_pages():
        if f.src_uri.endswith(".md"):
            try:
                pages[f.src_uri] = f.content_string
            except UnicodeDecodeError as e:   # MkDocs would refuse the page too, with a traceback
                line = f.content_bytes[:e.start].count(b"\n") + 1
                raise PluginError(f"{_shown(f)}: not UTF-8 (bad byte at line {line}); save it as UTF-8") from None
    BACKLINKS = notes.backlinks(pages, CITED, {c.page_uri: c.stem for c in BOOK.chapters})
    return nav


def _shown(file) -> str:
    """A page's source as the reader finds it: docs/notes/x.md from the book's folder."""
    try:
        return Path(file.abs_src_path).relative_to(BOOK.root).as_posix()
    except (TypeError, ValueError):
        return file.src_uri


def cite(markdown_text: str, page) -> str:
    """The page with its citations replaced; one ERROR line per citation that names nothing.
    An error fails a strict build (MkDocs counts it) and leaves `mkdocs serve` running, with
    the same message in place on the page."""
    source = page.file.content_string
    at = source.find(markdown_text) if markdown_text else -1
    offset = source.count("\n", 0, at) if at > 0 else 0      # lines of front matter MkDocs took off
    where = _shown(page.file)
    text, errors = notes.render(markdown_text, CITED, where,
                                lambda figure: notes.relative_src(figure.uri, page.file.src_uri), offset)
    for message in errors:
        log.error(message)
    if CITABLE_MARKER in text:
        text = text.replace(CITABLE_MARKER, notes.citable_table(CITED))
    return text


def chapter_backlinks(chapter: Chapter, page, files) -> str:
    """The notes that link to or cite this chapter, with the sections they point to."""
    toc, stack = {}, list(page.toc or [])
    while stack:
        item = stack.pop(0)
        toc[item.url.lstrip("#")] = item.title
        stack[:0] = list(item.children)

    def note_url(uri: str) -> str:
        note = files.get_file_from_path(uri)
        return get_relative_url(note.url, page.url) if note else uri

    return notes.backlinks_html(BACKLINKS.get(chapter.stem, []), note_url, toc)

