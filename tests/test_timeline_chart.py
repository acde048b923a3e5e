"""The app's timeline: an SVG over the whole clip, readable for one window and for a 10-minute workout."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from gym_gesture.analysis.prediction import Segment, WindowScore
from gym_gesture.render.timeline_chart import timeline_svg

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def _ticks(root) -> list[str]:
    return [text.text for text in root.iter(f"{SVG}text") if "tick" in text.get("class", "")]


def test_a_one_window_clip_shows_its_band_and_a_line_over_the_whole_clip():
    segment = Segment("squat", 0.0, 2.5, 0.99, 1, 1, [1.6], None, None, 98.5, None)
    root = _parse(timeline_svg(2.5, [segment], [WindowScore(0.0, 2.5, "squat", 0.9999)], class_names=["squat"],
                               min_probability=0.65))
    assert (root.get("data-start"), root.get("data-end")) == ("0", "2.500")
    assert _ticks(root) == ["0 s", "0.5 s", "1 s", "1.5 s", "2 s", "2.5 s"]
    [band] = [group for group in root.iter(f"{SVG}g") if group.get("class") == "band"]
    assert (band.get("data-start"), band.get("data-end"), band.get("data-verdict")) == ("0.000", "2.500", "exercise")
    assert "squat, 1 rep" in "".join(band.itertext())
    [line] = list(root.iter(f"{SVG}polyline"))
    xs = [float(point.split(",")[0]) for point in line.get("points").split()]
    ys = {float(point.split(",")[1]) for point in line.get("points").split()}
    assert min(xs) == 44 and max(xs) == 1000 - 12  # from the clip's start to its end, not a dot
    assert len(ys) == 1 and min(ys) > 8 + 34  # one level, below the band: 100% is not the border


def test_a_ten_minute_workout_has_minute_ticks_and_its_sets_in_order():
    sets = [Segment("squat", 0.0, 290.0, 0.95, 575, 40, [], None, None, 100.0, None),
            Segment("plank", 293.0, 420.0, 0.97, 250, 0, [], None, None, None, 120.0),
            Segment("push up", 420.0, 428.0, 0.5, 15, 2, [], "not sure which exercise", None, None, None, "not sure"),
            Segment("push up", 428.0, 599.0, 0.9, 340, 60, [], None, None, 70.0, None)]
    root = _parse(timeline_svg(599.0, sets, class_names=["plank", "push up", "squat"]))
    assert _ticks(root) == [f"{minute}:00" for minute in range(10)]
    bands = [group for group in root.iter(f"{SVG}g") if group.get("class") == "band"]
    assert [band.get("data-verdict") for band in bands] == ["exercise", "exercise", "not sure", "exercise"]
    texts = ["".join(band.itertext()) for band in bands]
    assert "plank, held 120 s" in texts[1] and "not sure (maybe push up)" in texts[2]
    # Each band's rectangle spans its own seconds of the clip's width.
    widths = [float(next(child for child in band if child.tag == f"{SVG}rect").get("width")) for band in bands]
    assert widths[0] > widths[3] > widths[1] > widths[2]  # 290, 171, 127 and 8 s
