"""What a user watching the terminal sees: every write of a command, timestamped, replayed on a small
screen model, and the longest times the screen stayed unchanged, each with what it showed (its phase).

A redraw that changes nothing on screen (the same bar drawn again) does not count as a change; a
bar whose clock moved does. `watch(argv)` runs a command on a pseudo-terminal (as a user's shell
would: tqdm and Python's buffering behave as they do there) and reads it in small pieces.
"""
import codecs
import os
import re
import select
import subprocess
import time
from dataclasses import dataclass

CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


@dataclass
class Gap:
    seconds: float  # how long the screen stayed unchanged
    start: float    # seconds after the command started
    phase: str      # the line the screen showed (the last non-empty one)


class Screen:
    """A minimal terminal: lines of text, a cursor; handles \\n, \\r, cursor up/down, erase line."""

    def __init__(self):
        self.lines, self.row, self.col = [""], 0, 0

    def feed(self, text):
        pos = 0
        while pos < len(text):
            match = CSI.match(text, pos)
            if match:
                self._control(match.group(1), match.group(2))
                pos = match.end()
                continue
            char = text[pos]
            pos += 1
            if char == "\n":
                self.row, self.col = self.row + 1, 0
                while len(self.lines) <= self.row:
                    self.lines.append("")
            elif char == "\r":
                self.col = 0
            elif char >= " " or char == "\t":
                line = self.lines[self.row].ljust(self.col)
                self.lines[self.row] = line[:self.col] + char + line[self.col + 1:]
                self.col += 1

    def _control(self, params, command):
        count = int(params) if params.isdigit() else 1
        if command == "A":
            self.row = max(0, self.row - count)
        elif command == "B":
            self.row += count
            while len(self.lines) <= self.row:
                self.lines.append("")
        elif command == "K":  # erase to the end of the line
            self.lines[self.row] = self.lines[self.row][:self.col]

    def text(self):
        return "\n".join(line.rstrip() for line in self.lines).rstrip()

    def phase(self):
        shown = [line.strip() for line in self.lines if line.strip()]
        return shown[-1] if shown else "(nothing on screen yet)"


class ScreenLog:
    """Writes in, gaps out: feed(t, text) for each write (t in seconds on any one clock), close(t)
    when the command ends. The first gap runs from `start` (the command's start) to the first change.
    every_write=True counts every write as a change, also a redraw of the same text (tests that
    shorten the redraw interval below the one-second resolution of the bars' clocks use it)."""

    def __init__(self, start, every_write=False):
        self.screen, self.start, self.every_write = Screen(), start, every_write
        self.changes = [(start, "(nothing on screen yet)")]  # (time, phase) of every change
        self.end, self._shown, self.pieces = None, "", []

    def feed(self, t, text):
        self.pieces.append(text)
        self.screen.feed(text)
        shown = self.screen.text()
        if shown != self._shown or self.every_write:
            self._shown = shown
            self.changes.append((t, self.screen.phase()))

    def close(self, t):
        self.end = t

    def output(self):
        """Everything written, as written."""
        return "".join(self.pieces)

    def gaps(self):
        """Every unchanged stretch, longest first."""
        ends = [t for t, _ in self.changes[1:]] + ([self.end] if self.end is not None else [])
        found = [Gap(end - t, t - self.start, phase) for (t, phase), end in zip(self.changes, ends)]
        return sorted(found, key=lambda gap: -gap.seconds)

    def longest(self):
        gaps = self.gaps()
        return gaps[0] if gaps else Gap(0.0, 0.0, "")


def watch(argv, cwd=None, echo=None):
    """Run `argv` on a pseudo-terminal (stdout and stderr), reading its output in small pieces as it
    comes. Returns (exit code, ScreenLog); log.output() is everything it wrote. `echo(text)` sees each piece."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))  # 50 rows, 120 columns
    log = ScreenLog(time.monotonic())
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            close_fds=True)
    os.close(slave)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # a piece may split a character
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(master, 256)
            except OSError:  # the command and every process holding the terminal are gone
                break
            if not data:
                break
            text = decoder.decode(data)
            log.feed(time.monotonic(), text)
            if echo:
                echo(text)
    finally:
        os.close(master)
    code = proc.wait()
    log.close(time.monotonic())
    return code, log
