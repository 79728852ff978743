"""Progress bars for epoch loops (stderr, so that stdout stays a clean result line)."""
from __future__ import annotations

import sys
from typing import Callable, Tuple


def epoch_progress_bar(total: int, desc: str, initial: int,
                       enabled: bool) -> Tuple[object, Callable[[int, float], None]]:
    """A tqdm bar of ``total`` epochs (starting at ``initial`` for a resumed run) and the
    ``progress(epoch, loss)`` callback the trainers call after each epoch."""
    from tqdm.auto import tqdm
    bar = tqdm(total=total, desc=desc, initial=initial, disable=not enabled, leave=False,
               file=sys.stderr, dynamic_ncols=True)

    def update(epoch: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f'{loss:.4f}')
    return bar, update
