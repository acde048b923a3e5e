"""The timeline a person reads under the overlay: one SVG over the whole clip, from 0 to its duration.

A band of segments (each exercise in its color with its reps or hold time, non-verdicts grey with what
they are, rep marks as ticks) above the model's top probability over time (each window's at its center,
with the threshold under which nothing is named). Plain SVG rather than a plot library: Gradio's plots
cannot draw bands and size their x axis to the data (one window gave an empty plot, a 5-s clip an axis
of 1.4-3.6 s), a matplotlib figure is a picture that neither a screen reader nor a test can read; this
one scales to any width, draws a one-window clip and a 10-minute workout alike (ticks every 0.5 s to
every 2 min), and carries its x range (`data-start`, `data-end`) and each band's times and text.
"""

from __future__ import annotations

from html import escape

from ..analysis.prediction import EXERCISE, Segment, WindowScore
from .wording import segment_text

WIDTH, BAND_TOP, BAND_HEIGHT, PLOT_TOP, PLOT_HEIGHT, HEIGHT = 1000, 8, 34, 62, 90, 178
LEFT, RIGHT = 44, 12  # room for the probability axis's labels, and for the last tick's
# Dark enough for white text, one per exercise in the order of the model's labels (Okabe-Ito's darker hues first).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8C564B", "#6A3D9A", "#1B7837", "#B15928")
NON_VERDICT_COLOR = "#9a9a9a"
TICK_STEPS_S = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)
MAX_TICKS = 10


def tick_step(duration: float) -> float:
    """The smallest step of `TICK_STEPS_S` that puts at most `MAX_TICKS` ticks after 0 on `duration` s."""
    return next((step for step in TICK_STEPS_S if duration / step <= MAX_TICKS), TICK_STEPS_S[-1])


def time_label(seconds: float, step: float) -> str:
    """"1.5 s" on a short clip, "2:30" once the ticks are a minute or longer apart."""
    if step >= 60 or seconds >= 600:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:g} s"


def timeline_svg(duration: float, segments: list[Segment] = (), windows: list[WindowScore] = (), *,
                 class_names: list[str] = (), min_probability: float | None = None) -> str:
    """The timeline of a clip of `duration` s: its `segments`, its `windows`' top probability, the
    `min_probability` named exercises reach (a dashed line; none drawn when None). Colors follow the
    exercise's place in `class_names`."""
    duration = max(float(duration), 1e-3)
    span = WIDTH - LEFT - RIGHT

    def x(seconds: float) -> float:
        return LEFT + span * min(max(seconds, 0.0), duration) / duration

    def y(probability: float) -> float:
        return PLOT_TOP + PLOT_HEIGHT * (1 - probability)

    parts = [f'<rect x="{LEFT}" y="{BAND_TOP}" width="{span}" height="{BAND_HEIGHT}" fill="#f2f2f2"/>']
    for segment in segments:
        parts.append(_band(segment, x, class_names))
    # Probability axis: 0, 50%, 100% lines; the top one inside the plot, not on its border.
    for level in (0.0, 0.5, 1.0):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
                     f'stroke="#dddddd"/><text x="{LEFT - 6}" y="{y(level) + 4:.1f}" text-anchor="end" '
                     f'class="axis">{level:.0%}</text>')
    parts.append(f'<text x="{LEFT + 6}" y="{PLOT_TOP - 6}" class="axis">top probability of each window'
                 + (f' (dashed: named from {min_probability:.0%})' if min_probability is not None else '') + '</text>')
    if min_probability is not None:
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(min_probability):.1f}" '
                     f'y2="{y(min_probability):.1f}" stroke="#888888" stroke-dasharray="6 4">'
                     f'<title>named from {min_probability:.0%}</title></line>')
    if windows:
        # Each window's top probability at its center, held flat to the first window's start and the last's
        # end, so that a one-window clip shows a line, not a dot.
        points = [(windows[0].start_s, windows[0].score)]
        points += [((window.start_s + window.end_s) / 2, window.score) for window in windows]
        points += [(windows[-1].end_s, windows[-1].score)]
        path = " ".join(f"{x(time):.1f},{y(score):.1f}" for time, score in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#333333" stroke-width="2" '
                     f'class="top-probability"><title>the top probability of each window</title></polyline>')
    step = tick_step(duration)
    ticks = [index * step for index in range(int(duration / step + 1e-9) + 1)]
    for tick in ticks:
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{PLOT_TOP + PLOT_HEIGHT}" '
                     f'y2="{PLOT_TOP + PLOT_HEIGHT + 5}" stroke="#555555"/>'
                     f'<text x="{x(tick):.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="axis tick">'
                     f'{time_label(tick, step)}</text>')
    return (f'<svg class="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
            f'data-start="0" data-end="{duration:.3f}" aria-label="timeline of the clip, 0 to {duration:.1f} s" '
            f'xmlns="http://www.w3.org/2000/svg"><style>.axis{{font:12px sans-serif;fill:#555}}'
            f'.band{{font:13px sans-serif}}</style>{"".join(parts)}</svg>')


def _band(segment: Segment, x, class_names) -> str:
    named = segment.verdict == EXERCISE
    color = (PALETTE[list(class_names).index(segment.exercise) % len(PALETTE)]
              if named and segment.exercise in class_names else NON_VERDICT_COLOR)
    text = escape(segment_text(segment))
    left, right = x(segment.start), x(segment.end)
    reps = "".join(f'<line x1="{x(time):.1f}" x2="{x(time):.1f}" y1="{BAND_TOP + BAND_HEIGHT - 8}" '
                   f'y2="{BAND_TOP + BAND_HEIGHT}" stroke="white" stroke-width="2"/>' for time in segment.rep_times)
    # The label is clipped to its band: a short band in a long workout keeps its tooltip only.
    clip_id = f"band-{segment.start:.3f}".replace(".", "-")
    return (f'<g class="band" data-start="{segment.start:.3f}" data-end="{segment.end:.3f}" '
            f'data-verdict="{segment.verdict}"><title>{segment.start:.1f}-{segment.end:.1f} s: {text}</title>'
            f'<clipPath id="{clip_id}"><rect x="{left:.1f}" y="{BAND_TOP}" width="{right - left:.1f}" '
            f'height="{BAND_HEIGHT}"/></clipPath>'
            f'<rect x="{left:.1f}" y="{BAND_TOP}" width="{max(right - left, 1):.1f}" height="{BAND_HEIGHT}" '
            f'fill="{color}" stroke="white"/>{reps}'
            f'<text x="{left + 6:.1f}" y="{BAND_TOP + 21}" fill="white" clip-path="url(#{clip_id})">{text}</text></g>')


__all__ = ["timeline_svg", "tick_step", "time_label"]
