"""willow/generated.py: generated files are written, or checked without being touched."""
from willow import generated


def test_check_reports_a_stale_file_and_writing_makes_it_current(capsys):
    path = generated.ROOT / "test-artifacts" / "generated-check.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text("old\n", encoding="utf-8")
    assert generated.write_or_check(path, "new\n", ["--check"], "make something") == 1
    assert "test-artifacts/generated-check.txt is out of date: run `make something`" in capsys.readouterr().out
    assert path.read_text(encoding="utf-8") == "old\n"  # --check never writes
    assert generated.write_or_check(path, "new\n", [], "make something") == 0
    assert generated.write_or_check(path, "new\n", ["--check"], "make something") == 0
    path.unlink()
