"""The workout summary as the app's tabs show it: one table, headed in words (`wording.SET_HEADERS`) and with
the form advice, as the upload tab's Dataframe and the live tab's HTML, and its CSV and JSON downloads."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from ..render.wording import SET_HEADERS, set_rows

if TYPE_CHECKING:
    import pandas as pd

    from ..analysis.prediction import Segment
    from ..analysis.summary import WorkoutSet


def sets_table(sets: list[WorkoutSet], segments: list[Segment]) -> pd.DataFrame:
    """The sets of `segments` as a Dataframe (headers only when there is none)."""
    import pandas as pd

    return pd.DataFrame(set_rows(sets, segments), columns=list(SET_HEADERS.values()))


def sets_html(sets: list[WorkoutSet], segments: list[Segment]) -> str:
    """The sets of `segments` as an HTML table, each cell classed by its summary column; a line when there is
    none."""
    if not sets:
        return "<p id='live-sets-empty'>No set yet.</p>"
    head = "".join(f"<th>{html.escape(header)}</th>" for header in SET_HEADERS.values())
    rows = "".join("<tr>" + "".join(f"<td class='{column}'>{html.escape(str(value))}</td>"
                                    for column, value in zip(SET_HEADERS, row)) + "</tr>"
                   for row in set_rows(sets, segments))
    return f"<table id='live-sets-table'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def summary_files(sets: list[WorkoutSet], folder: Path) -> list[str]:
    """The workout summary as CSV and JSON in `folder`, the two downloads."""
    from ..analysis.summary import write_summary

    return [str(write_summary(sets, folder / f"workout_summary.{suffix}")) for suffix in ("csv", "json")]
