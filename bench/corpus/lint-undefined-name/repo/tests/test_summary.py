from metrics import summarize
from metrics.summary import percentile


def test_percentiles():
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 50
    assert percentile(samples, 95) == 95


def test_summary_mean():
    out = summarize([1.0, 2.0, 3.0, 10.0])
    assert out["centre"] == 4.0
    assert out["max"] == 10.0
