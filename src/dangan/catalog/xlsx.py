"""The retention schedule, classification scheme and archiving scope as an XLSX workbook (openpyxl).

Agencies fill the workbook offline; :func:`read_workbook` turns it into plain rows with every fault
named by sheet, row and column, and never trusts the file: its size, the ZIP's entries (count, real
decompressed bytes, encryption, compression method) and its XML parts (no DTD or entity declarations)
are checked before openpyxl reads it, and rows and columns are capped. This module changes nothing;
``services.import_schedule`` plans and applies the rows.

Sheets (the header row names the columns; their order is free, extra columns are ignored):

* 保管期限表: 全宗号, 事项编码, 事项名称, 材料编码, 材料名称, 保管期限, 依据, 生效日期
* 分类方案: 全宗号, 分类代码, 分类名称, 上级分类代码, 排序
* 归档范围: 全宗号, 事项编码, 事项名称, 材料编码, 材料名称, 必要性 (必要 / 非必要)
* 事项分类: 全宗号, 事项编码, 事项名称, 分类代码
* 保管期限历史 (export only, ignored on import) and 说明 (instructions)
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dangan.core.errors import DanganError

SHEET_SCHEDULE = "保管期限表"
SHEET_CLASSES = "分类方案"
SHEET_SCOPE = "归档范围"
SHEET_ITEM_CLASSES = "事项分类"
SHEET_HISTORY = "保管期限历史"
SHEET_README = "说明"

COLUMNS: dict[str, tuple[str, ...]] = {
    SHEET_SCHEDULE: (
        "全宗号",
        "事项编码",
        "事项名称",
        "材料编码",
        "材料名称",
        "保管期限",
        "依据",
        "生效日期",
    ),
    SHEET_CLASSES: ("全宗号", "分类代码", "分类名称", "上级分类代码", "排序"),
    SHEET_SCOPE: ("全宗号", "事项编码", "事项名称", "材料编码", "材料名称", "必要性"),
    SHEET_ITEM_CLASSES: ("全宗号", "事项编码", "事项名称", "分类代码"),
}
# Columns an import needs; the names (事项名称, 材料名称) are for people and may be left out.
REQUIRED: dict[str, tuple[str, ...]] = {
    SHEET_SCHEDULE: ("全宗号", "事项编码", "材料编码", "保管期限", "依据", "生效日期"),
    SHEET_CLASSES: ("全宗号", "分类代码", "分类名称", "上级分类代码", "排序"),
    SHEET_SCOPE: ("全宗号", "事项编码", "材料编码", "材料名称", "必要性"),
    SHEET_ITEM_CLASSES: ("全宗号", "事项编码", "分类代码"),
}
HISTORY_COLUMNS = (
    "全宗号",
    "事项编码",
    "事项名称",
    "材料编码",
    "保管期限",
    "依据",
    "生效日期",
    "规则号",
    "取代规则号",
    "设定人",
    "设定时间",
)
DATE_COLUMNS = frozenset({"生效日期"})
REQUIRED_VALUES = {
    "必要": True,
    "非必要": False,
    "required": True,
    "optional": False,
    "是": True,
    "否": False,
}

# Limits: an honest schedule is far below them; a hostile file is refused before it is parsed.
MAX_BYTES = 10 * 1024 * 1024  # the .xlsx file
MAX_UNCOMPRESSED = 64 * 1024 * 1024  # all its parts, decompressed (counted, not taken from headers)
MAX_ENTRIES = 500
MAX_ROWS = 20_000  # per sheet
MAX_COLUMNS = 40
_CHUNK = 64 * 1024
_FORBIDDEN_XML = (b"<!doctype", b"<!entity")


class ScheduleFileError(DanganError):
    """The file is not a workbook we read: not an XLSX, too large, unsafe."""

    code = "XLSX_INVALID"


@dataclass(frozen=True)
class CellError:
    sheet: str
    row: int
    column: str  # the header name ("" for a fault of the whole row or sheet)
    cell: str  # e.g. "F5" ("" when not one cell)
    message: str
    code: str = "BAD_VALUE"

    def as_dict(self) -> dict[str, Any]:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "cell": self.cell,
            "code": self.code,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = f"{self.sheet}!{self.cell}" if self.cell else f"{self.sheet} row {self.row}"
        column = f" {self.column}" if self.column else ""
        return f"{where}{column}: {self.message}"


@dataclass(frozen=True)
class SheetRow:
    sheet: str
    number: int  # 1-based row number in the sheet
    values: dict[str, Any]
    letters: dict[str, str]  # column name → column letter

    def text(self, column: str) -> str:
        value = self.values.get(column)
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    def cell(self, column: str) -> str:
        letter = self.letters.get(column, "")
        return f"{letter}{self.number}" if letter else ""

    def error(self, column: str, message: str, code: str = "BAD_VALUE") -> CellError:
        return CellError(self.sheet, self.number, column, self.cell(column), message, code)


@dataclass
class Workbook:
    """The rows of the sheets present (a sheet missing from the file is absent here)."""

    sheets: dict[str, list[SheetRow]] = field(default_factory=dict)
    errors: list[CellError] = field(default_factory=list)


def _check_container(data: bytes) -> None:
    if len(data) > MAX_BYTES:
        raise ScheduleFileError(
            f"the file has {len(data)} bytes; at most {MAX_BYTES} are accepted", code="XLSX_TOO_LARGE"
        )
    if not data.startswith(b"PK"):
        raise ScheduleFileError("not an XLSX workbook (not a ZIP container)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ScheduleFileError(f"not an XLSX workbook ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ScheduleFileError(
                f"the workbook has {len(infos)} parts (at most {MAX_ENTRIES})", code="XLSX_UNSAFE"
            )
        names = {i.filename for i in infos}
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise ScheduleFileError("not an XLSX workbook (no xl/workbook.xml)")
        total = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise ScheduleFileError(f"encrypted part {info.filename}", code="XLSX_UNSAFE")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ScheduleFileError(f"unsupported compression in {info.filename}", code="XLSX_UNSAFE")
            is_xml = info.filename.endswith((".xml", ".rels", ".vml"))
            tail = b""
            first = True
            try:
                with archive.open(info) as part:
                    while chunk := part.read(_CHUNK):
                        total += len(chunk)
                        if total > MAX_UNCOMPRESSED:
                            raise ScheduleFileError(
                                f"the workbook decompresses to more than {MAX_UNCOMPRESSED} bytes",
                                code="XLSX_TOO_LARGE",
                            )
                        if is_xml:
                            if first and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
                                raise ScheduleFileError(f"{info.filename} is not UTF-8", code="XLSX_UNSAFE")
                            window = (tail + chunk).lower()
                            if any(f in window for f in _FORBIDDEN_XML):
                                raise ScheduleFileError(
                                    f"{info.filename} declares a DTD or entities", code="XLSX_UNSAFE"
                                )
                            tail = window[-16:]
                        first = False
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
                raise ScheduleFileError(f"unreadable part {info.filename} ({exc})") from None


def _header(values: Sequence[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, v in enumerate(values):
        name = str(v).strip() if v is not None else ""
        if name and name not in out:
            out[name] = i
    return out


def read_workbook(data: bytes) -> Workbook:
    """Read the sheets we know. Raises ScheduleFileError for a file that is not a safe XLSX; faults of
    single rows or columns are collected in ``Workbook.errors``."""
    _check_container(data)
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file; all mean "not readable"
        raise ScheduleFileError(f"not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    out = Workbook()
    try:
        known = [name for name in book.sheetnames if name in COLUMNS]
        if not known:
            raise ScheduleFileError(
                "the workbook has none of the sheets " + ", ".join(COLUMNS), code="XLSX_NO_SHEETS"
            )
        for name in known:
            ws = book[name]
            ws.reset_dimensions()  # never trust the <dimension> the file claims
            rows: list[SheetRow] = []
            header: dict[str, int] = {}
            try:
                for number, values in enumerate(ws.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
                    if number == 1:
                        header = _header(values)
                        missing = [c for c in REQUIRED[name] if c not in header]
                        if missing:
                            out.errors.append(
                                CellError(
                                    name,
                                    1,
                                    missing[0],
                                    "",
                                    f"missing column(s): {', '.join(missing)}",
                                    "MISSING_COLUMN",
                                )
                            )
                            break
                        continue
                    if number > MAX_ROWS + 1:
                        out.errors.append(
                            CellError(name, number, "", "", f"more than {MAX_ROWS} rows", "TOO_MANY_ROWS")
                        )
                        break
                    cells = {
                        col: values[i] if i < len(values) else None
                        for col, i in header.items()
                        if col in COLUMNS[name]
                    }
                    if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells.values()):
                        continue
                    letters = {col: get_column_letter(i + 1) for col, i in header.items()}
                    rows.append(SheetRow(name, number, cells, letters))
            except ScheduleFileError:
                raise
            except Exception as exc:  # a malformed sheet part
                raise ScheduleFileError(
                    f"sheet {name} cannot be read ({type(exc).__name__}: {exc})"
                ) from None
            if not header and not out.errors:
                out.errors.append(CellError(name, 1, "", "", "the sheet has no header row", "MISSING_COLUMN"))
            out.sheets[name] = rows
    finally:
        book.close()
    return out


def parse_date(row: SheetRow, column: str) -> date | None:
    """A date cell (a real date, or text YYYY-MM-DD); None when empty."""
    value = row.values.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def write_workbook(
    *,
    schedule: Iterable[Sequence[Any]],
    classes: Iterable[Sequence[Any]],
    scope: Iterable[Sequence[Any]],
    item_classes: Iterable[Sequence[Any]],
    history: Iterable[Sequence[Any]],
    retention_codes: Sequence[str],
    readme: Sequence[str],
) -> bytes:
    """A workbook with one sheet per part; codes are text cells (leading zeros survive), the retention
    and necessity columns offer their allowed values."""
    from openpyxl import Workbook as OpenpyxlWorkbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = OpenpyxlWorkbook()
    first = book.active
    assert first is not None
    book.remove(first)
    bold = Font(bold=True)

    def sheet(name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Any:
        ws = book.create_sheet(name)
        ws.append(list(columns))
        for cell in ws[1]:
            cell.font = bold
        count = 1
        for r in rows:
            ws.append(list(r))
            count += 1
        for i, col in enumerate(columns, start=1):
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = max(12, min(40, len(col) * 3 + 4))
            for (cell,) in ws.iter_rows(min_row=2, max_row=max(count, 2), min_col=i, max_col=i):
                cell.number_format = "yyyy-mm-dd" if col in DATE_COLUMNS else "@"
        ws.freeze_panes = "A2"
        return ws

    def choose(ws: Any, column: str, columns: Sequence[str], values: Sequence[str]) -> None:
        letter = get_column_letter(columns.index(column) + 1)
        dv = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=True)
        dv.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
        ws.add_data_validation(dv)

    ws = sheet(SHEET_SCHEDULE, COLUMNS[SHEET_SCHEDULE], schedule)
    choose(ws, "保管期限", COLUMNS[SHEET_SCHEDULE], retention_codes)
    sheet(SHEET_CLASSES, COLUMNS[SHEET_CLASSES], classes)
    ws = sheet(SHEET_SCOPE, COLUMNS[SHEET_SCOPE], scope)
    choose(ws, "必要性", COLUMNS[SHEET_SCOPE], ("必要", "非必要"))
    sheet(SHEET_ITEM_CLASSES, COLUMNS[SHEET_ITEM_CLASSES], item_classes)
    sheet(SHEET_HISTORY, HISTORY_COLUMNS, history)
    ws = book.create_sheet(SHEET_README)
    ws.column_dimensions["A"].width = 120
    for line in readme:
        ws.append([line])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
