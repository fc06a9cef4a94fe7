"""The one progress bar: drawing, throttling, fit's epoch lines and the when-to-show rule."""

from __future__ import annotations

import io

import pytest

import modelmgmt as mm
from modelmgmt._progress import EpochProgressBar, ProgressBar, make_progress, wants_progress


def test_bar_draws_label_fill_and_counts():
    out = io.StringIO()
    bar = ProgressBar(4, "task", out, width=8, min_interval=0.0)
    bar.advance()
    bar.advance(3, "done")
    bar.close()
    frames = out.getvalue().split("\r")[1:]
    assert frames[0] == "task [==>     ] 1/4"
    assert frames[1] == "task [========] 4/4  done\n"


def test_throttled_redraws_but_the_last_step_always_shows():
    out = io.StringIO()
    bar = ProgressBar(100, "x", out, min_interval=3600.0)
    for i in range(1, 101):
        bar.update(i)
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 2 and frames[-1].endswith("100/100")


def test_epoch_bar_one_line_per_epoch():
    out = io.StringIO()
    bar = EpochProgressBar(2, 3, out, width=6)
    for epoch in range(2):
        for done in range(1, 4):
            bar.update(epoch, done, 0.5)
        bar.end_epoch(epoch, {"loss": 0.25, "note": "skipped"})
    text = out.getvalue()
    assert text.count("\n") == 2
    assert "epoch 2/2 [======] 3/3  loss 0.25\n" in text and "note" not in text


def test_make_progress_counts_tasks_with_elapsed_time(capsys):
    bar = make_progress(True, 2, "GridSearch")
    bar.advance()
    bar.advance()
    bar.close()
    err = capsys.readouterr().err
    assert "GridSearch [" in err and "2/2" in err and err.rstrip().endswith("s")
    assert make_progress(False, 2, "x") is None


@pytest.mark.parametrize("bad", ["yes", 0.5, [True]])
def test_bad_progress_argument(bad):
    with pytest.raises(mm.InvalidArgumentError, match="progress must be True, False or None"):
        wants_progress(bad)


def test_none_means_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert wants_progress(None, Tty()) is True
    assert wants_progress(None, io.StringIO()) is False
