"""Ctrl-C that never saves a half-done iteration.

A loop that checkpoints on ``KeyboardInterrupt`` saves whatever state it had when the signal
landed: mid-rollout, that is the live env and RNGs under the last finished iteration's
number, and the resumed run silently diverges. Instead, :class:`DeferredInterrupt` turns the
first Ctrl-C into a request the loop answers at its next boundary (a finished iteration or
step), where its state is consistent: it checkpoints there and stops. A second Ctrl-C stops
at once without saving; the last checkpoint on disk is complete (checkpoints are atomic), so
the run resumes from it exactly, as after a kill.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType


class DeferredInterrupt:
    """Context manager: SIGINT sets :attr:`requested`; a second SIGINT raises at once.

    Outside the main thread (where Python cannot install signal handlers) it does nothing,
    and Ctrl-C raises ``KeyboardInterrupt`` wherever it lands, as usual. Nested inside another
    (a preference round's PPO inside the round loop), it leaves the signal to the outer one,
    whose boundary is the one that can save: the inner :attr:`requested` stays False.

    Usage::

        with DeferredInterrupt() as interrupt:
            while not done:
                one_iteration()
                interrupt.boundary(save_checkpoint, due=iteration % every == 0)
    """

    _active: list[DeferredInterrupt] = []

    def __init__(self, what: str = "iteration") -> None:
        self.what = what
        self.requested = False
        self._previous = None
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            f"\ninterrupt: stopping after this {self.what} and saving a checkpoint "
            "(Ctrl-C again to stop now and resume from the last checkpoint)",
            file=sys.stderr,
            flush=True,
        )

    def boundary(self, save: Callable[[], None], due: bool) -> None:
        """At a consistent point of the loop: ``save()`` when it is ``due`` or Ctrl-C was
        pressed, and then, for Ctrl-C, stop with ``KeyboardInterrupt``."""
        if due or self.requested:
            save()
        if self.requested:
            raise KeyboardInterrupt

    def __enter__(self) -> DeferredInterrupt:
        if not DeferredInterrupt._active and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
            DeferredInterrupt._active.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
            DeferredInterrupt._active.remove(self)
