"""The collector's long full passes are not repeated over objects that survived them."""

import gc

import pytest

from chatapp import gc_pauses


@pytest.fixture
def installed():
    gc_pauses.install()
    yield
    gc_pauses.uninstall()


def test_start_up_objects_are_frozen(installed):
    assert gc.get_freeze_count() > 1000  # at least the imported modules' objects


def test_survivors_of_a_long_full_collection_are_frozen(installed, monkeypatch):
    monkeypatch.setattr(gc_pauses, "PAUSE_SECONDS", 0.0)  # every collection counts as long
    before = gc.get_freeze_count()
    survivors = [[n] for n in range(5000)]  # lists: always tracked
    gc.collect()
    assert gc.get_freeze_count() >= before + len(survivors)


def test_short_full_collections_freeze_nothing(installed, monkeypatch):
    monkeypatch.setattr(gc_pauses, "PAUSE_SECONDS", 60.0)
    before = gc.get_freeze_count()
    survivors = [[n] for n in range(5000)]  # lists: always tracked
    gc.collect()
    assert gc.get_freeze_count() == before
    assert survivors


def test_uninstall_restores_the_defaults(installed):
    gc_pauses.uninstall()
    assert gc.get_freeze_count() == 0
    assert gc_pauses._after_long_collections not in gc.callbacks
