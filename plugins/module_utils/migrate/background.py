# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Work that overlaps other work: the Job's pod starts during the backup, the source's half of the
verification is read while the target is written."""

from __future__ import annotations

import threading


class Background(threading.Thread):
    """A call run in a thread whose result, or exception, is handed to the caller by result()."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.value, self.error = fn, args, None, None

    def begin(self):
        self.start()
        return self

    def run(self):
        try:
            self.value = self.fn(*self.args)
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self.error = exc

    def result(self):
        self.join()
        if self.error is not None:
            raise self.error
        return self.value
