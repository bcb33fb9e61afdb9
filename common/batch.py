"""Bookkeeping for batch jobs: skip bad files with a reason, summarise at the end."""
import sys


class BatchReport:
    def __init__(self, title):
        self.title = title
        self.done = 0
        self.skipped_existing = 0
        self.failed = []  # (path, reason)

    def ok(self):
        self.done += 1

    def exists(self):
        self.skipped_existing += 1

    def fail(self, path, reason):
        path, reason = str(path), str(reason)
        if reason.startswith(path + ": "):  # errors from common.audio already lead with the file
            reason = reason[len(path) + 2:]
        self.failed.append((path, reason))

    def merge(self, other):
        self.done += other.done
        self.skipped_existing += other.skipped_existing
        self.failed += other.failed

    def summary(self):
        lines = [f"{self.title}: {self.done} written, {self.skipped_existing} already done, {len(self.failed)} skipped"]
        for path, reason in self.failed:
            lines.append(f"  skipped {path}: {reason}")
        return "\n".join(lines)

    def print_summary(self, file=None):
        print(self.summary(), file=file or sys.stderr, flush=True)
