"""The admin page's HTML: the weekly counts as an inline SVG bar chart, then the gaps (similar
failed questions, grouped) as a table. Questions and comments are user input: every string is
escaped here, and nothing here imports Gradio, so it is tested as a plain function."""

from __future__ import annotations

import math

from assistant.app.feedback_report import FeedbackReport, Gap, Week
from assistant.app.ui_render import esc

WEEKS_SHOWN = 26  # half a year of bars stays readable at the page's width
SERIES = (("answers", "Answered", "fb-answers"), ("refusals", "Refused", "fb-refusals"),
          ("down", "Thumbs-down", "fb-down"))
W, H = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 34, 46

FEEDBACK_CSS = """
.fb-page { font-size: 0.95rem; }
.fb-page h3 { margin: 0.8em 0 0.3em; }
.fb-summary, .fb-note { color: var(--body-text-color-subdued, #666); margin: 0.2em 0 0.6em; }
.fb-chart { width: 100%; max-width: 720px; height: auto; display: block; }
.fb-chart text { font-size: 11px; fill: currentColor; }
.fb-chart .fb-axis { stroke: currentColor; stroke-width: 1; opacity: 0.6; }
.fb-chart .fb-grid { stroke: currentColor; stroke-width: 1; opacity: 0.12; }
.fb-answers { fill: #6b8fbf; }
.fb-refusals { fill: #e0a030; }
.fb-down { fill: #c8463c; }
.fb-table { border-collapse: collapse; width: 100%; }
.fb-table th, .fb-table td { border-bottom: 1px solid var(--border-color-primary, #ddd);
  padding: 0.35em 0.5em; text-align: left; vertical-align: top; }
.fb-table td.fb-num { text-align: right; white-space: nowrap; }
.fb-after, .fb-wordings { color: var(--body-text-color-subdued, #666); font-size: 0.9em; }
.fb-comments { margin: 0; padding-left: 1.1em; }
.fb-empty { padding: 1em 0; color: var(--body-text-color-subdued, #666); }
"""


def admin_html(report: FeedbackReport) -> str:
    """The whole admin view, one HTML fragment (no script, no external resource)."""
    if report.empty:
        return '<div class="fb-page"><p class="fb-empty">No feedback or refusals yet.</p></div>'
    asked = sum(w.answers + w.refusals for w in report.weeks)
    refused = sum(w.refusals for w in report.weeks)
    down, up = sum(w.down for w in report.weeks), sum(w.up for w in report.weeks)
    summary = (f"{asked} questions in {len(report.weeks)} week(s): {refused} refused, "
               f"{down} thumbs-down, {up} thumbs-up.")
    return (f'<div class="fb-page"><h3>Questions per week</h3><p class="fb-summary">{esc(summary)}</p>'
            f"{chart_svg(report.weeks)}<h3>Gaps and failures</h3>{gaps_table(report.gaps)}</div>")


def chart_svg(weeks: list[Week]) -> str:
    """Grouped bars per ISO week: answered, refused, thumbs-down; with axes, labels and a legend."""
    if not weeks:
        return '<p class="fb-note">No questions in this period.</p>'
    note = ""
    if len(weeks) > WEEKS_SHOWN:
        note = f'<p class="fb-note">The last {WEEKS_SHOWN} of {len(weeks)} weeks.</p>'
        weeks = weeks[-WEEKS_SHOWN:]
    top = _nice_top(max(max(w.answers, w.refusals, w.down) for w in weeks))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w / len(weeks)
    bar = min(slot * 0.8 / len(SERIES), 28.0)
    out = [f'<svg class="fb-chart" viewBox="0 0 {W} {H}" role="img" xmlns="http://www.w3.org/2000/svg" '
           f'aria-label="Questions answered, refused and given a thumbs-down per week">']
    for i in range(5):  # the y axis: five ticks, 0 to the top
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        out.append(f'<line class="fb-grid" x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}"/>'
                   f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>')
    out.append(f'<line class="fb-axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>'
               f'<line class="fb-axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{W - RIGHT}" y2="{TOP + plot_h}"/>')
    every = max(1, math.ceil(len(weeks) / 12))  # at most about 12 dates under the axis
    for n, w in enumerate(weeks):
        x0 = LEFT + n * slot + (slot - bar * len(SERIES)) / 2
        for k, (attr, label, cls) in enumerate(SERIES):
            value = int(getattr(w, attr))
            h = plot_h * value / top
            out.append(f'<rect class="{cls}" x="{x0 + k * bar:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                       f'height="{h:.1f}"><title>{esc(f"Week of {w.monday:%d %b %Y}: {value} {label.lower()}")}'
                       f"</title></rect>")
        if n % every == 0:
            out.append(f'<text x="{LEFT + (n + 0.5) * slot:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
                       f"{esc(f'{w.monday:%d %b}')}</text>")
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{H - 6}" text-anchor="middle">Week (starting Monday)</text>'
               f'<text transform="translate(14 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
               f"Questions</text>")
    for k, (_, label, cls) in enumerate(SERIES):  # the legend, above the plot
        x = LEFT + k * 130
        out.append(f'<rect class="{cls}" x="{x}" y="8" width="12" height="12"/>'
                   f'<text x="{x + 18}" y="18">{esc(label)}</text>')
    out.append("</svg>")
    return note + "".join(out)


def _nice_top(peak: int) -> float:
    """The y axis's top: four ticks of 1, 2 or 5 times a power of ten (whole numbers)."""
    if peak <= 4:
        return 4.0
    step = peak / 4
    power = 10 ** math.floor(math.log10(step))
    return 4 * next(m * power for m in (1, 2, 5, 10) if m * power >= step)


def gaps_table(gaps: list[Gap]) -> str:
    if not gaps:
        return '<p class="fb-empty">No refusals or thumbs-down in this period.</p>'
    rows = ['<table class="fb-table"><thead><tr><th>Asked</th><th>Question</th><th>Refused</th>'
            "<th>Thumbs-down</th><th>Comments</th><th>Last asked</th></tr></thead><tbody>"]
    for g in gaps:
        rows.append(f'<tr><td class="fb-num">{g.count}</td><td>{_question(g)}</td>'
                    f'<td class="fb-num">{g.refused}</td><td class="fb-num">{g.down}</td>'
                    f"<td>{_comments(g.comments)}</td>"
                    f'<td class="fb-num">{esc(f"{g.last_asked:%Y-%m-%d %H:%M}")}</td></tr>')
    rows.append("</tbody></table>")
    return "".join(rows)


def _question(g: Gap) -> str:
    out = esc(g.question)
    if g.after:
        out += f'<div class="fb-after">after: {esc(g.after)}</div>'
    others = list(dict.fromkeys(f.question for f in g.examples if f.question != g.question))
    if others:
        out += '<div class="fb-wordings">also: ' + " · ".join(esc(q) for q in others) + "</div>"
    return out


def _comments(comments: list[str]) -> str:
    if not comments:
        return ""
    return '<ul class="fb-comments">' + "".join(f"<li>{esc(c)}</li>" for c in comments[:5]) + "</ul>"
