"""The benchmark reads wrk's report correctly (a misread figure would mislead every table)."""

from __future__ import annotations

import pytest

from bench.load import parse

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:8383/v3/accounts/a/refunds?count=100
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.05s   220.07ms   2.31s    92.50%
    Req/Sec    15.86      7.35    45.00     74.50%
  Latency Distribution
     50%  980.45ms
     75%    1.10s
     90%    1.20s
     99%    1.98s
  87 requests in 3.00s, 393.82KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:     29.00
Transfer/sec:    131.13KB
"""


def test_wrk_report_is_read_in_milliseconds_with_errors_counted():
    measured = parse(WRK_OUTPUT)
    assert measured.requests_per_second == 29.0
    assert measured.p50_ms == pytest.approx(980.45)
    assert measured.p99_ms == pytest.approx(1980.0)
    assert measured.max_ms == pytest.approx(2310.0)
    assert measured.errors == 4 + 2 + 3
    assert measured.requests == 87


def test_an_unexpected_report_is_an_error_not_a_zero():
    with pytest.raises(ValueError, match="unexpected wrk output"):
        parse("wrk: connection refused\n")
