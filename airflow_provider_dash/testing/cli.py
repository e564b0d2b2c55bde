"""``dash-emulator``: run the Redash emulator from a shell until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Start an emulator, print its base URL and user key, serve until interrupted.

    :return: the process exit status.
    """
    parser = argparse.ArgumentParser(prog="dash-emulator", description="Run an emulated Redash server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault injector")
    parser.add_argument("--base-path", default="", help="URL prefix, e.g. /redash")
    parser.add_argument("--time-scale", type=float, default=1.0, help="emulated seconds per real second")
    parser.add_argument("--workers", type=int, default=2, help="jobs running at once")
    parser.add_argument("--user-key", default=None, help="the admin's API key (random by default)")
    args = parser.parse_args(argv)

    from .server import RedashEmulator

    emu = RedashEmulator(
        args.host,
        args.port,
        seed=args.seed,
        base_path=args.base_path,
        time_scale=args.time_scale,
        workers=args.workers,
        user_key=args.user_key,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with emu:
        print(f"Redash emulator listening on {emu.url}", flush=True)
        print(f"User API key: {emu.user_key}", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    print("stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
