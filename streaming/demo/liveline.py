"""The live line under an answer in flight: what it says, and when it is rewritten."""

from __future__ import annotations

from streaming.demo.reader import LiveStats

WAITING_ICON = ":material/hourglass_top:"  # an icon font Streamlit ships: an emoji can render as an empty box
REFRESH_S = 0.25


class LiveLine:
    """Rewrites the line at most every ``REFRESH_S``, but at once when its phase changes (first text, the end).

    Without the phase rule, a tick at 0.2 s ("waiting…") followed by text at 0.21 s left the
    waiting line under text already on screen until the next refresh.
    """

    def __init__(self, every_s: float = REFRESH_S) -> None:
        self.every_s = every_s
        self.last_s = -1.0
        self.last_phase: str | None = None

    @staticmethod
    def phase(stats: LiveStats, shown: bool) -> str:
        if stats.done:
            return "done"
        return "text" if shown or stats.ttft_s is not None else "waiting"

    def due(self, stats: LiveStats, shown: bool, ticked: bool = False) -> bool:
        """True when the line should be rewritten now (``shown``: text is on screen; ``ticked``: a frame with no text)."""
        ph = self.phase(stats, shown)
        if ph != self.last_phase or ticked or stats.elapsed_s - self.last_s >= self.every_s:
            self.last_phase, self.last_s = ph, stats.elapsed_s
            return True
        return False

    @staticmethod
    def text(stats: LiveStats) -> str:
        """The line as Markdown for ``st.caption``."""
        line = stats.line()
        return f"{WAITING_ICON} {line}" if stats.ttft_s is None else line


def waiting_for_whole_answer(elapsed_s: float) -> str:
    """The race's non-streaming column while nothing can show yet."""
    return f"{WAITING_ICON} waiting for the whole answer… {elapsed_s:.1f} s"
