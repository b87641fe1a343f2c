"""API latency while slow clients hang on, measured side by side in one run.

One controller; authenticated GETs of the network list (sequential, new connection each,
as a CLI does) with no slow connection open, then with 1000 open: half never finish their
headers, half trickle one more header byte every 0.5 s. Reports median and p95 latency,
their ratio, and how many slow connections were still open at the end (all of them: the
deadline, 30 s by default, is longer than the measurement). Writes
bench/results/slow_clients.json.
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from tests.api.test_slow_clients import Trickler, open_unfinished, still_open, usable_sockets  # noqa: E402
from tests.helpers import ApiClient, start_server  # noqa: E402

SLOW_CONNECTIONS = 1000
REQUESTS = 200


def latency(api, count=REQUESTS) -> dict:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        assert api.get("/v2.0/networks").status == 200
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "median_ms": round(1000 * statistics.median(times), 2),
        "p95_ms": round(1000 * times[int(0.95 * len(times))], 2),
        "max_ms": round(1000 * times[-1], 2),
    }


def main() -> int:
    count = usable_sockets(SLOW_CONNECTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(tmp)
        try:
            api = ApiClient(server.url, server.token("bench"))
            for i in range(20):
                api.post("/v2.0/networks", {"network": {"name": f"n{i}"}})
            latency(api, 20)  # warm-up
            quiet = latency(api)
            opening = time.perf_counter()
            slow = open_unfinished(server.api_port, count)
            opened_s = time.perf_counter() - opening
            trickler = Trickler(slow[count // 2 :])
            trickler.start()
            try:
                time.sleep(1.0)
                loaded = latency(api)
                held = sum(still_open(sock) for sock in slow)
            finally:
                trickler.done.set()
                trickler.join()
                for sock in slow:
                    sock.close()
        finally:
            server.stop()
    report_file.write(
        "slow_clients",
        {
            "requests": REQUESTS,
            "no_slow_connection": quiet,
            f"{count}_slow_connections": {
                **loaded,
                "still_open": held,
                "seconds_to_open": round(opened_s, 2),
            },
            "median_ratio": round(loaded["median_ms"] / quiet["median_ms"], 2),
            "p95_ratio": round(loaded["p95_ms"] / quiet["p95_ms"], 2),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
