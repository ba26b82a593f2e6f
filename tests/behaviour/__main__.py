from tests.behaviour import GOLDEN, hostile_strings, read_golden, stored_hostile, write_golden

if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--update"]:
        raise SystemExit("usage: python -m tests.behaviour --update   (rewrites tests/behaviour/golden.jsonl)")
    write_golden(stored_hostile(read_golden()) if GOLDEN.exists() else hostile_strings())
    print(f"wrote {GOLDEN}")
