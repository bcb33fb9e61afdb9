import numpy as np
import pytest

from pitch.csv_io import F0CsvError, read_f0_csv, write_f0_csv

F0 = np.array([0.0, 220.5, 221.25, 0.0, 330.0], dtype=np.float32)


def _write(tmp_path, content, name="f0.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def test_round_trip(tmp_path):
    path = tmp_path / "song.csv"
    write_f0_csv(path, F0)
    text = path.read_text()
    assert text.splitlines()[0] == "time,f0"
    assert text.splitlines()[2] == "0.010,220.50"
    np.testing.assert_allclose(read_f0_csv(path), F0, atol=0.005)
    assert read_f0_csv(path).dtype == np.float32


@pytest.mark.parametrize("content", [
    "\ufefftime,f0\r\n0.00,0\r\n0.01,220.5\r\n0.02,221.25\r\n0.03,0\r\n0.04,330\r\n",  # BOM + CRLF
    "time;f0\n0,00;0\n0,01;220,5\n0,02;221,25\n0,03;0\n0,04;330\n",  # European locale
    "time\tf0\n0\t0\n0.01\t220.5\n0.02\t221.25\n0.03\t0\n0.04\t330\n",  # tab separated
    'time,f0\n"0.00","0"\n"0.01","220.5"\n"0.02","221.25"\n"0.03","0"\n"0.04","330"\n',  # quoted
    'time,f0\n0,0\n0.01,"220,5"\n0.02,"221,25"\n0.03,0\n0.04,330\n',  # quoted decimal commas are not split
    "time;f0;\n0;0;\n0,01;220,5;\n0,02;221,25;\n0,03;0;\n0,04;330;\n;;\n;;\n\n",  # trailing separators/blank rows
    "0\n220.5\n221.25\n0\n330\n\n\n",  # f0 only, no header
    "0m 0s   0,0\n0m 0s  10,220.5\n0m 0s  20,221.25\n0m 0s  30,0\n0m 0s  40,330\n",  # so-vits-svc-5.0 labels
])
def test_excel_variants(tmp_path, content):
    np.testing.assert_allclose(read_f0_csv(_write(tmp_path, content)), F0, atol=1e-4)


def test_windows_1252_header(tmp_path):
    content = "Zeit (s);Tonhöhe (Hz)\r\n0;0\r\n0,01;220,5\r\n0,02;221,25\r\n0,03;0\r\n0,04;330\r\n"
    np.testing.assert_allclose(read_f0_csv(_write(tmp_path, content, encoding="cp1252")), F0, atol=1e-4)


@pytest.mark.parametrize("content, line, words", [
    ("time,f0\n0.00,100\n0.01,abc\n0.02,100\n", 3, "cannot read"),
    ("time,f0\n0.00,100\n0.01,-5\n", 3, ">= 0"),
    ("time,f0\n0.00,100\n0.02,100\n0.01,100\n", 4, "time order"),
    ("time,f0\n0.00,100\n\n0.02,100\n", 3, "empty row"),
    ("time,f0\n0.00,100\n0.01,nan\n", 3, ">= 0"),
    ("time,f0\n0,01,220,5\n", 2, "columns"),
    ("time,f0\n0.00,100\n120\n", 3, "time column"),
])
def test_bad_rows_name_file_and_line(tmp_path, content, line, words):
    path = _write(tmp_path, content)
    with pytest.raises(F0CsvError) as err:
        read_f0_csv(path)
    message = str(err.value)
    assert str(path) in message and f"line {line}:" in message and words in message
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("content", ["", "\ufeff", "time,f0\r\n", "\n\n"])
def test_empty_file_is_an_error(tmp_path, content):
    with pytest.raises(F0CsvError, match="no pitch rows"):
        read_f0_csv(_write(tmp_path, content))


def test_missing_file(tmp_path):
    with pytest.raises(F0CsvError, match="not found"):
        read_f0_csv(tmp_path / "nope.csv")
