"""Cost against resolve rate, one point per arm: PNG with matplotlib (the `bench` extra), else SVG."""

from __future__ import annotations

from pathlib import Path

Point = tuple[str, float, float]  # (arm, total USD, resolve rate)


def write_chart(points: list[Point], dest: Path, title: str) -> Path:
    """``dest`` without suffix; returns the file written (.png, or .svg without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        path = dest.with_suffix(".svg")
        path.write_text(svg(points, title), encoding="utf-8")
        return path
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    row: dict[float, int] = {}
    for arm, cost, rate in merge(points):
        marker = "*" if "oracle" in arm else "o"
        ax.scatter([cost], [rate * 100], s=120 if marker == "*" else 50, marker=marker)
        # Alternate below/above along one resolve rate so neighbours do not overprint.
        n = row[round(rate, 6)] = row.get(round(rate, 6), -1) + 1
        offset = (6, 5 if n % 2 else -11)
        ax.annotate(arm, (cost, rate * 100), textcoords="offset points", xytext=offset, fontsize=8)
    ax.set_xlabel("total cost over the corpus (USD, mean over seeds)")
    ax.set_ylabel("resolve rate (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path = dest.with_suffix(".png")
    fig.savefig(path)
    plt.close(fig)
    return path


def merge(points: list[Point]) -> list[Point]:
    """Arms on the same spot share one dot: "ladder = learning"."""
    spots: dict[tuple[float, float], list[str]] = {}
    for arm, cost, rate in points:
        spots.setdefault((round(cost, 6), round(rate, 6)), []).append(arm)
    return sorted(((" = ".join(arms), c, r) for (c, r), arms in spots.items()), key=lambda p: p[1])


def svg(points: list[Point], title: str, width: int = 640, height: int = 400) -> str:
    """A hand-written scatter plot: axes, ticks, one labelled dot per arm."""
    pad_l, pad_r, pad_t, pad_b = 60, 120, 40, 50
    costs = [c for _, c, _ in points] or [0.0]
    rates = [r * 100 for _, _, r in points] or [0.0]
    x0, x1 = 0.0, max(costs) * 1.1 or 1.0
    y0, y1 = max(0.0, min(rates) - 5), min(100.0, max(rates) + 5)
    y1 = y1 if y1 > y0 else y0 + 1

    def sx(v: float) -> float:
        return pad_l + (v - x0) / (x1 - x0) * (width - pad_l - pad_r)

    def sy(v: float) -> float:
        return height - pad_b - (v - y0) / (y1 - y0) * (height - pad_t - pad_b)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif">',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="13">{_esc(title)}</text>',
        f'<line x1="{pad_l}" y1="{sy(y0)}" x2="{width - pad_r}" y2="{sy(y0)}" stroke="black"/>',
        f'<line x1="{pad_l}" y1="{sy(y0)}" x2="{pad_l}" y2="{pad_t}" stroke="black"/>',
    ]
    for i in range(5):
        xv, yv = x0 + (x1 - x0) * i / 4, y0 + (y1 - y0) * i / 4
        out.append(
            f'<text x="{sx(xv)}" y="{height - pad_b + 15}" text-anchor="middle" font-size="10">'
            f"${xv:.3f}</text>"
        )
        out.append(
            f'<text x="{pad_l - 5}" y="{sy(yv) + 3}" text-anchor="end" font-size="10">{yv:.0f}%</text>'
        )
    out.append(
        f'<text x="{(pad_l + width - pad_r) / 2}" y="{height - 10}" text-anchor="middle" font-size="11">'
        "total cost (USD, mean over seeds)</text>"
    )
    for arm, cost, rate in merge(points):
        x, y = sx(cost), sy(rate * 100)
        fill = "#d62728" if "oracle" in arm else "#1f77b4"
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{fill}"/>')
        out.append(f'<text x="{x + 7:.1f}" y="{y - 5:.1f}" font-size="10">{_esc(arm)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
