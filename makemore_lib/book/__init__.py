"""The book's build, apart from MkDocs (docs/hooks/book.py is the hook that calls it).

chapters.py  what a chapter file is: its percent-format cells, their tags, the notebook it becomes
execute.py   executing the chapters as notebooks, two kernels at a time, with a cache that cannot go stale
workbook.py  python -m makemore_lib.book.workbook CHAPTER.py: the chapter with its solutions blanked

Nothing in the teaching library imports this package; it imports the library only to read
its settings and output types.
"""
