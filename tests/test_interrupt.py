"""Ctrl-C in the preprocessing tools: one line, workers stopped at once, not waited for."""
import os
import time

import pytest

from prepare import cli_args, jobs


def sleeper(seconds):
    time.sleep(seconds)
    return os.getpid()


@pytest.mark.slow  # a subprocess or a server: not in the quick loop
def test_interrupted_step_tool_prints_one_line_and_stops_its_busy_workers(capsys):
    seen = {}

    def work(pool):
        futures = [pool.submit(sleeper, 30) for _ in range(2)]
        deadline = time.time() + 60
        while len(pool._processes) < 2 and time.time() < deadline:
            time.sleep(0.05)
        seen["workers"] = list(pool._processes.values())
        time.sleep(0.5)
        assert not any(f.done() for f in futures)
        raise KeyboardInterrupt

    start = time.time()
    try:
        code = cli_args.run_in_pool(work, 2)
    except KeyboardInterrupt:
        pytest.fail("the interrupt escaped run_in_pool: a traceback instead of one line")
    err = capsys.readouterr().err
    assert code == 130
    assert err.strip().count("\n") == 0 and err.startswith("interrupted: ") and "kept" in err
    assert time.time() - start < 25  # the 30 s jobs were not waited for
    assert seen["workers"] and not any(p.is_alive() for p in seen["workers"])


@pytest.mark.slow  # a process pool
def test_workers_ignore_sigint_so_only_the_main_process_reports():
    import signal

    pool = jobs.make_pool(2)
    try:
        handler = pool.submit(signal.getsignal, signal.SIGINT).result(timeout=120)
    finally:
        jobs.stop_pool(pool)
    assert handler == signal.SIG_IGN
